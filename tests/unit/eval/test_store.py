"""Eval runs in the catalog: lifecycle, per-case saves, resume, discard, history, load."""

from __future__ import annotations

import pytest

from assistant.catalog.db import Database
from assistant.errors import ConfigError, NotFoundError
from eval.cases import EvalCase, EvalSet, Gold
from eval.store import EvalStore, set_hash
from tests.fixtures.postgres import catalog_url, pg_server  # noqa: F401 - fixtures

SET = EvalSet("demo", (EvalCase("a", "where is RETRY_LIMIT?", (Gold("retry.py", "app"),)),
                       EvalCase("b", "how do we deploy?", (Gold("docs/deploy.md", "app"),)),
                       EvalCase("c", "who owns billing?")))


@pytest.fixture
def store(catalog_url: str) -> EvalStore:
    return EvalStore(Database(catalog_url))  # on SQLite and on PostgreSQL


def result(case_id: str, passed: bool = True) -> dict:
    return {"case_id": case_id, "question": f"q {case_id}", "tags": ["t"], "passed": passed, "skipped": None,
            "gold_files": ["app:retry.py"], "file_ranked": ["app:retry.py"], "cited_files": ["app:retry.py"],
            "answer": "It is in retry.py [1].", "reciprocal_rank": 1.0, "timings": {"answer": 0.01},
            "chunk_hits": [True]}


def test_lifecycle_start_save_finish_load(store: EvalStore) -> None:
    run_id = store.start(SET, generator="extractive", settings={"k": 8}, index_version="r1")
    row = store.get(run_id)
    assert (row.status, row.set_name, row.set_hash, row.index_version) == ("running", "demo", set_hash(SET), "r1")
    for cid in ("a", "b", "c"):
        store.save_result(run_id, cid, result(cid, passed=cid != "b"))
    store.save_result(run_id, "b", result("b", passed=True))  # a second save replaces the first
    assert list(store.results(run_id)) == ["a", "c", "b"] and store.results(run_id)["b"]["passed"]
    store.finish(run_id, {"pass_rate": 1.0, "cases": 3}, {"tag": {"t": {"pass_rate": 1.0}}, "source": {}})
    run = store.load(run_id)
    assert run["id"] == run_id and run["set"] == "demo" and run["generator"] == "extractive"
    assert run["status"] == "done" and run["finished_at"] and run["created_at"]
    assert run["metrics"] == {"pass_rate": 1.0, "cases": 3} and run["baseline_metrics"] == {}
    assert run["breakdown"]["tag"] == {"t": {"pass_rate": 1.0}} and run["gate"] is None
    case = run["cases"][0]
    assert case["case_id"] == "a" and case["chunk_hits"] == [True] and case["answer"].startswith("It is")
    assert {"question", "tags", "passed", "skipped", "gold_files", "file_ranked", "cited_files", "answer",
            "reciprocal_rank", "timings"} <= set(case)
    with pytest.raises(ConfigError, match="only be added while it runs"):
        store.save_result(run_id, "a", result("a"))
    with pytest.raises(ConfigError, match="only a running run can finish"):
        store.finish(run_id, {}, {})


def test_resume_returns_saved_results_of_the_same_set(store: EvalStore) -> None:
    run_id = store.start(SET, generator="extractive")
    store.save_result(run_id, "a", result("a"))
    assert list(store.resume(run_id, SET)) == ["a"]
    other = EvalSet("demo", SET.cases[:2])
    with pytest.raises(ConfigError, match="changed since eval run"):
        store.resume(run_id, other)
    with pytest.raises(ConfigError, match="ran set 'demo', not 'other'"):
        store.resume(run_id, EvalSet("other", SET.cases))
    store.finish(run_id, {"pass_rate": 1.0}, {})
    with pytest.raises(ConfigError, match="is done, not running"):
        store.resume(run_id, SET)


def test_discard_keeps_rows_but_never_resumes_or_baselines(store: EvalStore) -> None:
    done = store.start(SET, generator="extractive")
    store.finish(done, {"pass_rate": 0.5}, {})
    broken = store.start(SET, generator="extractive")
    store.save_result(broken, "a", result("a"))
    store.discard(broken)
    assert store.get(broken).status == "discarded" and store.get(broken).finished_at is not None
    assert list(store.results(broken)) == ["a"]
    with pytest.raises(ConfigError, match="discarded"):
        store.resume(broken, SET)
    with pytest.raises(ConfigError, match="only be added while it runs"):
        store.save_result(broken, "b", result("b"))
    assert store.latest("demo") == done
    store.discard(done)
    assert store.latest("demo") is None
    with pytest.raises(NotFoundError, match="no eval run with id 99"):
        store.discard(99)


def test_latest_history_and_list(store: EvalStore) -> None:
    ids = []
    for rate in (0.5, 0.6, 0.7):
        rid = store.start(SET, generator="extractive")
        store.finish(rid, {"pass_rate": rate}, {})
        ids.append(rid)
    running = store.start(SET, generator="openai")
    store.save_result(running, "a", result("a"))
    other = store.start(EvalSet("other", SET.cases), generator="extractive")
    store.finish(other, {"pass_rate": 0.1}, {})
    assert store.latest("demo") == ids[2] and store.latest("demo", before=ids[2]) == ids[1]
    hist = store.history("demo")
    assert [h["id"] for h in hist] == ids and [h["metrics"]["pass_rate"] for h in hist] == [0.5, 0.6, 0.7]
    assert [h["id"] for h in store.history("demo", upto=ids[1])] == ids[:2]
    assert set(hist[0]) == {"id", "created_at", "metrics"}
    runs = store.list_runs()
    assert [r.id for r in runs] == [other, running, *reversed(ids)]
    assert runs[1].status == "running" and runs[1].cases_saved == 1 and runs[1].pass_rate is None
    assert [r.id for r in store.list_runs("demo", limit=2)] == [running, ids[2]]
    assert runs[0].as_dict()["set"] == "other"


def test_baseline_and_gate_show_in_the_loaded_run(store: EvalStore) -> None:
    base = store.start(SET, generator="extractive")
    store.finish(base, {"pass_rate": 0.9}, {})
    rid = store.start(SET, generator="extractive", baseline_id=base)
    store.finish(rid, {"pass_rate": 0.5}, {}, {"passed": False, "failures": ["pass_rate fell"], "rows": []})
    run = store.load(rid)
    assert run["baseline_id"] == base and run["baseline_metrics"] == {"pass_rate": 0.9}
    assert run["gate"]["passed"] is False and store.list_runs()[0].gate_passed is False
    assert store.latest("demo") == base  # a run that failed its gate is never "latest"
    with pytest.raises(NotFoundError):
        store.start(SET, generator="extractive", baseline_id=1234)


def test_unknown_run(store: EvalStore) -> None:
    with pytest.raises(NotFoundError, match="sourcewise eval list"):
        store.load(7)
    with pytest.raises(NotFoundError):
        store.save_result(7, "a", {})
