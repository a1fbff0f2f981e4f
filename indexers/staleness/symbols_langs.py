"""Definitions for the chunked languages other than Python (JS/TS, Go, Java, Rust, C,
C++, C#, Ruby, PHP, Kotlin).

The chunker's ``code_rules.classify`` already knows which nodes are definitions and
what they are called; this walks the same nodes, qualifies members with their
container (``HttpClient.send``, Go ``Server.Start``, Rust ``impl`` blocks), reads the
parameter list where the grammar names it, and adds top-level and class-level
constants where the grammar makes them easy to see.
"""

from __future__ import annotations

from collections.abc import Callable

from tree_sitter import Node

from indexers.chunking.code_rules import BODY_TYPES, CONTAINER_KINDS, RULES, LanguageRules, classify
from indexers.staleness.symbols_common import (
    MAX_DEPTH,
    Definition,
    Param,
    clip_value,
    constant_or_variable,
    rows,
    squash,
    text_of,
)

_PARAM_LISTS = frozenset({
    "formal_parameters", "parameter_list", "parameters", "method_parameters",
    "function_value_parameters", "lambda_parameters",
})
_NAME_FIELDS = ("name", "pattern", "left", "declarator")
_DEFAULT_FIELDS = ("value", "default_value", "right")
_LITERAL_TYPES = frozenset({
    "number", "string", "true", "false", "null", "int_literal", "float_literal",
    "interpreted_string_literal", "raw_string_literal", "decimal_integer_literal",
    "hex_integer_literal", "decimal_floating_point_literal", "string_literal", "integer_literal",
    "boolean_literal", "number_literal", "char_literal", "character_literal", "integer", "float",
    "boolean", "nil", "preproc_arg", "real_literal", "verbatim_string_literal", "encapsed_string",
    "simple_symbol", "none", "long_literal", "unary_expression",
})


def language_definitions(root: Node, text: str, language: str) -> list[Definition]:
    rules = RULES.get(language)
    if rules is None:
        return []
    out: list[Definition] = []
    _walk(root.named_children, "", rules, language, out, 0)
    return out


def _body(node: Node) -> Node | None:
    found = node.child_by_field_name("body")
    if found is None:
        found = next((c for c in node.named_children if c.type in BODY_TYPES), None)
    return found


def _walk(nodes: list[Node], prefix: str, rules: LanguageRules, language: str,
          out: list[Definition], depth: int) -> None:
    if depth > MAX_DEPTH:
        return
    for node in nodes:
        if node.type in rules.transparent or node.type in ("declaration_list", "ERROR"):
            inner = _body(node) if node.type in rules.transparent else None
            _walk((inner or node).named_children, prefix, rules, language, out, depth + 1)
            continue
        found = classify(node, rules)
        if found is None:
            constants = _CONSTANTS.get(language)
            if constants is not None:
                out.extend(constants(node, prefix))
            continue
        first, last = rows(found.inner if found.kind == "impl" else node)
        name = found.name
        if found.kind in CONTAINER_KINDS:
            qualified = prefix + name
            if found.kind != "impl":
                out.append(Definition(qualified, "class", first, last))
            body = _body(found.inner)
            if body is not None:
                _walk(body.named_children, qualified + ".", rules, language, out, depth + 1)
            continue
        if found.kind == "method" or "." in name:
            kind = "method"  # Go receivers, C++ ``C::m`` out of line
        else:
            kind = "method" if prefix else "function"
        first = _name_row(found.inner, first)
        params_node = _parameters(found.inner)
        params = _params(params_node) if params_node is not None else ()
        signature = squash(text_of(params_node)) if params_node is not None else None
        out.append(Definition(prefix + name, kind, first, last, signature, params))


def _name_row(node: Node, fallback: int) -> int:
    """The line of the name, past annotations and attributes above it."""
    name = node.child_by_field_name("name") or node.child_by_field_name("declarator")
    return name.start_point.row + 1 if name is not None else fallback


def _parameters(node: Node) -> Node | None:
    found = node.child_by_field_name("parameters")
    if found is not None:
        return found
    declarator = node.child_by_field_name("declarator")  # C/C++: through the declarators
    for _ in range(8):
        if declarator is None:
            break
        found = declarator.child_by_field_name("parameters")
        if found is not None:
            return found
        declarator = declarator.child_by_field_name("declarator")
    return next((c for c in node.named_children if c.type in _PARAM_LISTS), None)


