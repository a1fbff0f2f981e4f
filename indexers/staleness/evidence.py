"""The commit that broke a reference, and the mechanical fix when there is one.

A dead name: walk the defining file's history forward from the state the doc was
written against; the first version that no longer defines the name is the removing
commit (a file git sees renamed is followed). In that commit, a definition added in the
same file, or in the file it was renamed to, with a similar body (``difflib`` ratio with
the names masked) or the same parameters is the name's new name; it is followed again
when it was renamed once more (``a -> b -> c`` suggests ``c``, each step's commit in the
evidence). A dead path: the commit that deleted it, and where git saw it move to.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.catalog.symbols import SymbolRecord
from indexers.staleness.history import CommitInfo, GitReader
from indexers.staleness.resolve import Located, SymbolSource, is_main
from indexers.staleness.symbols import module_names

MAX_CHAIN = 10
MAX_BODY_CHARS = 6000
CALLABLE = frozenset({"function", "method"})
VALUES = frozenset({"constant", "variable", "setting", "env"})


@dataclass
class Step:
    """One commit in a name's (or path's) story: removed, renamed or moved."""

    info: CommitInfo
    path: str  # the file before the commit
    new_path: str | None  # where git saw the file go (renamed), if anywhere
    name: str | None = None  # the definition's in-file name before
    new_name: str | None = None  # the renamed definition, if one was found
    line: int | None = None  # the definition's line before the commit
    hunk: str = ""

    def as_json(self) -> dict[str, Any]:
        return {**self.info.as_json(), "path": self.path, "new_path": self.new_path, "name": self.name,
                "new_name": self.new_name, "line": self.line, "hunk": self.hunk}


@dataclass
class Trace:
    steps: list[Step] = field(default_factory=list)
    final: Located | None = None  # the definition the chain ends at, defined at ``end``
    final_path: str | None = None  # for paths: where the file lives at ``end``

    @property
    def first(self) -> Step | None:
        return self.steps[0] if self.steps else None


def _word(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)")


def defines(src: SymbolSource, path: str, blob: str | None, name: str) -> SymbolRecord | None:
    """The definition ``name`` in this file version, if it has one (text checked first,
    so versions that cannot define it are never parsed)."""
    if blob is None:
        return None
    text = src.reader.text(blob)
    if not text or not _word(name.rsplit(".", 1)[-1]).search(text):
        return None
    return next((r for r in src.definitions(path, blob) if r.name == name), None)


def trace_symbol(src: SymbolSource, start: str, end: str, found: Located, *, limit: int,
                 similarity: float) -> Trace:
    """From ``found`` (defined at ``start``) to ``end``: each commit that removed, renamed or
    moved it (a file rename it survived is a step too: a dotted name changes with it)."""
    trace = Trace()
    path, name, blob, rec = found.path, found.rec.name, found.blob, found.rec
    for _ in range(MAX_CHAIN):
        walk = _walk(src, start, end, path, name, blob, rec, limit)
        for commit, old_path, new_path, line in walk.moves:
            trace.steps.append(Step(src.reader.info(commit), old_path, new_path, name, name, line,
                                    src.reader.hunk(commit, old_path, new_path, line)))
        if walk.removal is None:
            if trace.steps:  # the (renamed or moved) definition survives to ``end``
                end_blob = src.reader.blob_at(end, walk.path)
                rec_end = defines(src, walk.path, end_blob, name)
                trace.final = Located(walk.path, end_blob, rec_end) if end_blob and rec_end else None
            return trace
        commit, path, new_path, old_blob, old_rec = walk.removal
        target = new_path or path
        new_blob = src.reader.blob_at(commit, target)
        renamed = _renamed(src, path, old_blob, old_rec, target, new_blob, similarity)
        step = Step(src.reader.info(commit), path, new_path, old_rec.name,
                    renamed.name if renamed else None, old_rec.line)
        step.hunk = src.reader.hunk(commit, path, new_path, old_rec.line)
        trace.steps.append(step)
        if renamed is None or new_blob is None:
            return trace
        start, path, name, blob, rec = commit, target, renamed.name, new_blob, renamed
    return trace


@dataclass
class _Walk:
    removal: tuple[str, str, str | None, str, SymbolRecord] | None = None
    moves: list[tuple[str, str, str, int]] = field(default_factory=list)  # (commit, from, to, line)
    path: str = ""


def _walk(src: SymbolSource, start: str, end: str, path: str, name: str, blob: str, rec: SymbolRecord,
          limit: int) -> _Walk:
    """The first commit in ``start..end`` whose version of the file no longer defines
    ``name`` (``removal``: commit, path, renamed-to path, blob before, definition before),
    following the renames of the file it survived (``moves``)."""
    walk = _Walk(path=path)
    prev_blob, prev_rec = blob, rec
    for _ in range(MAX_CHAIN):
        moved_to = None
        for change in src.reader.file_log(start, end, path, limit):
            if change.blob is None:
                new_path = src.reader.renamed_to(change.commit, path)
                new_blob = src.reader.blob_at(change.commit, new_path) if new_path else None
                kept = defines(src, new_path, new_blob, name) if new_path else None
                if kept is None:
                    moved = _moved_definition(src, change.commit, path, name, prev_rec)
                    if moved is None:
                        walk.removal = (change.commit, path, new_path, prev_blob, prev_rec)
                        return walk
                    new_path, new_blob, kept = moved
                walk.moves.append((change.commit, path, new_path, prev_rec.line))
                moved_to = (change.commit, new_path, new_blob, kept)
                break
            now = defines(src, path, change.blob, name)
            if now is None:
                moved = _moved_definition(src, change.commit, path, name, prev_rec)
                if moved is None:
                    walk.removal = (change.commit, path, None, prev_blob, prev_rec)
                    return walk
                walk.moves.append((change.commit, path, moved[0], prev_rec.line))
                moved_to = (change.commit, *moved)
                break
            prev_blob, prev_rec = change.blob, now
        if moved_to is None:
            return walk
        start, path, prev_blob, prev_rec = moved_to
        walk.path = path
    return walk


MAX_MOVE_FILES = 200  # a commit touching more files is not searched for a moved definition


def _moved_definition(src: SymbolSource, commit: str, path: str, name: str,
                      rec: SymbolRecord) -> tuple[str, str, SymbolRecord] | None:
    """Where ``commit`` moved the definition ``name`` that it took out of ``path``: the one
    other file of the same language that the commit made define it (sphinx moving ``Index``
    into ``sphinx/domains/_index.py``). ``None`` when no file or several do."""
    ext = posixpath.splitext(path)[1]
    touched = [p for p in src.reader.added_or_modified(commit) if p != path and p.endswith(ext) and is_main(p)]
    if not ext or len(touched) > MAX_MOVE_FILES:
        return None
    key = {name.rsplit(".", 1)[-1].lower()}
    found: list[tuple[str, str, SymbolRecord]] = []
    for other in touched:
        blob = src.reader.blob_at(commit, other)
        if blob is None or not src.mentions(blob, key):
            continue
        now = defines(src, other, blob, name)
        if now is None or _family(now.kind) != _family(rec.kind):
            continue
        parent = src.reader.parent(commit)
        before = src.reader.blob_at(parent, other) if parent else None
        if before is not None and defines(src, other, before, name) is not None:
            continue  # it was there already: a second definition, not this one moved
        found.append((other, blob, now))
    return found[0] if len(found) == 1 else None


def _body(text: str | None, rec: SymbolRecord) -> str:
    if not text:
        return ""
    lines = text.splitlines()
    body = "\n".join(lines[max(rec.line - 1, 0): max(rec.end_line, rec.line)])
    return body[:MAX_BODY_CHARS]


def _masked(body: str, rec: SymbolRecord) -> str:
    return _word(rec.name.rsplit(".", 1)[-1]).sub("\0", body)


def _family(kind: str) -> str:
    return "callable" if kind in CALLABLE else "value" if kind in VALUES else kind


def _renamed(src: SymbolSource, path: str, old_blob: str, old: SymbolRecord, new_path: str,
             new_blob: str | None, similarity: float) -> SymbolRecord | None:
    """The definition the commit added in ``new_path`` that ``old`` became, if one clearly did."""
    if new_blob is None:
        return None
    before = {r.name for r in src.definitions(path, old_blob)}
    added = [r for r in src.definitions(new_path, new_blob)
             if r.name not in before and _family(r.kind) == _family(old.kind)
             and r.name.count(".") == old.name.count(".")]
    if not added:
        return None
    old_body = _masked(_body(src.reader.text(old_blob), old), old)
    new_text = src.reader.text(new_blob)
    scored: list[tuple[float, SymbolRecord]] = []
    for cand in added:
        same_params = bool(old.params) and [p[:2] for p in old.params] == [p[:2] for p in cand.params]
        body = _masked(_body(new_text, cand), cand)
        matcher = difflib.SequenceMatcher(None, old_body, body, autojunk=False)
        ratio = matcher.ratio() if old_body and body and matcher.quick_ratio() >= similarity else 0.0
        if ratio >= similarity or same_params:
            scored.append((max(ratio, similarity if same_params else 0.0), cand))
    if not scored:
        return None
    scored.sort(key=lambda s: -s[0])
    if len(scored) > 1 and scored[1][0] == scored[0][0]:
        return None  # two equally good candidates: no mechanical fix
    return scored[0][1]


def trace_path(reader: GitReader, start: str, end: str, path: str, *, limit: int) -> Trace:
    """The commits that moved (or deleted) ``path`` between ``start`` and ``end``."""
    trace = Trace()
    end_tree = reader.tree(end)
    for _ in range(MAX_CHAIN):
        gone = next((c for c in reader.file_log(start, end, path, limit) if c.blob is None), None)
        if gone is None:
            return trace
        new_path = reader.renamed_to(gone.commit, path)
        trace.steps.append(Step(reader.info(gone.commit), path, new_path))
        if new_path is None:
            return trace
        if new_path in end_tree:
            trace.final_path = new_path
            return trace
        start, path = gone.commit, new_path
    return trace


def last_change(reader: GitReader, start: str, end: str, path: str, *, limit: int) -> CommitInfo | None:
    """The last commit in ``start..end`` touching ``path`` (a directory's emptying, a file's shrinking)."""
    changes = reader.file_log(start, end, path, limit)
    return reader.info(changes[-1].commit) if changes else None


def suggest_name(parts: Sequence[str], old: Located, new_path: str, new_name: str) -> str:
    """The reference rewritten for the renamed definition, in the reference's own shape:
    ``compute_invoice_total`` -> ``invoice_total``, ``billing.compute_total`` ->
    ``billing.total``, ``pkg.old_mod.f`` -> ``pkg.new_mod.f`` when the file moved too."""
    n = len(parts)
    old_own, new_own = old.rec.name.split("."), new_name.split(".")
    old_mods, new_mods = module_names(old.path), module_names(new_path)
    choices = [(old_own, new_own)]
    for i, mod in enumerate(old_mods):
        new_mod = new_mods[min(i, len(new_mods) - 1)].split(".") if new_mods else mod.split(".")
        choices.append((mod.split(".") + old_own, new_mod + new_own))
    for old_q, new_q in choices:
        if len(old_q) >= n and tuple(old_q[-n:]) == tuple(parts):
            return ".".join(new_q[-n:]) if len(new_q) >= n else ".".join(new_q)
    return new_name.rsplit(".", 1)[-1]
