"""Catalog eval cases (promoted from feedback) to EvalSets, and sets written to files."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.schema import EvalCaseRow
from assistant.feedback import FeedbackService
from assistant.users import UserStore
from eval.cases import EvalCase, EvalFormatError, EvalSet, Gold, PassCriteria, load_set
from eval.sets import catalog_cases, export_set


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path}/c.db")
    yield database
    database.close()


def _promoted(db: Database) -> tuple[int, int]:
    """Two real promotions: a thumbs-down (with a conversation) and a flag, into set 'feedback'."""
    users = UserStore(db)
    alice = users.create("alice", password="alice-password", groups=["eng"])
    root = users.create("root", password="root-password", is_admin=True)
    log = InteractionLog(db)
    history = [{"role": "user", "content": "how do we pay?"}, {"role": "assistant", "content": "see pay.py [1]"},
               {"role": "system", "content": "ignored"}]
    iid = log.record(user_name="alice", question="and how do we retry?", history=history,
                     retrieved=[{"n": 1, "id": "p1", "doc_id": "app:pay.py", "path": "pay.py"}],
                     citations=[{"n": 1, "id": "p1"}], answer="retry in pay.py [1]")
    svc = FeedbackService(db, AuditLog(db))
    down = svc.rate(iid, alice.user(), "down", "wrong_source")
    flag = svc.flag(iid, 1, alice.user(), "outdated")
    c1 = svc.promote("feedback", down, [{"path": "pay/retry.py", "source": "app", "start_line": 10,
                                         "end_line": 20}], root, must_include=["backoff"], tags=["payments"])
    c2 = svc.promote("flag", flag, [{"path": "pay.py", "doc_id": "app:pay.py"}], root)
    return c1, c2


def test_catalog_cases_from_real_promotions(db: Database) -> None:
    c1, c2 = _promoted(db)
    with db.session() as s:  # a curated set added straight to the table, with a regex and a line range
        s.add(EvalCaseRow(set_name="curated", question="where is the ledger?", gold=[{"path": "ledger.py",
                          "lines": "3-9", "symbol": "Ledger"}], must_not_include=["/no idea/"],
                          tags=["core"], origin="curated", created_by="root"))
    sets = catalog_cases(db)
    assert [s.name for s in sets] == ["curated", "feedback"]
    assert all(s.origin == "catalog" for s in sets)
    fb = sets[1]
    assert [c.id for c in fb.cases] == [f"catalog-{c1}", f"catalog-{c2}"]
    first, second = fb.cases
    assert first.question == "and how do we retry?" and first.origin == "feedback"
    assert first.gold == (Gold("pay/retry.py", "app", None, 10, 20),)
    assert first.conversation == ({"role": "user", "content": "how do we pay?"},
                                  {"role": "assistant", "content": "see pay.py [1]"})  # system turn dropped
    assert first.must_include == ("backoff",)
    assert first.tags == ("feedback:down", "payments")
    assert first.interaction_id is not None and first.meta["created_by"] == "root"
    assert first.meta["feedback_id"] and "created_at" in first.meta
    assert second.gold == (Gold("pay.py"),) and second.tags == ("flag:outdated",)
    assert second.meta["flag_id"]
    curated = sets[0].cases[0]
    assert curated.gold == (Gold("ledger.py", None, "Ledger", 3, 9),)
    assert curated.must_not_include == ("/no idea/",) and curated.origin == "curated"


def test_catalog_cases_one_set_and_unknown_set(db: Database) -> None:
    _promoted(db)
    only = catalog_cases(db, "feedback")
    assert [s.name for s in only] == ["feedback"] and len(only[0].cases) == 2
    assert catalog_cases(db, "nope") == []


def test_a_broken_catalog_row_names_the_row(db: Database) -> None:
    with db.session() as s:
        s.add(EvalCaseRow(set_name="x", question="q", gold=[{"path": "a.py", "start_line": 0}], created_by="r"))
    with pytest.raises(EvalFormatError, match=r"catalog eval case 1 \(set 'x'\).*start_line"):
        catalog_cases(db)


CASES = (
    EvalCase("a", "where do we retry?", gold=(Gold("pay/retry.py", "app", "retry", 3, 9),),
             conversation=({"role": "user", "content": "hi"},), must_include=("backoff", "/retr(y|ies)/"),
             must_not_include=("TODO",), tags=("payments",), origin="feedback",
             filters={"repos": ("app",)}, criteria=PassCriteria(3, True, False), interaction_id=7,
             meta={"created_by": "root"}),
    EvalCase("b", "what is a ledger? — ünïcode", gold=(Gold("ledger.py"),)),
)


@pytest.mark.parametrize("name", ["out.jsonl", "out.yaml", "sub/out.yml"])
def test_export_round_trips_through_load_set(tmp_path: Path, name: str) -> None:
    path = export_set(EvalSet("mine", CASES), tmp_path / name)
    loaded = load_set(path)
    assert loaded.cases == CASES
    assert loaded.name == ("mine" if path.suffix != ".jsonl" else "out")


def test_export_yaml_is_readable(tmp_path: Path) -> None:
    text = export_set(list(CASES), tmp_path / "s.yaml").read_text()
    assert text.startswith("name: s\nversion: 1\ncases:\n- id: a\n  question: where do we retry?")
    assert "retrieval_k: 3" in text and "criteria" not in text


def test_export_catalog_set(db: Database, tmp_path: Path) -> None:
    _promoted(db)
    (fb,) = catalog_cases(db, "feedback")
    assert load_set(export_set(fb, tmp_path / "feedback.yaml")).cases == fb.cases


def test_export_refuses_other_suffixes(tmp_path: Path) -> None:
    with pytest.raises(EvalFormatError, match="jsonl"):
        export_set(CASES, tmp_path / "x.csv")


def test_documented_examples_load(tmp_path: Path) -> None:
    """The YAML and JSONL examples in docs/eval-format.md are valid sets."""
    import re

    doc = (Path(__file__).resolve().parents[3] / "docs" / "eval-format.md").read_text()
    blocks = re.findall(r"```(yaml|json)\n(.*?)```", doc, re.DOTALL)
    assert [kind for kind, _ in blocks] == ["yaml", "json"]
    for i, (kind, text) in enumerate(blocks):
        path = tmp_path / f"example{i}.{'yaml' if kind == 'yaml' else 'jsonl'}"
        path.write_text(text)
        assert len(load_set(path).cases) == 2
