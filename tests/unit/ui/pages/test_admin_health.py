"""``/admin/health``: numbers from real catalog rows, server-side plots, window checks, admins only."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

from assistant.catalog.interactions import InteractionLog
from assistant.catalog.schema import InteractionRow
from assistant.ops.gaps import GapFinder
from tests.unit.ops.fakes import WordEmbedder
from tests.unit.ui.pages.conftest import Pages, add_doc

NOW = datetime.now(UTC)


def _seed(pages: Pages) -> dict[str, int]:
    c = pages.container
    log = InteractionLog(c.db)
    doc = add_doc(c, "app", "docs/deploy.md", owner="@alice")

    def ask(q: str, **kw: object) -> int:
        fields = {"user_name": "alice", "channel": "ui", "question": q, "answer": "It is in [1].",
                  "retrieved": [{"n": 1, "id": "p1", "doc_id": doc, "path": "docs/deploy.md", "score": 0.03}],
                  "generator": "openai", "model": "gpt-x", "supported": True,
                  "timings": {"retrieve.embed": 0.01, "retrieve": 0.05, "generate": 1.5, "validate": 0.001,
                              "total": 1.6},
                  "tokens": {"prompt": 1000, "completion": 100}} | kw
        at = fields.pop("created_at", None)
        ident = log.record(**fields)
        assert ident is not None
        if at is not None:
            with c.db.session() as s:
                s.get(InteractionRow, ident).created_at = at
        return ident

    ids = {
        "good": ask("how do we deploy?"),
        "xss": ask("<script>alert('q')</script> rollback?", supported=False),
        "stale": ask("where is the runbook?", answer="See [1].\n\nCheck before relying on it:\n- old [1]."),
        "cached": ask("how do we deploy?", cached=True, tokens={}, timings={"cache": 0.001, "total": 0.002}),
        "eval": ask("eval question", channel="eval"),
        "old": ask("last month", created_at=NOW - timedelta(days=20)),
    }
    alice = c.users.get("alice")
    c.feedback.rate(ids["xss"], alice.user(), "down", "missing_source")
    c.feedback.rate(ids["good"], alice.user(), "up")
    c.feedback.rate(ids["stale"], alice.user(), "down", "wrong_answer")
    return ids


def _use_fake_embedder(pages: Pages) -> WordEmbedder:
    emb = WordEmbedder()
    c = pages.container
    pages.client.app.state.gap_finder = GapFinder(c.db, emb, c.settings.gaps.model_copy(update={"min_cluster_size": 1}),
                                                  c.audit, redact=None)
    return emb


def test_dashboard_numbers_plots_and_links(pages: Pages) -> None:
    ids = _seed(pages)
    _use_fake_embedder(pages)
    pages.as_user("root")
    page = pages.get("/admin/health?days=7")
    assert page.status_code == 200, page.text
    body = page.text
    assert re.search(r'id="stat-questions">4<', body)  # the eval run and the 20-day-old question are outside
    assert re.search(r'id="stat-thumbs-down">66.7 %<', body)  # two of the three rated answers
    assert re.search(r'id="stat-unsupported">25.0 %<', body) and re.search(r'id="stat-stale">25.0 %<', body)
    assert re.search(r'id="stat-cache">25.0 %<', body)
    plots = re.findall(r'<img class="plot"[^>]* id="(plot-\w+)"[^>]* src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', body)
    assert [p[0] for p in plots] == ["plot-questions", "plot-rates", "plot-latency", "plot-tokens"]
    assert all(base64.b64decode(p[1]).lstrip().startswith(b"<?xml") for p in plots)
    assert "<script>alert('q')" not in body and "&lt;script&gt;" in body
    assert f'href="/admin/feedback?show=all#answer-{ids["xss"]}"' in body  # worst-rated, linked
    assert "gpt-x" in body and "3,000" in body and "no price" in body  # 3 answers x 1000 prompt tokens
    assert 'id="gap-' in body and "missing_source 1" in body  # the missing-source question is a gap
    assert "1.50 s" in body  # generate p50
    csp = page.headers["content-security-policy"]
    assert "img-src 'self' data:" in csp and "script-src 'nonce-" in csp
    thirty = pages.get("/admin/health?days=30").text
    assert re.search(r'id="stat-questions">5<', thirty)


def test_window_is_validated(pages: Pages) -> None:
    pages.as_user("root")
    _use_fake_embedder(pages)
    assert pages.get("/admin/health").status_code == 200  # 7 days by default
    assert pages.get("/admin/health?days=1").status_code == 200
    for bad in ("0", "2", "-7", "365", "abc", "7.5", "<b>"):
        page = pages.get(f"/admin/health?days={bad}")
        assert page.status_code == 400, bad
        assert "days must be one of 1, 7, 30" in page.text and "<b>" not in page.text


def test_dashboard_is_for_admins_only(pages: Pages) -> None:
    _seed(pages)
    emb = _use_fake_embedder(pages)
    pages.as_user("alice")
    page = pages.get("/admin/health")
    assert page.status_code == 403 and "rollback" not in page.text
    pages.as_user(None)
    assert pages.get("/admin/health").status_code == 303
    assert emb.calls == 0  # nothing was computed for them


def test_overdue_sources_are_listed(pages: Pages) -> None:
    """The schedule is the ``index_stale`` alert's: none set, nothing is overdue."""
    c = pages.container
    c.catalog.add_source("never", "git", "/srv/never", access_groups=["payments"])
    _use_fake_embedder(pages)
    pages.as_user("root")
    body = pages.get("/admin/health").text
    table = body.split('id="overdue"', 1)[1].split("</table>", 1)[0]
    assert "never" not in table and "No index schedule is set" in table
    alerts = c.settings.alerts.model_copy(update={"index_max_age_hours": 24.0})
    c.settings = c.settings.model_copy(update={"alerts": alerts})
    body = pages.get("/admin/health").text
    table = body.split('id="overdue"', 1)[1].split("</table>", 1)[0]
    assert 'href="/admin/sources/never"' in table and "24 h" in table


def test_open_alerts_section_reads_the_alerts_module_when_present(pages: Pages, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys
    import types
    from dataclasses import dataclass

    from assistant.ops.health import open_alerts

    assert open_alerts(pages.container.db) == [] or "assistant.ops.alerts" in sys.modules

    @dataclass
    class Alert:
        id: int
        message: str

    fake = types.ModuleType("assistant.ops.alerts")
    fake.open_alerts = lambda db: [Alert(3, "p95 latency 9.1 s above 5 s <b>")]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "assistant.ops.alerts", fake)
    _use_fake_embedder(pages)
    pages.as_user("root")
    body = pages.get("/admin/health").text
    assert 'id="alert-3"' in body and "p95 latency 9.1 s above 5 s &lt;b&gt;" in body


def test_cost_per_day_when_a_price_table_is_configured(pages: Pages, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import assistant.ops.health as health

    _seed(pages)
    _use_fake_embedder(pages)
    pages.as_user("root")
    assert 'id="plot-cost"' not in pages.get("/admin/health").text  # no price table: tokens only
    from assistant.settings import ModelPrice

    monkeypatch.setattr(health, "prices_of", lambda settings: {"gpt-x": ModelPrice(prompt=2.0, completion=10.0)})
    body = pages.get("/admin/health").text
    assert 'id="plot-cost"' in body
    assert "$0.0090" in body  # 3 answers x (1000 x $2 + 100 x $10) per million
