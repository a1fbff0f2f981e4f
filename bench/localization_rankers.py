"""Rankers for ``bench/localization.py``: BM25 over whole files, Sourcewise's hybrid
store query aggregated per file, and ``Retriever.rank_files`` (imported lazily); plus the
chunk-text vector cache that makes commit switches cheap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from localization_tasks import Git

CHUNKS_PER_QUERY = 100
DENSE_QUERY_CHARS = 2_000
MAX_QUERY_CHARS = 10_000


# -- BM25 baseline -------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")
_SUB = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def bm25_tokens(text: str) -> list[str]:
    """Identifiers lower-cased, plus their snake/camel sub-words when there are several."""
    out: list[str] = []
    for m in _IDENT.finditer(text):
        word = m.group(0)
        out.append(word.lower())
        subs = [s.lower() for part in word.split("_") for s in _SUB.findall(part)]
        if len(subs) > 1:
            out.extend(subs)
    return out


class BM25Files:
    """BM25Okapi over whole files (path + content); token lists cached by blob sha."""

    def __init__(self, git: Git) -> None:
        self.git = git
        self._tokens: dict[str, list[str]] = {}
        self.paths: list[str] = []
        self._bm25: Any = None

    def build(self, files: Sequence[tuple[str, str]]) -> None:
        from rank_bm25 import BM25Okapi

        corpus = []
        for path, sha in files:
            toks = self._tokens.get(sha)
            if toks is None:
                text = self.git.blob(sha).decode("utf-8", "replace")
                toks = self._tokens[sha] = bm25_tokens(text)
            corpus.append(bm25_tokens(path.replace("/", " ")) + toks)
        self.paths = [p for p, _ in files]
        self._bm25 = BM25Okapi(corpus)

    def rank(self, question: str, k: int = 10) -> list[str]:
        scores = self._bm25.get_scores(bm25_tokens(question))
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        return [self.paths[i] for i in order]


# -- Sourcewise rankers --------------------------------------------------------------


def hybrid_ranker(container: Any, source: str) -> Callable[[str, int], list[str]]:
    from assistant.models import Filter

    flt = Filter().and_("source", [source])

    def rank(question: str, k: int) -> list[str]:
        dense = container.embedder.embed_query(question[:DENSE_QUERY_CHARS])
        sparse = container.sparse.encode_query(question)
        hits = container.store.query(dense, sparse, flt, CHUNKS_PER_QUERY)
        seen: dict[str, None] = {}
        for h in hits:  # sorted by score: first sighting is the file's max
            seen.setdefault(str(h.payload["path"]), None)
        return list(seen)[:k]

    return rank


def retriever_ranker(container: Any, source: str, now_ts: float, overrides: dict[str, Any] | None = None,
                     ) -> tuple[Callable[[str, int], list[str]] | None, str]:
    """``Retriever.rank_files`` if the module exists and builds; else (None, why).

    Freshness is computed as of the indexed commit's date (the question was asked then),
    not today's: otherwise every file of a 2019 commit is years old. ``overrides`` replace
    retrieval settings for a tuning variant; the bench-only key ``_prior`` (a number)
    re-ranks the top 100 files with :func:`path_prior` raised to that power, a what-if for
    a path-role prior the Retriever does not have.
    """
    overrides = dict(overrides or {})
    prior = float(overrides.pop("_prior", 0) or 0)
    try:
        import importlib

        mod = importlib.import_module("assistant.retrieval.retriever")
        from assistant.models import User

        qf_cls = getattr(mod, "QueryFilters", None)
        if qf_cls is None:
            qf_cls = importlib.import_module("assistant.retrieval.query").QueryFilters
        settings = container.settings.retrieval
        if overrides:
            settings = settings.model_copy(update=overrides)
        retriever = mod.Retriever(container.store, container.embedder, container.sparse, settings,
                                  known_sources=lambda: {source}, clock=lambda: now_ts)
        user = User("bench", is_admin=True)
        filters = qf_cls(repos=(source,))
    except Exception as exc:  # noqa: BLE001 — being written in parallel: report, fall back
        return None, f"{type(exc).__name__}: {exc}"

    def rank(question: str, k: int) -> list[str]:
        out = retriever.rank_files(question[:MAX_QUERY_CHARS], user=user, k=100 if prior else k,
                                   filters=filters)
        scored = []
        for key, score in out:
            key = str(key)
            path = key.split(":", 1)[1] if key.startswith(f"{source}:") else key
            scored.append((path, float(score) * (path_prior(path) ** prior if prior else 1.0)))
        if prior:
            scored.sort(key=lambda item: -item[1])  # stable: ties keep the retriever's order
        return [p for p, _ in scored[:k]]

    return rank, "ok"


_TEST_PARTS = {"test", "tests", "testing"}
_NOTES = re.compile(r"(^|/)(changelog|changes|history|news|release[-_]?notes?|whatsnew)([-_./]|$)|"
                    r"(^|/)(announce|changelog\.d|changes)/|(^|/)\.github/", re.IGNORECASE)


def path_prior(path: str) -> float:
    """What-if path-role prior: tests x0.5; changelogs, release notes, .github x0.3; else 1."""
    low = path.lower()
    parts = low.split("/")
    name = parts[-1]
    if _NOTES.search(low):
        return 0.3
    if _TEST_PARTS & set(parts[:-1]) or name.startswith("test_") or name.endswith("_test.py"):
        return 0.5
    return 1.0


def parse_variants(spec: str | None) -> dict[str, dict[str, Any]]:
    """``"name:key=val,key=val;name2:key=val"`` -> retrieval-settings overrides per variant."""
    out: dict[str, dict[str, Any]] = {}
    for part in (spec or "").split(";"):
        if not part.strip():
            continue
        name, _, kvs = part.partition(":")
        over: dict[str, Any] = {}
        for kv in kvs.split(","):
            if kv.strip():
                key, _, val = kv.partition("=")
                try:
                    over[key.strip()] = json.loads(val)
                except ValueError:
                    over[key.strip()] = val.strip()
        out[name.strip()] = over
    return out


class CachingEmbedder:
    """The real embedder behind a chunk-text cache (SQLite, keyed by model + text hash).

    Moving a source between commits re-embeds every chunk of a changed file, though most
    of its chunks are textually unchanged. The vectors served from the cache are the ones
    the same model computed for the same text, so rankings are unaffected; only the
    benchmark's wall time shrinks. ``hits``/``misses`` are reported.
    """

    def __init__(self, inner: Any, path: Path) -> None:
        import sqlite3

        self.inner = inner
        self.model_id = inner.model_id
        self.db = sqlite3.connect(str(path), timeout=120)  # several runs may share it
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("create table if not exists emb (key text primary key, vec blob)")
        self.hits = 0
        self.misses = 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_query(self, text: str) -> Any:
        return self.inner.embed_query(text)

    def _key(self, text: str) -> str:
        import hashlib

        return hashlib.sha256(f"{self.model_id}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[Any]:
        import numpy as np

        keys = [self._key(t) for t in texts]
        found: dict[str, Any] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            rows = self.db.execute(f"select key, vec from emb where key in ({','.join('?' * len(part))})", part)
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        todo = [i for i, k in enumerate(keys) if k not in found]
        if todo:
            vecs = self.inner.embed_documents([texts[i] for i in todo])
            rows = []
            for i, v in zip(todo, vecs, strict=True):
                arr = np.asarray(v, dtype=np.float32)
                found[keys[i]] = arr
                rows.append((keys[i], arr.tobytes()))
            self.db.executemany("insert or replace into emb values (?, ?)", rows)
            self.db.commit()
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if progress:
            progress(len(texts))
        return [found[k].tolist() for k in keys]
