"""Admin console, sources: health, add, pause/resume, access groups, re-index, remove.

Re-indexing, access changes and removal are jobs in the catalog's queue (``ui.pages.jobs``),
run by an indexing worker (a thread in this process with the embedded store, or
``sourcewise worker`` processes); the page polls the job's JSON for live progress. Every
change is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from assistant.catalog.jobs import JobQueue, JobView
from assistant.errors import ConfigError
from ui.pages.csrf import checked_admin
from ui.pages.deps import PageRoute, admin_account, container_of
from ui.pages.health import BUCKETS, last_failures, source_health
from ui.pages.jobs import jobs_for
from ui.pages.render import redirect, render
from ui.pages.sources import add_from_form, form_groups

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Admin = Annotated[Any, Depends(admin_account)]
CheckedAdmin = Annotated[Any, Depends(checked_admin)]
REMOVE_WAIT_S = 60.0


def _audit(request: Request, actor: Any, action: str, target: str, **details: Any) -> None:
    container_of(request).audit.record(actor.name, action, target, details or None)


def _jobs(request: Request) -> JobQueue:
    return jobs_for(request.app)


def queue_reindex(request: Request, actor: Any, name: str, *, full: bool = False) -> JobView:
    """Queue a re-index of a registered, active source (refused for paused ones)."""
    row = container_of(request).catalog.get_source(name)
    if row.status == "paused":
        raise ConfigError(f"{name} is paused; resume it before re-indexing")
    return _jobs(request).enqueue("index", name, requested_by=actor.name, params={"full": bool(full)})


@router.get("/admin", response_class=HTMLResponse)
def sources_page(request: Request, account: Admin) -> HTMLResponse:
    container = container_of(request)
    jobs = _jobs(request)
    running = {j.source: j for j in reversed(jobs.list(200)) if j.active}  # before the numbers, as above
    health = source_health(container.catalog)
    active = {h.name: running.get(h.name) for h in health}
    return render(request, "admin_sources.html", account=account, section="admin", tab="sources",
                  sources=health, active=active, jobs=jobs.list(10), buckets=[b for b, _ in BUCKETS],
                  findings=container.findings.counts_by_source())


@router.get("/admin/sources/{name}", response_class=HTMLResponse)
def source_page(request: Request, name: str, account: Admin) -> HTMLResponse:
    container = container_of(request)
    container.catalog.get_source(name)  # ConfigError (400 page) names the known sources
    # The running job first, the numbers second: a job that ends in between has already
    # committed its numbers, so the page never shows old numbers without following a job.
    active = _jobs(request).active_for(name)
    health = next(h for h in source_health(container.catalog) if h.name == name)
    jobs = [j for j in _jobs(request).list(50) if j.source == name]
    return render(request, "admin_source.html", account=account, section="admin", tab="sources",
                  source=health, failures=last_failures(container.catalog, name),
                  active=active, jobs=jobs[:10])


@router.post("/admin/sources")
def source_add(
    request: Request, actor: CheckedAdmin,
    name: Annotated[str, Form()] = "", kind: Annotated[str, Form()] = "git",
    location: Annotated[str, Form()] = "", ref: Annotated[str, Form()] = "",
    groups: Annotated[str, Form()] = "", include: Annotated[str, Form()] = "",
    exclude: Annotated[str, Form()] = "", browse_url: Annotated[str, Form()] = "",
    index_now: Annotated[bool, Form()] = False, public: Annotated[bool, Form()] = False,
    classification: Annotated[str, Form()] = "",
) -> RedirectResponse:
    row = add_from_form(container_of(request), actor=actor.name, name=name, kind=kind, location=location, ref=ref,
                        groups=groups, include=include, exclude=exclude, browse_url=browse_url, public=public,
                        classification=classification)
    if index_now:
        job = queue_reindex(request, actor, row.name)
        _audit(request, actor, "source.reindex", row.name, job=job.id, full=False)
        return redirect(f"/admin/sources/{row.name}", notice=f"Added {row.name}; indexing started (job #{job.id}).")
    return redirect("/admin", notice=f"Added {row.name}. Re-index it to make it searchable.")


@router.post("/admin/sources/{name}/pause")
def source_pause(request: Request, name: str, actor: CheckedAdmin) -> RedirectResponse:
    return _set_status(request, actor, name, "paused")


@router.post("/admin/sources/{name}/resume")
def source_resume(request: Request, name: str, actor: CheckedAdmin) -> RedirectResponse:
    return _set_status(request, actor, name, "active")


def _set_status(request: Request, actor: Any, name: str, status: str) -> RedirectResponse:
    from indexers.admin import set_paused

    set_paused(container_of(request), name, status == "paused", actor=actor.name)
    verb = "Paused" if status == "paused" else "Resumed"
    return redirect("/admin", notice=f"{verb} {name}.")


@router.post("/admin/sources/{name}/groups")
def source_groups(
    request: Request, name: str, actor: CheckedAdmin, groups: Annotated[str, Form()] = "",
    public: Annotated[bool, Form()] = False, classification: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """New access groups (and classification): written into the index by a job of this
    source, so no re-index of it runs with the old groups meanwhile."""
    from indexers.admin import check_groups

    container = container_of(request)
    container.catalog.get_source(name)
    wanted = check_groups(form_groups(groups, public))  # refuse a blank before queueing anything
    if classification:
        from assistant.policy import check_classification

        check_classification(classification)
    jobs = _jobs(request)
    job = jobs.enqueue("access", name, requested_by=actor.name, dedupe=False,
                       params={"groups": wanted, "classification": classification or None})
    job = jobs.wait(job.id, timeout=REMOVE_WAIT_S)
    if job.state == "done":
        return redirect(f"/admin/sources/{name}", notice="Access saved and applied: the next question sees "
                                                         "the new groups.")
    if job.state == "failed":
        return redirect(f"/admin/sources/{name}", error=f"Changing access to {name} failed: {job.error}")
    return redirect(f"/admin/sources/{name}", notice=f"The access change is queued behind a running job "
                                                     f"(job #{job.id}); it applies when that finishes.")


@router.post("/admin/sources/{name}/reindex")
def source_reindex(
    request: Request, name: str, actor: CheckedAdmin, full: Annotated[bool, Form()] = False,
    back: Annotated[str, Form()] = "",
) -> RedirectResponse:
    job = queue_reindex(request, actor, name, full=full)
    _audit(request, actor, "source.reindex", name, job=job.id, full=full)
    target = f"/admin/sources/{name}" if back == "source" else "/admin"
    return redirect(target, notice=f"Re-indexing {name} (job #{job.id}).")


@router.post("/admin/sources/{name}/remove")
def source_remove(
    request: Request, name: str, actor: CheckedAdmin, confirm: Annotated[str, Form()] = "",
) -> RedirectResponse:
    container = container_of(request)
    container.catalog.get_source(name)
    if confirm.strip() != name:
        raise ConfigError(f"type the source name ({name}) to confirm removing it")
    jobs = _jobs(request)
    job = jobs.enqueue("remove", name, requested_by=actor.name, dedupe=False)
    job = jobs.wait(job.id, timeout=REMOVE_WAIT_S)
    if job.state == "done":
        return redirect("/admin", notice=f"Removed {name} and purged its points and catalog rows.")
    if job.state == "failed":
        return redirect("/admin", error=f"Removing {name} failed: {job.error}")
    return redirect("/admin", notice=f"Removal of {name} is queued behind a running job (job #{job.id}).")


@router.get("/admin/jobs")
def jobs_json(request: Request, account: Admin) -> JSONResponse:
    return JSONResponse([j.as_json() for j in _jobs(request).list(50)], headers={"Cache-Control": "no-store"})


@router.get("/admin/jobs/{job_id}")
def job_json(request: Request, job_id: int, account: Admin) -> JSONResponse:
    job = _jobs(request).get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return JSONResponse(job.as_json(), headers={"Cache-Control": "no-store"})


@router.post("/admin/jobs/{job_id}/cancel")
def job_cancel(request: Request, job_id: int, actor: CheckedAdmin) -> RedirectResponse:
    """Cancel a queued job at once, or ask a running one to stop at its next step (audited)."""
    job = _jobs(request).cancel(job_id)
    _audit(request, actor, "job.cancel", job.source or "-", job=job.id, kind=job.kind, state=job.state)
    what = "cancelled" if job.state == "cancelled" else "asked to stop; it stops at its next step"
    return redirect("/admin", notice=f"Job #{job.id} ({job.label} {job.source or ''}) {what}.")
