"""The eval-case format: what a good answer to a question must retrieve, cite and say.

A set is a YAML file (a list of cases, or ``{name, cases}``) or JSONL (one case per
line), or the catalog's ``eval_cases`` rows (cases promoted from feedback). Errors name
the file, line and field, so a broken set is fixed in one look. Documented in
``docs/eval-format.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError
from assistant.models import split_doc_id

FORMAT_VERSION = 1
ORIGINS = ("curated", "feedback", "benchmark")


class EvalFormatError(ConfigError):
    """A malformed eval set; the message names the file, line and field."""


@dataclass(frozen=True)
class Gold:
    """A source a correct answer must draw on: a path, optionally narrowed to a symbol or lines."""

    path: str
    source: str | None = None
    symbol: str | None = None
    start_line: int | None = None
    end_line: int | None = None

    def matches_file(self, source: str | None, path: str) -> bool:
        return path == self.path and (self.source is None or source is None or source == self.source)

    def matches_chunk(self, source: str | None, path: str, start: int, end: int, symbol: str | None) -> bool:
        """A retrieved chunk satisfies this gold when it is the file and overlaps the lines / names the symbol."""
        if not self.matches_file(source, path):
            return False
        if self.start_line is not None:
            last = self.end_line if self.end_line is not None else self.start_line
            if end < self.start_line or start > last:
                return False
        return self.symbol is None or (symbol or "").split(".")[-1] == self.symbol.split(".")[-1]


@dataclass(frozen=True)
class PassCriteria:
    """When a case passes: a gold file in the top ``retrieval_k``, every must-include
    present, no must-not-include, and (when ``require_citation``) a gold source cited."""

    retrieval_k: int = 5
    require_citation: bool = False
    require_supported: bool = False


@dataclass(frozen=True)
class EvalCase:
    id: str
    question: str
    gold: tuple[Gold, ...] = ()
    conversation: tuple[Mapping[str, str], ...] = ()
    must_include: tuple[str, ...] = ()  # plain strings, or /regex/ (case-insensitive)
    must_not_include: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    origin: str = "curated"
    filters: Mapping[str, Any] = field(default_factory=dict)  # QueryFilters fields: repos, paths, langs, kinds
    criteria: PassCriteria = PassCriteria()
    interaction_id: int | None = None  # the interaction a promoted case came from
    # Free-form provenance that scoring ignores (a benchmark's base_commit, a promoted case's author).
    meta: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The case as ``load_set`` reads it back: plain lists/dicts, ``pass`` only where not default."""
        d = json.loads(json.dumps(asdict(self), default=str))
        d["gold"] = [{k: v for k, v in g.items() if v is not None} for g in d["gold"]]
        crit = d.pop("criteria")
        d["pass"] = {k: v for k, v in crit.items() if v != getattr(PassCriteria(), k)}
        return {k: v for k, v in d.items() if v not in (None, [], {})} | {"id": self.id, "question": self.question}


def text_matches(pattern: str, text: str) -> bool:
    """``/regex/`` is a case-insensitive regular expression; anything else a case-insensitive substring."""
    if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/"):
        return re.search(pattern[1:-1], text, re.IGNORECASE | re.DOTALL) is not None
    return pattern.lower() in text.lower()


# -- parsing -------------------------------------------------------------------------------

def _where(origin: str, line: int | None) -> str:
    return f"{origin}:{line}" if line else origin


