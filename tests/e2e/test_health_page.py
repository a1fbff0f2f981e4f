"""``/admin/health`` in a real Chromium against ``sourcewise serve``: plots render under the
page's CSP (no console errors), documentation gaps come from the real model, and a
non-admin gets the 403 page."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.catalog.db import Database
from tests.e2e.conftest import Server, screenshot
from tests.fixtures.health_log import PARKING, seed_health_log

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def seeded(server: Server) -> dict[str, list[int]]:
    doc_ids = [d for (d,) in server.query("SELECT doc_id FROM documents ORDER BY doc_id")]
    db = Database(f"sqlite:///{server.home}/catalog.db")
    try:
        return seed_health_log(db, doc_ids)
    finally:
        db.close()


def test_health_page_renders_plots_without_csp_errors(sign_in: Any, seeded: dict[str, list[int]]) -> None:
    from playwright.sync_api import expect

    root = sign_in("root")
    page = root.page
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    response = page.goto("/admin/health?days=30")
    assert response is not None and response.status == 200
    plots = page.locator("img.plot")
    expect(plots).to_have_count(4)
    for i in range(4):  # each SVG decoded and laid out by the browser
        assert plots.nth(i).evaluate("img => img.complete && img.naturalWidth > 0"), i
    expect(page.locator("#stat-questions")).not_to_have_text("0")
    gap = page.locator(".gap", has_text="parking")
    expect(gap).to_have_count(1)  # the planted questions, one topic, nothing else in it
    expect(gap.locator(".badge")).to_have_text(f"{len(PARKING)} questions")
    assert sum(q in gap.inner_text() for q in PARKING) == 5  # gaps.examples
    worst = page.locator("#worst tbody tr")
    assert worst.count() >= 3
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert not [p for p in problems if p.startswith(("error", "pageerror"))], problems
    screenshot(page, "admin-health.png")

    bad = page.goto("/admin/health?days=9")
    assert bad is not None and bad.status == 400
    expect(page.get_by_text("days must be one of 1, 7, 30")).to_be_visible()


def test_health_page_is_admins_only(sign_in: Any, seeded: dict[str, list[int]]) -> None:
    alice = sign_in("alice")
    response = alice.page.goto("/admin/health")
    assert response is not None and response.status == 403
    assert "parking" not in alice.page.content()
