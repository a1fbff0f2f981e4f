"""Admin console, people: users and groups, and API tokens.

Users sign in to the chat and these pages; their groups decide which sources they can
see. Tokens are for the HTTP API; a new token's plaintext is shown once, in the
response to the form post (never in a redirect URL or a cookie), and only its hash is
kept. An admin cannot disable or demote themselves, so the console cannot be locked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from assistant.catalog.tokens import TokenStore
from assistant.errors import ConfigError
from ui.pages.csrf import checked_admin
from ui.pages.deps import PageRoute, admin_account, container_of
from ui.pages.render import redirect, render
from ui.pages.sources import parse_list

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Admin = Annotated[Any, Depends(admin_account)]
CheckedAdmin = Annotated[Any, Depends(checked_admin)]


def _audit(request: Request, actor: Any, action: str, target: str, **details: Any) -> None:
    container_of(request).audit.record(actor.name, action, target, details or None)


def _tokens(request: Request) -> TokenStore:
    container = container_of(request)
    return TokenStore(container.db, container.audit)


# -- users --------------------------------------------------------------------------
@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, account: Admin) -> HTMLResponse:
    users = container_of(request).users.list()
    groups = sorted({g for u in users for g in u.groups})
    return render(request, "admin_users.html", account=account, section="admin", tab="users", users=users,
                  groups=groups)


@router.post("/admin/users")
def user_create(
    request: Request, actor: CheckedAdmin, name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "", display_name: Annotated[str, Form()] = "",
    groups: Annotated[str, Form()] = "", aliases: Annotated[str, Form()] = "",
    is_admin: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    users = container_of(request).users
    created = users.create(name.strip(), password=password or None, groups=parse_list(groups),
                           is_admin=is_admin, aliases=parse_list(aliases), display_name=display_name.strip() or None)
    _audit(request, actor, "user.create", created.name, groups=list(created.groups), admin=created.is_admin,
           aliases=list(created.aliases), password=created.has_password)
    return redirect("/admin/users", notice=f"Created {created.name}.")


@router.post("/admin/users/{name}")
def user_update(
    request: Request, name: str, actor: CheckedAdmin, groups: Annotated[str, Form()] = "",
    aliases: Annotated[str, Form()] = "", is_admin: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    users = container_of(request).users
    before = users.require(name)
    if name == actor.name and before.is_admin and not is_admin:
        raise ConfigError("you cannot remove your own admin rights; ask another admin")
    users.set_groups(name, parse_list(groups))
    users.set_aliases(name, parse_list(aliases))
    after = users.set_admin(name, is_admin)
    _audit(request, actor, "user.update", name,
           before={"groups": list(before.groups), "aliases": list(before.aliases), "admin": before.is_admin},
           after={"groups": list(after.groups), "aliases": list(after.aliases), "admin": after.is_admin})
    return redirect("/admin/users", notice=f"Saved {name}.")


@router.post("/admin/users/{name}/password")
def user_password(
    request: Request, name: str, actor: CheckedAdmin, password: Annotated[str, Form()] = "",
) -> RedirectResponse:
    container_of(request).users.set_password(name, password)
    _audit(request, actor, "user.password", name)
    return redirect("/admin/users", notice=f"Set a new password for {name}.")


@router.post("/admin/users/{name}/disable")
def user_disable(request: Request, name: str, actor: CheckedAdmin) -> RedirectResponse:
    if name == actor.name:
        raise ConfigError("you cannot disable your own account")
    container_of(request).users.disable(name)
    _audit(request, actor, "user.disable", name)
    return redirect("/admin/users", notice=f"Disabled {name}: they can no longer sign in.")


@router.post("/admin/users/{name}/enable")
def user_enable(request: Request, name: str, actor: CheckedAdmin) -> RedirectResponse:
    container_of(request).users.enable(name)
    _audit(request, actor, "user.enable", name)
    return redirect("/admin/users", notice=f"Enabled {name}.")


# -- API tokens ---------------------------------------------------------------------
def _tokens_page(request: Request, account: Any, created: tuple[Any, str] | None = None) -> HTMLResponse:
    tokens = _tokens(request).list()
    users = container_of(request).users.list()
    return render(request, "admin_tokens.html", account=account, section="admin", tab="tokens",
                  tokens=tokens, users=users, created=created)


@router.get("/admin/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, account: Admin) -> HTMLResponse:
    return _tokens_page(request, account)


@router.post("/admin/tokens", response_class=HTMLResponse)
def token_create(
    request: Request, actor: CheckedAdmin, name: Annotated[str, Form()] = "",
    user: Annotated[str, Form()] = "", groups: Annotated[str, Form()] = "",
    is_admin: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    """Create a token and show its plaintext in this response only."""
    user = user.strip()
    chosen = parse_list(groups)
    if not chosen and (known := container_of(request).users.get(user)) is not None:
        chosen = list(known.groups)  # blank: the user's own groups
    info, plaintext = _tokens(request).create(name.strip(), user=user, groups=chosen, is_admin=is_admin,
                                              actor=actor.name)  # audited by the store
    return _tokens_page(request, actor, created=(info, plaintext))


@router.post("/admin/tokens/{name}/revoke")
def token_revoke(request: Request, name: str, actor: CheckedAdmin) -> RedirectResponse:
    _tokens(request).revoke(name, actor=actor.name)  # audited by the store
    return redirect("/admin/tokens", notice=f"Revoked {name}; it no longer works.")
