"""Server-rendered pages beside the chat: the doc owners' queue and the admin console.

``router`` carries every route (``/owners...`` and ``/admin...``); the chat server
includes it with ``app.include_router(ui.pages.router)``. Re-index jobs started from
these pages are rows in the catalog's job queue (see ``ui.pages.jobs``); when the app runs a
worker thread, call ``ui.pages.shutdown(app)`` from its lifespan to let a running job finish.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ui.pages import admin, admin_eval, admin_health, admin_people, admin_review, owner_findings, owners
from ui.pages.deps import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)
router.include_router(owners.router)
router.include_router(owner_findings.router)
router.include_router(admin.router)
router.include_router(admin_people.router)
router.include_router(admin_review.router)
router.include_router(admin_eval.router)
router.include_router(admin_health.router)


def shutdown(app: Any, timeout: float = 5.0) -> None:
    """Stop the app's indexing worker thread (if one was started), waiting briefly for it."""
    worker = getattr(app.state, "index_worker", None)
    if worker is not None:
        worker.close(timeout)


__all__ = ["router", "shutdown"]
