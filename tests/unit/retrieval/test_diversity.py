"""Near-duplicate collapse, the per-file cap and file-level ranking."""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.models import Passage
from assistant.retrieval.diversity import (
    cap_families,
    diversify,
    fuse_rankings,
    jaccard,
    lexical_file_scores,
    rank_files,
    shingles,
)

WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def passage(path: str, n: int, text: str | None = None, source: str = "app") -> Passage:
    return Passage(
        id=f"{path}#{n}", doc_id=f"{source}:{path}", source=source, path=path, kind="code",
        start_line=n * 10 + 1, end_line=n * 10 + 9,
        text=text if text is not None else f"unique text of {path} chunk {n} " + "word " * n,
        score=1.0 / (n + 1), updated_at=WHEN, commit="c" * 40,
    )


def ids(passages: list[Passage]) -> list[str]:
    return [p.id for p in passages]


def test_per_file_cap_spreads_the_top_k_over_files() -> None:
    ranked = [passage("a.py", 0), passage("a.py", 1), passage("a.py", 2), passage("a.py", 3),
              passage("b.py", 0), passage("c.py", 0)]
    top = diversify(ranked, 4, per_file=2)
    assert ids(top) == ["a.py#0", "a.py#1", "b.py#0", "c.py#0"]
    # one per file leaves a slot: the best held-back chunk fills it, in score order
    assert ids(diversify(ranked, 4, per_file=1)) == ["a.py#0", "a.py#1", "b.py#0", "c.py#0"]
    assert ids(diversify(ranked, 3, per_file=1)) == ["a.py#0", "b.py#0", "c.py#0"]


def test_capped_chunks_fill_only_when_nothing_else_is_left_and_keep_rank_order() -> None:
    ranked = [passage("a.py", i) for i in range(5)] + [passage("b.py", 9)]
    top = diversify(ranked, 5, per_file=2)
    assert ids(top) == ["a.py#0", "a.py#1", "a.py#2", "a.py#3", "b.py#9"]


def test_identical_and_near_identical_text_collapse() -> None:
    body = "def retry(payment):\n    " + " ".join(f"step{i}()" for i in range(40))
    ranked = [
        passage("a.py", 0, body),
        passage("vendor/a.py", 0, body.replace("    ", "\t")),  # same words, other whitespace
        passage("b.py", 0, body.replace("step39()", "step_last()")),  # one word differs
        passage("c.py", 0, "something else entirely about invoices"),
    ]
    assert ids(diversify(ranked, 4)) == ["a.py#0", "c.py#0"]
    assert ids(diversify(ranked, 4, duplicate_similarity=1.0)) == ["a.py#0", "b.py#0", "c.py#0"]


def test_same_path_in_two_sources_are_different_files() -> None:
    ranked = [passage("a.py", i, source="x") for i in range(3)] + [passage("a.py", 5, source="y")]
    assert [p.source for p in diversify(ranked, 3, per_file=2)] == ["x", "x", "y"]


def test_k_bounds_and_empty() -> None:
    assert diversify([], 5) == []
    assert len(diversify([passage(f"f{i}.py", 0) for i in range(10)], 3)) == 3


def test_shingles_and_jaccard() -> None:
    assert shingles("a b") == frozenset({("a", "b")})
    assert jaccard(shingles("x y z w"), shingles("x y z w")) == 1.0
    assert jaccard(shingles("a b c d"), shingles("e f g h")) == 0.0


def test_rank_files_rewards_several_relevant_chunks_but_not_volume() -> None:
    pairs = [("app:a.py", 1.0), ("app:b.py", 0.9), ("app:b.py", 0.8), ("app:c.py", 0.5)]
    pairs += [("app:c.py", 0.5)] * 20
    ranked = rank_files(pairs, decay=0.3)
    assert [f for f, _ in ranked] == ["app:b.py", "app:a.py", "app:c.py"]
    assert ranked[0][1] == 0.9 + 0.3 * 0.8
    assert ranked[2][1] < 0.5 / (1 - 0.3) + 1e-9  # bounded by a geometric series
    assert rank_files(pairs, decay=0.0)[0] == ("app:a.py", 1.0)  # decay 0 = max
    assert rank_files(pairs, limit=1) == ranked[:1]


def test_lexical_file_scores_add_up_a_file_that_matches_all_the_way_through() -> None:
    """One strong mention loses to a module that matches in many places; the harmonic
    weights keep a file from winning on sheer length (the series grows like log n)."""
    pairs = [("app:once.py", 4.0)] + [("app:core.py", 2.0)] * 4 + [("app:long.py", 0.2)] * 200
    ranked = lexical_file_scores(pairs)
    assert [f for f, _ in ranked] == ["app:core.py", "app:once.py", "app:long.py"]
    assert ranked[0][1] == 2.0 * (1 + 1 / 2 + 1 / 3 + 1 / 4)
    assert ranked[2][1] < 0.2 * 7  # 200 weak chunks: about 0.2 x ln(200)
    assert lexical_file_scores([]) == []


def test_fuse_rankings_is_weighted_rrf_over_files() -> None:
    hybrid = ["app:a.py", "app:b.py", "app:c.py"]
    lexical = ["app:c.py", "app:d.py"]
    fused = fuse_rankings([(hybrid, 1.0), (lexical, 1.0)], k=20)
    assert fused[0] == ("app:c.py", 1 / 23 + 1 / 21)  # on both lists
    assert [f for f, _ in fused][1:] == ["app:a.py", "app:b.py", "app:d.py"]  # a tie keeps first-seen order
    heavy = fuse_rankings([(hybrid, 1.0), (lexical, 3.0)], k=20)
    assert [f for f, _ in heavy][:2] == ["app:c.py", "app:d.py"]
    assert fuse_rankings([(hybrid, 1.0), ([], 1.0)], k=20)[0][0] == "app:a.py"


def test_cap_families_sends_repeated_fixture_files_after_the_rest() -> None:
    ranked = [("doc:tests/roots/test-a/conf.py", 5.0), ("doc:tests/roots/test-b/conf.py", 4.0),
              ("doc:tests/roots/test-c/conf.py", 3.0), ("doc:sphinx/ext/generate.py", 2.0),
              ("doc:doc/conf.py", 1.5), ("doc:sphinx/conf.py", 1.2), ("doc:tests/test_generate.py", 1.0),
              ("other:tests/roots/test-z/conf.py", 0.5)]
    capped = [key for key, _ in cap_families(ranked, cap=1)]
    assert capped == ["doc:tests/roots/test-a/conf.py", "doc:sphinx/ext/generate.py",
                      "doc:doc/conf.py",  # an example: another family than the tests'
                      "doc:sphinx/conf.py",  # an implementation file is never a family member
                      "doc:tests/test_generate.py",
                      "other:tests/roots/test-z/conf.py",  # another source is another family
                      "doc:tests/roots/test-b/conf.py", "doc:tests/roots/test-c/conf.py"]
    assert sorted(cap_families(ranked, cap=1)) == sorted(ranked)  # nothing lost, scores kept
    assert [key for key, _ in cap_families(ranked, cap=2)][:2] == [ranked[0][0], ranked[1][0]]
    assert cap_families(ranked, cap=0) == ranked
    assert cap_families([], cap=1) == []
