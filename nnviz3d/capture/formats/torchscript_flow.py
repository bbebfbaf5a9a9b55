"""Data flow of a TorchScript archive, read from its ``code/`` entries without running them.

TorchScript stores each scripted (or traced) class's methods as Python-syntax source under
``code/__torch__/...``. The ``forward`` of the root module is parsed with :mod:`ast` and
walked symbolically: a variable holds the set of graph nodes its value came from;
``(self.child).forward(args)`` (or ``getattr(self, "0")``) enters the child's own ``forward``
with the producers of its arguments, down to leaf modules, which become the producers of their
output and get an edge from each producer of their input; any other call (``torch.relu``,
``torch.add``...) passes the union of its arguments' producers through, so a residual
``relu(add(conv(x), x))`` joins two edges into the next block. Branches are walked in order
(both arms), loops once. Nothing is executed, nothing imported.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

MAX_DEPTH = 64
SHAPE_CALLS = frozenset(
    {
        "size",
        "dim",
        "numel",
        "len",
        "NumToTensor",
        "Int",
        "Float",
        "Bool",
        "device",
        "dtype",
        "shape",
        "__len__",
        "is_floating_point",
        "is_contiguous",
        "_shape_as_tensor",
        "empty_like",
        "zeros_like",
        "ones_like",
        "get_device",
    }
)
"""Calls whose result is a shape, a type or a fresh tensor of that shape: they carry no data
from their arguments (GPT-2's position ids come from the input's length, not its values)."""


@dataclass
class _Ref:
    """A submodule reference (``self.stem``) by its dotted path in the module tree."""

    path: str


@dataclass
class Flow:
    edges: list[tuple[str, str]] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    output: set[str] = field(default_factory=set)


def parse_classes(sources: dict[str, str]) -> dict[str, ast.FunctionDef]:
    """``{qualified class name: forward FunctionDef}`` of every ``code/`` file, keyed as the
    pickle names classes: ``__torch__.torch.nn.modules.container.___torch_mangle_2.Sequential``.
    ``sources`` maps ``__torch__/a/b.py`` entry names to their text."""
    out = {}
    for name, text in sources.items():
        module = name.removesuffix(".py").replace("/", ".")
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for cls in tree.body:
            if isinstance(cls, ast.ClassDef):
                for fn in cls.body:
                    if isinstance(fn, ast.FunctionDef) and fn.name == "forward":
                        out[f"{module}.{cls.name}"] = fn
    return out


def data_flow(
    classes: dict[str, ast.FunctionDef],
    qualname: dict[str, str],
    children: dict[str, list[str]],
    leaves: set[str],
) -> Flow | None:
    """Edges between module paths (and ``input:NAME`` nodes) of the root's ``forward``;
    ``qualname`` gives each module path's class, ``children`` its submodule attribute names,
    ``leaves`` the paths drawn as blocks. None when the root has no readable forward."""
    root = classes.get(qualname.get("", ""))
    if root is None:
        return None
    flow = Flow()
    args = [a.arg for a in root.args.args[1:]]
    flow.inputs = [f"input:{a}" for a in args]
    walker = _Walker(classes, qualname, children, leaves, flow)
    flow.output = walker.call("", [{f"input:{a}"} for a in args], 0)
    return flow


class _Walker:
    def __init__(self, classes, qualname, children, leaves, flow: Flow) -> None:
        self.classes, self.qualname, self.children = classes, qualname, children
        self.leaves, self.flow = leaves, flow

    def call(self, path: str, args: list[set[str]], depth: int) -> set[str]:
        """The producers of ``path``'s output, given its arguments' producers."""
        fn = self.classes.get(self.qualname.get(path, ""))
        if path in self.leaves or fn is None or depth > MAX_DEPTH:
            producers = set().union(*args) if args else set()
            for src in sorted(producers):
                if (src, path) not in self.flow.edges and src != path:
                    self.flow.edges.append((src, path))
            return {path}
        env: dict[str, object] = {"self": _Ref(path)}
        for a, producers in zip([a.arg for a in fn.args.args[1:]], args):
            env[a] = producers
        return self.block(fn.body, env, depth) or set()

    def block(self, body, env, depth) -> set[str] | None:
        out = None
        for stmt in body:
            if isinstance(stmt, ast.Return):
                out = self.value(stmt.value, env, depth) if stmt.value else set()
            elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
                value = self.value(stmt.value, env, depth) if stmt.value else set()
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for t in targets:
                    self.bind(t, value, env)
            elif isinstance(stmt, ast.Expr):
                self.value(stmt.value, env, depth)
            elif isinstance(stmt, ast.If | ast.For | ast.While | ast.With):
                if isinstance(stmt, ast.For):
                    self.bind(stmt.target, self.value(stmt.iter, env, depth), env)
                for part in (stmt.body, getattr(stmt, "orelse", [])):
                    got = self.block(part, env, depth)
                    if got is not None:
                        out = (out or set()) | got
        return out

    def bind(self, target, value, env) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            for t in target.elts:
                self.bind(t, value if not isinstance(value, _Ref) else set(), env)

    def value(self, node, env, depth):
        """A node's producers (a set of paths), or a :class:`_Ref` to a submodule."""
        if node is None:
            return set()
        if isinstance(node, ast.Name):
            return env.get(node.id, set())
        if isinstance(node, ast.Attribute):
            if node.attr in SHAPE_CALLS:
                return set()
            base = self.value(node.value, env, depth)
            if isinstance(base, _Ref):
                return self.child(base, node.attr)
            return base
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
                base = self.value(node.args[0], env, depth)
                key = node.args[1]
                if isinstance(base, _Ref) and isinstance(key, ast.Constant):
                    return self.child(base, str(key.value))
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in SHAPE_CALLS:
                return set()
            args = [self.producers(a, env, depth) for a in node.args]
            args += [self.producers(k.value, env, depth) for k in node.keywords]
            if isinstance(func, ast.Attribute) and func.attr == "forward":
                target = self.value(func.value, env, depth)
                if isinstance(target, _Ref) and target.path != self_path(env):
                    return self.call(target.path, args, depth + 1)
            return set().union(*args) if args else set()
        out: set[str] = set()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                out |= self.producers(child, env, depth)
        return out

    def producers(self, node, env, depth) -> set[str]:
        got = self.value(node, env, depth)
        return got if isinstance(got, set) else set()

    def child(self, ref: _Ref, name: str):
        path = f"{ref.path}.{name}" if ref.path else name
        if name in self.children.get(ref.path, ()):
            return _Ref(path)
        return set()  # a parameter, buffer or constant: no data flow


def self_path(env) -> str | None:
    ref = env.get("self")
    return ref.path if isinstance(ref, _Ref) else None
