"""Admin console, review: feedback to eval cases, generator settings, the audit log.

Thumbs-down and flags are where the eval set comes from: the admin reads the question
and answer, ticks the sources that should have answered it (or types paths), and
``FeedbackService.promote`` stores the case. Generator settings come from files and
the environment and are shown as in effect; the few run-time switches an admin may
flip live in ``AppSettings`` (audited).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from assistant.errors import ConfigError
from assistant.models import split_doc_id
from ui.pages.csrf import checked_admin
from ui.pages.deps import PageRoute, admin_account, container_of
from ui.pages.render import redirect, render
from ui.pages.sources import parse_globs, parse_list

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Admin = Annotated[Any, Depends(admin_account)]
CheckedAdmin = Annotated[Any, Depends(checked_admin)]
SHOW = ("pending", "all")
_LINES = re.compile(r"^(?P<path>.+?)(?:#L(?P<start>\d+)(?:-L?(?P<end>\d+))?)?$")


# -- feedback review ----------------------------------------------------------------
@router.get("/admin/feedback", response_class=HTMLResponse)
def feedback_page(request: Request, account: Admin, show: str = "pending", up: bool = False) -> HTMLResponse:
    """Newest first; by default only what has not been promoted to an eval case yet."""
    show = show if show in SHOW else "pending"
    items = container_of(request).feedback.review(limit=200, include_up=up, pending=show == "pending")
    return render(request, "admin_feedback.html", account=account, section="admin", tab="feedback",
                  items=items, show=show, up=up, gold_value=gold_value)


def gold_value(entry: dict[str, Any]) -> str:
    """The checkbox value for one retrieved source: what the gold entry will hold."""
    doc_id = str(entry.get("doc_id") or "")
    source = split_doc_id(doc_id)[0]
    return json.dumps({"source": source, "path": entry.get("path")}, sort_keys=True)


def parse_gold(picked: list[str], typed: str, known_sources: set[str]) -> list[dict[str, Any]]:
    """Gold entries from ticked checkboxes and typed ``[source:]path[#Lx-Ly]`` lines."""
    gold: list[dict[str, Any]] = []
    for value in picked:
        try:
            entry = json.loads(value)
        except ValueError:
            raise ConfigError("a picked source could not be read; reload the page") from None
        if isinstance(entry, dict) and entry.get("path"):
            gold.append({k: v for k, v in entry.items() if v not in (None, "")})
    for line in parse_globs(typed):
        m = _LINES.match(line)
        if not m:
            continue
        path, entry = m.group("path"), {}
        prefix, rest = split_doc_id(path)
        if prefix in known_sources:
            entry["source"], path = prefix, rest
        entry["path"] = path
        if m.group("start"):
            entry["start_line"] = int(m.group("start"))
            entry["end_line"] = int(m.group("end") or m.group("start"))
        gold.append(entry)
    unique: list[dict[str, Any]] = []
    for entry in gold:
        if entry not in unique:
            unique.append(entry)
    return unique


@router.post("/admin/feedback/promote")
def promote(
    request: Request, actor: CheckedAdmin, kind: Annotated[str, Form()], item_id: Annotated[int, Form()],
    gold: Annotated[list[str] | None, Form()] = None, gold_paths: Annotated[str, Form()] = "",
    set_name: Annotated[str, Form()] = "feedback", must_include: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
) -> RedirectResponse:
    container = container_of(request)
    known = {row.name for row in container.catalog.list_sources()}
    entries = parse_gold(gold or [], gold_paths, known)
    case_id = container.feedback.promote(kind, item_id, entries, actor, set_name=set_name.strip() or "feedback",
                                         must_include=parse_globs(must_include), tags=parse_list(tags))
    return redirect("/admin/feedback", notice=f"Saved eval case #{case_id} in set "
                                              f"{set_name.strip() or 'feedback'} with {len(entries)} gold source(s).")


# -- generator settings -------------------------------------------------------------
def effective_generation(settings: Any) -> list[tuple[str, Any, str]]:
    """(name, value, description) of every generation setting; secrets only as set/unset."""
    gen = settings.generation
    rows = []
    for name, info in type(gen).model_fields.items():
        value = getattr(gen, name)
        if name == "api_key":
            value = "set" if value else "not set"
        rows.append((name, value, info.description or ""))
    return rows


@router.get("/admin/settings", response_class=HTMLResponse)
def settings_page(request: Request, account: Admin) -> HTMLResponse:
    from assistant.app_settings import KNOWN

    container = container_of(request)
    stored = container.app_settings.all()
    ui = container.settings.ui
    runtime = [(key, stored.get(key, getattr(ui, key, False)), key in stored, desc)
               for key, (_kind, desc) in sorted(KNOWN.items())]
    return render(request, "admin_settings.html", account=account, section="admin", tab="settings",
                  generation=effective_generation(container.settings), runtime=runtime,
                  routes=request.app.state.services.route_status())


@router.post("/admin/settings")
def settings_set(
    request: Request, actor: CheckedAdmin, key: Annotated[str, Form()], value: Annotated[str, Form()] = "",
) -> RedirectResponse:
    from assistant.app_settings import KNOWN

    container = container_of(request)
    if key not in KNOWN:
        raise ConfigError(f"unknown run-time setting {key!r}")
    kind = KNOWN[key][0]
    if kind is bool:
        if value not in ("true", "false"):
            raise ConfigError(f"{key} is on or off")
        parsed: Any = value == "true"
    else:
        parsed = kind(value)
    before = container.app_settings.get(key, None)
    container.app_settings.set(key, parsed, actor.name)
    container.audit.record(actor.name, "setting.set", key, {"before": before, "after": parsed})
    return redirect("/admin/settings", notice=f"{key} is now {'on' if parsed is True else 'off' if parsed is False else parsed}.")


# -- audit log ----------------------------------------------------------------------
@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(request: Request, account: Admin, actor: str = "", action: str = "") -> HTMLResponse:
    entries = container_of(request).audit.entries(limit=300, actor=actor.strip() or None,
                                                  action=action.strip() or None)
    return render(request, "admin_audit.html", account=account, section="admin", tab="audit", entries=entries,
                  actor=actor, action=action, as_json=lambda d: json.dumps(d, indent=1, sort_keys=True, default=str))
