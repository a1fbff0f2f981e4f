"""Every metric against values computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    CaseScore,
    aggregate,
    breakdown,
    chunk_hit_at_k,
    chunk_recall_at_k,
    chunk_reciprocal_rank,
    citation_precision,
    citation_recall,
    hit_at_k,
    mean,
    ndcg_at_k,
    percentile,
    rate,
    recall_at_k,
    reciprocal_rank,
)

RANKED = ["a", "x", "b", "y", "c"]
GOLD = {"a", "b", "c", "d"}


def test_recall_at_k() -> None:
    # top1 = {a} -> 1/4; top3 = {a, x, b} -> 2/4; top5 -> a, b, c = 3/4
    assert recall_at_k(RANKED, GOLD, 1) == 0.25
    assert recall_at_k(RANKED, GOLD, 3) == 0.5
    assert recall_at_k(RANKED, GOLD, 5) == 0.75
    # k beyond the list: the whole list, still 3/4 (d is never retrieved)
    assert recall_at_k(RANKED, GOLD, 50) == 0.75


def test_recall_counts_duplicates_once() -> None:
    # ranked dedupes to [a, b]: top2 = {a, b}; gold {a, b} -> 2/2. Without dedupe top2 = [a, a] -> 1/2.
    assert recall_at_k(["a", "a", "b"], ["a", "b"], 2) == 1.0
    # duplicate gold counts once: gold {a, b}, top1 {a} -> 1/2
    assert recall_at_k(["a", "b"], ["a", "a", "b"], 1) == 0.5


def test_hit_at_k() -> None:
    assert hit_at_k(["x", "a"], {"a"}, 1) == 0.0  # top1 = x
    assert hit_at_k(["x", "a"], {"a"}, 2) == 1.0
    assert hit_at_k(["x", "x", "a"], {"a"}, 2) == 1.0  # dedup: [x, a]
    assert hit_at_k([], {"a"}, 5) == 0.0


def test_reciprocal_rank() -> None:
    # first gold (a) at rank 1
    assert reciprocal_rank(RANKED, GOLD) == 1.0
    # [x, y, b]: first gold at rank 3 -> 1/3
    assert reciprocal_rank(["x", "y", "b"], {"b"}) == pytest.approx(1 / 3)
    # cut at k=2: b (rank 3) is outside -> 0
    assert reciprocal_rank(["x", "y", "b"], {"b"}, k=2) == 0.0
    # dedup: [x, x, b] -> [x, b]: rank 2 -> 1/2
    assert reciprocal_rank(["x", "x", "b"], {"b"}) == 0.5
    assert reciprocal_rank([], {"b"}) == 0.0


def test_ndcg_at_k() -> None:
    # ranked [a, x, b, y, c], gold {a, b, c, d}, k=10
    # DCG = 1/log2(2) + 1/log2(4) + 1/log2(6) = 1 + 0.5 + 0.386853 = 1.886853
    # IDCG (4 gold first) = 1/log2(2) + 1/log2(3) + 1/log2(4) + 1/log2(5)
    #      = 1 + 0.630930 + 0.5 + 0.430677 = 2.561606
    # nDCG = 1.886853 / 2.561606 = 0.73659
    dcg = 1 + 0.5 + 1 / math.log2(6)
    idcg = 1 + 1 / math.log2(3) + 0.5 + 1 / math.log2(5)
    assert ndcg_at_k(RANKED, GOLD, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(RANKED, GOLD, 10) == pytest.approx(0.73659, abs=1e-5)
    # k=1: DCG = 1 (a), IDCG = 1 -> 1.0
    assert ndcg_at_k(RANKED, GOLD, 1) == 1.0
    # [x, a], gold {a}, k=2: DCG = 1/log2(3) = 0.63093; IDCG = 1 -> 0.63093
    assert ndcg_at_k(["x", "a"], {"a"}) == pytest.approx(1 / math.log2(3))
    # perfect list
    assert ndcg_at_k(["a", "b"], {"a", "b"}) == pytest.approx(1.0)
    # duplicates once: [a, a, b] -> [a, b] is perfect for {a, b}
    assert ndcg_at_k(["a", "a", "b"], {"a", "b"}) == pytest.approx(1.0)
    assert ndcg_at_k([], {"a"}) == 0.0


def test_citation_precision_and_recall() -> None:
    # cited {a, x}, gold {a, b}: precision 1/2, recall 1/2
    assert citation_precision(["a", "x"], {"a", "b"}) == 0.5
    assert citation_recall(["a", "x"], {"a", "b"}) == 0.5
    # cited {a} (twice), gold {a, b, c}: precision 1/1, recall 1/3
    assert citation_precision(["a", "a"], {"a", "b", "c"}) == 1.0
    assert citation_recall(["a", "a"], {"a", "b", "c"}) == pytest.approx(1 / 3)
    # nothing cited: precision undefined, recall 0
    assert citation_precision([], {"a"}) is None
    assert citation_recall([], {"a"}) == 0.0


@pytest.mark.parametrize("fn", [
    lambda g: recall_at_k(["a"], g, 1), lambda g: hit_at_k(["a"], g, 1), lambda g: reciprocal_rank(["a"], g),
    lambda g: ndcg_at_k(["a"], g), lambda g: citation_precision(["a"], g), lambda g: citation_recall(["a"], g),
])
def test_empty_gold_is_an_error(fn) -> None:
    with pytest.raises(ValueError, match="without gold"):
        fn([])


def test_bad_k_is_an_error() -> None:
    with pytest.raises(ValueError):
        recall_at_k(["a"], {"a"}, 0)
    with pytest.raises(ValueError):
        chunk_hit_at_k([True], 0)


def test_percentile_matches_numpy_linear() -> None:
    # sorted [1, 2, 3, 4]; p50: pos = 3 * 0.5 = 1.5 -> 2 + 0.5 * (3 - 2) = 2.5
    assert percentile([4, 1, 3, 2], 50) == 2.5
    # p95: pos = 3 * 0.95 = 2.85 -> 3 + 0.85 * (4 - 3) = 3.85
    assert percentile([4, 1, 3, 2], 95) == pytest.approx(3.85)
    # p0 / p100 are min / max; a single value is every percentile
    assert percentile([4, 1, 3, 2], 0) == 1.0
    assert percentile([4, 1, 3, 2], 100) == 4.0
    assert percentile([7.0], 95) == 7.0
    # [10, 20, 30]: p25: pos = 2 * 0.25 = 0.5 -> 15
    assert percentile([10, 20, 30], 25) == 15.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_mean_and_rate() -> None:
    assert mean([1, 2, 6]) == 3.0  # 9 / 3
    assert mean([]) is None
    assert rate([True, False, None, True]) == pytest.approx(2 / 3)  # None = not checked
    assert rate([None]) is None


def test_chunk_metrics() -> None:
    hits = [False, False, True, True]
    assert chunk_hit_at_k(hits, 2) == 0.0
    assert chunk_hit_at_k(hits, 3) == 1.0
    assert chunk_hit_at_k(hits, 100) == 1.0  # k beyond the list
    assert chunk_reciprocal_rank(hits) == pytest.approx(1 / 3)  # first hit at rank 3
    assert chunk_reciprocal_rank([]) == 0.0
    # gold entries 0, 1, 2; chunks match (0), (), (0, 1): top1 covers {0} -> 1/3, top3 {0, 1} -> 2/3
    assert chunk_recall_at_k([(0,), (), (0, 1)], 3, 1) == pytest.approx(1 / 3)
    assert chunk_recall_at_k([(0,), (), (0, 1)], 3, 3) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        chunk_recall_at_k([(0,)], 0, 1)


def _scores() -> list[CaseScore]:
    return [
        # c1: gold a at rank 1; cited a, x; must-include ok; passed
        CaseScore("c1", tags=("py", "api"), sources=("repo1",), file_ranked=("a", "x", "y"),
                  chunk_hits=(True, False, False), gold_files=("a",), cited_files=("a", "x"),
                  must_include_ok=True, must_not_ok=True, supported=True, stale_cited=1, cited_total=2,
                  passed=True, timings={"retrieve": 0.1, "generate": 1.0}),
        # c2: gold {b, c}: b at rank 3; cites nothing; must-include failed; not passed
        CaseScore("c2", tags=("py",), sources=("repo2",), file_ranked=("x", "y", "b"),
                  chunk_hits=(False, False, False, True), gold_files=("b", "c"), cited_files=(),
                  must_include_ok=False, supported=False, cited_total=0, passed=False,
                  timings={"retrieve": 0.3, "generate": 3.0}),
        # c3: no gold (answer-only checks); passed
        CaseScore("c3", tags=(), sources=(), must_include_ok=True, passed=True, stale_cited=0, cited_total=2,
                  timings={"retrieve": 0.2}),
        # c4: skipped: excluded from every metric, only counted
        CaseScore("c4", tags=("py",), sources=("repo1",), file_ranked=("zz",), gold_files=("q",),
                  passed=False, skipped="source not indexed", timings={"retrieve": 99.0}),
    ]


def test_aggregate() -> None:
    m = aggregate(_scores())
    assert (m["cases"], m["skipped"], m["scored"]) == (4, 1, 3)
    # passed: c1, c3 of 3 run cases -> 2/3
    assert m["pass_rate"] == pytest.approx(2 / 3)
    # file metrics over the 2 cases with gold (c1, c2)
    # recall@1: c1 1/1, c2 0/2 -> 0.5; recall@3: c1 1, c2 1/2 -> 0.75
    assert m["file_recall@1"] == 0.5
    assert m["file_recall@3"] == 0.75
    # acc@1: c1 1, c2 0 -> 0.5; acc@3: 1, 1 -> 1.0; k=10 beyond lists -> 1.0
    assert m["file_acc@1"] == 0.5
    assert m["file_acc@3"] == 1.0
    assert m["file_acc@10"] == 1.0
    # MRR: (1 + 1/3) / 2 = 0.6667
    assert m["file_mrr"] == pytest.approx(2 / 3)
    # nDCG@10: c1 = 1; c2: DCG = 1/log2(4) = 0.5, IDCG = 1 + 1/log2(3) = 1.63093 -> 0.30657; mean 0.65328
    assert m["file_ndcg@10"] == pytest.approx((1 + 0.5 / (1 + 1 / math.log2(3))) / 2)
    # chunks: acc@1: c1 1, c2 0 -> 0.5; acc@3: c2 hit at rank 4 -> still 0 -> 0.5; acc@5 -> 1.0
    assert m["chunk_acc@1"] == 0.5
    assert m["chunk_acc@3"] == 0.5
    assert m["chunk_acc@5"] == 1.0
    # chunk recall without chunk_gold falls back to hit@k
    assert m["chunk_recall@5"] == 1.0
    # chunk MRR: (1 + 1/4) / 2 = 0.625
    assert m["chunk_mrr"] == 0.625
    # citation precision: only c1 cited: {a, x} vs {a} -> 1/2; c2 cited nothing -> excluded
    assert m["citation_precision"] == 0.5
    # citation recall: c1 1/1, c2 0/2 -> 0.5
    assert m["citation_recall"] == 0.5
    # must-include: c1 ok, c2 failed, c3 ok -> 2/3; must-not: only c1 checked -> 1.0
    assert m["must_include_rate"] == pytest.approx(2 / 3)
    assert m["must_not_include_rate"] == 1.0
    # supported judged on c1 (True), c2 (False) -> unsupported 1/2
    assert m["unsupported_rate"] == 0.5
    # stale: 1 stale of 2 + 0 + 2 = 4 citations (c4's are skipped) -> 0.25
    assert m["stale_citation_rate"] == 0.25
    # retrieve latencies of run cases [0.1, 0.3, 0.2] -> sorted [0.1, 0.2, 0.3]; p50 = 0.2;
    # p95: pos = 2 * 0.95 = 1.9 -> 0.2 + 0.9 * 0.1 = 0.29 (c4's 99 s is excluded)
    assert m["latency_retrieve_p50"] == pytest.approx(0.2)
    assert m["latency_retrieve_p95"] == pytest.approx(0.29)
    # generate [1, 3]: p50 = 2.0; p95: pos 0.95 -> 1 + 0.95 * 2 = 2.9
    assert m["latency_generate_p50"] == 2.0
    assert m["latency_generate_p95"] == pytest.approx(2.9)


def test_aggregate_with_chunk_gold() -> None:
    # two gold entries; chunk 1 matches entry 0, chunk 3 matches entry 1: recall@1 = 1/2, @3 = 2/2
    s = CaseScore("c", gold_files=("a",), file_ranked=("a",), chunk_hits=(True, False, True),
                  chunk_gold=((0,), (), (1,)), gold_count=2)
    m = aggregate([s], ks=(1, 3))
    assert m["chunk_recall@1"] == 0.5
    assert m["chunk_recall@3"] == 1.0
    assert m["chunk_acc@1"] == 1.0
    assert "file_acc@5" not in m  # only the ks asked for


def test_aggregate_empty_and_all_skipped() -> None:
    m = aggregate([])
    assert m["cases"] == 0 and m["pass_rate"] is None and m["file_mrr"] is None
    m = aggregate([CaseScore("c", gold_files=("a",), skipped="no source")])
    assert (m["cases"], m["skipped"], m["scored"]) == (1, 1, 0)
    assert m["file_acc@1"] is None and m["stale_citation_rate"] is None and m["citation_precision"] is None
    assert not any(k.startswith("latency_") for k in m)


def test_case_score_reciprocal_rank() -> None:
    assert CaseScore("c", file_ranked=("x", "a"), gold_files=("a",)).reciprocal_rank == 0.5
    assert CaseScore("c").reciprocal_rank is None


def test_breakdown_by_tag_and_source() -> None:
    scores = _scores()
    by_tag = breakdown(scores, "tag")
    assert list(by_tag) == ["(untagged)", "api", "py"]
    # py: c1 (passed), c2 (failed), c4 (skipped) -> pass rate 1/2, 3 cases, 1 skipped
    assert by_tag["py"]["pass_rate"] == 0.5
    assert (by_tag["py"]["cases"], by_tag["py"]["skipped"]) == (3, 1)
    assert by_tag["api"]["file_acc@1"] == 1.0
    assert by_tag["(untagged)"]["pass_rate"] == 1.0 and by_tag["(untagged)"]["file_acc@1"] is None
    by_src = breakdown(scores, "source")
    assert list(by_src) == ["(no source)", "repo1", "repo2"]
    assert by_src["repo2"]["file_mrr"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        breakdown(scores, "owner")  # type: ignore[arg-type]
