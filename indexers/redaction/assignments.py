"""``password = "..."`` and its relatives: a literal assigned to a secret-sounding name.

The name must *end* in a secret word (``DB_PASSWORD``, ``stripeSecretKey``,
``api_token``), so ``token_type = "bearer"``, ``password_hash`` or ``secretName`` do
not fire. What counts as a literal depends on the file: in code only a quoted string
is one (``password = get_password()`` is a call, ``password=pw`` a variable); in
config files (YAML, INI, ``.env``-style) the rest of the line is; in shell the next
word; in prose the next word only when it looks like a password (letters and digits).
Placeholders (``${DB_PASSWORD}``, ``<your token>``, ``changeme``-style words, ``****``)
are not secrets and stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from indexers.redaction.spans import Span, hinted_lines

SECRET_SUFFIXES: tuple[str, ...] = (
    "password", "passwd", "passphrase", "pwd", "secret", "secretkey", "token", "apikey", "accesskey",
    "privatekey", "authkey", "signingkey", "encryptionkey", "masterkey", "sessionkey", "hmackey",
    "salt", "dbpass",
)
NOT_SECRET_PREFIXES: tuple[str, ...] = ("existing", "external", "sealed", "vault", "kube", "k8s", "mount")
SECRET_NAMES = frozenset({"pass", "pw", "passwd", "pwd"})

# Languages where a literal is always quoted; anything else is code (a name, a call).
QUOTED_ONLY = frozenset({
    "python", "javascript", "typescript", "tsx", "go", "java", "rust", "c", "cpp", "csharp", "ruby", "php",
    "kotlin", "swift", "scala", "dart", "groovy", "terraform", "json", "sql", "powershell", "css",
    "graphql", "protobuf", "cmake",
})
CONFIG = frozenset({"yaml", "ini", "toml"})
PROSE = frozenset({"markdown", "rst", "asciidoc", "text", "html", "org"})

PLACEHOLDER_WORDS = frozenset({
    "true", "false", "null", "none", "nil", "undefined", "yes", "no", "on", "off", "required", "optional",
    "string", "str", "text", "bool", "boolean", "int", "integer", "number", "empty", "example", "examples",
    "placeholder", "redacted", "hidden", "masked", "secret", "secrets", "password", "passwd", "token", "apikey",
    "api_key", "dummy", "test", "testing", "sample", "value", "default", "unset", "todo", "tbd", "n/a", "xxx",
    "foo", "bar", "baz", "env", "vault", "pass", "user", "username", "secretstr", "optional[str]", "str | none",
    "string | null",
})
_PLACEHOLDER_START = re.compile(
    r"(?i)(?:[$<{%]|\[redacted:|(?:your|my|enter|insert|replace|put|add)[-_ ]|enc\[|vault:|arn:aws|"
    r"(?-i:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)$|X-[A-Za-z\-]+$|.*(?:\.\.\.|…)$|ref\+|op://|sm://|secret://|"
    r"projects/[^/\s]+/secrets/|env\(|process\.env|os\.environ|getenv|import\.meta)")
_YAML_NODE = re.compile(r"[!&*][A-Za-z]")
_FILLER = re.compile(r"[*xX.\-_#•?]+")

MAX_VALUE = 1000
_NON_ALNUM = re.compile(r"[^a-z0-9]")
_DIGIT, _ALPHA, _LOWER, _UPPER, _OTHER = (re.compile(p) for p in (r"\d", r"[^\W\d_]", r"[a-z]", r"[A-Z]", r"[\W_]"))
_COMMENT = re.compile(r"[ \t]+[#;]")
_HINT = re.compile(r"(?i)pass|pwd|secret|token|key|credential|conn|salt")
_ASSIGN = re.compile(
    r"(?<![\w.\-$@\"'`])(?P<q>[\"'`]?)(?P<key>[$@]?[A-Za-z_][\w.\-]{0,100})(?P=q)\]?[ \t]*(?:\[[^\]\n]{0,40}\][ \t]*)?"
    r"(?P<op>=>|:=|={1,3}|!==?|:)(?![=:/])[ \t]*")
_ANNOTATION = re.compile(r"[\w\[\], .|]{1,80}?[ \t]*=[ \t]*")  # python ``password: str = "..."``
_QUOTED = re.compile(r"(?:[rRbBuUfF]{1,2}|@)?(?P<quote>[\"'`])")
_WORD = re.compile(r"[^\s\"'`;,]+")
_NAME_LINE = re.compile(r"^\s*-?\s*[\"']?name[\"']?\s*:\s*[\"']?(?P<name>[\w.\-]+)[\"']?\s*,?\s*$")
_INLINE_NAMED = re.compile(  # {"name": "DB_PASSWORD", "value": "..."}
    r"[\"']name[\"']\s*:\s*[\"'](?P<name>[\w.\-]+)[\"']\s*,\s*[\"']value[\"']\s*:\s*[\"'](?P<value>[^\"'\n]+)[\"']")
_SAID = re.compile(
    r"(?i)\b(?:password|passphrase|passwd|api[ _\-]?key|token|secret)\s+(?:is|was|reads)\s+[`\"']?"
    r"(?P<value>[^\s`\"']+)")
_CONSTANT_NAME = re.compile(r"[A-Z][A-Z0-9_\-]+|(?:[A-Z][A-Za-z0-9]*-)+[A-Z][A-Za-z0-9]*")  # DB_PASSWORD, X-Api-Key
_CALL_PAIR = re.compile(  # define('DB_PASSWORD', '...'), setenv("API_TOKEN", "..."), set("X-Api-Key", "...")
    r"\(\s*[\"'](?P<name>[\w\-]+)[\"']\s*,\s*[\"'](?P<value>[^\"'\n]+)[\"']")
_NAMED_VALUE = re.compile(r"^\s*[\"']?value[\"']?\s*:\s*")


def normalize(name: str) -> str:
    return _NON_ALNUM.sub("", name.lower())


def is_secret_name(name: str) -> bool:
    key = normalize(name)
    if key.startswith(NOT_SECRET_PREFIXES):
        return False  # ``existingSecret: payments-db`` names a secret kept elsewhere
    return key in SECRET_NAMES or key.endswith(SECRET_SUFFIXES)


def is_key_name(name: str) -> bool:
    """``STRIPE_KEY``, ``mapsKey``: a secret only when its value looks like a token."""
    return normalize(name).endswith("key") and len(normalize(name)) > 3


def looks_like_token(value: str) -> bool:
    return 16 <= len(value) <= 500 and " " not in value and bool(_DIGIT.search(value)) and bool(_ALPHA.search(value))


def is_placeholder(value: str, key: str = "") -> bool:
    """Template references, empty-ish words and fillers that are not secrets."""
    v = value.strip()
    if len(v) < 4 or "[REDACTED:" in v or v.lower() in PLACEHOLDER_WORDS:
        return True
    if _PLACEHOLDER_START.match(v) or _FILLER.fullmatch(v) or (v.isdigit() and len(v) < 8):
        return True
    nv, nk = normalize(v), normalize(key)
    return bool(nk) and bool(nv) and (nk.endswith(nv) or nv.endswith(nk))


def looks_like_password(value: str) -> bool:
    """For prose: a word with letters and digits (``hunter2``), or a long mixed token."""
    if len(value) > 200:
        return False
    has_digit, has_alpha = bool(_DIGIT.search(value)), bool(_ALPHA.search(value))
    classes = has_digit + bool(_LOWER.search(value)) + bool(_UPPER.search(value)) + bool(_OTHER.search(value))
    return (has_digit and has_alpha and len(value) >= 6) or (len(value) >= 16 and classes >= 3)


def style_for(language: str | None) -> str:
    if language in QUOTED_ONLY:
        return "code"
    if language in CONFIG:
        return "config"
    if language in PROSE:
        return "prose"
    return "shell"  # shell, dockerfile, makefile, .env-style and unknown files: KEY=value


def assignment_spans(text: str, language: str | None) -> Iterator[Span]:
    style = style_for(language)
    for lo, hi in hinted_lines(text, _HINT):
        line = text[lo:hi]
        for start, end in _line_spans(line, style):
            yield Span(lo + start, lo + end, "secret-assignment", priority=1)
        named = _NAME_LINE.match(line)
        if named and hi < len(text):  # ``- name: DB_PASSWORD`` then ``value: ...`` (k8s env, ECS JSON)
            name = named.group("name")
            next_end = text.find("\n", hi + 1)
            nxt = text[hi + 1 : len(text) if next_end == -1 else next_end]
            v = _NAMED_VALUE.match(nxt)
            span = _value(nxt, v.end(), "config" if style == "shell" else style) if v else None
            value = nxt[span[0]:span[1]] if span else ""
            if span and not is_placeholder(value, name) and (
                    is_secret_name(name) or is_key_name(name) and looks_like_token(value)):
                yield Span(hi + 1 + span[0], hi + 1 + span[1], "secret-assignment", priority=1)


def _line_spans(line: str, style: str) -> Iterator[tuple[int, int]]:
    for m in _SAID.finditer(line):  # "the root password is Xk9..." in prose or a comment
        value = m.group("value").rstrip(".,;:)")
        if looks_like_password(value) and not is_placeholder(value):
            yield m.start("value"), m.start("value") + len(value)
    for m in _CALL_PAIR.finditer(line):
        name, value = m.group("name"), m.group("value")
        if (_CONSTANT_NAME.fullmatch(name) and not is_placeholder(value, name)
                and (is_secret_name(name) or is_key_name(name) and looks_like_token(value))):
            yield m.span("value")
    for m in _INLINE_NAMED.finditer(line):
        name, value = m.group("name"), m.group("value")
        if (is_secret_name(name) or is_key_name(name) and looks_like_token(value)) and not is_placeholder(value):
            yield m.span("value")
    for m in _ASSIGN.finditer(line):
        key = m.group("key").lstrip("$@").rsplit(".", 1)[-1]
        by_name = is_secret_name(key)
        if not by_name and not is_key_name(key):
            continue
        at = m.end()
        if style == "code" and m.group("op") == ":":
            ann = _ANNOTATION.match(line, at)
            if ann and not _QUOTED.match(line, at):
                at = ann.end()
        span = _value(line, at, style)
        if span is None:
            continue
        start, end, quoted = span
        value = line[start:end]
        if is_placeholder(value, key):
            continue
        if not by_name and not looks_like_token(value):
            continue
        if not quoted and style == "prose" and not looks_like_password(value):
            continue
        if not quoted and value[0] in "([{" or (not quoted and "(" in value):
            continue
        if not quoted and style == "config" and _YAML_NODE.match(value):
            continue  # a YAML tag, anchor or alias (``!vault |``, ``*db_password``), not a value
        yield start, end


def _value(line: str, at: int, style: str) -> tuple[int, int, bool] | None:
    stop = min(len(line), at + MAX_VALUE)  # a literal longer than this is not a credential
    q = _QUOTED.match(line, at, stop)
    if q:
        quote = q.group("quote")
        if line.startswith(quote * 3, q.start("quote")):
            return None  # a docstring or block string: not a one-line literal
        i = q.end()
        while i < stop:
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == quote:
                if line[q.start():q.start("quote")].lower().startswith("f") and "{" in line[q.end():i]:
                    return None  # an f-string builds the value from names
                return (q.end(), i, True) if i > q.end() else None
            i += 1
        return None
    if style == "code":
        return None
    if style == "config":
        value = _COMMENT.split(line[at:stop], 1)[0].rstrip().rstrip(",;")  # ``password: x  # note``
        return (at, at + len(value), False) if value else None
    m = _WORD.match(line, at, stop)
    return (m.start(), m.end(), False) if m else None
