"""``/owners``: a doc owner's queue of flagged documents, and what they can do about them.

The queue comes from ``assistant.owners.OwnerQueue``, which also decides who may act
(the owner or an admin) and writes the audit log. "Mark fixed" re-indexes the
document's source before closing its flags, so it is a job in the catalog's queue (run by
an indexing worker, which checks the person's rights again) and the page follows its
progress; the flags close only if the re-index succeeds.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from assistant.errors import ConfigError, SourcewiseError
from ui.pages.csrf import checked_account
from ui.pages.deps import PageRoute, container_of, current_account
from ui.pages.jobs import jobs_for
from ui.pages.render import redirect, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
log = logging.getLogger("sourcewise.ui.pages")

Signed = Annotated[Any, Depends(current_account)]
Checked = Annotated[Any, Depends(checked_account)]


def _back(owner: str) -> str:
    owner = owner.strip()
    return "/owners" + (f"?{urlencode({'owner': owner})}" if owner else "")


@router.get("/owners", response_class=HTMLResponse)
def queue_page(request: Request, account: Signed, owner: str | None = None) -> HTMLResponse:
    container = container_of(request)
    owner = (owner or "").strip() or None
    items = container.owners.queue(account, owner=owner)
    jobs = jobs_for(request.app).list(20, label="mark fixed")
    mine = [j for j in jobs if account.is_admin or j.requested_by == account.name]
    findings = container.findings.queue(account, owner=owner)
    gaps = owner_gaps(request, account, owner)
    return render(request, "owners.html", account=account, section="owners", items=items, owner=owner or "",
                  findings=findings, gaps=gaps,
                  owners=container.owners.open_owners() if account.is_admin else [],
                  active_jobs=[j for j in mine if j.active], recent_jobs=[j for j in mine if not j.active][:5])


def owner_gaps(request: Request, account: Any, owner: str | None) -> list[Any]:
    """Documentation gap topics near the documents this owner owns (last 7 days); the
    queue still shows when they cannot be computed."""
    from ui.pages.admin_health import gap_finder

    try:
        return gap_finder(request).topics(account, 7, owner=owner, own=True, door="owners")
    except SourcewiseError:
        raise
    except Exception:
        log.exception("documentation gaps failed on the owners' queue")
        return []


@router.get("/owners/jobs/{job_id}")
def job_json(request: Request, job_id: int, account: Signed) -> JSONResponse:
    """Progress of a 'mark fixed' re-index, for the person who asked (or an admin)."""
    job = jobs_for(request.app).get(job_id)
    if job is None or job.label != "mark fixed" or not (account.is_admin or job.requested_by == account.name):
        raise HTTPException(404, f"no job {job_id}")
    return JSONResponse(job.as_json(), headers={"Cache-Control": "no-store"})


@router.post("/owners/fixed")
def mark_fixed(
    request: Request, actor: Checked, doc_id: Annotated[str, Form()], note: Annotated[str, Form()] = "",
    owner: Annotated[str, Form()] = "",
) -> RedirectResponse:
    container = container_of(request)
    queue = container.owners
    _, source, path = queue.authorise(doc_id, actor)  # refuse now, not in the background
    if container.catalog.get_source(source).status == "paused":
        raise ConfigError(f"{source} is paused, so it cannot be re-indexed to pick up the fix; ask an admin")
    text = note.strip() or None
    job = jobs_for(request.app).enqueue("mark_fixed", source, requested_by=actor.name, dedupe=False,
                                        params={"doc_id": doc_id, "note": text})
    return redirect(_back(owner), notice=f"Re-indexing {source} to pick up the fix to {path} (job #{job.id}); "
                                         "its flags close when that succeeds.")


@router.post("/owners/dismiss")
def dismiss(
    request: Request, actor: Checked, flag_id: Annotated[int, Form()], note: Annotated[str, Form()] = "",
    owner: Annotated[str, Form()] = "",
) -> RedirectResponse:
    container_of(request).owners.dismiss(flag_id, actor, note)
    return redirect(_back(owner), notice=f"Dismissed flag #{flag_id}.")


@router.post("/owners/deprecate")
def deprecate(
    request: Request, actor: Checked, doc_id: Annotated[str, Form()], note: Annotated[str, Form()] = "",
    owner: Annotated[str, Form()] = "",
) -> RedirectResponse:
    closed = container_of(request).owners.deprecate(doc_id, actor, note.strip() or None)
    return redirect(_back(owner), notice=f"Marked deprecated: it stays in the catalog but no longer answers "
                                         f"questions ({closed} flag(s) closed).")


@router.post("/owners/reassign")
def reassign(
    request: Request, actor: Checked, doc_id: Annotated[str, Form()], new_owner: Annotated[str, Form()] = "",
    owner: Annotated[str, Form()] = "",
) -> RedirectResponse:
    container_of(request).owners.reassign(doc_id, actor, new_owner)
    return redirect(_back(owner), notice=f"Reassigned to {new_owner.strip()}; they have been notified.")
