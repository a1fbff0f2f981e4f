"""Admin console, eval runs: every ``sourcewise eval run`` with its pass rate and gate,
and its report (the same self-contained HTML ``sourcewise eval report`` writes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from ui.pages.deps import PageRoute, admin_account, container_of
from ui.pages.render import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Admin = Annotated[Any, Depends(admin_account)]
# The report is one self-contained page: inline styles, plots as data: images, no scripts.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _store(request: Request) -> Any:
    from eval.store import EvalStore

    return EvalStore(container_of(request).db)


@router.get("/admin/eval", response_class=HTMLResponse)
def runs_page(request: Request, account: Admin,
              set_name: Annotated[str | None, Query(alias="set")] = None) -> HTMLResponse:
    store = _store(request)
    runs = store.list_runs(set_name or None, limit=100)
    sets = sorted({r.set_name for r in store.list_runs(limit=500)})
    return render(request, "admin_eval.html", account=account, section="admin", tab="eval",
                  runs=runs, sets=sets, chosen=set_name or "")


def _load(request: Request, run_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    store = _store(request)
    run = store.load(run_id)  # NotFoundError -> the 404 page
    return run, store.history(run["set"], upto=run_id)


@router.get("/admin/eval/{run_id}/report")
async def report_html(request: Request, account: Admin, run_id: int) -> Response:
    from eval.report import render_html

    run, history = await run_in_threadpool(_load, request, run_id)
    html = await run_in_threadpool(render_html, run, history)
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff",
                                       "Cache-Control": "no-store"})


@router.get("/admin/eval/{run_id}/report.md")
async def report_md(request: Request, account: Admin, run_id: int) -> Response:
    from eval.report import render_markdown

    run, history = await run_in_threadpool(_load, request, run_id)
    text = await run_in_threadpool(render_markdown, run, history)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8",
                             headers={"Content-Disposition": f'inline; filename="eval-run-{run_id}.md"'})
