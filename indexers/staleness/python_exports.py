"""What a Python module provides without defining it under that name: names it imports,
names its module ``__getattr__`` answers (``__all__`` next to it, ``if name == "old"``,
``name in _DEPRECATED``) and the classes that shim returns, and a class's base names.
The staleness detector asks these before calling a reference dead (``CodeState.provided``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def base_names(signature: str | None) -> list[str]:
    """``"(sansio.App, Generic[T], metaclass=M)"`` -> ``["App", "Generic"]``: the last
    dotted part of each positional base (keyword arguments are not bases)."""
    if not signature:
        return []
    inner = signature.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    out = []
    for piece in re.split(r",(?![^\[]*\])", inner):
        piece = piece.strip()
        if not piece or "=" in piece or piece.startswith("*"):
            continue
        name = piece.split("[", 1)[0].strip().rsplit(".", 1)[-1]
        if name.isidentifier():
            out.append(name)
    return out


def python_exports(text: str) -> frozenset[str]:
    """Names a Python module binds by import (``from x import a as b``: ``b``) at module
    level (inside ``if``/``try`` too), and, when it has a module ``__getattr__``, the
    strings of its ``__all__`` and the names that ``__getattr__`` answers."""
    return python_module_facts(text)[0]


def python_module_facts(text: str) -> tuple[frozenset[str], dict[str, str], frozenset[str]]:
    """``python_exports``, the module ``__getattr__``'s aliases (``{"Old": "New"}`` for
    ``if name == "Old": ... return New``), and the names it provides lazily."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return frozenset(), {}, frozenset()
    names: set[str] = set()
    listed: set[str] = set()
    shims: set[str] = set()
    aliases: dict[str, str] = {}
    tables = {n.targets[0].id: _strings(n.value) for n in tree.body
              if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)}
    lazy = False
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.If | ast.Try):
            todo.extend(node.body + node.orelse + getattr(node, "finalbody", [])
                        + [x for h in getattr(node, "handlers", []) for x in h.body])
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
                listed.update(e.value for e in getattr(node.value, "elts", ())
                              if isinstance(e, ast.Constant) and isinstance(e.value, str))
        elif isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            lazy = True
            shims |= _getattr_names(node, tables)
            aliases.update(_getattr_aliases(node))
    # ``__all__`` alone promises nothing (a removed function may linger there); with a
    # module ``__getattr__`` it lists what the module provides lazily
    lazy_names = frozenset(listed | shims) if lazy else frozenset()
    return frozenset(names) | lazy_names, aliases, lazy_names


def _getattr_aliases(func: Any) -> dict[str, str]:
    """``if name == "Old": ... return New`` -> ``{"Old": "New"}`` (the deprecation shim)."""
    import ast

    if not func.args.args:
        return {}
    param = func.args.args[0].arg
    out: dict[str, str] = {}
    for node in ast.walk(func):
        test = getattr(node, "test", None) if isinstance(node, ast.If) else None
        if not (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == param
                and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
                and isinstance(test.comparators[0], ast.Constant) and isinstance(test.comparators[0].value, str)):
            continue
        returned = [r.value.id for r in node.body if isinstance(r, ast.Return) and isinstance(r.value, ast.Name)]
        if returned:
            out[test.comparators[0].value] = returned[-1]
    return out


def _strings(node: Any) -> set[str]:
    """The string constants of a literal tuple/list/set, or a dict's string keys."""
    import ast

    elts = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
    if not isinstance(elts, list):
        return set()
    return {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}


def _getattr_names(func: Any, tables: Mapping[str, set[str]]) -> set[str]:
    """Names a module ``__getattr__(name)`` answers: ``name == "old"``, ``name in ("a",
    "b")`` or ``name in _DEPRECATED`` (a module-level literal) inside its body."""
    import ast

    args = func.args.args
    if not args:
        return set()
    param = args[0].arg
    tables = {**tables, **{n.targets[0].id: _strings(n.value) for n in ast.walk(func)
                           if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)}}
    out: set[str] = set()
    for node in ast.walk(func):
        if not (isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == param):
            continue
        for op, right in zip(node.ops, node.comparators, strict=False):
            if isinstance(op, ast.Eq) and isinstance(right, ast.Constant) and isinstance(right.value, str):
                out.add(right.value)
            elif isinstance(op, ast.In):
                out |= _strings(right) if not isinstance(right, ast.Name) else set(tables.get(right.id, ()))
    return out
