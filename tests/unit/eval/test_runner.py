"""The runner with a fake retriever and the real Answerer (extractive): scoring, skipped
cases, interruption and resume, the gate, and how set names resolve."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from assistant.answer import Answerer
from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.schema import EvalCaseRow
from assistant.errors import ConfigError
from assistant.generation.extractive import ExtractiveGenerator
from assistant.models import Passage, User
from assistant.settings import Settings
from eval import runner
from eval.cases import EvalCase, EvalFormatError, EvalSet, Gold, PassCriteria
from eval.store import EvalStore
from tests.unit.generation.fakes import FakeRetrieval

NOW = datetime.now(UTC)
RETRY = Passage("p1", "app:retry.py", "app", "retry.py", "code", 1, 3,
                'RETRY_LIMIT = 5\n\ndef retry_failed_payment(payment_id):\n    """Retry a failed payment."""',
                0.9, NOW - timedelta(days=10), "c0ffee", "python", "retry_failed_payment")
DEPLOY = Passage("p2", "app:docs/deploy.md", "app", "docs/deploy.md", "docs", 1, 4,
                 "# Deploying\n\nDeploys go through the release pipeline. Run `make rollback` to roll back.",
                 0.5, NOW - timedelta(days=900), "c0ffee", "markdown", title="Deploying")


@dataclass
class FakeRetriever:
    """Ranks retry.py first for retry questions and deploy.md first otherwise."""

    rank_calls: list[str] = field(default_factory=list)
    users: list[User] = field(default_factory=list)

    def _order(self, question: str) -> list[Passage]:
        return [RETRY, DEPLOY] if "retry" in question.lower() else [DEPLOY, RETRY]

    def rank_files(self, question: str, *, user: User, k: int = 10, filters: Any = None) -> list[tuple[str, float]]:
        self.rank_calls.append(question)
        self.users.append(user)
        if filters is not None and "nope" in filters.repos:
            raise ConfigError("unknown source 'nope'")
        return [(f"{p.source}:{p.path}", p.score) for p in self._order(question)][:k]

    def retrieve(self, question: str, *, user: User, k: int | None = None, filters: Any = None) -> FakeRetrieval:
        return FakeRetrieval(question, filters, tuple(self._order(question)), {"search": 0.001})


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    db = Database(f"sqlite:///{tmp_path}/c.db")
    catalog = Catalog(db)
    src = catalog.add_source("app", "git", "/x")
    docs = []
    for path, kind in (("retry.py", "code"), ("docs/deploy.md", "docs")):
        docs.append(({"doc_id": f"app:{path}", "path": path, "kind": kind, "language": None, "title": None,
                      "content_hash": "h", "meta_hash": "m", "updated_at": NOW, "version": "c0ffee", "author": None,
                      "owner": None, "url": None, "status": "active", "chunk_count": 1, "chunk_strategy": "code",
                      "model_id": "m"}, []))
    catalog.record_documents(src.id, docs)
    settings = Settings(home=tmp_path)
    retriever = FakeRetriever()
    answerer = Answerer(retriever, ExtractiveGenerator(), catalog, settings)
    container = SimpleNamespace(db=db, catalog=catalog, settings=settings,
                                embedder=SimpleNamespace(embed_query=lambda text: [0.0]))
    record = {"generator": "extractive", "model": None, "retrieval_overrides": {}}
    monkeypatch.setattr(runner, "build_system", lambda c, **kw: (retriever, answerer, record | {
        "retrieval_overrides": dict(kw.get("retrieval_overrides") or {})}))
    return SimpleNamespace(container=container, retriever=retriever, store=EvalStore(db), db=db)


CASES = EvalSet("demo", (
    EvalCase("retry", "Where is RETRY_LIMIT defined?", (Gold("retry.py", "app", symbol="retry_failed_payment"),),
             must_include=("RETRY_LIMIT = 5",), tags=("code",), criteria=PassCriteria(1, require_citation=True)),
    EvalCase("deploy", "How do we roll back a deploy?", (Gold("docs/deploy.md"),), must_not_include=("fabric",),
             tags=("docs",)),
    EvalCase("missing", "Where is the ledger?", (Gold("ledger.py", "app"), Gold("retry.py", "other")),
             tags=("code",)),
    EvalCase("wrong", "How do we roll back?", (Gold("retry.py", "app"),), criteria=PassCriteria(1)),
))


def test_a_run_scores_each_case_and_skips_missing_gold(env: SimpleNamespace) -> None:
    progress: list[tuple[int, int, str]] = []
    run_id = runner.run_eval(env.container, CASES, progress=lambda *a: progress.append(a))
    assert progress[-1] == (4, 4, "wrong") and len(progress) == 4
    run = env.store.load(run_id)
    assert run["status"] == "done"
    cases = {c["case_id"]: c for c in run["cases"]}
    retry = cases["retry"]
    assert retry["passed"] and retry["file_ranked"][0] == "app:retry.py" and retry["gold_files"] == ["app:retry.py"]
    assert retry["chunk_hits"][0] is True and retry["cited_files"][0] == "app:retry.py"
    assert retry["must_include_ok"] is True and retry["must_not_ok"] is None and retry["reciprocal_rank"] == 1.0
    assert {"rank", "retrieve", "generate", "answer"} <= set(retry["timings"])
    assert retry["interaction_id"] is not None
    deploy = cases["deploy"]  # a gold without source resolves to the ranked source:path
    assert deploy["passed"] and deploy["gold_files"] == ["app:docs/deploy.md"] and deploy["must_not_ok"] is True
    assert deploy["stale_cited"] >= 1 and deploy["cited_total"] >= deploy["stale_cited"]  # 900-day-old doc
    assert cases["missing"]["skipped"] == "gold path missing: app:ledger.py, other:retry.py"
    assert not cases["missing"]["passed"]
    assert not cases["wrong"]["passed"] and cases["wrong"]["reciprocal_rank"] == 0.5
    m = run["metrics"]
    assert (m["cases"], m["skipped"], m["scored"]) == (4, 1, 3)
    assert m["pass_rate"] == pytest.approx(2 / 3) and m["file_acc@1"] == pytest.approx(2 / 3)
    assert m["stale_citation_rate"] > 0 and "latency_answer_p50" in m
    assert set(run["breakdown"]["tag"]) == {"code", "docs", "(untagged)"} and "app" in run["breakdown"]["source"]


def test_interrupted_run_keeps_its_results_and_resumes(env: SimpleNamespace) -> None:
    def stop_after_two(done: int, total: int, case_id: str) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run_eval(env.container, CASES, progress=stop_after_two)
    [run] = env.store.list_runs()
    assert run.status == "running" and run.cases_saved == 2
    asked = len(env.retriever.rank_calls)
    run_id = runner.run_eval(env.container, CASES, resume_id=run.id)
    assert run_id == run.id and env.store.get(run_id).status == "done"
    assert len(env.retriever.rank_calls) - asked == 1  # "missing" is skipped, only "wrong" is asked
    assert env.store.load(run_id)["metrics"]["cases"] == 4
    with pytest.raises(ConfigError, match="is done, not running"):
        runner.run_eval(env.container, CASES, resume_id=run_id)


def test_resume_refuses_other_options_and_discarded_runs(env: SimpleNamespace) -> None:
    with pytest.raises(KeyboardInterrupt):
        runner.run_eval(env.container, CASES, progress=lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    run_id = env.store.list_runs()[0].id
    with pytest.raises(ConfigError, match="used generator 'extractive'"):
        runner.run_eval(env.container, CASES, resume_id=run_id, generator="openai")
    with pytest.raises(ConfigError, match="retrieval overrides"):
        runner.run_eval(env.container, CASES, resume_id=run_id, retrieval_overrides={"sparse_weight": 0.0})
    env.store.discard(run_id)
    with pytest.raises(ConfigError, match="discarded"):
        runner.run_eval(env.container, CASES, resume_id=run_id)


def test_baseline_gate_is_stored_with_the_run(env: SimpleNamespace) -> None:
    base = runner.run_eval(env.container, CASES)
    again = runner.run_eval(env.container, CASES, baseline_id=base)
    gate = env.store.load(again)["gate"]
    assert gate["passed"] is True and gate["failures"] == []
    worse = EvalSet("demo", CASES.cases[:3] + (EvalCase("wrong", "How do we roll back?", (Gold("retry.py", "app"),),
                                                         criteria=PassCriteria(1), must_include=("nowhere",)),))
    third = runner.run_eval(env.container, worse, baseline_id=base)
    gate = env.store.load(third)["gate"]
    assert gate["passed"] is False  # pass_rate is the same (the case failed before too), the answers are not
    assert [f.split()[0] for f in gate["failures"]] == ["must_include_rate"]
    with pytest.raises(ConfigError, match="ran set 'demo', not 'other'"):
        runner.run_eval(env.container, EvalSet("other", CASES.cases), baseline_id=base)


def test_empty_set_is_a_clear_error(env: SimpleNamespace) -> None:
    with pytest.raises(EvalFormatError, match="has no cases"):
        runner.run_eval(env.container, EvalSet("empty", ()))


def test_unknown_retrieval_override_is_refused(tmp_path: Path) -> None:
    container = SimpleNamespace(settings=Settings(home=tmp_path))
    with pytest.raises(ConfigError, match="unknown retrieval setting"):
        runner.build_system(container, retrieval_overrides={"sparse_wieght": 0.0})


def test_set_names_resolve_to_files_plus_promoted_cases(env: SimpleNamespace, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sets = tmp_path / "sets"
    sets.mkdir()
    (sets / "demo.yaml").write_text("cases:\n  - {id: one, question: 'where is retry?', gold: [retry.py]}\n")
    monkeypatch.setattr(runner, "SETS_DIR", sets)
    with env.db.session() as s:
        s.add(EvalCaseRow(set_name="demo", question="how do we deploy?", gold=[{"path": "docs/deploy.md"}],
                          created_by="admin", origin="feedback"))
        s.add(EvalCaseRow(set_name="feedback", question="who owns retry?", gold=[{"path": "retry.py"}],
                          created_by="admin", origin="feedback"))
    demo = runner.resolve_set(env.container, "demo")
    assert [c.id for c in demo.cases] == ["one", "catalog-1"]
    assert [c.id for c in runner.resolve_set(env.container, "feedback").cases] == ["catalog-2"]
    assert runner.resolve_set(env.container, str(sets / "demo.yaml")).cases[0].id == "one"
    with pytest.raises(EvalFormatError, match="no eval set 'nope'.*demo.*feedback"):
        runner.resolve_set(env.container, "nope")


def test_a_case_can_ask_as_a_non_admin_user(env: SimpleNamespace) -> None:
    case = EvalCase("acl", "Where is RETRY_LIMIT defined?", (Gold("retry.py", "app"),),
                    meta={"user": "dev", "groups": "eng, payments"})
    runner.run_eval(env.container, EvalSet("acl", (case, CASES.cases[0])))
    assert env.retriever.users[0] == User("dev", ("eng", "payments"))
    assert env.retriever.users[1].is_admin and env.retriever.users[1].name == "eval"


def test_a_case_that_errors_fails_with_the_error_and_the_run_goes_on(env: SimpleNamespace) -> None:
    bad = EvalCase("bad", "Where is RETRY_LIMIT?", (Gold("retry.py", "app"),), filters={"repos": ("nope",)})
    run = env.store.load(runner.run_eval(env.container, EvalSet("errors", (bad, CASES.cases[0]))))
    cases = {c["case_id"]: c for c in run["cases"]}
    assert not cases["bad"]["passed"] and cases["bad"]["error"] == "ConfigError: unknown source 'nope'"
    assert cases["bad"]["supported"] is None and cases["retry"]["passed"]
    assert run["metrics"]["pass_rate"] == 0.5 and run["metrics"]["unsupported_rate"] == 0.0
