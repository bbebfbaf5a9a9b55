"""While torch reads a file from elsewhere, nothing in it can run: :func:`refusing_code`.

``torch.export.load`` can unpickle in several places (``torch.load(weights_only=False)`` for
pickled weights and constants, a ``weights_only=False`` retry for sample inputs, the legacy
layout's ``serialized_*.pt``, ``pickle.loads`` for opaque objects, ``torch._C._pickle_load_obj``
for script objects), load AOTInductor shared libraries, and parse symbolic shapes with
``sympy.sympify``, which ``eval``\\ s its string. The archive is checked before it is loaded,
but the check is not what makes this safe: inside :func:`refusing_code`, on the calling thread,

* ``torch.load`` is weights-only whatever the caller asks (a custom ``pickle_module`` or
  ``weights_only=False`` is refused),
* ``pickle.load``/``pickle.loads``, ``torch._C._pickle_load_obj``, ``torch.jit.load``,
  ``torch.ops.load_library``, ``ctypes.CDLL`` and AOTInductor package loading are refused,
* ``sympy.sympify`` (its ``parse_expr``) takes a string only if it is an arithmetic
  expression of symbols, numbers and known sympy functions (:func:`check_sym_expr`): no
  attributes, subscripts, lambdas, builtins or strings but plain names, so its ``eval``
  cannot reach anything.

The replacements are installed for the duration only and act on the guarded thread only
(other threads see the originals' behaviour). A refusal raises :class:`CodeRefused` (not a
``RuntimeError``, which ``torch.export.load`` would answer by trying its legacy layout) and is
also recorded on the guard, so a caller still knows if torch swallowed the exception.
"""

from __future__ import annotations

import builtins
import io
import keyword
import re
import threading
import tokenize
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SAFE_SYMPY = frozenset(
    {
        "Max",
        "Min",
        "Abs",
        "Eq",
        "Ne",
        "Lt",
        "Le",
        "Gt",
        "Ge",
        "And",
        "Or",
        "Not",
        "Xor",
        "floor",
        "ceiling",
        "sqrt",
        "Mod",
        "Piecewise",
        "ITE",
        "Integer",
        "Rational",
        "Float",
        "Pow",
        "Mul",
        "Add",
        "oo",
        "zoo",
        "nan",
        "pi",
        "E",
        "I",
        "true",
        "false",
        "log",
        "exp",
        "sign",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "sinh",
        "cosh",
        "tanh",
        "Symbol",
    }
)
"""Names that sympy defines and a torch shape expression may use."""
SAFE_OPS = frozenset(
    {
        "+",
        "-",
        "*",
        "/",
        "//",
        "%",
        "**",
        "(",
        ")",
        ",",
        "<",
        ">",
        "<=",
        ">=",
        "==",
        "!=",
        "&",
        "|",
        "~",
        "^",
    }
)
SIMPLE_STRING = re.compile(r"'[A-Za-z0-9_.+-]*'|\"[A-Za-z0-9_.+-]*\"")
"""A quoted name or number (``Symbol('s0')``, ``Float('1.5')``): no prefix, no escapes."""
KEYWORD_ARG = re.compile(r"[a-z][a-z_]*")
MAX_EXPR = 4096
MAX_POWERS = 4
MAX_DIGITS = 20


class CodeRefused(Exception):
    """Something tried to unpickle, load native code or evaluate an unsafe expression."""


def check_sym_expr(text: str) -> str | None:
    """Why the sympy expression ``text`` is unsafe to ``sympify``, or ``None`` if it is an
    arithmetic expression of symbols, numbers and :data:`SAFE_SYMPY` functions, in plain
    (``2*s0``) or srepr form (``Mul(Integer(2), Symbol('s0', positive=True))``): string
    literals only as plain names or numbers, ``=`` only for keyword arguments."""
    import sympy

    if not isinstance(text, str) or len(text) > MAX_EXPR:
        return "an expression that is not a short string"
    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type
            not in (
                tokenize.NEWLINE,
                tokenize.NL,
                tokenize.ENDMARKER,
                tokenize.INDENT,
                tokenize.DEDENT,
            )
        ]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return "an expression that does not tokenize"
    powers = 0
    for i, tok in enumerate(tokens):
        kind, value = tok.type, tok.string
        before = tokens[i - 1].string if i else ""
        after = tokens[i + 1].string if i + 1 < len(tokens) else ""
        if kind == tokenize.NUMBER:
            if len(value) > MAX_DIGITS:
                return f"a number of {len(value)} digits"
        elif kind == tokenize.STRING:
            if not SIMPLE_STRING.fullmatch(value):
                return f"the string {value[:40]!r}"
        elif kind == tokenize.OP and value == "=":
            if not (
                KEYWORD_ARG.fullmatch(before) and i >= 2 and tokens[i - 2].string in ("(", ",")
            ):
                return "an assignment"
        elif kind == tokenize.OP and value in SAFE_OPS:
            powers += value == "**"
            if powers > MAX_POWERS:
                return "too many powers"
        elif kind == tokenize.NAME:
            if after == "=" and before in ("(", ",") and KEYWORD_ARG.fullmatch(value):
                continue  # a keyword argument (positive=True): a name, not a value
            if value in SAFE_SYMPY or value in ("True", "False"):
                continue
            if (
                value.startswith("_")
                or keyword.iskeyword(value)
                or hasattr(builtins, value)
                or hasattr(sympy, value)
            ):
                return f"the name {value!r}"
            # an unknown name: sympy makes it a symbol (s0, u1) or a torch sympy function
        else:
            return f"{value!r}"
    return None