def _strs(value: Any, name: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EvalFormatError(f"{where}: field '{name}' must be a list of strings")
    for v in value:
        if len(v) >= 2 and v.startswith("/") and v.endswith("/"):
            try:
                re.compile(v[1:-1])
            except re.error as exc:
                raise EvalFormatError(f"{where}: field '{name}': bad regular expression {v!r}: {exc}") from None
    return tuple(value)


def _gold(value: Any, where: str) -> tuple[Gold, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise EvalFormatError(f"{where}: field 'gold' must be a list")
    out = []
    for i, g in enumerate(value):
        if isinstance(g, str):
            source, path = split_doc_id(g)
            g = {"path": path, "source": source} if source else {"path": g}
        if not isinstance(g, dict) or not isinstance(g.get("path"), str) or not g["path"].strip():
            raise EvalFormatError(f"{where}: field 'gold[{i}].path' is required (a repository path)")
        unknown = set(g) - {"path", "source", "symbol", "start_line", "end_line", "lines"}
        if unknown:
            raise EvalFormatError(f"{where}: field 'gold[{i}]' has unknown keys {sorted(unknown)}")
        start, end = g.get("start_line"), g.get("end_line")
        if "lines" in g:
            m = re.fullmatch(r"L?(\d+)(?:-L?(\d+))?", str(g["lines"]))
            if not m:
                raise EvalFormatError(f"{where}: field 'gold[{i}].lines' must look like 10-42")
            start, end = int(m.group(1)), int(m.group(2) or m.group(1))
        for name, v in (("start_line", start), ("end_line", end)):
            if v is not None and (not isinstance(v, int) or v < 1):
                raise EvalFormatError(f"{where}: field 'gold[{i}].{name}' must be a positive integer")
        if start is not None and end is not None and end < start:
            raise EvalFormatError(f"{where}: field 'gold[{i}]': end_line before start_line")
        out.append(Gold(g["path"].strip().lstrip("/"), g.get("source"), g.get("symbol"), start, end))
    return tuple(out)


def parse_case(raw: Any, where: str, default_id: str) -> EvalCase:
    """One case from a mapping; ``where`` (``file:line``) prefixes every error."""
    if not isinstance(raw, dict):
        raise EvalFormatError(f"{where}: a case must be a mapping with at least 'question'")
    known = {"id", "question", "gold", "conversation", "must_include", "must_not_include", "tags", "origin",
             "filters", "pass", "interaction_id", "meta"}
    unknown = set(raw) - known
    if unknown:
        raise EvalFormatError(f"{where}: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
    q = raw.get("question")
    if not isinstance(q, str) or not q.strip():
        raise EvalFormatError(f"{where}: field 'question' is required and must be non-empty text")
    conv = raw.get("conversation") or []
    if not isinstance(conv, list) or not all(
            isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)
            for m in conv):
        raise EvalFormatError(f"{where}: field 'conversation' must be a list of {{role: user|assistant, content}}")
    origin = raw.get("origin", "curated")
    if origin not in ORIGINS:
        raise EvalFormatError(f"{where}: field 'origin' must be one of {', '.join(ORIGINS)}")
    filters = raw.get("filters") or {}
    if not isinstance(filters, dict) or set(filters) - {"repos", "paths", "langs", "kinds"}:
        raise EvalFormatError(f"{where}: field 'filters' takes repos, paths, langs, kinds (lists)")
    crit_raw = raw.get("pass") or {}
    if not isinstance(crit_raw, dict) or set(crit_raw) - {"retrieval_k", "require_citation", "require_supported"}:
        raise EvalFormatError(f"{where}: field 'pass' takes retrieval_k, require_citation, require_supported")
    k = crit_raw.get("retrieval_k", 5)
    if not isinstance(k, int) or not 1 <= k <= 100:
        raise EvalFormatError(f"{where}: field 'pass.retrieval_k' must be an integer from 1 to 100")
    gold = _gold(raw.get("gold"), where)
    case_id = raw.get("id", default_id)
    meta = raw.get("meta") or {}
    if not isinstance(meta, dict):
        raise EvalFormatError(f"{where}: field 'meta' must be a mapping")
    if not isinstance(case_id, (str, int)) or not str(case_id).strip():
        raise EvalFormatError(f"{where}: field 'id' must be text")
    return EvalCase(
        id=str(case_id), question=q.strip(), gold=gold, conversation=tuple(conv),
        must_include=_strs(raw.get("must_include"), "must_include", where),
        must_not_include=_strs(raw.get("must_not_include"), "must_not_include", where),
        tags=_strs(raw.get("tags"), "tags", where), origin=origin,
        filters={k2: tuple(_strs(v, f"filters.{k2}", where)) for k2, v in filters.items()},
        criteria=PassCriteria(k, bool(crit_raw.get("require_citation", False)),
                              bool(crit_raw.get("require_supported", False))),
        interaction_id=raw.get("interaction_id"), meta=meta,
    )


@dataclass(frozen=True)
class EvalSet:
    name: str
    cases: tuple[EvalCase, ...]
    origin: str = ""  # file path or "catalog"


def load_set(path: Path | str) -> EvalSet:
    """Read a ``.yaml``/``.yml`` or ``.jsonl`` eval set; duplicate ids and empty sets are errors."""
    path = Path(path)
    if not path.is_file():
        raise EvalFormatError(f"{path}: no such eval set file")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        name, cases = path.stem, list(_jsonl_cases(text, str(path)))
    elif path.suffix in (".yaml", ".yml"):
        name, cases = _yaml_cases(text, path)
    else:
        raise EvalFormatError(f"{path}: eval sets are .yaml, .yml or .jsonl files")
    if not cases:
        raise EvalFormatError(f"{path}: the set has no cases")
    seen: dict[str, int] = {}
    for i, c in enumerate(cases):
        if c.id in seen:
            raise EvalFormatError(f"{path}: case id {c.id!r} appears twice (cases {seen[c.id] + 1} and {i + 1})")
        seen[c.id] = i
    return EvalSet(name, tuple(cases), str(path))


def _jsonl_cases(text: str, origin: str) -> Iterable[EvalCase]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFormatError(f"{origin}:{n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        yield parse_case(raw, f"{origin}:{n}", f"line-{n}")


def _yaml_cases(text: str, path: Path) -> tuple[str, list[EvalCase]]:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
        out = loader.construct_mapping(node, deep=True)
        out["__line__"] = node.start_mark.line + 1
        return out

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        doc = yaml.load(text, Loader=Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _where(str(path), mark.line + 1 if mark else None)
        raise EvalFormatError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    name = path.stem
    if isinstance(doc, dict):
        doc.pop("__line__", None)
        name = str(doc.get("name") or name)
        version = doc.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise EvalFormatError(f"{path}: format version {version} is not supported (expected {FORMAT_VERSION})")
        doc = doc.get("cases")
    if doc is None:
        return name, []
    if not isinstance(doc, list):
        raise EvalFormatError(f"{path}: expected a list of cases (or a mapping with 'cases')")
    cases = []
    for i, raw in enumerate(doc, 1):
        line = raw.pop("__line__", None) if isinstance(raw, dict) else None
        if isinstance(raw, dict):
            _strip_lines(raw)
        cases.append(parse_case(raw, _where(str(path), line), f"case-{i}"))
    return name, cases


def _strip_lines(value: Any) -> None:
    if isinstance(value, dict):
        value.pop("__line__", None)
        for v in value.values():
            _strip_lines(v)
    elif isinstance(value, list):
        for v in value:
            _strip_lines(v)


def dump_jsonl(cases: Sequence[EvalCase]) -> str:
    return "".join(json.dumps(c.as_dict(), ensure_ascii=False) + "\n" for c in cases)
