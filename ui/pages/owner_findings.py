"""``/owners/findings/...``: what an owner does with a staleness finding.

Everything is decided in ``assistant.findings.FindingsService`` (who sees which finding
and which evidence, who may act, the audit rows); these routes only translate forms. A
finding the caller may not see answers 404, as if it did not exist. "Mark fixed"
re-indexes the document's source on the app's job worker, like the flags' "mark fixed";
the detector closes the finding if the fix took.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from assistant.errors import ConfigError
from ui.pages.csrf import checked_account
from ui.pages.deps import PageRoute, container_of, current_account
from ui.pages.jobs import jobs_for
from ui.pages.owners import _back
from ui.pages.render import redirect

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Signed = Annotated[Any, Depends(current_account)]
Checked = Annotated[Any, Depends(checked_account)]


@router.get("/owners/findings/{finding_id}/patch")
def download_patch(request: Request, finding_id: int, account: Signed) -> Response:
    """The suggested fix as a unified diff, for those who may see its evidence (audited)."""
    name, text = container_of(request).findings.patch(finding_id, account)
    return Response(text, media_type="text/x-diff; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


@router.post("/owners/findings/dismiss")
def dismiss(
    request: Request, actor: Checked, finding_id: Annotated[int, Form()], note: Annotated[str, Form()] = "",
    owner: Annotated[str, Form()] = "",
) -> RedirectResponse:
    view = container_of(request).findings.dismiss(finding_id, actor, note)
    return redirect(_back(owner), notice=f"Dismissed finding #{finding_id} on {view.path}; it will not come back.")


@router.post("/owners/findings/fixed")
def mark_fixed(
    request: Request, actor: Checked, finding_id: Annotated[int, Form()], owner: Annotated[str, Form()] = "",
) -> RedirectResponse:
    container = container_of(request)
    findings = container.findings
    view = findings.authorise(finding_id, actor)  # refuse now, not in the background
    if container.catalog.get_source(view.source).status == "paused":
        raise ConfigError(f"{view.source} is paused, so it cannot be re-indexed to pick up the fix; ask an admin")
    job = jobs_for(request.app).enqueue("finding_fixed", view.source, requested_by=actor.name, dedupe=False,
                                        params={"finding_id": int(finding_id)})
    return redirect(_back(owner), notice=f"Re-indexing {view.source} to check the fix to {view.path} (job #{job.id}); "
                                         "the finding closes if the reference resolves.")
