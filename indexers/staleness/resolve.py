"""Does a doc's reference name something the code defines, at a given commit?

A ``CodeState`` is one code source at one commit: that commit's tree (``git ls-tree``)
joined with the symbol table (``assistant.catalog.symbols``); blobs the pipeline never
parsed (an old commit's versions, excluded files) are parsed on demand and stored, but
only when their text contains a name being asked about, so asking about an old commit
costs a scan of the blobs that differ, not a parse of the whole tree.

Matching is deliberately narrow (precision is the product):

* a bare name matches the last dotted part of a definition (``delay`` ->
  ``RetryPolicy.delay``), ``Class.method`` the last two, and a longer dotted name the
  file's module name plus the definition's (``payments.retry.RetryPolicy.delay``), always
  on whole parts and case-sensitively;
* an option (``--dry-run``) matches an ``option`` definition, an environment or settings
  key an ``env``/``setting``/``constant`` one with the same name;
* a path matches a file (or a directory holding files) of the tree, relative to the
  doc's directory or the repository root; a ``#L`` anchor must lie inside the file.

"Tracked" (the only references that can become findings) additionally needs the match
to be a definition in the code proper: ``file_role(path) == "main"`` (not tests, not
examples, not docs).
"""

from __future__ import annotations

import functools
import logging
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.staleness_schema import SymbolRow
from assistant.catalog.symbols import SymbolCatalog, SymbolRecord, symbol_key
from assistant.retrieval.identifiers import file_role
from indexers.chunking.languages import detect_language, has_grammar, is_prose
from indexers.staleness.history import GitReader
from indexers.staleness.python_exports import base_names, python_module_facts
from indexers.staleness.symbols import extract_definitions, module_names

log = logging.getLogger(__name__)
OPTION_KINDS = frozenset({"option"})
ENV_KINDS = frozenset({"env", "setting", "constant", "variable"})
SYMBOL_KINDS = frozenset({"function", "method", "class", "constant", "variable", "setting", "env"})
_SPLIT = re.compile(r"::|\.|#")
_CALL = re.compile(r"\(.*\)$")
_ENV_KEY = re.compile(r"[A-Z][A-Z0-9]*_[A-Z0-9_]+")
_AUTO_ENV = re.compile(r"""auto_envvar_prefix["']?\s*[=:,]\s*["']([A-Za-z0-9_]+)["']""")


@dataclass(frozen=True)
class Located:
    """A definition in one version of one file."""

    path: str
    blob: str
    rec: SymbolRecord

    @property
    def main(self) -> bool:
        return is_main(self.path)

    def qualified(self) -> list[list[str]]:
        """The dotted ways to name it: the in-file name, then module + name."""
        own = self.rec.name.split(".")
        return [own] + [m.split(".") + own for m in module_names(self.path)]


def ref_parts(text: str) -> tuple[str, ...]:
    """``payments.retry.RetryPolicy.delay()`` -> ``("payments", "retry", "RetryPolicy", "delay")``."""
    bare = _CALL.sub("", text.strip()).strip().rstrip(":;,")
    return tuple(p for p in _SPLIT.split(bare) if p)


@functools.lru_cache(maxsize=65536)
def is_main(path: str) -> bool:
    """The code proper (``file_role`` main): not tests, examples, docs or changelogs."""
    return file_role(path) == "main"


class ParseBudgetExhausted(Exception):
    """This run parsed as many old file versions as it may; the rest waits for the next run."""


@functools.lru_cache(maxsize=65536)
def is_code_path(path: str) -> bool:
    """A file whose definitions can be read (a code language with a grammar)."""
    language = detect_language(path)
    return language is not None and not is_prose(language) and has_grammar(language)


def names_match(parts: Sequence[str], found: Located) -> bool:
    """Whether a reference's dotted parts name ``found`` (a whole-part suffix match)."""
    if not parts:
        return False
    n = len(parts)
    return any(len(q) >= n and tuple(q[-n:]) == tuple(parts) for q in found.qualified())