def _params(node: Node) -> tuple[Param, ...]:
    params: list[Param] = []
    kids = node.children
    skip = -1
    for i, child in enumerate(kids):
        if i <= skip or not child.is_named or "comment" in child.type:
            continue
        if child.type in ("identifier", "simple_identifier"):
            params.append(Param(text_of(child), None))
            continue
        names = [c for f in _NAME_FIELDS for c in child.children_by_field_name(f) if c.is_named]
        if not names:
            names = [c for c in child.named_children if c.type in ("identifier", "variable_name")][:1]
        default = next((child.child_by_field_name(f) for f in _DEFAULT_FIELDS
                        if child.child_by_field_name(f) is not None), None)
        if default is None:
            default = _after_equals(child.children)  # C#: ``string b = "x"``
        if default is None and i + 2 < len(kids) and kids[i + 1].type == "=":
            default, skip = kids[i + 2], i + 2  # Kotlin: the default follows the parameter
        annotation = child.child_by_field_name("type") or next(
            (c for c in child.named_children if c.type.endswith("_type")), None)
        ann = squash(text_of(annotation)).lstrip(":").strip() or None if annotation is not None else None
        if not names:
            names = [child]  # rest/splat patterns: keep their text (``...args``, ``*rest``)
        for target in names:
            if target.type.endswith("_declarator"):  # C/C++ ``*buf``, ``&request``: the name
                target = _innermost_name(target)
            params.append(Param(squash(text_of(target)), squash(text_of(default)) if default else None, ann))
    return tuple(params)


def _after_equals(children: list[Node]) -> Node | None:
    for i, child in enumerate(children[:-1]):
        if child.type == "=" and children[i + 1].is_named:
            return children[i + 1]
    return None


def _innermost_name(node: Node) -> Node:
    for _ in range(8):
        inner = node.child_by_field_name("declarator")
        if inner is None:
            inner = next((c for c in node.named_children if c.type == "identifier"), None)
        if inner is None:
            return node
        node = inner
        if node.type == "identifier":
            break
    return node


# --- constants ---------------------------------------------------------------------


def _literal(node: Node | None) -> str | None:
    if node is None:
        return None
    if node.type in ("expression_list",) and node.named_child_count == 1:
        node = node.named_children[0]
    if node.type not in _LITERAL_TYPES and not node.type.endswith("_literal"):
        return None
    if node.type in ("template_string",) or any(c.type == "template_substitution" for c in node.children):
        return None
    return clip_value(text_of(node))


def _define(name: str, kind: str, node: Node, value: str | None) -> Definition:
    first, last = rows(node)
    return Definition(name, kind, first, last, value=value)


def _js_constants(node: Node, prefix: str) -> list[Definition]:
    if node.type == "export_statement":
        inner = node.child_by_field_name("declaration")
        return _js_constants(inner, prefix) if inner is not None else []
    if node.type == "lexical_declaration" and text_of(node.child_by_field_name("kind")) == "const":
        out = []
        for decl in node.named_children:
            if decl.type == "variable_declarator":
                name = text_of(decl.child_by_field_name("name"))
                value = _literal(decl.child_by_field_name("value"))
                if name.isidentifier() and value is not None:
                    out.append(_define(prefix + name, "constant", decl, value))
        return out
    if node.type in ("field_definition", "public_field_definition") and prefix:
        name = text_of(node.child_by_field_name("property") or node.child_by_field_name("name"))
        if name.isidentifier():
            value = _literal(node.child_by_field_name("value"))
            return [_define(prefix + name, constant_or_variable(name), node, value)]
    return []


def _go_constants(node: Node, prefix: str) -> list[Definition]:
    if node.type not in ("const_declaration", "var_declaration"):
        return []
    kind = "constant" if node.type == "const_declaration" else "variable"
    out = []
    for spec in node.named_children:
        if spec.type == "var_spec_list":
            spec_nodes = spec.named_children
        else:
            spec_nodes = [spec]
        for item in spec_nodes:
            if item.type not in ("const_spec", "var_spec"):
                continue
            names = [n for n in item.children_by_field_name("name") if n.is_named]
            values = item.child_by_field_name("value")
            vals = values.named_children if values is not None else []
            for i, target in enumerate(names):
                value = _literal(vals[i]) if len(vals) == len(names) else None
                out.append(_define(text_of(target), kind, item, value))
    return out


