"""One document against its code sources: the dead, drift and age candidates.

A reference is only ever a finding when it was *tracked*: it named a definition in the
code proper at the code state the doc was last changed against (the doc's own last
commit in the same repository; a linked code source's commit at the doc's
``updated_at``). Tracked and unresolved in every usable code source now: dead. Tracked,
still resolving, but the doc's line states an old default, value or parameter: drift.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from assistant.catalog.schema import DocumentRow
from assistant.catalog.staleness_schema import FindingRow
from assistant.catalog.symbols import ReferenceRecord
from indexers.staleness import drift as drift_rules
from indexers.staleness.age import age_evidence, age_summary
from indexers.staleness.evidence import last_change, suggest_name, trace_path, trace_symbol
from indexers.staleness.findings import Candidate
from indexers.staleness.history import GitReader
from indexers.staleness.patch import replace_on_lines, unified_patch
from indexers.staleness.resolve import CodeState, Located, SymbolSource, anchor_of, ref_key, ref_parts

WITHHELD_NOTE = "evidence in a source you cannot read"
_HISTORICAL = re.compile(
    r"\b(deprecat\w*|removed|no longer|anymore|renamed|formerly|obsolete|superseded|"
    r"(?:was|were|is|are|been) replaced)\b",
    re.IGNORECASE)


def _lit(text: str | None) -> str:
    """A value from a document or the code as it goes between backticks in a sentence that
    answers and notifications show: no backtick or line break can end the code span."""
    return " ".join(str(text or "").replace("`", "'").split())[:300]


def _plain(text: str | None) -> str:
    """A commit subject in a sentence: no markup (links, emphasis, code) survives."""
    return " ".join(re.sub(r"[`<>\[\]()*_|\\]", "", str(text or "")).split())[:100]


_PLAIN_WORD = re.compile(r"^[a-z][a-z0-9]*$")
_AUTODOC = frozenset({"autoclass", "autofunction", "automethod", "autoattribute", "autodata", "autoexception",
                      "automodule", "autodecorator", "autoproperty"})


_DATA_KINDS = frozenset({"variable", "constant", "setting", "env"})


def trackable(kind: str, parts: Sequence[str], found: Located, details: Mapping[str, Any] | None = None) -> bool:
    """A bare name tracks module-level definitions and methods, not attributes of a class
    or instance (``self.request``): those are no API a doc names by their bare name. A
    Sphinx ``data`` description (``.. data::``, ``:data:``) names a value, never a method
    or class of the same name (sphinx's template variable ``script_files`` is no longer
    the builder's method)."""
    if details and kind == "symbol" and (details.get("directive") in ("data", "autodata")
                                         or details.get("role") == "data"):
        return found.rec.kind in _DATA_KINDS
    if kind != "symbol" or len(parts) > 1 or "." not in found.rec.name:
        return True
    return found.rec.kind not in ("variable", "constant")


def strong(group: RefGroup) -> bool:
    """Whether a reference clearly means the code. A plain word (``meta``, ``build``) is a
    name only where the doc calls it or pulls it from the code (``autoclass``); a bare file
    name (``setup.py``, ``conf.py``) is the reader's own file unless the doc links it or
    gives its directory."""
    how = group.details.get("how")
    if group.kind == "path":
        return "/" in group.text.strip("/") or how in ("link", "directive")
    if group.kind != "symbol" or not _PLAIN_WORD.match(group.text):
        return True
    return bool(group.details.get("called")) or group.details.get("directive") in _AUTODOC \
        or how == "code-block"


@dataclass
class CodeSource:
    """A usable code source for this run: its symbol table at its indexed commit."""

    name: str
    head: str
    symbols: SymbolSource
    history: Mapping[str, Any] = field(default_factory=dict)  # path -> FileHistoryRow

    @property
    def reader(self) -> GitReader:
        return self.symbols.reader

    def now(self) -> CodeState:
        return self.symbols.state(self.head)


@dataclass
class RefGroup:
    """Every mention of one reference in a doc (one finding covers them all)."""

    kind: str
    text: str
    lines: list[int]
    context: str
    details: dict[str, Any]

    @property
    def line(self) -> int:
        return self.lines[0]


def group_references(refs: Sequence[ReferenceRecord]) -> list[RefGroup]:
    groups: dict[tuple[str, str], RefGroup] = {}
    for r in refs:
        key = (r.kind, r.text)
        g = groups.get(key)
        if g is None:
            groups[key] = RefGroup(r.kind, r.text, [r.line], r.context or "", dict(r.details or {}))
            continue
        if r.line not in g.lines:
            g.lines.append(r.line)
        kwargs = list(r.details.get("call_kwargs") or ()) if r.details else []
        if kwargs:
            g.details["call_kwargs"] = sorted({*g.details.get("call_kwargs", ()), *kwargs})
    return list(groups.values())


class DocCheck:
    """Candidates for one document (built by ``detect.Detector``)."""

    def __init__(self, source_name: str, doc: DocumentRow, text_loader: Any, *, limit: int,
                 similarity: float) -> None:
        self.source_name = source_name
        self.doc = doc
        self._load_text = text_loader
        self._text: str | None | bool = False
        self.limit = limit
        self.similarity = similarity
        self.changed_code: list[dict[str, Any]] = []

    # -- helpers -----------------------------------------------------------------------
    @property
    def text(self) -> str | None:
        if self._text is False:
            self._text = self._load_text()
        return self._text  # type: ignore[return-value]

    def doc_citation(self, line: int | None) -> dict[str, Any]:
        d = self.doc
        cite = f"{self.source_name}@{d.version[:12]}:{d.path}" + (f"#L{line}" if line else "")
        return {"source": self.source_name, "commit": d.version, "path": d.path, "line": line, "citation": cite}

    def lines_of(self, group: RefGroup) -> list[str]:
        """The reference's line and the next, from the doc's text (its context otherwise)."""
        text = self.text
        if not text:
            return [group.context]
        rows = text.splitlines()
        out = []
        for n in group.lines:
            out.extend(rows[n - 1 : n + 1])
        return out or [group.context]

    def patch(self, group: RefGroup, old: str, new: str, *more: tuple[str, str]) -> str | None:
        """The doc with ``old`` -> ``new`` on the reference's lines (or the first of ``more``
        alternative spellings that occurs there), as a unified diff."""
        text = self.text
        if not text or self.doc.language == "html":
            return None
        for a, b in ((old, new), *more):
            after = replace_on_lines(text, group.lines, a, b)
            if after is not None:
                return unified_patch(self.doc.path, text, after)
        return None

    # -- checks ------------------------------------------------------------------------
    def check(self, groups: Sequence[RefGroup], code: Sequence[tuple[CodeSource, str]]) -> list[Candidate]:
        """``code``: (usable code source, the commit the doc was written against)."""
        out: list[Candidate] = []
        keys = {k for g in groups if (k := ref_key(g.kind, g.text))}
        now_idx = {c.name: c.now().index_for(keys) for c, _ in code}
        for g in groups:
            if g.kind == "path":
                out.extend(self._path(g, code))
                continue
            now = {c.name: now_idx[c.name].resolve(g.kind, g.text) for c, _ in code}
            if any(now.values()):
                for c, then in code:
                    self._note_changed(c, [f.path for f in now[c.name] if f.main])
                    if g.kind == "symbol" and strong(g):
                        out.extend(self._drift(g, c, then, now[c.name]))
                continue
            if self.historical(g) or not strong(g):
                continue
            if any(c.now().provided(g.kind, g.text) for c, _ in code):
                continue  # the public module still provides it (re-exported)
            parts = ref_parts(g.text)
            for c, then in code:
                tracked = [f for f in c.symbols.state(then).index_for([ref_key(g.kind, g.text) or ""])
                           .resolve(g.kind, g.text) if f.main and trackable(g.kind, parts, f, g.details)]
                if tracked:
                    out.append(self._dead(g, c, then, tracked))
                    break
        return out

    def historical(self, g: RefGroup) -> bool:
        """Whether every line naming the reference talks about its past ("deprecated",
        "removed in", "renamed", "formerly"...): a doc that only says the name is gone
        claims nothing stale."""
        text = self.text
        rows = text.splitlines() if text else []
        lines = [rows[n - 1] for n in g.lines if 1 <= n <= len(rows)] or [g.context]
        return all(_HISTORICAL.search(line) for line in lines)

    def _note_changed(self, c: CodeSource, paths: Sequence[str]) -> None:
        for path in paths:
            h = c.history.get(path)
            if h is not None and not any(x["path"] == path and x["source"] == c.name for x in self.changed_code):
                self.changed_code.append({"source": c.name, "path": path, "commit": h.commit,
                                          "date": h.committed_at.isoformat()})

    def _dead(self, g: RefGroup, c: CodeSource, then: str, tracked: list[Located]) -> Candidate:
        found = tracked[0]
        rec = found.rec
        trace = trace_symbol(c.symbols, then, c.head, found, limit=self.limit, similarity=self.similarity)
        doc, ref = self.doc, g.text
        defined = {"source": c.name, "commit": then, "path": found.path, "name": rec.name, "kind": rec.kind,
                   "line": rec.line, "end_line": rec.end_line, "signature": rec.signature, "value": rec.value,
                   "citation": f"{c.name}@{then[:12]}:{found.path}#L{rec.line}-L{rec.end_line}",
                   "also": [f"{f.path}:{f.rec.name}" for f in tracked[1:4]]}
        evidence: dict[str, Any] = {"doc": self.doc_citation(g.line), "lines": g.lines, "context": g.context,
                                    "defined": defined, "steps": [s.as_json() for s in trace.steps]}
        # the step that broke the reference as the doc wrote it: a move into another file
        # breaks a module-qualified name only
        qualified = len(ref_parts(ref)) > len(rec.name.split("."))
        breaking = next((s for s in trace.steps if s.new_name != s.name or not s.new_path
                         or (qualified and s.new_path != s.path)), trace.first)
        if breaking:
            evidence["change"] = breaking.as_json()
        suggestion = None
        public = f"`{_lit(doc.path)}` names `{_lit(ref)}`, which the code no longer defines ({WITHHELD_NOTE})"
        if trace.final is not None:
            new_text = suggest_name(ref_parts(ref), found, trace.final.path, trace.final.rec.name)
            summary = f"`{_lit(doc.path)}` names `{_lit(ref)}`, {_story(trace.steps)}"
            if trace.steps[-1].new_name != new_text:
                summary += f" (now `{_lit(new_text)}`)"
            suggestion = {"replace": ref, "with": new_text, "lines": g.lines,
                          "why": f"{'renamed' if any(s.new_name != s.name for s in trace.steps) else 'moved'} "
                                 f"in {', '.join(s.info.sha[:7] for s in trace.steps)}",
                          "patch": self.patch(g, ref, new_text, *_module_alternative(ref, new_text))}
        elif breaking:
            s = breaking
            how = "removed" if not s.new_path else f"removed from `{_lit(s.path)}` (moved to `{_lit(s.new_path)}`)"
            summary = f"`{_lit(doc.path)}` names `{_lit(ref)}`, {how} in {s.info.sha[:7]} ({_plain(s.info.subject)})"
        else:
            summary = f"`{_lit(doc.path)}` names `{_lit(ref)}`, which `{c.name}` no longer defines (it did in {then[:7]})"
        return Candidate("dead", doc.doc_id, doc.path, ref, f"{found.path}::{rec.name}", g.line, summary, public,
                         evidence, suggestion, c.name)

    def _drift(self, g: RefGroup, c: CodeSource, then: str, now: list[Located]) -> list[Candidate]:
        main = [f for f in now if f.main]
        if len(main) != 1:
            return []  # several definitions: which one the doc means is a guess
        new = main[0]
        old_blob = c.symbols.state(then).tree.get(new.path)
        if old_blob is None or old_blob == new.blob:
            return []
        olds = [r for r in c.symbols.definitions(new.path, old_blob) if r.name == new.rec.name]
        if len(olds) != 1:
            return []
        old = olds[0]
        if self.historical(g):
            return []
        found = drift_rules.changes(old, new.rec, self.lines_of(g), g.details.get("call_kwargs") or ())
        out = []
        for ch in found:
            changed_in = self._changed_in(c, then, new, old, ch)
            doc = self.doc
            claim = ch.describe(_lit(g.text))
            when = f" (changed in {changed_in['commit'][:7]})" if changed_in else ""
            summary = f"`{_lit(doc.path)}` says {claim}{when}"
            public = f"`{_lit(doc.path)}` says something about `{_lit(g.text)}` the code no longer matches ({WITHHELD_NOTE})"
            evidence = {
                "doc": self.doc_citation(g.line), "lines": g.lines, "context": g.context, "aspect": ch.aspect,
                "old": {"source": c.name, "commit": then, "path": new.path, "line": old.line, "name": old.name,
                        "signature": old.signature, "value": old.value, "stated": ch.old,
                        "citation": f"{c.name}@{then[:12]}:{new.path}#L{old.line}-L{old.end_line}"},
                "new": {"source": c.name, "commit": c.head, "path": new.path, "line": new.rec.line,
                        "name": new.rec.name, "signature": new.rec.signature, "value": new.rec.value, "now": ch.new,
                        "citation": f"{c.name}@{c.head[:12]}:{new.path}#L{new.rec.line}-L{new.rec.end_line}"},
            }
            if changed_in:
                evidence["change"] = changed_in
            out.append(Candidate("drift", doc.doc_id, doc.path, g.text,
                                 f"{new.path}::{new.rec.name}::{ch.aspect}::{ch.old}", g.line, summary, public,
                                 evidence, None, c.name))
        return out

    def _changed_in(self, c: CodeSource, then: str, new: Located, old: Any,
                    ch: drift_rules.Change) -> dict[str, Any] | None:
        """The first commit after ``then`` whose version no longer says what the doc says."""
        what, _, param = ch.aspect.partition(":")
        claim = [f"{param}={ch.old}"] if what == "default" else [ch.old]
        kwargs = [param] if what == "param" else []
        for change in c.reader.file_log(then, c.head, new.path, self.limit):
            if change.blob is None:
                continue
            recs = [r for r in c.symbols.definitions(new.path, change.blob) if r.name == new.rec.name]
            if len(recs) == 1 and any(x.aspect == ch.aspect for x in drift_rules.changes(old, recs[0], claim, kwargs)):
                info = c.reader.info(change.commit).as_json()
                return {**info, "path": new.path, "hunk": c.reader.hunk(change.commit, new.path, None, old.line)}
        return None

    def _path(self, g: RefGroup, code: Sequence[tuple[CodeSource, str]]) -> list[Candidate]:
        anchor = anchor_of(g.details)
        doc = self.doc
        for c, _ in code:
            hit = c.now().resolve_path(g.text, doc.path, anchor)
            if hit:
                if not hit.endswith("/"):
                    self._note_changed(c, [hit])
                return []
        if self.historical(g) or not strong(g):
            return []
        for c, then in code:
            was = c.symbols.state(then).resolve_path(g.text, doc.path, anchor)
            if not was:
                continue
            public = f"`{_lit(doc.path)}` links `{_lit(g.text)}`, which no longer exists ({WITHHELD_NOTE})"
            evidence: dict[str, Any] = {"doc": self.doc_citation(g.line), "lines": g.lines, "context": g.context,
                                        "defined": {"source": c.name, "commit": then, "path": was,
                                                    "citation": f"{c.name}@{then[:12]}:{was}"}}
            suggestion = None
            if was.endswith("/"):
                info = last_change(c.reader, then, c.head, was.rstrip("/"), limit=self.limit)
                summary = f"`{_lit(doc.path)}` links `{_lit(g.text)}`, a directory that no longer exists"
                if info:
                    evidence["change"] = {**info.as_json(), "path": was}
                    summary += f" (emptied in {info.sha[:7]})"
            elif anchor and c.now().tree.get(was):
                lines = c.now().line_count(was)
                info = last_change(c.reader, then, c.head, was, limit=self.limit)
                summary = f"`{_lit(doc.path)}` links `{_lit(g.text)}`, but `{_lit(was)}` has {lines} lines now"
                if info:
                    evidence["change"] = {**info.as_json(), "path": was}
                    summary += f" (since {info.sha[:7]})"
            else:
                trace = trace_path(c.reader, then, c.head, was, limit=self.limit)
                evidence["steps"] = [s.as_json() for s in trace.steps]
                if trace.first:
                    evidence["change"] = trace.first.as_json()
                if trace.final_path:
                    new_text = _path_in_form(g.text, was, trace.final_path, doc.path)
                    summary = (f"`{_lit(doc.path)}` links `{_lit(g.text)}`, moved to `{_lit(trace.final_path)}` in "
                               f"{trace.steps[0].info.sha[:7]}")
                    old_token = g.text.split("#", 1)[0]
                    base = posixpath.dirname(doc.path) or "."
                    relative = (posixpath.relpath(was, base), posixpath.relpath(trace.final_path, base))
                    suggestion = {"replace": old_token, "with": new_text, "lines": g.lines,
                                  "why": f"moved in {', '.join(s.info.sha[:7] for s in trace.steps)}",
                                  "patch": self.patch(g, old_token, new_text, relative)}
                elif trace.first:
                    summary = f"`{_lit(doc.path)}` links `{_lit(g.text)}`, deleted in {trace.first.info.sha[:7]} ({_plain(trace.first.info.subject)})"
                else:
                    summary = f"`{_lit(doc.path)}` links `{_lit(g.text)}`, which `{c.name}` no longer has"
            return [Candidate("dead", doc.doc_id, doc.path, g.text, was, g.line, summary, public, evidence,
                              suggestion, c.name)]
        return []

    def age(self, policy_days: int | None, now: datetime, reviewed_at: datetime | None) -> Candidate | None:
        doc = self.doc
        ev = age_evidence(doc.path, policy_days, reviewed_at, doc.updated_at, now, self.changed_code)
        if ev is None:
            return None
        ev["doc"] = self.doc_citation(None)
        code_source = ev["code_changed"][0]["source"] if ev["code_changed"] else None
        return Candidate("age", doc.doc_id, doc.path, None, f"review:{ev['since'][:10]}", None,
                         age_summary(doc.path, ev), age_summary(doc.path, ev, public=True), ev, None, code_source)


def _module_alternative(old: str, new: str) -> list[tuple[str, str]]:
    """``from pkg.old import f``: when only the module part of a dotted name changed, the
    module as the doc may write it apart from the name."""
    if "." in old and "." in new and old.rsplit(".", 1)[1] == new.rsplit(".", 1)[1]:
        return [(old.rsplit(".", 1)[0], new.rsplit(".", 1)[0])]
    return []


def _story(steps: Sequence[Any]) -> str:
    """"renamed to `b` in 1a2b3c4, then to `c` in 5d6e7f8" (file moves included)."""
    parts = []
    for s in steps:
        if s.new_name and s.new_name != s.name:
            moved = f" (moved to `{_lit(s.new_path)}`)" if s.new_path else ""
            parts.append(f"renamed to `{_lit(s.new_name)}` in {s.info.sha[:7]}{moved}")
        elif s.new_path:
            parts.append(f"moved to `{_lit(s.new_path)}` in {s.info.sha[:7]}")
    text = ", then ".join(parts)
    return text.replace(", then renamed", ", then")


def _path_in_form(text: str, old_tree_path: str, new_tree_path: str, doc_path: str) -> str:
    """The new path written the way the doc wrote the old one (relative or from the root)."""
    bare = text.split("#", 1)[0]
    if bare.lstrip("/") == old_tree_path:
        return ("/" if bare.startswith("/") else "") + new_tree_path
    return posixpath.relpath(new_tree_path, posixpath.dirname(doc_path) or ".")


def sticky(row: FindingRow, group: RefGroup, text_check: DocCheck) -> Candidate:
    """An open dead finding whose reference the doc still makes and the code still lacks,
    though the doc changed since (so it is no longer tracked by itself): kept open, at the
    reference's current lines."""
    ev = {k: v for k, v in (row.evidence or {}).items() if k != "public_summary"}
    ev["lines"], ev["doc"] = group.lines, text_check.doc_citation(group.line)
    suggestion = dict(row.suggestion) if row.suggestion else None
    if suggestion and suggestion.get("replace") and suggestion.get("with"):
        suggestion["lines"] = group.lines
        suggestion["patch"] = text_check.patch(group, suggestion["replace"], suggestion["with"])
    return Candidate(row.kind, row.doc_id, row.path, row.reference, str(ev.get("target", "")), group.line,
                     row.summary, (row.evidence or {}).get("public_summary") or row.summary, ev, suggestion,
                     row.code_source)