class NameIndex:
    """Definitions by key (lowercased last part)."""

    def __init__(self, found: Iterable[Located] = ()) -> None:
        self.by_key: dict[str, list[Located]] = {}
        for f in found:
            self.add(f)

    def add(self, found: Located) -> None:
        self.by_key.setdefault(found.rec.key, []).append(found)

    def resolve(self, kind: str, text: str) -> list[Located]:
        """Every definition a ``symbol``/``option``/``env`` reference names."""
        if kind == "option":
            return [f for f in self.by_key.get(symbol_key(text), ()) if f.rec.kind in OPTION_KINDS
                    and f.rec.name == text]
        if kind == "env":
            return [f for f in self.by_key.get(symbol_key(text), ()) if f.rec.kind in ENV_KINDS
                    and f.rec.name.rsplit(".", 1)[-1] == text]
        parts = ref_parts(text)
        if not parts:
            return []
        return [f for f in self.by_key.get(parts[-1].lower(), ()) if f.rec.kind in SYMBOL_KINDS
                and names_match(parts, f)]


def ref_key(kind: str, text: str) -> str | None:
    """The symbol-table key a reference is looked up under (``None`` for paths)."""
    if kind == "path":
        return None
    if kind in ("option", "env"):
        return symbol_key(text)
    parts = ref_parts(text)
    return parts[-1].lower() if parts else None


def find_keys(db: Database, source_id: int, keys: Iterable[str]) -> list[tuple[str, str, SymbolRecord]]:
    """Stored definitions of a source whose key is one of ``keys``, as (path, blob, record)."""
    wanted = sorted({k for k in keys if k})
    cols = (SymbolRow.path, SymbolRow.blob, SymbolRow.name, SymbolRow.kind, SymbolRow.line, SymbolRow.end_line,
            SymbolRow.signature, SymbolRow.value, SymbolRow.params)
    out: list[tuple[str, str, SymbolRecord]] = []
    with db.session() as s:
        for start in range(0, len(wanted), 400):
            rows = s.execute(select(*cols).where(SymbolRow.source_id == source_id,
                                                 SymbolRow.key.in_(wanted[start : start + 400])))
            for path, blob, name, kind, line, end, signature, value, params in rows:
                out.append((path, blob, SymbolRecord(name, kind, line, end, signature, value, _params(params))))
    return out


def stored_definitions(db: Database, source_id: int, path: str, blob: str) -> list[SymbolRecord]:
    """The stored definitions of one file version, in line order."""
    cols = (SymbolRow.name, SymbolRow.kind, SymbolRow.line, SymbolRow.end_line, SymbolRow.signature,
            SymbolRow.value, SymbolRow.params)
    with db.session() as s:
        rows = s.execute(select(*cols).where(SymbolRow.source_id == source_id, SymbolRow.blob == blob,
                                             SymbolRow.path == path).order_by(SymbolRow.line, SymbolRow.id))
        return [SymbolRecord(n, k, ln, e, sig, v, _params(p)) for n, k, ln, e, sig, v, p in rows]


def _params(raw: Any) -> tuple[tuple[str, str | None, str | None], ...]:
    return tuple((str(p[0]), p[1], p[2]) for p in (raw or []) if len(p) == 3)


def to_record(d: Any) -> SymbolRecord:
    """An ``indexers.staleness.symbols.Definition`` as the catalog stores it."""
    return SymbolRecord(d.name, d.kind, d.line, d.end_line, d.signature, d.value,
                        tuple((p.name, p.default, p.annotation) for p in d.params))


_TOKEN = re.compile(r"--?[a-z0-9_][\w-]*|[a-z_]\w*")


