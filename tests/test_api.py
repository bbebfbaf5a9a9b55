"""The public API as a user meets it: ``watch``'s documented signature, the names importable
from ``nnviz3d`` (lazily), progress reporting, and a package without import cycles."""

import ast
import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nnviz3d

PACKAGE = Path(nnviz3d.__file__).parent


def test_watch_has_a_full_typed_documented_signature():
    sig = inspect.signature(nnviz3d.watch)
    kinds = {p.kind for p in sig.parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds, "every option is a named parameter"
    assert inspect.Parameter.VAR_POSITIONAL not in kinds
    assert sig.return_annotation is not inspect.Signature.empty
    doc = inspect.getdoc(nnviz3d.watch)
    for name, p in sig.parameters.items():
        assert p.annotation is not inspect.Parameter.empty, f"{name} has no annotation"
        assert re.search(rf"^\s+{name}: \S", doc, re.M), f"{name} is not documented"
    # the same options, with the same defaults, as the class it starts
    init = inspect.signature(nnviz3d.Watcher.__init__).parameters
    assert [n for n in init if n != "self"] == list(sig.parameters)
    for name, p in sig.parameters.items():
        assert init[name].default == p.default, name


def test_watcher_says_what_it_does_and_its_methods():
    doc = inspect.getdoc(nnviz3d.Watcher)
    for method in ("step(", "validation(", "close()", "close_viewer()", "stats()", "add_listener("):
        assert method in doc


def test_public_names_are_exported_lazily():
    names = ["Watcher", "ViewHandle", "HealthThresholds", "watch", "view", "export_gltf"]
    code = textwrap.dedent(f"""
        import sys, nnviz3d
        assert 'torch' not in sys.modules
        assert set({names!r}) <= set(nnviz3d.__all__) and set({names!r}) <= set(dir(nnviz3d))
        from nnviz3d import Watcher, ViewHandle, HealthThresholds
        print(Watcher.__module__, ViewHandle.__module__, HealthThresholds.__module__)
        for name in nnviz3d.__all__:
            getattr(nnviz3d, name)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["nnviz3d.live.watcher", "nnviz3d.viewer", "nnviz3d.live.health"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        nnviz3d.nope  # noqa: B018


# -- import cycles ------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_time_statements(tree: ast.Module):
    """The import statements that run when the module is imported: at module level, in
    classes, ``if`` and ``try``, not in functions nor under ``if TYPE_CHECKING``."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        else:
            todo.extend(n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt))


def _imports(name: str, path: Path, modules: set[str]):
    """The package's modules ``name`` imports at import time. ``from .a import b`` is an edge
    to ``a.b`` when that is a module, else to ``a``; a parent package run on the way (Python
    runs ``a/__init__`` before ``a.b``) is no edge of its own."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _import_time_statements(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in modules)
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        for alias in node.names:
            if f"{target}.{alias.name}" in modules:
                yield f"{target}.{alias.name}"
            elif target in modules:
                yield target


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _package_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_no_import_cycles_among_module_level_imports():
    modules = _package_modules()
    graph = {m: set(_imports(m, p, set(modules))) - {m} for m, p in modules.items()}
    assert _cycles(graph) == []
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_imports_on_its_own():
    """Each module imported first in a fresh interpreter (forked from one that has the
    third-party libraries loaded, so it takes seconds, not minutes): an import-order
    cycle would fail here with a partially initialised module. The package's sources are
    compiled once, before the forks (each child would otherwise compile the 40-odd modules it
    imports: most of its time where no .pyc is written); each child still runs them afresh."""
    names = sorted(m for m in _package_modules() if not m.endswith("__main__"))
    script = textwrap.dedent("""
        import gc, os, sys, importlib, importlib.machinery
        from pathlib import Path
        import numpy, torch, aiohttp  # noqa: F401 - loaded once, before the forks
        import nnviz3d  # noqa: F401 - every child would import it first anyway
        compiled = {}
        for path in Path(nnviz3d.__file__).parent.rglob("*.py"):
            data = path.read_bytes()
            compiled[str(path)] = (data, compile(data, str(path), "exec", dont_inherit=True))
        loader = importlib.machinery.SourceFileLoader
        source_to_code = loader.source_to_code

        def cached(self, data, path, *, _optimize=-1):
            data_code = compiled.get(path)
            if data_code is not None and data_code[0] == data and _optimize == -1:
                return data_code[1]
            return source_to_code(self, data, path, _optimize=_optimize)

        loader.source_to_code = cached
        gc.freeze()  # the children's collections leave the parent's objects (and pages) alone
        failed = []
        for name in sys.argv[1:]:
            pid = os.fork()
            if pid == 0:
                try:
                    importlib.import_module(name)
                except BaseException as exc:
                    print(f"{name}: {type(exc).__name__}: {exc}", flush=True)
                    os._exit(1)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            if status:
                failed.append(name)
        print("FAILED", failed)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script, *names],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=PACKAGE.parent,
    )
    assert out.returncode == 0, out.stderr
    assert "FAILED []" in out.stdout, out.stdout


# -- progress -----------------------------------------------------------------------------------


def test_progress_writes_plain_lines_when_stderr_is_no_terminal(caplog, capsys):
    from nnviz3d.progress import Progress

    with caplog.at_level("INFO", logger="nnviz3d"), Progress(8, "landscape", unit="point") as bar:
        for _ in range(8):
            bar.update()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4 and lines[-1].startswith("nnviz3d: landscape 8/8 points (100%)")
    assert "25%" in lines[0]
    caplog.clear()
    with caplog.at_level("INFO", logger="nnviz3d"), Progress(2, "final embeddings") as bar:
        bar.update()  # crosses 25 % and 50 % at once: one line, not two alike
        bar.update()
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(",")[0] for line in lines] == [
        "nnviz3d: final embeddings 1/2 its (50%)",
        "nnviz3d: final embeddings 2/2 its (100%)",
    ]
    caplog.clear()
    with caplog.at_level("INFO", logger="nnviz3d"), Progress(8, "training", plain=False) as bar:
        bar.update(8, loss="0.1")
    assert caplog.records == [] and capsys.readouterr().err == ""  # no bar off a terminal
