"""After a source's index run: check its documents (and those of docs sources linked to
it by ``staleness.code_sources``) against the code, update their findings, rescore
them, and tell their owners what is new.

A code source is used only when its last run succeeded and it has a symbol table; one
that failed or has none yet invents nothing, and the findings that depend on it are
left exactly as they are until it is usable again.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.schema import DocOverrideRow, SourceRow, utcnow
from assistant.catalog.staleness_schema import DocReferenceScanRow, FindingRow
from assistant.catalog.symbols import SymbolCatalog
from assistant.models import sha256_text
from assistant.settings import Settings
from assistant.staleness import Weights, refresh_scores, visible_summary
from assistant.store.base import VectorStore
from indexers.chunking.languages import is_prose
from indexers.sources.text import decode_text
from indexers.staleness import findings as ledger
from indexers.staleness import scope as scoping
from indexers.staleness.doccheck import CodeSource, DocCheck, RefGroup, group_references, sticky
from indexers.staleness.findings import Candidate
from indexers.staleness.history import GitReader, source_repo
from indexers.staleness.ignore import IGNORE_FILE, StaleIgnore
from indexers.staleness.resolve import ParseBudgetExhausted, SymbolSource, is_main, ref_key
from indexers.staleness.scope import CodeChange, RunScope

log = logging.getLogger(__name__)


@dataclass
class DetectionReport:
    opened: int = 0
    closed: int = 0
    open: int = 0
    docs: int = 0
    capped: int = 0  # documents with more references than are checked (huge, generated)
    deferred: int = 0  # documents left for the next run (this run's parse budget was spent)
    parsed: int = 0  # old file versions parsed on demand
    checked: int = 0  # documents checked against the code this run (the rest carried over)
    scoped: bool = False  # every target was checked only where the run could change it
    state: dict[str, Any] = field(default_factory=dict)  # for the next run's scope (scope.marker)
    seconds: float = 0.0
    sources: tuple[str, ...] = ()


def code_sources_for(cfg: Any, row: SourceRow) -> list[str]:
    """The code sources a docs source is checked against besides its own repository:
    ``staleness.code_sources``, for every source without code of its own (a docs tree,
    a wiki)."""
    if row.kind == "git":
        return []
    configured = getattr(cfg, "code_sources", None) or []
    names = [configured] if isinstance(configured, str) else list(configured)
    return [n for n in names if n != row.name]


# Documents that record the past on purpose (proposals, decision records, release notes,
# deprecation and migration guides): naming what is gone is their job.
_PAST_DIRS = frozenset({"proposals", "proposal", "rfcs", "rfc", "adr", "adrs", "decisions", "archive", "archived",
                        "historical", "history", "blog", "posts", "news", "releases", "release-notes", "announce"})
_PAST_STEMS = frozenset({"deprecations", "deprecated", "historical-notes", "historical_notes", "history",
                         "migration", "migrating", "migrate", "upgrading", "upgrade", "porting", "changes",
                         "changelog", "news", "release-notes", "release_notes", "releases", "whatsnew"})


def is_record_of_the_past(path: str) -> bool:
    parts = path.lower().split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    return bool(_PAST_DIRS.intersection(parts[:-1])) or stem in _PAST_STEMS


def slack_text(text: str) -> str:
    """Text from documents (paths, names) as Slack shows it literally: ``&<>`` escaped, so
    a hostile file name cannot become ``<!channel>`` or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _git_backed(row: SourceRow) -> bool:
    return row.kind == "git" or (row.kind == "wiki" and (row.options or {}).get("format") == "git")


