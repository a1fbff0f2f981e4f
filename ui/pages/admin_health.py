"""``/admin/health``: the operator's dashboard over a 1, 7 or 30 day window.

Numbers come from ``assistant.ops.health`` (interaction and feedback rows, pure
``stats`` functions), plots are drawn here on the server (``health_plots``), and the
documentation gaps come from ``assistant.ops.gaps.GapFinder``, which decides what each
viewer may see and audits the views that show question text. Admins only, like every
``/admin`` page; a window other than 1, 7 or 30 is a 400 page saying so.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from assistant.ops.gaps import GapFinder
from assistant.ops.health import WINDOWS, check_window, health_report, open_alerts
from assistant.ops.stats import window_days
from ui.pages import health_plots
from ui.pages.deps import PageRoute, admin_account, container_of
from ui.pages.render import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
log = logging.getLogger("sourcewise.ui.pages")

Admin = Annotated[Any, Depends(admin_account)]


def gap_finder(request: Request) -> GapFinder:
    """The app's one ``GapFinder`` (it keeps question embeddings between page loads),
    with the secret redactor the indexers use run over every example question."""
    finder = getattr(request.app.state, "gap_finder", None)
    if finder is None:
        from indexers.redaction.redactor import Redactor

        container = container_of(request)
        redactor = Redactor.from_settings(container.settings.secrets)
        finder = GapFinder(container.db, container.embedder, container.settings.gaps, container.audit,
                           redact=redactor.redact_value)
        request.app.state.gap_finder = finder
    return finder


@router.get("/admin/health", response_class=HTMLResponse)
def health_page(request: Request, account: Admin, days: str = "7") -> HTMLResponse:
    window = check_window(days)
    container = container_of(request)
    report = health_report(container.db, container.settings, window)
    day_list = window_days(report.end, window)
    charts = {
        "questions": health_plots.questions_chart(report.daily),
        "latency": health_plots.latency_chart(report.latency),
        "rates": health_plots.rates_chart(report.daily),
        "tokens": health_plots.tokens_chart(day_list, report.usage),
    }
    if any(u.cost is not None for u in report.usage):
        charts["cost"] = health_plots.tokens_chart(day_list, report.usage, cost=True)
    gaps, gap_error = [], None
    try:
        gaps = gap_finder(request).topics(account, window, door="page")
    except Exception as exc:  # the rest of the dashboard still matters
        log.exception("documentation gaps failed")
        gap_error = f"{type(exc).__name__}: {exc}"
    totals: dict[str, list[float | int | None]] = {}
    for u in report.usage:
        row = totals.setdefault(u.model, [0, 0, None])
        row[0] += u.prompt_tokens  # type: ignore[operator]
        row[1] += u.completion_tokens  # type: ignore[operator]
        if u.cost is not None:
            row[2] = (row[2] or 0.0) + u.cost  # type: ignore[operator]
    return render(request, "admin_health.html", account=account, section="admin", tab="health",
                  report=report, windows=WINDOWS, charts=charts, gaps=gaps, gap_error=gap_error,
                  alerts=open_alerts(container.db), model_totals=sorted(totals.items()),
                  gap_settings=container.settings.gaps)
