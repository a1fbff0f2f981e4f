"""Admin feedback review and promotion to eval cases, generator settings, the audit log."""

from __future__ import annotations

import json

from sqlalchemy import select

from assistant.catalog.schema import EvalCaseRow, FeedbackRow
from assistant.models import User
from tests.unit.ui.pages.conftest import Pages, add_answer, add_doc
from ui.pages.admin_review import parse_gold


def _thumbs_down(pages: Pages) -> tuple[int, int]:
    c = pages.container
    retry = add_doc(c, "app", "payments/retry.py", owner="@alice")
    deploy = add_doc(c, "app", "docs/deploy.md", owner="@alice")
    ident = add_answer(c, "bob", "Where is the retry limit set?", "See the deploy docs [1].", [deploy, retry])
    fid = c.feedback.rate(ident, User("bob"), "down", reason="wrong_source", comment="retry.py has it")
    return ident, fid


def test_feedback_list_shows_question_answer_and_retrieved_sources(pages: Pages) -> None:
    _thumbs_down(pages)
    pages.as_user("root")
    body = pages.get("/admin/feedback").text
    assert "thumbs down" in body and "wrong source" in body and "retry.py has it" in body
    assert "Where is the retry limit set?" in body and "See the deploy docs [1]." in body
    assert "app:payments/retry.py" in body and "app:docs/deploy.md" in body
    assert "No feedback yet" not in pages.get("/admin/feedback?show=all").text


def test_promote_with_picked_and_typed_gold_sources(pages: Pages) -> None:
    _, fid = _thumbs_down(pages)
    pages.as_user("root")
    picked = json.dumps({"path": "payments/retry.py", "source": "app"}, sort_keys=True)
    r = pages.post("/admin/feedback/promote", {"kind": "feedback", "item_id": fid, "gold": [picked],
                                               "gold_paths": "app:payments/policy.py#L3-L9\nREADME.md",
                                               "set_name": "regressions", "must_include": "RETRY_LIMIT",
                                               "tags": "payments"}, form_page="/admin/feedback")
    assert "Saved eval case" in pages.flash(r)
    with pages.container.db.session() as s:
        case = s.scalar(select(EvalCaseRow))
        status = s.scalar(select(FeedbackRow.status).where(FeedbackRow.id == fid))
    assert case.set_name == "regressions" and case.question == "Where is the retry limit set?"
    assert case.gold == [{"source": "app", "path": "payments/retry.py"},
                         {"source": "app", "path": "payments/policy.py", "start_line": 3, "end_line": 9},
                         {"path": "README.md"}]
    assert case.must_include == ["RETRY_LIMIT"] and "payments" in case.tags and case.created_by == "root"
    assert status == "promoted"
    assert "Nothing left to review" in pages.get("/admin/feedback").text
    assert "Where is the retry limit set?" in pages.get("/admin/feedback?show=all").text
    assert pages.container.audit.entries(action="eval.promote")[0].actor == "root"


def test_promote_without_gold_is_refused(pages: Pages) -> None:
    _, fid = _thumbs_down(pages)
    pages.as_user("root")
    r = pages.post("/admin/feedback/promote", {"kind": "feedback", "item_id": fid})
    assert "at least one gold source" in pages.flash(r)
    with pages.container.db.session() as s:
        assert s.scalar(select(EvalCaseRow)) is None


def test_parse_gold_only_takes_known_source_prefixes() -> None:
    gold = parse_gold([], "app:src/a.py\nC:/weird/path.py#L5\napp:src/a.py", {"app"})
    assert gold == [{"source": "app", "path": "src/a.py"}, {"path": "C:/weird/path.py", "start_line": 5,
                                                           "end_line": 5}]


def test_generator_settings_are_shown_and_switches_toggle(pages: Pages) -> None:
    pages.container.settings.generation.api_key = "sk-secret-value"  # type: ignore[assignment]
    pages.as_user("root")
    body = pages.get("/admin/settings").text
    assert "extractive" in body and "fallback_on_uncited" in body
    assert "sk-secret-value" not in body and ">set<" in body
    r = pages.post("/admin/settings", {"key": "allow_generator_choice", "value": "true"})
    assert "allow_generator_choice is now on" in pages.flash(r)
    assert pages.container.app_settings.get("allow_generator_choice") is True
    assert "Turn off" in pages.get("/admin/settings").text
    [entry] = pages.container.audit.entries(action="setting.set")
    assert entry.details == {"before": None, "after": True}
    assert "unknown" in pages.flash(pages.post("/admin/settings", {"key": "debug", "value": "true"}))


def test_audit_log_lists_and_filters(pages: Pages) -> None:
    audit = pages.container.audit
    audit.record("root", "source.add", "app", {"location": "/srv/app"})
    audit.record("alice", "owner.dismissed", "app:docs/a.md", {"note": "<b>fine</b>"})
    pages.as_user("root")
    body = pages.get("/admin/audit").text
    assert "source.add" in body and "owner.dismissed" in body and "&lt;b&gt;fine&lt;/b&gt;" in body
    only = pages.get("/admin/audit?actor=alice").text
    assert "owner.dismissed" in only and "source.add" not in only


def test_every_post_form_carries_the_csrf_field(pages: Pages) -> None:
    ident, _ = _thumbs_down(pages)
    pages.container.feedback.flag(ident, 1, User("bob"), "outdated")
    pages.as_user("root")
    for url in ["/admin", "/admin/sources/app", "/admin/users", "/admin/tokens", "/admin/feedback",
                "/admin/settings", "/owners?owner=@alice"]:
        body = pages.get(url).text
        forms = body.split('method="post"')[1:]
        assert forms, url
        for form in forms:
            assert 'name="csrf_token"' in form.split("</form>")[0], url
