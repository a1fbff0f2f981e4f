"""The Retriever on both real store engines, with a tiny deterministic embedder.

The embedder hashes words into 64 dimensions: crude semantics, but exact and fast, so
these tests pin the wiring (filters, ACL, formula inputs, diversity, errors); the
quality tests with the real model live in tests/integration/test_retrieval_quality.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.embedding.sparse import SparseEncoder, path_terms
from assistant.errors import ConfigError
from assistant.models import Chunk, Document, Point, User, point_id
from assistant.retrieval.query import QueryFilters
from assistant.retrieval.retriever import (
    Retrieval,
    Retriever,
    parse_datetime,
    to_passage,
)
from assistant.settings import RetrievalSettings
from assistant.store.base import VectorStore
from assistant.store.edge import EdgeStore
from assistant.store.server import QdrantServerStore
from indexers.payload import chunk_payload, doc_payload
from tests.fixtures.gitrepo import HTTP_CLIENT, PAYMENTS_RETRY

DIM = 64
NOW = datetime(2025, 6, 1, tzinfo=UTC)
ADMIN = User("root", is_admin=True)
ALICE = User("alice", ("eng",))
MALLORY = User("mallory", ("sales",))


class WordEmbedder:
    """Bag of hashed words, L2-normalised: shared words make vectors close."""

    model_id = "test-words"
    dim = DIM

    def _vec(self, text: str) -> list[float]:
        v = np.zeros(DIM)
        for w in re.findall(r"[a-z]+", text.lower()):
            v[uuid.uuid5(uuid.NAMESPACE_DNS, w).int % DIM] += 1.0
        n = np.linalg.norm(v)
        return (v / n if n else v + 1e-3).tolist()

    def embed_documents(self, texts, progress=None):  # type: ignore[no-untyped-def]
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


def make_points(
    source: str, path: str, text: str, *, kind: str = "code", language: str | None = "python",
    updated: datetime = NOW, groups: tuple[str, ...] = ("everyone",), deprecated: bool = False,
    chunks: list[tuple[int, int, str, str | None]] | None = None,
) -> list[Point]:
    doc = Document(doc_id=f"{source}:{path}", source=source, path=path, kind=kind,  # type: ignore[arg-type]
                   content_hash="h", updated_at=updated, version="c0ffee" * 7, loader=lambda: text,
                   language=language, owner="@team")
    payload = doc_payload(doc, list(groups), {"deprecated": True} if deprecated else {}, "test-words")
    parts = chunks or [(1, text.count("\n") + 1, text, None)]
    sparse = SparseEncoder()
    out = []
    for i, (start, end, body, symbol) in enumerate(parts):
        chunk = Chunk(index=i, text=body, start_line=start, end_line=end, symbol=symbol)
        out.append(Point(
            point_id(doc.doc_id, i), WordEmbedder()._vec(f"{path}\n{body}"),
            sparse.encode_document(body, path_terms(path)),
            {**payload, **chunk_payload(doc, chunk)},
        ))
    return out


CORPUS = [
    *make_points("app", "payments/retry.py", PAYMENTS_RETRY, chunks=[
        (1, 13, PAYMENTS_RETRY.split("\n\ndef ")[0], "RetryPolicy"),
        (16, 20, "def " + PAYMENTS_RETRY.split("\n\ndef ")[1], "retry_failed_payment"),
    ]),
    *make_points("app", "web/http_client.js", HTTP_CLIENT, language="javascript"),
    *make_points("app", "payments/ledger.py", "def post_entry(entry):\n    '''Post a ledger entry for a payment.'''\n"),
    *make_points("handbook", "deploy.md", "# Deploying payments\n\nRun make deploy to ship the payments service.\n",
                 kind="docs", language="markdown"),
    *make_points("handbook", "deploy-old.md", "# Deploying payments\n\nRun make deploy to ship the payments service.\n\nOld.",
                 kind="docs", language="markdown", deprecated=True),
    *make_points("secret", "keys/rotate.py", "def rotate_payment_keys():\n    '''Rotate payment keys.'''\n",
                 groups=("sec",)),
    *make_points("wiki", "Runbook", "restart the payments worker with make restart",
                 kind="wiki", language="text", updated=datetime(2015, 1, 1, tzinfo=UTC)),
    *make_points("wiki", "Runbook2", "restart the payments worker with make restart now",
                 kind="wiki", language="text", updated=NOW),
]


@pytest.fixture(scope="module", params=["edge", "server"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VectorStore]:
    """One read-only corpus per engine for the whole module (creating a shard and its
    payload indexes costs seconds on a busy machine)."""
    s: VectorStore = (EdgeStore(tmp_path_factory.mktemp("shard")) if request.param == "edge"
                      else QdrantServerStore(f"r-{uuid.uuid4().hex}", location=":memory:"))
    s.ensure_collection(DIM)
    s.upsert(CORPUS)
    yield s
    s.close()


@pytest.fixture
def retriever(store: VectorStore) -> Retriever:
    return Retriever(store, WordEmbedder(), SparseEncoder(), RetrievalSettings(k=5),
                     known_sources=lambda: {"app", "handbook", "secret"}, clock=NOW.timestamp)


def test_retrieve_returns_cited_passages_with_timings(retriever: Retriever) -> None:
    r = retriever.retrieve("where do we retry a failed payment?", user=ADMIN)
    assert isinstance(r, Retrieval) and r.query == "where do we retry a failed payment?"
    assert r.passages[0].path == "payments/retry.py"
    top = r.passages[0]
    assert top.updated_at == NOW and top.updated_at.tzinfo is not None
    assert top.commit.startswith("c0ffee") and top.owner == "@team" and top.status == "active"
    assert top.citation.startswith("app@c0ffeec0ffee:payments/retry.py#L")
    assert set(r.timings) == {"embed", "search", "diversify", "total"}
    assert len(r.passages) <= 5
    assert r.files() == list(dict.fromkeys(f"{p.source}:{p.path}" for p in r.passages))
    scores = [p.score for p in r.passages]
    assert scores == sorted(scores, reverse=True)


def test_identifier_finds_its_definition(retriever: Retriever) -> None:
    r = retriever.retrieve("what is RETRY_LIMIT set to?", user=ADMIN)
    assert (r.passages[0].path, r.passages[0].start_line) == ("payments/retry.py", 1)
    r = retriever.retrieve("HttpClient.send", user=ADMIN)
    assert r.passages[0].path == "web/http_client.js"


def test_acl_excludes_other_groups_and_admin_sees_all(retriever: Retriever) -> None:
    q = "rotate payment keys"
    assert "secret:keys/rotate.py" in retriever.retrieve(q, user=ADMIN).files()
    assert "secret:keys/rotate.py" in retriever.retrieve(q, user=User("sam", ("sec",))).files()
    for user in (ALICE, MALLORY):
        files = retriever.retrieve(q, user=user).files()
        assert files and not any(f.startswith("secret:") for f in files)
    assert all(not f.startswith("secret:") for f, _ in retriever.rank_files(q, user=ALICE))


def test_filters_in_the_question_and_as_options(retriever: Retriever) -> None:
    q = "deploy payments"
    assert {p.source for p in retriever.retrieve(f"{q} repo:app", user=ADMIN).passages} == {"app"}
    r = retriever.retrieve(q, user=ADMIN, filters=QueryFilters(repos=("handbook",)))
    assert {p.source for p in r.passages} == {"handbook"} and r.filters.repos == ("handbook",)
    assert {p.kind for p in retriever.retrieve(f"kind:docs {q}", user=ADMIN).passages} == {"docs"}
    assert {p.language for p in retriever.retrieve(f"{q} lang:js", user=ADMIN).passages} == {"javascript"}
    r = retriever.retrieve(f"{q} path:payments/*", user=ADMIN)
    assert r.passages and all(p.path.startswith("payments/") for p in r.passages)
    r = retriever.retrieve(f"{q} path:*.md", user=ADMIN)
    assert {p.path for p in r.passages} == {"deploy.md", "deploy-old.md"}
    r = retriever.retrieve(f"{q} path:ledger.py path:*.js", user=ADMIN)
    assert {p.path for p in r.passages} == {"payments/ledger.py", "web/http_client.js"}


def test_deprecated_doc_is_demoted_below_its_replacement(retriever: Retriever) -> None:
    r = retriever.retrieve("how do we deploy the payments service kind:docs", user=ADMIN)
    paths = [p.path for p in r.passages]
    assert paths.index("deploy.md") < paths.index("deploy-old.md")
    assert r.passages[paths.index("deploy-old.md")].status == "deprecated"


def test_freshness_uses_the_clock(store: VectorStore) -> None:
    q = "restart the payments worker with make restart kind:wiki"
    off = Retriever(store, WordEmbedder(), SparseEncoder(), RetrievalSettings(freshness_weight=0))
    assert off.retrieve(q, user=ADMIN).passages[0].path == "Runbook"  # the exact text wins
    on = Retriever(store, WordEmbedder(), SparseEncoder(), RetrievalSettings(freshness_weight=0.9),
                   clock=NOW.timestamp)
    assert on.retrieve(q, user=ADMIN).passages[0].path == "Runbook2"
    in_2015 = Retriever(store, WordEmbedder(), SparseEncoder(), RetrievalSettings(freshness_weight=0.9),
                        clock=datetime(2015, 1, 1, tzinfo=UTC).timestamp)
    assert in_2015.retrieve(q, user=ADMIN).passages[0].path == "Runbook"


def test_rank_files_aggregates_chunks(retriever: Retriever) -> None:
    ranked = retriever.rank_files("retry failed payment policy repo:app", user=ADMIN, k=3)
    assert len(ranked) == 3 and ranked[0][0] == "app:payments/retry.py"
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    assert len({f for f, _ in ranked}) == 3


def test_empty_store_returns_nothing(tmp_path: Path) -> None:
    with EdgeStore(tmp_path / "empty") as empty:
        r = Retriever(empty, WordEmbedder(), SparseEncoder(), RetrievalSettings())
        assert r.retrieve("anything at all", user=ALICE).passages == ()
        assert r.rank_files("anything", user=ALICE) == []


@pytest.mark.parametrize(
    ("question", "kwargs", "message"),
    [
        ("", {}, "the question is empty"),
        ("   \n", {}, "the question is empty"),
        ("x" * 10_001, {}, "10001 characters; the limit is 10000"),
        ("repo:app lang:python", {}, "only filters"),
        ("retry repo:nope", {}, r"unknown repo 'nope' in repo: filter; known sources: app, handbook, secret"),
        ("retry lang:klingon", {}, "unknown language 'klingon'"),
        ("retry kind:tests", {}, "unknown kind 'tests'"),
        ("retry", {"k": 0}, "k must be a whole number between 1 and 100"),
        ("retry", {"k": 101}, "between 1 and 100"),
        ("retry", {"filters": QueryFilters(repos=("ghost",))}, "unknown repo 'ghost'"),
    ],
)
def test_bad_input_says_what_to_do(retriever: Retriever, question: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        retriever.retrieve(question, user=ADMIN, **kwargs)


def test_passage_parsing_from_payloads() -> None:
    assert parse_datetime("2024-01-10T10:00:00+00:00") == datetime(2024, 1, 10, 10, tzinfo=UTC)
    assert parse_datetime("2024-01-10T10:00:00Z").tzinfo is not None
    assert parse_datetime("2024-01-10T10:00:00").tzinfo == UTC
    assert parse_datetime("garbage", 0) == datetime(1970, 1, 1, tzinfo=UTC)
    from assistant.models import Hit

    p = to_passage(Hit("id", 0.5, {"source": "s", "path": "p", "doc_id": "s:p", "kind": "docs",
                                   "start_line": 3, "end_line": 9, "text": "t", "commit": "abc",
                                   "updated_at": "2024-01-10T10:00:00+00:00", "doc_title": "T",
                                   "status": "stale", "stale_reason": "mentions removed f()"}))
    assert (p.title, p.status, p.stale_reason, p.score) == ("T", "stale", "mentions removed f()", 0.5)


class RecordingStore:
    """The real store, with the last request kept (what the Retriever asked the engine)."""

    def __init__(self, inner: VectorStore) -> None:
        self.inner = inner
        self.requests: list[Any] = []

    def search(self, request: Any) -> Any:
        self.requests.append(request)
        return self.inner.search(request)


def test_a_long_question_adds_its_headline_and_prose_as_dense_views(store: VectorStore) -> None:
    spy = RecordingStore(store)
    report = ("Failed payments are never retried\n\nAfter a timeout the payment stays failed.\n\n"
              "```\nTimeoutError: gateway did not answer\n```")
    settings = RetrievalSettings(headline_weight=1.5, prose_weight=0.5)
    r = Retriever(spy, WordEmbedder(), SparseEncoder(), settings)  # type: ignore[arg-type]
    found = r.retrieve(report, user=ADMIN)
    assert [v.weight for v in spy.requests[-1].views] == [1.5, 0.5]
    assert spy.requests[-1].views[0].vector == WordEmbedder().embed_query("Failed payments are never retried")
    assert found.passages[0].path == "payments/retry.py"
    r.retrieve("where do we retry failed payments?", user=ADMIN)
    assert spy.requests[-1].views == ()  # one line: one reading
    off = Retriever(spy, WordEmbedder(), SparseEncoder(),  # type: ignore[arg-type]
                    RetrievalSettings(headline_weight=0, prose_weight=0))
    off.retrieve(report, user=ADMIN)
    assert spy.requests[-1].views == ()


def test_rank_files_fuses_the_lexical_list_and_can_turn_it_off(store: VectorStore) -> None:
    spy = RecordingStore(store)
    r = Retriever(spy, WordEmbedder(), SparseEncoder(), RetrievalSettings())  # type: ignore[arg-type]
    ranked = r.rank_files("retry failed payment policy", user=ALICE, k=3)
    assert ranked[0][0] == "app:payments/retry.py"
    assert not any(f.startswith("secret:") for f, _ in ranked)  # the lexical list is filtered too
    lexical = [q for q in spy.requests if q.lexical]
    assert len(lexical) == 1 and lexical[0].payload_fields == ("source", "path")
    assert lexical[0].limit == RetrievalSettings().file_lexical_candidates
    assert lexical[0].flt == spy.requests[-2].flt  # the same access filter as the hybrid list
    spy.requests.clear()
    off = Retriever(spy, WordEmbedder(), SparseEncoder(),  # type: ignore[arg-type]
                    RetrievalSettings(file_lexical_weight=0))
    assert off.rank_files("retry failed payment policy", user=ALICE, k=3)[0][0] == "app:payments/retry.py"
    assert not any(q.lexical for q in spy.requests)


def test_rank_files_applies_the_family_cap(store: VectorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.retrieval.retriever as module

    calls: list[int] = []

    def spy_cap(ranked: list[tuple[str, float]], cap: int) -> list[tuple[str, float]]:
        calls.append(cap)
        return list(reversed(ranked))

    monkeypatch.setattr(module, "cap_families", spy_cap)
    for lexical in (1.0, 0.0):
        r = Retriever(store, WordEmbedder(), SparseEncoder(),
                      RetrievalSettings(file_family_cap=3, file_lexical_weight=lexical))
        assert r.rank_files("retry failed payment policy", user=ALICE, k=50)[-1][0] == "app:payments/retry.py"
    assert calls == [3, 3]
