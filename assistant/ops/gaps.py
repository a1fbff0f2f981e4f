"""Documentation gaps: the window's questions the corpus could not answer, as topics.

A question is a gap when someone gave its answer a thumbs-down "missing_source", its
citations did not check out (``supported`` false), or its best retrieved score was below
``gaps.weak_score``. Gap questions are embedded with the project's ``Embedder`` and
grouped by average-linkage clustering on cosine similarity (no LLM): each topic has its
count, example questions and the documents retrieval came closest with, and their owners.

Who sees what (``GapFinder.topics``): admins see every topic. Anyone else sees the topics
whose nearest documents include one they own in a source they may read; of a topic they
see only those nearest documents in sources they may read, and only the example
questions whose answers retrieved one of their own documents and drew on no source
they may not read (as the owners' queue shows flagged questions), asked by someone who
may read no source the viewer may not (a question is the asker's text: it may quote
what only the asker can read); their own questions are counted, not shown. Example questions
pass through the secret redactor the entry point hands in, and every view that shows
question text writes an audit row.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from assistant.access import interaction_sources, readable_sources, source_groups
from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.schema import DocOverrideRow, DocumentRow, FeedbackRow, InteractionRow, UserRow
from assistant.embedding.base import Embedder
from assistant.errors import PermissionDeniedError
from assistant.models import User, split_doc_id
from assistant.ops.stats import window_days
from assistant.owners import owner_matches
from assistant.settings import GapSettings
from assistant.users import Account

log = logging.getLogger("sourcewise.ops.gaps")

MISSING_SOURCE = "missing_source"
_CACHE_MAX = 20_000


@dataclass(frozen=True)
class Candidate:
    """One gap question and why it counts (``missing_source``, ``unsupported``, ``weak``)."""

    interaction_id: int
    created_at: datetime
    question: str
    retrieved: tuple[Mapping[str, Any], ...]
    why: tuple[str, ...]


@dataclass(frozen=True)
class GapSource:
    doc_id: str
    source: str
    path: str
    owner: str | None
    best_score: float
    hits: int  # gap questions of the topic that retrieved it


@dataclass(frozen=True)
class Example:
    interaction_id: int
    question: str


@dataclass(frozen=True)
class Topic:
    id: int  # the topic's oldest interaction id: stable while the window holds it
    count: int
    why: dict[str, int]
    examples: tuple[Example, ...]
    sources: tuple[GapSource, ...]
    hidden_examples: int = 0  # examples the viewer may not see
    member_ids: tuple[int, ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        return self.examples[0].question if self.examples else "(example questions not shown)"


def gap_reasons(row: Any, missing: set[int], weak_score: float) -> tuple[str, ...]:
    """Why ``row`` (an interaction) is a gap question; empty when it is not one."""
    why = []
    if row.id in missing:
        why.append(MISSING_SOURCE)
    if row.answer is not None and row.supported is False:
        why.append("unsupported")
    if weak_score > 0 and row.answer is not None:
        scores = [float(p.get("score") or 0.0) for p in row.retrieved or ()]
        if not scores or max(scores) < weak_score:
            why.append("weak")
    return tuple(why)


def cluster(vectors: np.ndarray, similarity: float) -> list[list[int]]:
    """Average-linkage clusters of row-normalised ``vectors``: two groups join while their
    mean pairwise cosine similarity is at least ``similarity``. Largest first."""
    n = len(vectors)
    if n == 0:
        return []
    if n == 1:
        return [[0]]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    distances = np.clip(pdist(vectors, metric="cosine"), 0.0, 2.0)
    labels = fcluster(linkage(distances, method="average"), t=1.0 - similarity, criterion="distance")
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), []).append(i)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def normalise(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.size == 0:
        return arr.reshape(0, 0)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.where(norms == 0, 1.0, norms)  # type: ignore[no-any-return]


def build_topics(candidates: Sequence[Candidate], vectors: np.ndarray, cfg: GapSettings,
                 owners: Mapping[str, str | None]) -> list[Topic]:
    """Topics from the candidates and their normalised vectors; every example and source
    is kept here (``GapFinder`` cuts them down per viewer). Busiest topic first."""
    topics = []
    for members in cluster(vectors, cfg.similarity):
        if len(members) < cfg.min_cluster_size:
            continue
        centre = vectors[members].mean(axis=0)
        ranked = sorted(members, key=lambda i: (-float(vectors[i] @ centre), candidates[i].interaction_id))
        why: Counter[str] = Counter(w for i in members for w in candidates[i].why)
        best: dict[str, float] = {}
        hits: Counter[str] = Counter()
        for i in members:
            for p in candidates[i].retrieved:
                doc_id = str(p.get("doc_id") or "")
                if not doc_id:
                    continue
                hits[doc_id] += 1
                best[doc_id] = max(best.get(doc_id, float("-inf")), float(p.get("score") or 0.0))
        nearest = sorted(hits, key=lambda d: (-hits[d], -best[d], d))
        sources = tuple(GapSource(d, split_doc_id(d)[0] or "", split_doc_id(d)[1], owners.get(d), round(best[d], 6),
                                  hits[d]) for d in nearest)
        examples = tuple(Example(candidates[i].interaction_id, candidates[i].question) for i in ranked)
        topics.append(Topic(min(candidates[i].interaction_id for i in members), len(members), dict(why), examples,
                            sources, member_ids=tuple(candidates[i].interaction_id for i in ranked)))
    topics.sort(key=lambda t: (-t.count, t.id))
    return topics


class GapFinder:
    """Gap topics for one process: keeps question embeddings so a page reload is cheap."""

    def __init__(self, db: Database, embedder: Embedder, cfg: GapSettings, audit: AuditLog,
                 redact: Callable[[str], str | None] | None = None) -> None:
        self.db, self.embedder, self.cfg, self.audit = db, embedder, cfg, audit
        self.redact = redact
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------------
    def candidates(self, start: datetime, end: datetime) -> list[Candidate]:
        """The window's gap questions, newest ``max_questions`` (eval runs left out)."""
        with self.db.session() as s:
            missing = set(s.scalars(
                select(FeedbackRow.interaction_id).join(InteractionRow, InteractionRow.id == FeedbackRow.interaction_id)
                .where(FeedbackRow.value == "down", FeedbackRow.reason == MISSING_SOURCE,
                       InteractionRow.created_at >= start, InteractionRow.created_at <= end)))
            rows = s.scalars(select(InteractionRow)
                             .where(InteractionRow.created_at >= start, InteractionRow.created_at <= end,
                                    InteractionRow.channel != "eval")
                             .order_by(InteractionRow.id.desc()))
            out = []
            for row in rows:
                why = gap_reasons(row, missing, self.cfg.weak_score)
                if why and row.question.strip():
                    out.append(Candidate(row.id, row.created_at, row.question, tuple(row.retrieved or ()), why))
                    if len(out) >= self.cfg.max_questions:
                        break
        out.reverse()
        return out

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:  # page requests run on a thread pool and share this cache
            todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
            if todo:
                for text, vector in zip(todo, self.embedder.embed_documents(todo), strict=True):
                    self._vectors[text] = list(vector)
            for t in texts:
                self._vectors.move_to_end(t)
            rows = [self._vectors[t] for t in texts]
            while len(self._vectors) > _CACHE_MAX:
                self._vectors.popitem(last=False)
        return normalise(rows)

    def _owners(self, doc_ids: Iterable[str]) -> dict[str, str | None]:
        """Each document's owner: a reassignment first, else what indexing found."""
        ids = sorted(set(doc_ids))
        out: dict[str, str | None] = {}
        with self.db.session() as s:
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                out.update({d: o for d, o in s.execute(select(DocumentRow.doc_id, DocumentRow.owner)
                                                       .where(DocumentRow.doc_id.in_(chunk)))})
                out.update({d: o for d, o in s.execute(select(DocOverrideRow.doc_id, DocOverrideRow.owner)
                                                       .where(DocOverrideRow.doc_id.in_(chunk))) if o})
        return out

    def all_topics(self, days: int, now: datetime | None = None) -> list[Topic]:
        """Every topic of the window, unfiltered and unredacted: callers show them only
        through ``topics``."""
        now = now or datetime.now(UTC)
        start = datetime.combine(window_days(now, days)[0], datetime.min.time(), UTC)  # as the dashboard's window
        found = self.candidates(start, now + timedelta(seconds=1))
        if not found:
            return []
        vectors = self._embed([c.question for c in found])
        owners = self._owners(str(p.get("doc_id") or "") for c in found for p in c.retrieved)
        return build_topics(found, vectors, self.cfg, owners)

    # -- viewing -------------------------------------------------------------------
    def topics(self, viewer: Account, days: int = 7, *, owner: str | None = None, own: bool = False,
               now: datetime | None = None, door: str = "page") -> list[Topic]:
        """The topics ``viewer`` may see (see the module docstring). ``owner``: an admin
        looking at that owner's share (as the owners' queue does); ``own``: only the
        viewer's share even for an admin; everyone else only ever gets their own."""
        if owner is not None and not viewer.is_admin and owner.strip().lower() not in viewer.handles():
            raise PermissionDeniedError("only admins can see another owner's documentation gaps")
        per_owner = owner is not None or own or not viewer.is_admin
        readable = None if viewer.user().access_groups() is None else readable_sources(source_groups(self.db),
                                                                                           viewer.user())

        def mine(doc_owner: str | None) -> bool:
            if owner is not None:
                return (doc_owner or "").strip().lower() == owner.strip().lower()
            return owner_matches(doc_owner, viewer)

        groups = source_groups(self.db)
        askers: dict[str, set[str] | None] = {}  # asker -> sources they may read (None: everything/unknown)

        shown = []
        for topic in self.all_topics(days, now):
            nearest = topic.sources[:self.cfg.nearest_sources]
            visible = tuple(s for s in nearest if readable is None or s.source in readable)
            owned = {s.doc_id for s in visible if mine(s.owner)}
            if per_owner and not owned:
                continue
            examples, hidden, seen = [], 0, set()
            for ex in topic.examples:
                if len(examples) >= self.cfg.examples:
                    break
                if per_owner and not self._may_show(ex.interaction_id, viewer.name, owned, readable, groups, askers):
                    hidden += 1
                    continue
                key = " ".join(ex.question.lower().split())
                if key in seen:  # the same question asked again adds to the count, not the examples
                    continue
                seen.add(key)
                examples.append(Example(ex.interaction_id, self._clean(ex.question)))
            shown.append(Topic(topic.id, topic.count, topic.why, tuple(examples), visible, hidden,
                               () if per_owner else topic.member_ids))
        if any(t.examples for t in shown):
            self.audit.record(viewer.name, "gaps.view", owner or ("*" if viewer.is_admin else viewer.name),
                              {"door": door, "days": days, "topics": len(shown),
                               "interactions": sorted(e.interaction_id for t in shown for e in t.examples)})
        return shown

    def _may_show(self, interaction_id: int, viewer: str, owned: set[str], readable: set[str] | None,
                  groups: Mapping[str, Sequence[str]], askers: dict[str, set[str] | None]) -> bool:
        """Whether an owner's view (``readable``) shows this gap question's text. Their own
        questions are counted, not shown: they add nothing, and text the viewer typed
        about sources since closed to them is not repeated back."""
        with self.db.session() as s:
            row = s.execute(select(InteractionRow.retrieved, InteractionRow.user_name)
                            .where(InteractionRow.id == interaction_id)).one_or_none()
            if row is None:
                return False
            retrieved, asker = row[0] or [], row[1]
            if asker == viewer:
                return False
            if asker not in askers:
                account = s.execute(select(UserRow.groups, UserRow.is_admin).where(UserRow.name == asker)).one_or_none()
                askers[asker] = None if account is None or account[1] else readable_sources(
                    groups, User(asker, tuple(account[0] or ())))
        if not {str(p.get("doc_id") or "") for p in retrieved} & owned:
            return False
        if readable is None:
            return True
        asker_reads = askers[asker]
        return interaction_sources(retrieved) <= readable and asker_reads is not None and asker_reads <= readable

    def _clean(self, question: str) -> str:
        if self.redact is None:
            return question
        cleaned = self.redact(question)
        return cleaned if isinstance(cleaned, str) else question
