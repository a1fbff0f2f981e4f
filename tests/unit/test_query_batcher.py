"""QueryBatcher: concurrent questions share forward passes; a lone one goes at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from assistant.embedding.batching import QueryBatcher


class GatedEmbedder:
    """Blocks its first forward pass until released, so others queue behind it."""

    model_id = "fake"
    dim = 2

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(10)
        if self.fail_on in texts:
            raise RuntimeError("model broke")
        return [[float(len(t)), 1.0] for t in texts]

    def embed_documents(self, texts: Sequence[str], progress: object = None) -> list[list[float]]:
        return [[0.0, 0.0] for _ in texts]


def ask_all(batcher: QueryBatcher, texts: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}

    def ask(t: str) -> None:
        try:
            out[t] = batcher.embed_query(t)
        except RuntimeError as exc:
            out[t] = exc

    first = threading.Thread(target=ask, args=(texts[0],))
    first.start()
    assert batcher.inner.entered.wait(10)  # type: ignore[attr-defined]
    rest = [threading.Thread(target=ask, args=(t,)) for t in texts[1:]]
    for t in rest:
        t.start()
    while True:  # all of them queued behind the first pass
        with batcher._cv:
            if len(batcher._pending) == len(rest):
                break
    batcher.inner.release.set()  # type: ignore[attr-defined]
    for t in [first, *rest]:
        t.join(10)
    return out


def test_a_burst_costs_two_forward_passes_and_each_caller_gets_its_own_vector() -> None:
    inner = GatedEmbedder()
    batcher = QueryBatcher(inner)  # type: ignore[arg-type]
    texts = ["a", *[f"q{'x' * i}" for i in range(1, 21)]]
    out = ask_all(batcher, texts)
    assert [len(c) for c in inner.calls] == [1, 20] and batcher.batches == 2
    assert all(out[t] == [float(len(t)), 1.0] for t in texts)
    assert batcher.embed_query("solo") == [4.0, 1.0] and inner.calls[-1] == ["solo"]


def test_max_batch_splits_a_long_queue() -> None:
    inner = GatedEmbedder()
    batcher = QueryBatcher(inner, max_batch=8)  # type: ignore[arg-type]
    out = ask_all(batcher, [f"t{i}" for i in range(21)])
    assert sorted(len(c) for c in inner.calls) == [1, 4, 8, 8] and len(out) == 21


def test_an_error_reaches_every_caller_in_its_batch_and_the_next_batch_still_runs() -> None:
    inner = GatedEmbedder(fail_on="bad")
    batcher = QueryBatcher(inner)  # type: ignore[arg-type]
    out = ask_all(batcher, ["first", "bad", "other"])
    assert isinstance(out["bad"], RuntimeError) and isinstance(out["other"], RuntimeError)
    assert out["first"] == [5.0, 1.0]
    assert batcher.embed_query("after") == [5.0, 1.0]


def test_delegates_model_facts() -> None:
    batcher = QueryBatcher(GatedEmbedder())  # type: ignore[arg-type]
    assert (batcher.model_id, batcher.dim) == ("fake", 2)
    assert batcher.embed_documents(["x"]) == [[0.0, 0.0]]
    with pytest.raises(AttributeError):
        batcher.nothing  # noqa: B018
