"""Python definitions from a tree-sitter-python tree.

What a doc can name: module-level functions, classes (nested ones as ``A.B``),
methods and properties (``Class.method``), module-level and class-level names bound
by plain, annotated or tuple assignments (also under ``if``/``try``/``with`` at those
levels, never inside functions), instance attributes set as ``self.x = ...`` in
methods, and the fields of dataclass-like classes (dataclasses, attrs, pydantic,
NamedTuple, TypedDict, msgspec) as kind ``setting``. Signatures keep parameter names,
annotations, defaults and the ``/`` and ``*`` markers; simple constants keep their
literal value.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from indexers.staleness.symbols_common import (
    MAX_DEPTH,
    Definition,
    Param,
    clip_value,
    constant_or_variable,
    render_signature,
    rows,
    squash,
    text_of,
)

# Decorators (last dotted part, with the module where it is ambiguous) and bases that
# make a class's annotated attributes its fields.
_RECORD_DECORATORS = frozenset({
    "dataclass", "attr.s", "attr.attrs", "attrs", "define", "frozen", "mutable",
    "attr.define", "attrs.define", "attr.frozen", "attrs.frozen", "attr.mutable", "attrs.mutable",
    "dataclass_json", "pydantic_dataclass",
})
_RECORD_BASES = frozenset({
    "BaseModel", "BaseSettings", "NamedTuple", "TypedDict", "Struct", "RootModel", "GenericModel",
})
_FIELD_CALLS = frozenset({"ib", "attrib", "field", "Field", "attr.ib", "attrs.field"})
_LITERALS = frozenset({"integer", "float", "true", "false", "none", "ellipsis"})
_SEQUENCES = frozenset({"tuple", "list", "set", "expression_list"})
_SELF_ATTR = re.compile(r"^[ \t]*self\.([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?::[^=\n]*)?=(?!=)")
_BLOCKS = frozenset({"block", "else_clause", "elif_clause", "except_clause", "finally_clause",
                     "except_group_clause"})
_NESTING = frozenset({"if_statement", "try_statement", "with_statement"})


def python_definitions(root: Node, text: str) -> list[Definition]:
    out: list[Definition] = []
    lines = text.split("\n")
    _walk(root.named_children, "", False, False, out, lines, 0)
    return out


def _walk(nodes: list[Node], prefix: str, in_class: bool, record: bool,
          out: list[Definition], lines: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        return
    for node in nodes:
        kind = node.type
        decorators: list[Node] = []
        if kind == "decorated_definition":
            decorators = [c for c in node.children if c.type == "decorator"]
            inner = node.child_by_field_name("definition")
            if inner is None:
                continue
            node, kind = inner, inner.type
        if kind == "function_definition":
            _function(node, prefix, in_class, out, lines)
        elif kind == "class_definition":
            _class(node, decorators, prefix, out, lines, depth)
        elif kind == "expression_statement":
            for child in node.named_children:
                if child.type == "assignment":
                    _assignment(child, prefix, record, out)
        elif kind == "type_alias_statement":
            name = text_of(node.child_by_field_name("left"))
            if name.isidentifier():
                first, last = rows(node)
                out.append(Definition(prefix + name, constant_or_variable(name), first, last))
        elif kind in _NESTING and not _is_main_guard(node):
            for body in _bodies(node):
                _walk(body, prefix, in_class, record, out, lines, depth + 1)


def _bodies(node: Node) -> list[list[Node]]:
    """Statement lists of an ``if``/``try``/``with`` and of its clauses."""
    found: list[list[Node]] = []
    for child in node.named_children:
        if child.type == "block":
            found.append(child.named_children)
        elif child.type in _BLOCKS:
            found.extend(_bodies(child))
    return found


def _is_main_guard(node: Node) -> bool:
    condition = node.child_by_field_name("condition")
    return node.type == "if_statement" and "__main__" in text_of(condition)


def _function(node: Node, prefix: str, in_class: bool, out: list[Definition],
              lines: list[str]) -> None:
    name = text_of(node.child_by_field_name("name"))
    if not name:
        return
    params = parameters(node.child_by_field_name("parameters"))
    first, last = rows(node)
    out.append(Definition(prefix + name, "method" if in_class else "function", first, last,
                          render_signature(params), params))
    if in_class:  # instance attributes: self.x = ... (read by line, no walk of the body)
        owner = prefix[:-1]
        for row in range(first, min(last, len(lines))):
            m = _SELF_ATTR.match(lines[row])
            if m:
                out.append(Definition(f"{owner}.{m.group(1)}", "variable", row + 1, row + 1))


def _class(node: Node, decorators: list[Node], prefix: str, out: list[Definition],
           lines: list[str], depth: int) -> None:
    name = text_of(node.child_by_field_name("name"))
    if not name:
        return
    first, last = rows(node)
    bases = node.child_by_field_name("superclasses")
    base_names = [text_of(b).rsplit(".", 1)[-1].split("[", 1)[0]
                  for b in (bases.named_children if bases is not None else [])
                  if b.type != "keyword_argument"]
    signature = "(" + ", ".join(squash(text_of(b)) for b in bases.named_children) + ")" if bases else None
    out.append(Definition(prefix + name, "class", first, last, signature))
    record = bool(_RECORD_BASES.intersection(base_names)) or any(
        _decorator_name(d) in _RECORD_DECORATORS for d in decorators)
    body = node.child_by_field_name("body")
    if body is not None:
        _walk(body.named_children, f"{prefix}{name}.", True, record, out, lines, depth + 1)


def _decorator_name(decorator: Node) -> str:
    """``attr.s`` and ``attrs.define`` keep their module; others their last part."""
    expr = next((c for c in decorator.named_children), None)
    if expr is not None and expr.type == "call":
        expr = expr.child_by_field_name("function")
    name = text_of(expr)
    return name if name.startswith(("attr.", "attrs.")) else name.rsplit(".", 1)[-1]


def _assignment(node: Node, prefix: str, record: bool, out: list[Definition]) -> None:
    """``a = b = 1``: each target once, with the chain's value (a chain is walked, not
    recursed: jinja has one 50 targets long, and recursing at every link was exponential)."""
    targets = [node]
    right = node.child_by_field_name("right")
    while right is not None and right.type == "assignment":
        targets.append(right)
        right = right.child_by_field_name("right")
    for target in targets:
        _target(target, right, prefix, record, out)


def _target(node: Node, right: Node | None, prefix: str, record: bool, out: list[Definition]) -> None:
    left = node.child_by_field_name("left")
    annotation = node.child_by_field_name("type")
    if left is None:
        return
    first, last = rows(node)
    if left.type == "identifier":
        name = text_of(left)
        kind = constant_or_variable(name)
        ann = text_of(annotation)
        if record and not ann.startswith(("ClassVar", "typing.ClassVar")) and (
                annotation is not None or _is_field_call(right)):
            kind = "setting"
        if prefix and name == "options" and right is not None:
            _option_table(right, prefix, out)
        out.append(Definition(prefix + name, kind, first, last, value=literal(right)))
    elif left.type in ("pattern_list", "tuple_pattern", "list_pattern"):
        names = [c for c in left.named_children if c.type == "identifier"]
        values = right.named_children if right is not None and right.type in _SEQUENCES else []
        for i, target in enumerate(names):
            name = text_of(target)
            value = literal(values[i]) if len(values) == len(names) else None
            out.append(Definition(prefix + name, constant_or_variable(name), first, last, value=value))


def _is_field_call(node: Node | None) -> bool:
    if node is None or node.type != "call":
        return False
    return text_of(node.child_by_field_name("function")) in _FIELD_CALLS


def _option_table(node: Node, prefix: str, out: list[Definition]) -> None:
    """pylint's ``options = (("max-line-length", {...}), ...)``: each entry is a
    command-line option (``--max-line-length``) and a configuration-file key."""
    if node.type not in ("tuple", "list"):
        return
    for entry in node.named_children[:500]:
        items = entry.named_children if entry.type in ("tuple", "list") else []
        if len(items) >= 2 and items[0].type == "string" and items[1].type == "dictionary":
            key = string_value(items[0])
            if key and re.fullmatch(r"[A-Za-z][\w-]*\w", key):
                first, last = rows(entry)
                out.append(Definition(f"--{key}", "option", first, last))
                out.append(Definition(key, "setting", first, last))


def string_value(node: Node) -> str | None:
    """The value of a plain (not f-) string literal, else None."""
    if node.type != "string" or any(c.type == "interpolation" for c in node.named_children):
        return None
    parts = [c for c in node.named_children if c.type == "string_content"]
    return "".join(text_of(c) for c in parts)


def literal(node: Node | None, depth: int = 0) -> str | None:
    """Source text of a simple constant value (numbers, plain strings, bools, None, short
    tuples/lists/sets of those, arithmetic on numbers), whitespace-normalised."""
    if node is None or depth > 3 or not _simple(node, depth):
        return None
    return clip_value(text_of(node))


def _simple(node: Node, depth: int) -> bool:
    kind = node.type
    if kind in _LITERALS:
        return True
    if kind == "string":
        return string_value(node) is not None
    if kind == "concatenated_string":
        return all(_simple(c, depth + 1) for c in node.named_children)
    if kind in ("unary_operator", "binary_operator", "parenthesized_expression"):
        return all(_simple(c, depth + 1) and c.type != "string" for c in node.named_children)
    if kind in _SEQUENCES:
        items = node.named_children
        return len(items) <= 16 and all(_simple(c, depth + 1) for c in items)
    return False


def parameters(node: Node | None) -> tuple[Param, ...]:
    """Parameters of a ``parameters`` node, with ``/`` and ``*`` markers kept."""
    if node is None:
        return ()
    params: list[Param] = []
    for child in node.named_children:
        kind = child.type
        if kind == "identifier":
            params.append(Param(text_of(child), None))
        elif kind in ("default_parameter", "typed_default_parameter"):
            name = child.child_by_field_name("name")
            params.append(Param(text_of(name), squash(text_of(child.child_by_field_name("value"))),
                                _annotation(child)))
        elif kind == "typed_parameter":
            inner = next((c for c in child.named_children if c.type != "type"), None)
            params.append(Param(_param_name(inner), None, _annotation(child)))
        elif kind in ("list_splat_pattern", "dictionary_splat_pattern"):
            params.append(Param(_param_name(child), None))
        elif kind == "keyword_separator":
            params.append(Param("*", None))
        elif kind == "positional_separator":
            params.append(Param("/", None))
    return tuple(params)


def _param_name(node: Node | None) -> str:
    if node is None:
        return ""
    if node.type == "list_splat_pattern":
        return "*" + text_of(node.named_children[0] if node.named_children else None)
    if node.type == "dictionary_splat_pattern":
        return "**" + text_of(node.named_children[0] if node.named_children else None)
    return text_of(node)


def _annotation(node: Node) -> str | None:
    found = node.child_by_field_name("type")
    return squash(text_of(found)) if found is not None else None
