"""Per-language knowledge for the code chunker: which tree-sitter nodes are definitions,
what they are called, and which nodes only wrap or group others.

Kept apart from ``code.py`` so the chunking algorithm stays language-neutral: adding a
language means adding a ``LanguageRules`` entry here, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tree_sitter import Node

# Kinds that name a scope (their members get "Scope.member" symbols).
CONTAINER_KINDS = frozenset(
    {"class", "interface", "struct", "enum", "impl", "trait", "module", "object", "type"}
)

# Comments and attributes glued to the piece that follows them.
LEADING_TYPES = frozenset(
    {"comment", "line_comment", "block_comment", "multiline_comment", "attribute_item", "decorator"}
)

# Body node types for grammars (Kotlin, some C-family nodes) that have no "body" field.
BODY_TYPES = frozenset(
    {
        "block", "class_body", "enum_class_body", "function_body", "declaration_list",
        "field_declaration_list", "compound_statement", "statement_block", "body_statement",
        "enum_body", "interface_body", "enum_member_declaration_list", "enum_declaration_list",
        "enum_variant_list", "object_type",
    }
)


@dataclass(frozen=True)
class Definition:
    """A definition found at a node: ``inner`` is the node holding header and body
    (the function under a decorator or ``export``)."""

    kind: str
    name: str
    inner: Node


Classifier = Callable[[Node, "LanguageRules"], "Definition | None"]


@dataclass(frozen=True)
class LanguageRules:
    defs: Mapping[str, str]
    wrappers: Mapping[str, str | None] = field(default_factory=dict)
    transparent: frozenset[str] = frozenset()
    special: Mapping[str, Classifier] = field(default_factory=dict)


def node_text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def clean_name(raw: str) -> str:
    """Dotted form of a qualified name (``Net::HTTP``, ``App\\Http``, ``std::string``)."""
    name = " ".join(raw.split())
    return name.replace("::", ".").replace("\\", ".").strip(".")


def field_name(node: Node, field_: str = "name") -> str | None:
    child = node.child_by_field_name(field_)
    return clean_name(node_text(child)) if child is not None else None


def classify(node: Node, rules: LanguageRules, depth: int = 0) -> Definition | None:
    """The definition ``node`` introduces, or None for anything else."""
    kind_of = rules.special.get(node.type)
    if kind_of is not None:
        return kind_of(node, rules)
    kind = rules.defs.get(node.type)
    if kind is not None:
        name = field_name(node)
        return Definition(kind, name, node) if name else None
    if node.type in rules.wrappers and depth < 4:
        wanted = rules.wrappers[node.type]
        inner = node.child_by_field_name(wanted) if wanted else None
        if inner is None:
            named = node.named_children
            inner = named[-1] if named else None
        if inner is not None:
            found = classify(inner, rules, depth + 1)
            if found is not None:
                return found
    return None


# --- special cases --------------------------------------------------------------------

_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_CLASS_VALUES = frozenset({"class", "class_expression"})


def _js_variable(node: Node, rules: LanguageRules) -> Definition | None:
    declarators = [c for c in node.named_children if c.type == "variable_declarator"]
    if len(declarators) != 1:
        return None
    value = declarators[0].child_by_field_name("value")
    if value is None:
        return None
    if value.type in _FUNCTION_VALUES:
        kind = "function"
    elif value.type in _CLASS_VALUES:
        kind = "class"
    else:
        return None
    name = field_name(declarators[0])
    return Definition(kind, name, value) if name else None


def _js_expression(node: Node, rules: LanguageRules) -> Definition | None:
    named = node.named_children
    if len(named) != 1:
        return None
    child = named[0]
    if child.type in ("internal_module", "module"):
        return _ts_module(child, rules)
    if child.type == "assignment_expression":
        right = child.child_by_field_name("right")
        if right is not None and right.type in _FUNCTION_VALUES:
            name = clean_name(node_text(child.child_by_field_name("left")))
            return Definition("function", name, right) if name else None
    return None


def _ts_module(node: Node, rules: LanguageRules) -> Definition | None:
    """``namespace X {}`` and ``declare module "x" {}``."""
    name = (field_name(node) or "").strip("'" + '"')
    return Definition("module", name, node) if name else None


def _js_field(node: Node, rules: LanguageRules) -> Definition | None:
    value = node.child_by_field_name("value")
    if value is None or value.type not in _FUNCTION_VALUES:
        return None
    name = field_name(node, "name") or field_name(node, "property")
    return Definition("function", name, value) if name else None


def _go_method(node: Node, rules: LanguageRules) -> Definition | None:
    name = field_name(node)
    receiver = node.child_by_field_name("receiver")
    owner = _first_of_type(receiver, "type_identifier") if receiver is not None else None
    if not name:
        return None
    return Definition("method", f"{node_text(owner)}.{name}" if owner else name, node)


def _go_type(node: Node, rules: LanguageRules) -> Definition | None:
    specs = [c for c in node.named_children if c.type in ("type_spec", "type_alias")]
    if len(specs) != 1:
        return None
    name = field_name(specs[0])
    body = specs[0].child_by_field_name("type")
    kind = {"struct_type": "struct", "interface_type": "interface"}.get(
        body.type if body is not None else "", "type"
    )
    return Definition(kind, name, body if body is not None else node) if name else None


def _first_of_type(node: Node, wanted: str, limit: int = 64) -> Node | None:
    stack = [node]
    while stack and limit > 0:
        limit -= 1
        current = stack.pop()
        if current.type == wanted:
            return current
        stack.extend(reversed(current.named_children))
    return None


def _rust_impl(node: Node, rules: LanguageRules) -> Definition | None:
    target = node.child_by_field_name("type")
    while target is not None and target.type == "generic_type":
        target = target.child_by_field_name("type")
    name = clean_name(node_text(target))
    return Definition("impl", name, node) if name else None


def _rust_mod(node: Node, rules: LanguageRules) -> Definition | None:
    if node.child_by_field_name("body") is None:
        return None
    name = field_name(node)
    return Definition("module", name, node) if name else None


_C_NAME_TYPES = frozenset(
    {"identifier", "field_identifier", "qualified_identifier", "destructor_name",
     "operator_name", "type_identifier", "template_function"}
)


def _c_function(node: Node, rules: LanguageRules) -> Definition | None:
    declarator = node.child_by_field_name("declarator")
    for _ in range(16):
        if declarator is None or declarator.type in _C_NAME_TYPES:
            break
        nxt = declarator.child_by_field_name("declarator")
        if nxt is None:
            nxt = next((c for c in declarator.named_children if c.type != "parameter_list"), None)
        declarator = nxt
    if declarator is None or declarator.type not in _C_NAME_TYPES:
        return None
    name = clean_name(node_text(declarator))
    return Definition("method" if "." in name else "function", name, node)


_C_SPECIFIERS = {
    "class_specifier": "class", "struct_specifier": "struct",
    "union_specifier": "struct", "enum_specifier": "enum",
}


def _c_specifier(node: Node, rules: LanguageRules) -> Definition | None:
    if node.child_by_field_name("body") is None:
        return None
    name = field_name(node)
    return Definition(_C_SPECIFIERS[node.type], name, node) if name else None


def _c_typedef(node: Node, rules: LanguageRules) -> Definition | None:
    """``typedef struct {...} name;`` and ``struct s {...} var;``."""
    spec = node.child_by_field_name("type")
    if spec is None or spec.type not in _C_SPECIFIERS or spec.child_by_field_name("body") is None:
        return None
    name = field_name(spec)
    if not name or node.type == "type_definition":
        name = field_name(node, "declarator") or name
    return Definition(_C_SPECIFIERS[spec.type], name, spec) if name else None


def _kotlin_class(node: Node, rules: LanguageRules) -> Definition | None:
    name = field_name(node)
    if not name:
        return None
    kind = "interface" if any(c.type == "interface" for c in node.children) else "class"
    return Definition(kind, name, node)


def _named_as(name: str, kind: str = "function") -> Classifier:
    def classifier(node: Node, rules: LanguageRules) -> Definition | None:
        return Definition(kind, field_name(node) or name, node)

    return classifier


# --- the languages ------------------------------------------------------------------

_PYTHON = LanguageRules(
    defs={"function_definition": "function", "class_definition": "class"},
    wrappers={"decorated_definition": "definition"},
)

_JS_DEFS = {
    "function_declaration": "function", "generator_function_declaration": "function",
    "class_declaration": "class", "method_definition": "function",
}
_JS_SPECIAL: dict[str, Classifier] = {
    "lexical_declaration": _js_variable, "variable_declaration": _js_variable,
    "expression_statement": _js_expression, "field_definition": _js_field,
    "public_field_definition": _js_field,
}
_JAVASCRIPT = LanguageRules(
    defs=_JS_DEFS, wrappers={"export_statement": "declaration"}, special=_JS_SPECIAL
)
_TYPESCRIPT = LanguageRules(
    defs={
        **_JS_DEFS,
        "abstract_class_declaration": "class", "interface_declaration": "interface",
        "enum_declaration": "enum", "type_alias_declaration": "type",
        "function_signature": "function", "method_signature": "function",
        "abstract_method_signature": "function",
    },
    wrappers={"export_statement": "declaration", "ambient_declaration": None},
    special={**_JS_SPECIAL, "internal_module": _ts_module, "module": _ts_module},
)

_GO = LanguageRules(
    defs={"function_declaration": "function"},
    special={"method_declaration": _go_method, "type_declaration": _go_type},
)

_JAVA = LanguageRules(
    defs={
        "class_declaration": "class", "interface_declaration": "interface",
        "enum_declaration": "enum", "record_declaration": "class",
        "annotation_type_declaration": "interface", "method_declaration": "function",
        "constructor_declaration": "function", "compact_constructor_declaration": "function",
    },
    transparent=frozenset({"enum_body_declarations"}),
)

_RUST = LanguageRules(
    defs={
        "function_item": "function", "function_signature_item": "function",
        "struct_item": "struct", "enum_item": "enum", "union_item": "struct",
        "trait_item": "trait", "macro_definition": "function",
    },
    special={"impl_item": _rust_impl, "mod_item": _rust_mod},
)

_C_SPECIAL: dict[str, Classifier] = {
    "function_definition": _c_function, "type_definition": _c_typedef,
    "declaration": _c_typedef, **{t: _c_specifier for t in _C_SPECIFIERS},
}
_C = LanguageRules(
    defs={},
    transparent=frozenset({"preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif",
                           "preproc_elifdef"}),
    special=_C_SPECIAL,
)
_CPP = LanguageRules(
    defs={},
    wrappers={"template_declaration": None},
    transparent=_C.transparent | {"namespace_definition", "linkage_specification"},
    special=_C_SPECIAL,
)

_CSHARP = LanguageRules(
    defs={
        "class_declaration": "class", "struct_declaration": "struct",
        "interface_declaration": "interface", "record_declaration": "class",
        "record_struct_declaration": "struct", "enum_declaration": "enum",
        "method_declaration": "function", "constructor_declaration": "function",
        "destructor_declaration": "function", "property_declaration": "function",
        "local_function_statement": "function",
    },
    transparent=frozenset({"namespace_declaration"}),
    special={
        "operator_declaration": _named_as("operator"),
        "conversion_operator_declaration": _named_as("operator"),
        "indexer_declaration": _named_as("this"),
    },
)

_RUBY = LanguageRules(
    defs={"class": "class", "module": "module", "method": "function",
          "singleton_method": "function"},
    transparent=frozenset({"singleton_class"}),
)

_PHP = LanguageRules(
    defs={
        "class_declaration": "class", "interface_declaration": "interface",
        "trait_declaration": "trait", "enum_declaration": "enum",
        "method_declaration": "function", "function_definition": "function",
    },
    transparent=frozenset({"namespace_definition"}),
)

_KOTLIN = LanguageRules(
    defs={"object_declaration": "object", "function_declaration": "function"},
    transparent=frozenset({"companion_object"}),
    special={"class_declaration": _kotlin_class,
             "secondary_constructor": _named_as("constructor")},
)

RULES: dict[str, LanguageRules] = {
    "python": _PYTHON, "javascript": _JAVASCRIPT, "typescript": _TYPESCRIPT,
    "tsx": _TYPESCRIPT, "go": _GO, "java": _JAVA, "rust": _RUST, "c": _C, "cpp": _CPP,
    "csharp": _CSHARP, "ruby": _RUBY, "php": _PHP, "kotlin": _KOTLIN,
}