def _modifier_words(node: Node) -> set[str]:
    words: set[str] = set()
    for child in node.children:
        if child.type in ("modifiers", "modifier", "property_modifier", "storage_class_specifier",
                          "type_qualifier"):
            words.update(text_of(child).split())
    return words


def _java_constants(node: Node, prefix: str) -> list[Definition]:
    if node.type != "field_declaration" or not {"static", "final"} <= _modifier_words(node):
        return []
    out = []
    for decl in node.children_by_field_name("declarator"):
        name = text_of(decl.child_by_field_name("name"))
        if name:
            out.append(_define(prefix + name, "constant", decl, _literal(decl.child_by_field_name("value"))))
    return out


def _csharp_constants(node: Node, prefix: str) -> list[Definition]:
    if node.type != "field_declaration" or "const" not in _modifier_words(node):
        return []
    out = []
    for decl_list in node.named_children:
        if decl_list.type != "variable_declaration":
            continue
        for decl in decl_list.named_children:
            if decl.type == "variable_declarator":
                name = text_of(decl.child_by_field_name("name"))
                value = _literal(decl.named_children[-1]) if decl.named_child_count > 1 else None
                if name:
                    out.append(_define(prefix + name, "constant", decl, value))
    return out


def _rust_constants(node: Node, prefix: str) -> list[Definition]:
    if node.type not in ("const_item", "static_item"):
        return []
    name = text_of(node.child_by_field_name("name"))
    return [_define(prefix + name, "constant", node, _literal(node.child_by_field_name("value")))] if name else []


def _c_constants(node: Node, prefix: str) -> list[Definition]:
    if node.type == "preproc_def":
        name = text_of(node.child_by_field_name("name"))
        value = node.child_by_field_name("value")
        return [_define(name, "constant", node, clip_value(text_of(value)) if value else None)] if name else []
    if node.type == "declaration" and "const" in _modifier_words(node):
        out = []
        for decl in node.children_by_field_name("declarator"):
            target = decl.child_by_field_name("declarator")
            if decl.type == "init_declarator" and target is not None and target.type == "identifier":
                out.append(_define(prefix + text_of(target), "constant", decl,
                                   _literal(decl.child_by_field_name("value"))))
        return out
    return []


def _ruby_constants(node: Node, prefix: str) -> list[Definition]:
    if node.type != "assignment":
        return []
    left = node.child_by_field_name("left")
    if left is None or left.type != "constant":
        return []
    return [_define(prefix + text_of(left), "constant", node, _literal(node.child_by_field_name("right")))]


def _php_constants(node: Node, prefix: str) -> list[Definition]:
    if node.type != "const_declaration":
        return []
    out = []
    for element in node.named_children:
        if element.type == "const_element" and element.named_children:
            name = text_of(element.named_children[0])
            value = _literal(element.named_children[-1]) if element.named_child_count > 1 else None
            out.append(_define(prefix + name, "constant", element, value))
    return out


def _kotlin_constants(node: Node, prefix: str) -> list[Definition]:
    if node.type != "property_declaration" or "const" not in _modifier_words(node):
        return []
    decl = next((c for c in node.named_children if c.type == "variable_declaration"), None)
    name = text_of(decl.named_children[0]) if decl is not None and decl.named_children else ""
    value = _literal(node.named_children[-1]) if node.named_children else None
    return [_define(prefix + name, "constant", node, value)] if name else []


_CONSTANTS: dict[str, Callable[[Node, str], list[Definition]]] = {
    "javascript": _js_constants, "typescript": _js_constants, "tsx": _js_constants,
    "go": _go_constants, "java": _java_constants, "rust": _rust_constants, "c": _c_constants,
    "cpp": _c_constants, "csharp": _csharp_constants, "ruby": _ruby_constants,
    "php": _php_constants, "kotlin": _kotlin_constants,
}
