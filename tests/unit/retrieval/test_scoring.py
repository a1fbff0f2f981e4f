"""The score formula's math, the ACL/filter conditions and the engine request."""

from __future__ import annotations

import math

import pytest

from assistant.models import Filter, SparseVector, User
from assistant.retrieval.query import QueryFilters
from assistant.retrieval.scoring import build_filter, build_formula, build_request
from assistant.settings import RetrievalSettings
from assistant.store.base import KeywordBoost, KeywordLeg, ScoreFormula, SearchRequest

NOW = 1_750_000_000.0
DAY = 86_400.0


def test_freshness_halves_the_decaying_part_every_half_life() -> None:
    f = ScoreFormula(now_ts=NOW, half_life_s={"docs": 100 * DAY}, freshness_weight=0.4)
    fresh = {"kind": "docs", "updated_ts": NOW}
    assert f.factor(fresh) == 1.0
    assert f.factor({"kind": "docs", "updated_ts": NOW - 100 * DAY}) == pytest.approx(0.8)
    assert f.factor({"kind": "docs", "updated_ts": NOW - 200 * DAY}) == pytest.approx(0.7)
    assert f.factor({"kind": "docs", "updated_ts": NOW - 1e12}) == pytest.approx(0.6)  # floor 1 - w
    assert f.factor({"kind": "code", "updated_ts": NOW - 1e9}) == 1.0  # kind without a half-life
    assert f.factor({"kind": "docs"}) == 1.0  # unknown age: neutral


def test_per_kind_half_lives_from_settings() -> None:
    s = RetrievalSettings()
    f = build_formula(s, NOW)
    year_old = NOW - 365 * DAY
    code = f.factor({"kind": "code", "updated_ts": year_old})
    docs = f.factor({"kind": "docs", "updated_ts": year_old})
    wiki = f.factor({"kind": "wiki", "updated_ts": year_old})
    assert 1.0 > code > docs > wiki
    assert code == pytest.approx(1 - 0.5 + 0.5 * 0.5 ** (365 / 1825))
    assert docs == pytest.approx(0.75) and wiki < docs


def test_status_penalties_and_feedback_boost() -> None:
    f = build_formula(RetrievalSettings(stale_penalty=0.25, deprecated_penalty=0.5, boost_weight=0.5), NOW)
    assert f.factor({"status": "active"}) == 1.0
    assert f.factor({"staleness": 1.0}) == pytest.approx(0.75)  # the staleness score, not a status
    assert f.factor({"staleness": 0.6}) == pytest.approx(1 - 0.25 * 0.6)
    assert f.factor({"status": "stale"}) == 1.0 and f.staleness_weight == 0.25
    assert f.factor({"status": "deprecated"}) == pytest.approx(0.5)
    assert f.factor({"boost": 1.0}) == pytest.approx(math.exp(0.5))
    assert f.factor({"boost": -1.0}) == pytest.approx(math.exp(-0.5))
    assert f.factor({}) == 1.0  # no boost written yet: neutral


def test_exact_matches_multiply() -> None:
    f = build_formula(RetrievalSettings(symbol_boost=1.0, path_boost=0.5, test_penalty=0,
                                        meta_penalty=0), NOW,
                      identifiers=("retry_limit",), path_keys=("payments/retry.py",))
    assert f.matches == (
        KeywordBoost("symbols", ("retry_limit",), 1.0),
        KeywordBoost("path_keys", ("payments/retry.py",), 0.5),
    )
    assert f.factor({"symbols": ["retrypolicy", "retry_limit"]}) == 2.0
    assert f.factor({"symbols": ["retry_limit"], "path_keys": ["payments/retry.py", "retry.py"]}) == 3.0
    assert f.factor({"symbols": ["other"]}) == 1.0
    off = build_formula(RetrievalSettings(symbol_boost=0.0, test_penalty=0, meta_penalty=0),
                        NOW, identifiers=("x_y",))
    assert off.matches == ()


def test_tests_and_changelogs_are_demoted() -> None:
    f = build_formula(RetrievalSettings(test_penalty=0.3, meta_penalty=0.2), NOW)
    assert f.factor({"role": "main"}) == 1.0
    assert f.factor({"role": "test"}) == pytest.approx(0.7)
    assert f.factor({"role": "meta"}) == pytest.approx(0.8)
    assert f.factor({}) == 1.0  # points indexed before roles existed: neutral


HIDDEN = {"excluded": ("deprecated",)}


def test_acl_is_a_must_condition_and_admins_have_none() -> None:
    assert build_filter(QueryFilters(), User("root", is_admin=True).access_groups()) == Filter({}, HIDDEN)
    alice = build_filter(QueryFilters(), User("alice", ("payments",)).access_groups())
    assert alice == Filter({"access_groups": ("everyone", "payments")}, HIDDEN)
    assert build_filter(QueryFilters(), []) == Filter({"access_groups": ()}, HIDDEN)  # matches nothing


def test_documents_marked_deprecated_are_always_excluded() -> None:
    for groups in (None, ["eng"], []):
        assert dict(build_filter(QueryFilters(repos=("api",)), groups).none_of) == HIDDEN


def test_filters_become_conditions() -> None:
    f = QueryFilters(repos=("api",), langs=("python",), kinds=("code", "docs"), paths=("src/*.py",))
    flt = build_filter(f, ["eng"])
    assert flt is not None and dict(flt.any_of) == {
        "access_groups": ("eng",), "source": ("api",), "language": ("python",),
        "kind": ("code", "docs"), "dirs": ("src",),
    }


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (("src/*", "lib/*"), {"dirs": ("src", "lib")}),
        (("*.md", "*.rst"), {"ext": ("md", "rst")}),
        (("src/*", "*.md"), {}),  # different fields cannot OR in one condition: Python only
        (("src/*", "*"), {}),
    ],
)
def test_path_prefilters_only_when_they_agree(paths: tuple, expected: dict) -> None:
    flt = build_filter(QueryFilters(paths=paths), None)
    assert (dict(flt.any_of) if flt else {}) == expected


def test_build_request_wires_settings_legs_and_formula() -> None:
    s = RetrievalSettings(rrf_k=5, dense_weight=2.0, sparse_weight=1.0, exact_weight=3.0, prefetch_depth=50)
    req = build_request(s, dense=[1.0], sparse=SparseVector((1,), (1.0,)), flt=None, limit=80,
                        now_ts=NOW, identifiers=("httpclient.send",), path_keys=("a/b.py",))
    assert isinstance(req, SearchRequest)
    assert (req.rrf_k, req.dense_weight, req.depth, req.limit) == (5, 2.0, 80, 80)
    assert req.legs == (KeywordLeg("symbols", ("httpclient.send",), 3.0),
                        KeywordLeg("path_keys", ("a/b.py",), 3.0))
    assert req.weights() == [2.0, 1.0, 3.0, 3.0]
    assert req.formula is not None and req.formula.now_ts == NOW
    none = build_request(RetrievalSettings(exact_weight=0), dense=[1.0], sparse=SparseVector((), ()),
                         flt=None, limit=5, now_ts=NOW, identifiers=("x_y",))
    assert none.legs == () and none.weights() == [1.0]