class SymbolSource:
    """One code source's symbol table plus on-demand parsing, cached for one detection run
    and shared by the source's states (commits)."""

    def __init__(self, db: Database, source_id: int, name: str, reader: GitReader, *,
                 budget: int | None = None) -> None:
        self.db = db
        self.budget = budget  # old versions this run may still parse (None: no limit)
        self.source_id = source_id
        self.name = name
        self.reader = reader
        self.symbols = SymbolCatalog(db)
        self.parsed = self.symbols.parsed_blobs(source_id)
        self.parsed_now = 0  # blobs parsed on demand in this run
        self.head: str | None = None  # the indexed commit: "now", where tests count too
        self._states: dict[str, CodeState] = {}
        self._rows: dict[str, list[tuple[str, str, SymbolRecord]]] = {}  # key -> every stored version's
        self._defs: dict[tuple[str, str], list[SymbolRecord]] = {}
        self._tokens: dict[str, frozenset[str]] = {}

    @property
    def has_table(self) -> bool:
        return bool(self.parsed)

    def state(self, commit: str) -> CodeState:
        if commit not in self._states:
            self._states[commit] = CodeState(self, commit)
            if len(self._states) > 64:
                self._states.pop(next(iter(self._states)))
        return self._states[commit]

    def rows_for(self, keys: Iterable[str]) -> list[tuple[str, str, SymbolRecord]]:
        """Stored definitions under these keys, in any version of any file."""
        keys = {k for k in keys if k}
        missing = keys - set(self._rows)
        if missing:
            for k in missing:
                self._rows[k] = []
            for path, blob, rec in find_keys(self.db, self.source_id, missing):
                self._rows.setdefault(rec.key, []).append((path, blob, rec))
        return [row for k in keys for row in self._rows.get(k, ())]

    def mentions(self, blob: str, keys: set[str]) -> bool:
        """Whether a blob's text has one of these keys as a word (so it may define it)."""
        if blob not in self._tokens:
            text = self.reader.text(blob) or ""
            self._tokens[blob] = frozenset(_TOKEN.findall(text.lower()))
            if len(self._tokens) > 20_000:
                self._tokens.pop(next(iter(self._tokens)))
        return not self._tokens[blob].isdisjoint(keys)

    def definitions(self, path: str, blob: str) -> list[SymbolRecord]:
        """Definitions of one file version, parsing (and storing) it the first time."""
        key = (path, blob)
        if key not in self._defs:
            if key in self.parsed:
                self._defs[key] = stored_definitions(self.db, self.source_id, path, blob)
            else:
                self._defs[key] = self.parse(path, blob)
        return self._defs[key]

    def parse(self, path: str, blob: str) -> list[SymbolRecord]:
        if self.budget is not None:
            if self.budget <= 0:
                raise ParseBudgetExhausted(self.name)
            self.budget -= 1
        text = self.reader.text(blob)
        language = detect_language(path)
        try:
            records = [to_record(d) for d in extract_definitions(text, path, language)] if text else []
        except Exception:  # noqa: BLE001 - one unreadable version defines nothing; the run goes on
            log.debug("cannot read definitions of %s@%s", path, blob[:12], exc_info=True)
            records = []
        self.symbols.save_definitions(self.source_id, [(path, blob, language, records)])
        self.parsed.add((path, blob))
        self.parsed_now += 1
        self._defs[(path, blob)] = records
        for rec in records:
            if rec.key in self._rows:
                self._rows[rec.key].append((path, blob, rec))
        return records