_local = threading.local()
_lock = threading.Lock()
_installed: list[tuple[object, str, object]] = []
_users = 0


class Guard:
    """What :func:`refusing_code` refused, in order (empty when nothing tried)."""

    def __init__(self) -> None:
        self.refused: list[str] = []


def _active() -> Guard | None:
    return getattr(_local, "guard", None)


def _refuse(what: str):
    guard = _active()
    if guard is not None:
        guard.refused.append(what)
    raise CodeRefused(what)


def _gated(original: Callable, replacement: Callable) -> Callable:
    """``replacement`` on a guarded thread, ``original`` elsewhere."""

    def call(*args, **kwargs):
        if _active() is None:
            return original(*args, **kwargs)
        return replacement(original, *args, **kwargs)

    call.__wrapped__ = original
    call.__name__ = getattr(original, "__name__", "guarded")
    call.__doc__ = getattr(original, "__doc__", None)
    return call


def _torch_load(original, f, map_location=None, pickle_module=None, *, weights_only=None, **kwargs):
    if pickle_module is not None or weights_only is False:
        _refuse("torch.load without weights_only (it would unpickle arbitrary objects)")
    return original(f, map_location, weights_only=True, **kwargs)


def _refusal(what: str) -> Callable:
    def refuse(original, *args, **kwargs):
        _refuse(what)

    return refuse


def _parse_expr(original, s, *args, **kwargs):
    reason = check_sym_expr(s)
    if reason is not None:
        _refuse(f"a symbolic shape expression with {reason}")
    return original(s, *args, **kwargs)


def _targets() -> Iterator[tuple[object, str, Callable]]:
    """``(owner, attribute, replacement)`` of every entry point :func:`refusing_code` guards."""
    import ctypes
    import pickle

    import sympy.parsing.sympy_parser
    import torch
    from torch.export.pt2_archive import _package

    yield torch, "load", _torch_load
    yield torch.serialization, "load", _torch_load
    yield pickle, "load", _refusal("pickle.load")
    yield pickle, "loads", _refusal("pickle.loads")
    yield torch._C, "_pickle_load_obj", _refusal("a TorchScript object unpickler")
    yield torch.jit, "load", _refusal("torch.jit.load")
    yield torch.ops, "load_library", _refusal("loading a native library")
    yield ctypes, "CDLL", _refusal("loading a native library")
    yield _package, "_load_aoti", _refusal("loading AOTInductor native code")
    yield sympy.parsing.sympy_parser, "parse_expr", _parse_expr  # every sympify of a string


def _install() -> None:
    global _users
    with _lock:
        if _users == 0:
            for owner, name, replacement in _targets():
                original = getattr(owner, name, None)
                if original is None:  # not in this torch version: nothing to guard
                    continue
                _installed.append((owner, name, original))
                setattr(owner, name, _gated(original, replacement))
        _users += 1


def _uninstall() -> None:
    global _users
    with _lock:
        _users -= 1
        if _users == 0:
            for owner, name, original in reversed(_installed):
                setattr(owner, name, original)
            _installed.clear()


@contextmanager
def refusing_code() -> Iterator[Guard]:
    """Run the block with unpickling, native code loading and unsafe ``sympify`` refused on
    this thread; yields the :class:`Guard` that records what was refused."""
    if _active() is not None:  # nested: the outer guard already holds
        yield _active()
        return
    _install()
    guard = Guard()
    _local.guard = guard
    try:
        yield guard
    finally:
        _local.guard = None
        _uninstall()
