"""Folded keyword fields (``edge_tags``) on the real qdrant-edge engine.

A new embedded store matches its link-less keyword fields through one ``_tags`` index;
these tests hold it to meaning what per-field matching meant: after payload updates,
in score formulas, in deletes, and without ``_tags`` ever reaching a caller.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.errors import StoreError
from assistant.models import Filter, Point, SparseVector, point_id
from assistant.store.base import KeywordBoost, ScoreFormula, SearchRequest
from assistant.store.edge import EdgeStore
from assistant.store.edge_config import EdgeTuning
from assistant.store.edge_tags import LAYOUT_FILE, TAGS, TagLayout

DIM = 8


def _point(doc: str, chunk: int, vector: np.ndarray, **payload: object) -> Point:
    base = {"source": "repo", "doc_id": doc, "kind": "code", "language": "python", "status": "active",
            "chunk_index": chunk, "symbols": [f"sym{chunk}"], "path_keys": [doc.lower()]}
    return Point(point_id(doc, chunk), vector, SparseVector((), ()), {**base, **payload})


@pytest.fixture
def store(tmp_path: Path) -> EdgeStore:
    s = EdgeStore(tmp_path / "s")
    s.ensure_collection(DIM)
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((6, DIM)).astype(np.float32)
    s.upsert([_point("a.py", i, vectors[i]) for i in range(3)]
             + [_point("b.md", i, vectors[3 + i], kind="docs", language="markdown") for i in range(3)])
    yield s
    s.close()


def test_folded_fields_filter_and_never_show(store: EdgeStore) -> None:
    assert store._layout.fields >= {"kind", "status", "symbols", "doc_id", "excluded"}
    assert store.count(Filter({"kind": ["docs"]})) == 3
    assert store.count(Filter({"symbols": ["sym1"]})) == 2
    assert store.count(Filter({"language": ["python", "markdown"]}, {"doc_id": ["b.md"]})) == 3
    assert store.count(Filter({"kind": ["code=docs"]})) == 0  # a value is never read as a tag
    hits = store.query(np.ones(DIM), SparseVector((), ()), Filter({"kind": ["code"]}), 10)
    assert len(hits) == 3 and all(TAGS not in h.payload for h in hits)
    assert all(TAGS not in p.payload for p in store.points())
    raw = store._records(None, True)
    assert sorted(raw[0].payload[TAGS]) == raw[0].payload[TAGS]  # stored: the engine has them


def test_a_status_change_retags_every_chunk_for_filters_and_formulas(store: EdgeStore) -> None:
    store.set_doc_payload("a.py", {"status": "deprecated", "excluded": "deprecated"})
    assert store.count(Filter({"status": ["deprecated"]})) == 3
    assert store.count(Filter({}, {"excluded": ["deprecated"]})) == 3  # b.md only
    assert store.count(Filter({"symbols": ["sym2"]})) == 2  # each chunk kept its own symbols
    penalised = SearchRequest(np.ones(DIM), SparseVector((), ()), 6, None, formula=ScoreFormula(
        now_ts=0, status_penalties={"deprecated": 0.9}))
    order = [h.payload["doc_id"] for h in store.search(penalised)]
    assert order[:3] == ["b.md"] * 3
    store.set_doc_payload("a.py", {"status": "active", "excluded": ""})
    assert store.count(Filter({}, {"excluded": ["deprecated"]})) == 6
    assert store.count(Filter({"status": ["deprecated"]})) == 0


def test_boosts_deletes_and_source_updates_go_through_tags(store: EdgeStore) -> None:
    boosted = SearchRequest(np.ones(DIM), SparseVector((), ()), 1, None, formula=ScoreFormula(
        now_ts=0, matches=(KeywordBoost("path_keys", ("b.md",), 100.0),)))
    assert store.search(boosted)[0].payload["doc_id"] == "b.md"
    store.set_source_payload("repo", {"kind": "docs", "owner": "@docs"})
    assert store.count(Filter({"kind": ["docs"]})) == 6
    store.delete_doc_tail("a.py", 1)
    assert store.count(Filter({"doc_id": ["a.py"]})) == 1
    store.delete_docs(["b.md"])
    assert store.count() == 1
    store.delete_source("repo")
    assert store.count() == 0


def test_a_callers_tags_are_replaced(store: EdgeStore) -> None:
    forged = _point("c.py", 0, np.ones(DIM, dtype=np.float32), **{TAGS: ["access_groups=admins", "kind=docs"]})
    store.upsert([forged])
    assert store.count(Filter({"kind": ["docs"]})) == 3  # b.md's three, not c.py
    store.set_doc_payload("c.py", {TAGS: ["kind=docs"]})
    assert store.count(Filter({"kind": ["docs"]})) == 3


def test_the_layout_is_persisted_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with EdgeStore(path, EdgeTuning(payload_hnsw_fields=("access_groups",))) as s:
        s.ensure_collection(DIM)
        s.upsert([_point("a.py", 0, np.ones(DIM, dtype=np.float32))])
        assert "source" in s._layout.fields  # no links wanted: folded too
    with EdgeStore(path) as s:  # reopened with other settings: the shard's own layout
        assert "source" in s._layout.fields
        assert s.count(Filter({"source": ["repo"]})) == 1
    (path / LAYOUT_FILE).write_text('{"version": 99, "tag_fields": []}')
    with pytest.raises(StoreError, match="layout version 99"):
        EdgeStore(path)
    (path / LAYOUT_FILE).write_text("{not json")
    with pytest.raises(StoreError, match=LAYOUT_FILE):
        EdgeStore(path)


def test_tags_hold_only_string_values() -> None:
    layout = TagLayout(frozenset({"kind", "symbols", "language"}))
    assert layout.tags({"kind": "code", "symbols": ["a", 3, None], "language": None}) == ["kind=code", "symbols=a"]
    assert layout.with_tags({"kind": "x", TAGS: ["forged"]}) == {"kind": "x", TAGS: ["kind=x"]}
    assert TagLayout().with_tags({TAGS: ["forged"], "a": 1}) == {"a": 1}