class Detector:
    def __init__(self, db: Database, store: VectorStore | None, settings: Settings, notifier: Any = None,
                 *, now: datetime | None = None) -> None:
        self.db = db
        self.store = store
        self.settings = settings
        self.cfg = settings.staleness
        self.notifier = notifier
        self.catalog = Catalog(db)
        self.now = now or datetime.now(UTC)
        self._code: dict[str, CodeSource | None] = {}
        self._readers: dict[str, GitReader | None] = {}

    # -- entry points --------------------------------------------------------------------
    def run(self, name: str, scope: RunScope | None = None) -> DetectionReport:
        """Check the documents an index run of source ``name`` may have changed the truth of:
        all of them, or with ``scope`` (what the run changed) only those the change can
        affect when the previous detection left a known, clean state (``scope``)."""
        report = DetectionReport()
        started = time.perf_counter()
        if not self.cfg.enabled:
            return report
        sources = {r.name: r for r in self.catalog.list_sources()}
        row = sources.get(name)
        if row is None:
            return report
        targets = [row] + [s for s in sources.values() if s.name != name and name in code_sources_for(self.cfg, s)]
        self._run_scope, self._indexed = scope, row
        self._runs = self._scope_runs(row) if scope is not None and not scope.full else None
        self._change: dict[str, CodeChange | None] = {}
        report.state = {"targets": {}, "full_at": {}}
        report.scoped = scope is not None
        for target in targets:
            self._check_source(target, sources, report)
        report.sources = tuple(t.name for t in targets)
        report.parsed = sum(c.symbols.parsed_now for c in self._code.values() if c is not None)
        report.seconds = time.perf_counter() - started
        return report

    # -- setup ---------------------------------------------------------------------------
    def _reader(self, row: SourceRow) -> GitReader | None:
        if row.name not in self._readers:
            repo = source_repo(row, self.settings.repos_dir)
            self._readers[row.name] = GitReader(repo) if repo is not None else None
        return self._readers[row.name]

    def _code_source(self, row: SourceRow) -> CodeSource | None:
        """The source as a code source, or ``None`` when it cannot be used this run."""
        if row.name in self._code:
            return self._code[row.name]
        found: CodeSource | None = None
        last = self.catalog.last_run(row.id)
        reader = self._reader(row) if _git_backed(row) or row.kind == "docs" else None
        if row.last_version and last is not None and last.status == "ok" and reader is not None:
            symbols = SymbolSource(self.db, row.id, row.name, reader, budget=self.cfg.max_parses)
            try:
                reader.tree(row.last_version)
            except Exception:  # noqa: BLE001 - the indexed commit is gone from the repository
                symbols = None  # type: ignore[assignment]
            if symbols is not None and symbols.has_table:
                symbols.head = row.last_version
                history = {h.path: h for h in self.catalog.load_history(row.id)}
                found = CodeSource(row.name, row.last_version, symbols, history)
        self._code[row.name] = found
        return found

    def _ignore(self, rows: Sequence[SourceRow]) -> StaleIgnore:
        texts: list[str | None] = []
        for row in rows:
            reader = self._reader(row) if (_git_backed(row) or row.kind == "docs") else None
            if reader is not None and row.last_version:
                try:
                    tree = reader.tree(row.last_version)
                except Exception:  # noqa: BLE001
                    tree = {}
                prefix = ""
                if row.kind == "docs":
                    top = reader.repo.working_tree_dir
                    rel = Path(row.location).resolve().relative_to(Path(top).resolve()).as_posix() if top else "."
                    prefix = "" if rel == "." else rel + "/"
                for candidate in dict.fromkeys((IGNORE_FILE, f"{prefix}{IGNORE_FILE}")):
                    if candidate in tree:
                        texts.append(reader.text(tree[candidate]))
            elif row.kind == "docs":
                path = Path(row.location) / IGNORE_FILE
                if path.is_file():
                    texts.append(path.read_text("utf-8", errors="replace"))
        return StaleIgnore.parse(texts)

    # -- one docs source -----------------------------------------------------------------
    def _check_source(self, row: SourceRow, sources: Mapping[str, SourceRow], report: DetectionReport) -> None:
        names = ([row.name] if _git_backed(row) else []) + code_sources_for(self.cfg, row)
        code: list[CodeSource] = []
        unusable: set[str] = set()
        for name in dict.fromkeys(names):
            src_row = sources.get(name)
            if src_row is None:
                continue
            cs = self._code_source(src_row)
            if cs is None:
                unusable.add(name)
            else:
                code.append(cs)
        ignore = self._ignore([row] + [sources[c.name] for c in code if c.name != row.name])
        rules = scoping.rules_hash(self.cfg, ignore.entries)
        plan = self._plan(row, {c.name for c in code}, unusable, rules, sources)
        docs = self.catalog.documents(row.id)
        refs = SymbolCatalog(self.db).references(row.id)
        truncated = self._truncated(row.id)
        with self.db.session() as s:
            open_rows: dict[str, list[FindingRow]] = defaultdict(list)
            stored: dict[str, list[FindingRow]] = defaultdict(list)  # open and dismissed, every kind
            for f in s.scalars(select(FindingRow).where(FindingRow.source_id == row.id,
                                                        FindingRow.status.in_(("open", "dismissed")))):
                stored[f.doc_id].append(f)
                if f.status == "open" and f.kind == "dead":
                    open_rows[f.doc_id].append(f)
            overrides = {o.doc_id: o.owner for o in s.scalars(select(DocOverrideRow)) if o.owner}
        in_scope: set[str] | None = None
        if plan is not None:
            touched = set(plan[0])
            if row.name == self._indexed.name:  # a commit touching the doc file (mode, version)
                touched.update(d.doc_id for d in docs if any(d.path in c.paths for c in plan[1]))
            in_scope = scoping.affected(docs, refs, [f for fs in stored.values() for f in fs if f.status == "open"],
                                        touched, plan[1])
        reader = self._reader(row) if (_git_backed(row) or row.kind == "docs") else None
        candidates: list[Candidate] = []
        keep_docs: set[str] = set()
        deferred = report.deferred
        for doc in docs:
            if not self._checkable(doc, ignore):
                continue
            report.docs += 1
            check = DocCheck(row.name, doc, lambda d=doc: self._doc_text(row, d, reader),
                             limit=self.cfg.history_commits, similarity=self.cfg.rename_similarity)
            if in_scope is not None and doc.doc_id not in in_scope:
                # the run cannot have changed its dead/drift findings; its age is recomputed
                known, age = scoping.age_from_stored(check, self._policy(doc.kind), self.now, doc.reviewed_at,
                                                     stored.get(doc.doc_id, ()))
                if known:
                    candidates.extend(scoping.carried(f) for f in stored.get(doc.doc_id, ())
                                      if f.status == "open" and f.kind != "age")
                    if age is not None:
                        candidates.append(age)
                    continue
                check = DocCheck(row.name, doc, lambda d=doc: self._doc_text(row, d, reader),
                                 limit=self.cfg.history_commits, similarity=self.cfg.rename_similarity)
            report.checked += 1
            try:
                found, kept_all = self._check_refs(row, doc, check, refs.get(doc.doc_id), code, ignore, open_rows,
                                                   report, doc.doc_id in truncated)
            except ParseBudgetExhausted:
                # the versions this doc was written against are not all parsed yet: judged by
                # a later run, its findings left as they are until then
                found, kept_all = [], True
                report.deferred += 1
            candidates.extend(found)
            if kept_all:
                keep_docs.add(doc.doc_id)
            age = check.age(self._policy(doc.kind), self.now, doc.reviewed_at)
            if age is not None:
                candidates.append(age)
        if not unusable and report.deferred == deferred:
            report.state["targets"][row.name] = rules
        report.state["full_at"][row.name] = self.now.isoformat() if plan is None else plan[2]
        report.scoped = report.scoped and plan is not None
        owners = {d.doc_id: overrides.get(d.doc_id) or d.owner for d in docs}
        result = ledger.apply(self.db, row.id, {d.doc_id for d in docs}, candidates, owners, unusable, keep_docs)
        report.opened += len(result.opened)
        report.closed += result.closed
        report.open += result.open
        refresh_scores(self.db, self.store, [d.doc_id for d in docs], Weights.from_settings(self.cfg))
        self._notify(row, result.opened, sources)

    # -- scope ---------------------------------------------------------------------------
    def _scope_runs(self, row: SourceRow) -> Any:
        """(this run, the one before) of the indexed source, or ``None`` (no previous run)."""
        current = self.catalog.last_run(row.id)
        prev = scoping.previous_run(self.db, row.id, current.id) if current is not None else None
        return None if prev is None else (current, prev)

    def _plan(self, target: SourceRow, code_names: set[str], unusable: set[str], rules: str,
              sources: Mapping[str, SourceRow]) -> tuple[Sequence[str], list[CodeChange], str] | None:
        """(documents the run touched, code changes, last full pass) for a scoped check of
        ``target``, or ``None`` when only a full check is right."""
        if self._runs is None or unusable or self._run_scope is None:
            return None
        _current, prev = self._runs
        indexed = self._indexed
        if not scoping.clean_for(prev, target.name, rules) or scoping.full_pass_due(prev, target.name, self.now):
            return None
        for other in ({target.name} | code_names) - {indexed.name}:
            src = sources.get(other)
            run = self.catalog.last_run(src.id) if src is not None else None
            # a later run of the target or of another code source must have left it clean
            if run is not None and run.id > prev.id and not scoping.clean_for(run, target.name, rules):
                return None
        changes: list[CodeChange] = []
        if indexed.name in code_names:
            if indexed.name not in self._change:
                reader = self._reader(indexed)
                old, new = prev.version, indexed.last_version
                self._change[indexed.name] = (scoping.code_change(self.db, indexed.id, reader, old, new)
                                              if reader is not None and old and new else None)
            change = self._change[indexed.name]
            if change is None:
                return None
            changes.append(change)
        touched = sorted(self._run_scope.touched) if target.name == indexed.name else []
        full_at = str((scoping.marker(prev).get("full_at") or {}).get(target.name))
        return touched, changes, full_at

    def _truncated(self, source_id: int) -> set[str]:
        """Documents whose reference scan hit the extractor's caps (huge, generated)."""
        with self.db.session() as s:
            return set(s.scalars(select(DocReferenceScanRow.doc_id).where(
                DocReferenceScanRow.source_id == source_id, DocReferenceScanRow.truncated.is_(True))))

    def _checkable(self, doc: Any, ignore: StaleIgnore) -> bool:
        if doc.status == "deprecated" or ignore.ignores_doc(doc.path) or is_record_of_the_past(doc.path):
            return False
        if doc.kind == "code":
            return bool(self.cfg.review_days_code) and not is_prose(doc.language)
        return is_main(doc.path)

    def _policy(self, kind: str) -> int | None:
        return {"docs": self.cfg.review_days_docs, "wiki": self.cfg.review_days_wiki,
                "code": self.cfg.review_days_code}.get(kind)

    def _check_refs(self, row: SourceRow, doc: Any, check: DocCheck, scan: tuple[str, list[Any]] | None,
                    code: Sequence[CodeSource], ignore: StaleIgnore, open_rows: Mapping[str, list[FindingRow]],
                    report: DetectionReport, truncated: bool) -> tuple[list[Candidate], bool]:
        """(candidates, whether this doc's existing dead findings must be kept as they are)."""
        if doc.kind == "code" or not code:
            return [], False
        if scan is None or scan[0] != doc.content_hash:
            return [], True  # references not (re)read for this version: judge nothing
        refs = [r for r in scan[1] if not ignore.ignores_reference(r.text)]
        if len(refs) > self.cfg.max_references or truncated:
            report.capped += 1
            refs = refs[: self.cfg.max_references]
        groups = group_references(refs)
        pairs: list[tuple[CodeSource, str]] = []
        for c in code:
            then = doc.version if c.name == row.name else self._commit_at(c, doc.updated_at)
            if then:
                pairs.append((c, then))
        found = check.check(groups, pairs)
        fps = {c.fingerprint for c in found}
        by_text = {(g.kind, g.text): g for g in groups}
        keys = {k for g in groups if (k := ref_key(g.kind, g.text))}
        for f in open_rows.get(doc.doc_id, ()):
            target = str((f.evidence or {}).get("target", ""))
            if f.fingerprint in fps or not target:
                continue
            g = next((g for (kind, text), g in by_text.items() if text == f.reference), None)
            src = next((c for c in code if c.name == f.code_source), None)
            if g is None or src is None or not self._still_missing(g, code, keys, doc.path):
                continue
            found.append(sticky(f, g, check))
        return found, False

    def _still_missing(self, g: RefGroup, code: Sequence[CodeSource], keys: set[str], doc_path: str) -> bool:
        if g.kind == "path":
            return not any(c.now().resolve_path(g.text, doc_path) for c in code)
        return not any(c.now().index_for(keys).resolve(g.kind, g.text) or
                       c.now().provided(g.kind, g.text) for c in code)

    def _commit_at(self, c: CodeSource, when: datetime) -> str | None:
        try:
            return c.reader.commit_before(c.head, when)
        except Exception:  # noqa: BLE001 - git refused (shallow history): no code state then
            return None

    def _doc_text(self, row: SourceRow, doc: Any, reader: GitReader | None) -> str | None:
        """The document's text as indexed (its blob, or the file when it still hashes the same)."""
        if reader is not None:
            return reader.text(doc.content_hash)
        if row.kind == "docs":
            try:
                data = (Path(row.location) / doc.path).read_bytes()
                return decode_text(data) if sha256_text(data) == doc.content_hash else None
            except Exception:  # noqa: BLE001 - moved, unreadable, binary: no text, no patch
                return None
        return None

    # -- notifications -------------------------------------------------------------------
    def _notify(self, row: SourceRow, ids: Sequence[int], sources: Mapping[str, SourceRow]) -> None:
        """One message per owner per run, listing what is new on their documents."""
        if self.notifier is None or not ids:
            return
        groups = {name: r.access_groups for name, r in sources.items()}
        by_owner: dict[str, list[str]] = defaultdict(list)
        with self.db.session() as s:
            rows = list(s.scalars(select(FindingRow).where(FindingRow.id.in_(list(ids)))))
            for f in rows:
                if f.owner:
                    by_owner[f.owner].append(visible_summary(f, row.access_groups, groups.get))
                f.notified_at = utcnow()
        for owner, found in sorted(by_owner.items()):
            lines = [slack_text(t) for t in found]
            n = len(lines)
            head = f"{n} new staleness finding{'s' if n != 1 else ''} on your documents in {row.name}: {lines[0]}"
            body = head + ("\n" + "\n".join(f"• {t}" for t in lines[1:20]) if n > 1 else "")
            try:
                self.notifier.flag_raised(owner, None, body)
            except Exception:  # noqa: BLE001 - a notification problem never undoes the findings
                log.exception("notifying %s about staleness findings failed", owner)
