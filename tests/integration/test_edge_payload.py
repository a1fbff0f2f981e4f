"""A new embedded store's payload layout (``edge_payload``) on the real qdrant-edge engine.

Link-less keyword fields are matched through one ``_tags`` index and everything the
engine never reads is one packed JSON string; these tests hold that to meaning what the
old layout meant: the same payload back, the same matches after payload updates, in
score formulas and deletes, and neither ``_tags`` nor ``_p`` ever reaching a caller.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import StoreError
from assistant.models import Filter, Point, SparseVector, point_id
from assistant.store.base import KeywordBoost, ScoreFormula, SearchRequest
from assistant.store.edge import EdgeStore
from assistant.store.edge_config import EdgeTuning
from assistant.store.edge_payload import LAYOUT_FILE, PACKED, TAGS, PayloadLayout, from_stored

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
    assert store._layout.tag_fields >= {"kind", "status", "symbols", "doc_id", "excluded"}
    assert store.count(Filter({"kind": ["docs"]})) == 3
    assert store.count(Filter({"symbols": ["sym1"]})) == 2
    assert store.count(Filter({"language": ["python", "markdown"]}, {"doc_id": ["b.md"]})) == 3
    assert store.count(Filter({"kind": ["code=docs"]})) == 0  # a value is never read as a tag
    hits = store.query(np.ones(DIM), SparseVector((), ()), Filter({"kind": ["code"]}), 10)
    assert len(hits) == 3 and all(not {TAGS, PACKED} & set(h.payload) for h in hits)
    assert all(not {TAGS, PACKED} & set(p.payload) for p in store.points())
    raw = store._records(None, True)[0].payload
    assert set(raw) == {"source", "chunk_index", TAGS, PACKED}  # what the engine stores
    assert store.doc_ids() == {"a.py", "b.md"} and store.doc_ids(Filter({"kind": ["docs"]})) == {"b.md"}
    store.upsert([_point("x=y.py", 0, np.ones(DIM, dtype=np.float32))])
    assert store.doc_ids(Filter({"kind": ["code"]})) == {"a.py", "x=y.py"}  # a value may hold "="


def test_a_payload_reads_back_as_written(store: EdgeStore) -> None:
    payload = {"source": "repo", "doc_id": "c.py", "kind": "code", "chunk_index": 0, "updated_ts": 17,
               "staleness": 0.25, "text": 'def f():\n    return "ünï" \\ 1', "symbols": [], "title": None,
               "access_groups": ["eng"], "start_line": 3, "nested": {"a": [1, 2.5, True]}}
    store.upsert([Point(point_id("c.py", 0), np.ones(DIM, dtype=np.float32), SparseVector((), ()), payload)])
    [hit] = store.points(Filter({"doc_id": ["c.py"]}))
    assert hit.payload == payload
    selected = SearchRequest(np.ones(DIM), SparseVector((), ()), 1, Filter({"doc_id": ["c.py"]}),
                             payload_fields=("source", "text", "missing"))
    assert store.search(selected)[0].payload == {"source": "repo", "text": payload["text"]}


def test_a_filter_on_a_packed_field_is_refused(store: EdgeStore) -> None:
    with pytest.raises(StoreError, match="cannot filter on 'path'.*filterable fields: access_groups"):
        store.count(Filter({"path": ["a.py"]}))


def test_a_status_change_retags_every_chunk_for_filters_and_formulas(store: EdgeStore) -> None:
    store.set_doc_payload("a.py", {"status": "deprecated", "excluded": "deprecated"})
    assert store.count(Filter({"status": ["deprecated"]})) == 3
    assert store.count(Filter({}, {"excluded": ["deprecated"]})) == 3  # b.md only
    assert store.count(Filter({"symbols": ["sym2"]})) == 2  # each chunk kept its own symbols
    penalised = SearchRequest(np.ones(DIM), SparseVector((), ()), 6, None, formula=ScoreFormula(
        now_ts=0, status_penalties={"deprecated": 0.9}))
    order = [h.payload["doc_id"] for h in store.search(penalised)]
    assert order[:3] == ["b.md"] * 3
    store.set_doc_payload("a.py", {"status": "active", "excluded": "", "owner": "@new", "staleness": 0.5})
    assert store.count(Filter({}, {"excluded": ["deprecated"]})) == 6
    assert store.count(Filter({"status": ["deprecated"]})) == 0
    chunks = store.points(Filter({"doc_id": ["a.py"]}))
    assert {(h.payload["owner"], h.payload["staleness"], h.payload["excluded"]) for h in chunks} == {("@new", 0.5, "")}
    assert sorted(h.payload["symbols"][0] for h in chunks) == ["sym0", "sym1", "sym2"]  # the rest untouched


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


def test_a_rewrite_and_an_upsert_of_the_same_point_do_not_interleave(store: EdgeStore) -> None:
    """An owner's change (read, rewrite) racing the indexer's new text for the same chunk:
    the upsert waits, so the rewrite never writes the old text back over the new."""
    fresh = _point("a.py", 0, np.ones(DIM, dtype=np.float32), text="new text")
    read, wrote, threads = store._records, [], []

    def records(flt, with_payload):  # the rewrite's read; the indexer writes right then
        found = read(flt, with_payload)
        if with_payload is True and not threads:
            threads.append(threading.Thread(target=lambda: (store.upsert([fresh]), wrote.append(1))))
            threads[0].start()
            threads[0].join(0.5)
            assert not wrote, "the upsert ran between the rewrite's read and its write"
        return found

    store._records = records  # type: ignore[method-assign]
    store.set_doc_payload("a.py", {"owner": "@x"})
    threads[0].join(30)
    chunk0 = [h for h in store.points(Filter({"doc_id": ["a.py"]})) if h.payload["chunk_index"] == 0]
    assert wrote and chunk0[0].payload["text"] == "new text"


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
        assert "source" in s._layout.tag_fields  # no links wanted: folded too
    with EdgeStore(path) as s:  # reopened with other settings: the shard's own layout
        assert "source" in s._layout.tag_fields
        assert s.count(Filter({"source": ["repo"]})) == 1
    (path / LAYOUT_FILE).write_text('{"version": 99, "tag_fields": []}')
    with pytest.raises(StoreError, match="layout version 99"):
        EdgeStore(path)
    (path / LAYOUT_FILE).write_text("{not json")
    with pytest.raises(StoreError, match=LAYOUT_FILE):
        EdgeStore(path)


def test_folded_access_groups_still_hide_what_a_caller_may_not_read(tmp_path: Path) -> None:
    """With no linked fields at all, ``access_groups`` is a tag too; a document's own values
    (a symbol spelled like a group tag) never grant access."""
    with EdgeStore(tmp_path / "s", EdgeTuning(payload_hnsw_fields=())) as s:
        s.ensure_collection(DIM)
        assert "access_groups" in s._layout.tag_fields
        s.upsert([_point("secret.py", 0, np.ones(DIM, dtype=np.float32), access_groups=["payments"],
                         symbols=["access_groups=everyone"])])
        assert s.count(Filter({"access_groups": ["everyone"]})) == 0
        assert s.query(np.ones(DIM), SparseVector((), ()), Filter({"access_groups": ["everyone"]}), 5) == []
        assert s.count(Filter({"access_groups": ["payments"]})) == 1


def test_tags_hold_only_string_values_and_reserved_keys_are_dropped() -> None:
    layout = PayloadLayout(frozenset({"kind", "symbols", "language"}), frozenset({"source"}))
    assert layout.tags({"kind": "code", "symbols": ["a", 3, None], "language": None}) == ["kind=code", "symbols=a"]
    stored = layout.to_stored({"kind": "x", "source": "s", TAGS: ["forged"], PACKED: "{}"})
    assert stored == {"source": "s", TAGS: ["kind=x"], PACKED: '{"kind":"x"}'}
    assert from_stored(stored) == {"kind": "x", "source": "s"}
    assert PayloadLayout().to_stored({TAGS: ["forged"], PACKED: "x", "a": 1}) == {"a": 1}
    assert from_stored(layout.to_stored({"n": np.float32(0.5), "v": np.arange(2)})) == {"n": 0.5, "v": [0, 1]}
    with pytest.raises(StoreError, match="cannot be stored: object is not JSON"):
        layout.to_stored({"x": object()})
    assert from_stored({"a": 1, TAGS: ["t"]}) == {"a": 1}  # an old layout's payload: as stored