class CodeState:
    """A code source at one commit: which names are defined, and where."""

    def __init__(self, source: SymbolSource, commit: str) -> None:
        self.source = source
        self.commit = commit
        self.tree = source.reader.tree(commit)
        self._keys: dict[str, list[Located]] = {}
        self._line_counts: dict[str, int] = {}
        self._module_files: dict[str, list[str]] | None = None
        self._full_modules: dict[str, list[str]] = {}
        self._export_names: dict[str, tuple[frozenset[str], dict[str, str], frozenset[str]]] = {}
        # Old states only ever decide what a doc tracked, which only the code proper can
        # make it do: their test and example files are never parsed on demand.
        now = commit == source.head
        self._code = [(p, b) for p, b in self.tree.items() if is_code_path(p) and (now or is_main(p))]

    def index_for(self, keys: Iterable[str]) -> NameIndex:
        """A ``NameIndex`` holding every definition at this commit under these keys."""
        keys = {k for k in keys if k}
        missing = keys - set(self._keys)
        if missing:
            self._load(missing)
        return NameIndex(f for k in keys for f in self._keys.get(k, ()))

    def _load(self, keys: set[str]) -> None:
        src = self.source
        # versions never parsed that mention a key are parsed (and stored) first
        for path, blob in self._code:
            if (path, blob) not in src.parsed and src.mentions(blob, keys):
                src.parse(path, blob)
        for k in keys:
            self._keys[k] = []
        for path, blob, rec in src.rows_for(keys):
            if self.tree.get(path) == blob and rec.key in keys:
                self._keys[rec.key].append(Located(path, blob, rec))

    def provided(self, kind: str, text: str) -> str | None:
        """The file that still provides a reference's name without defining it under that
        name (re-exported, lazily provided, inherited, or an environment key a CLI reads
        through click's ``auto_envvar_prefix``); ``None`` when nothing does. A doc naming
        it is right then, not dead."""
        if kind not in ("symbol", "env"):
            return None
        found = self.module(text) or self.exported(text) or self.inherited(text) if kind == "symbol" else None
        return found or (self.auto_env(text) if _ENV_KEY.fullmatch(text) else None)

    def auto_env(self, key: str) -> str | None:
        """``FLASK_APP`` when a main module sets ``auto_envvar_prefix="FLASK"`` and an
        option ``--app`` exists: click reads ``PREFIX_OPTION`` for every option."""
        words = {"auto_envvar_prefix"}
        for path, blob in self.tree.items():
            if not (path.endswith(".py") and is_main(path) and self.source.mentions(blob, words)):
                continue
            for prefix in _AUTO_ENV.findall(self.source.reader.text(blob) or ""):
                rest = key[len(prefix) + 1:] if key.startswith(prefix + "_") else ""
                option = "--" + rest.lower().replace("_", "-")
                if rest and self.index_for([symbol_key(option)]).resolve("option", option):
                    return path
        return None

    def module(self, text: str) -> str | None:
        """The file of a module the reference names (``click``: the package, not a
        variable called ``click`` that once existed somewhere)."""
        self._modules()
        paths = self._full_modules.get(".".join(ref_parts(text)), [])
        return next((p for p in paths if is_main(p)), None)

    def exported(self, text: str) -> str | None:
        """The module file that still provides a reference's name without defining it:
        ``pkg.units.redshift`` when ``pkg/units.py`` imports ``redshift`` (moved to a
        private module and re-exported) or provides it through a module ``__getattr__``
        (lazy: listed in ``__all__``, or a name the ``__getattr__`` compares against, the
        usual deprecation shim). A bare name is looked for in every main module."""
        parts = ref_parts(text)
        if len(parts) == 1:
            return self._exported_anywhere(parts[0])
        if len(parts) < 2:
            return None
        for k in range(len(parts) - 1, 0, -1):
            for path in self._modules().get(".".join(parts[:k]), ()):
                if parts[k] not in self._exports(path):
                    continue
                rest = ".".join(parts[k:])
                if (k == len(parts) - 1 or self.index_for([parts[-1].lower()]).resolve("symbol", rest)
                        or not self.index_for([parts[k].lower()]).resolve("symbol", parts[k])):
                    # the name itself, a member the code defines, or a member of a name
                    # imported from outside the repository (its members cannot be checked)
                    return path
        return None

    def _exported_anywhere(self, name: str) -> str | None:
        """A main Python module that provides ``name`` lazily, through its ``__getattr__``
        (a bare name has no module to look in; only files whose text has the word are
        read). A plain import does not count: working code cannot import a name nothing
        defines, so an import left behind is as gone as the definition."""
        key = {name.lower()}
        for path, blob in self.tree.items():
            if (path.endswith((".py", ".pyi")) and is_main(path) and self.source.mentions(blob, key)
                    and name in self._facts(path)[2]):
                return path
        return None

    def inherited(self, text: str, depth: int = 3) -> str | None:
        """``Class.method`` that the class now gets from a base class (``Flask.route`` once
        ``route`` moved up into ``App``): the base's definition file, or ``None``."""
        parts = ref_parts(text)
        if len(parts) < 2 or depth <= 0:
            return None
        owner, member = ".".join(parts[:-1]), parts[-1]
        classes = [c for c in self.index_for([parts[-2].lower()]).resolve("symbol", owner)
                   if c.rec.kind == "class" and c.main]
        bases = [b for c in classes for b in base_names(c.rec.signature)]
        if not classes:  # a deprecated name a module ``__getattr__`` maps to a class
            bases = self._alias_targets(parts[-2])
        for base in bases:
            if base == parts[-2]:
                continue
            found = [f for f in self.index_for([member.lower()]).resolve("symbol", f"{base}.{member}") if f.main]
            if found:
                return found[0].path
            deeper = self.inherited(f"{base}.{member}", depth - 1)
            if deeper:
                return deeper
        return None

    def _modules(self) -> dict[str, list[str]]:
        """Python files by module name, and by every shorter dotted tail of it (docs say
        ``signals.Namespace`` under ``.. currentmodule:: flask``); full names first."""
        if self._module_files is None:
            full: dict[str, list[str]] = {}
            tails: dict[str, list[str]] = {}
            for path in self.tree:
                if path.endswith((".py", ".pyi")):
                    for name in module_names(path):
                        full.setdefault(name, []).append(path)
                        parts = name.split(".")
                        for i in range(1, len(parts)):
                            tails.setdefault(".".join(parts[i:]), []).append(path)
            self._module_files = {k: full.get(k, []) + [p for p in tails.get(k, []) if p not in full.get(k, [])]
                                  for k in {*full, *tails}}
            self._full_modules = full
        return self._module_files

    def _exports(self, path: str) -> frozenset[str]:
        return self._facts(path)[0]

    def _facts(self, path: str) -> tuple[frozenset[str], dict[str, str], frozenset[str]]:
        blob = self.tree.get(path)
        if blob is None:
            return frozenset(), {}, frozenset()
        if blob not in self._export_names:
            self._export_names[blob] = python_module_facts(self.source.reader.text(blob) or "")
        return self._export_names[blob]

    def _alias_targets(self, name: str) -> list[str]:
        """What a module ``__getattr__`` returns for ``name`` (``MultiCommand`` ->
        ``_MultiCommand``), across the main modules whose text has the word."""
        key = {name.lower()}
        return [t for path, blob in self.tree.items()
                if path.endswith((".py", ".pyi")) and is_main(path) and self.source.mentions(blob, key)
                and (t := self._facts(path)[1].get(name))]

    def in_file(self, path: str) -> list[Located]:
        blob = self.tree.get(path)
        if blob is None:
            return []
        return [Located(path, blob, r) for r in self.source.definitions(path, blob)]

    def resolve_path(self, text: str, doc_path: str | None, anchor: Sequence[int] | None = None) -> str | None:
        """The tree path (a file, or ``dir/`` holding files) a path reference names."""
        for cand in path_candidates(text, doc_path):
            if cand in self.tree:
                if anchor and not self._anchor_inside(cand, anchor):
                    return None
                return cand
            prefix = cand.rstrip("/") + "/"
            if not anchor and any(p.startswith(prefix) for p in self.tree):
                return prefix
        return None

    def line_count(self, path: str) -> int:
        blob = self.tree.get(path)
        if blob is None:
            return 0
        if blob not in self._line_counts:
            text = self.source.reader.text(blob) or ""
            self._line_counts[blob] = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        return self._line_counts[blob]

    def _anchor_inside(self, path: str, anchor: Sequence[int]) -> bool:
        last = max(int(a) for a in anchor if a) if anchor else 0
        return last <= self.line_count(path)


def path_candidates(text: str, doc_path: str | None) -> list[str]:
    """Where a path reference may point: relative to the doc's directory, then the root."""
    raw = text.strip().split("#", 1)[0].split("?", 1)[0]
    if not raw or "://" in raw:
        return []
    out: list[str] = []
    if doc_path and not raw.startswith("/"):
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(doc_path), raw))
        if not rel.startswith("../") and rel not in (".", ".."):
            out.append(rel)
    root = posixpath.normpath(raw.lstrip("/"))
    if root not in out and not root.startswith("../") and root not in (".", ".."):
        out.append(root)
    return out


def anchor_of(details: Mapping[str, Any]) -> list[int] | None:
    anchor = details.get("anchor")
    if isinstance(anchor, (list, tuple)) and anchor and all(isinstance(a, int) for a in anchor):
        return [int(a) for a in anchor]
    return None
