"""Who is calling the owner and admin pages, and how page errors become pages.

Identity comes from ``ui.identity.browser_user`` (session cookie or SSO header), the
same function the chat uses, so one sign-in covers both. Anonymous browsers are sent to
the login page; signed-in non-admins get a 403 page on admin routes. ``PageRoute``
turns these and ``SourcewiseError``s into HTML (or a redirect back with the message,
after a failed form post) instead of the API's JSON errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from assistant.errors import NotFoundError, PermissionDeniedError, SourcewiseError

if TYPE_CHECKING:
    from assistant.container import Container
    from assistant.users import Account

log = logging.getLogger("sourcewise.ui.pages")


class LoginRequired(Exception):
    """No signed-in user: send the browser to the login page."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class PageForbidden(Exception):
    """The caller may not do this (not an admin, bad CSRF token, disabled account)."""


def container_of(request: Request) -> Container:
    """The app's container (built once by the entry point; see ``assistant.api.deps``)."""
    return request.app.state.services.container  # type: ignore[no-any-return]


def _login_url(request: Request) -> str:
    from ui.identity import login_url

    return str(login_url())


async def current_account(request: Request) -> Account:
    """The signed-in, enabled account; anonymous browsers are redirected to log in."""
    from ui.identity import browser_user

    account = await browser_user(request, container_of(request))
    if account is None:
        raise LoginRequired(_login_url(request))
    if getattr(account, "disabled", False):
        raise PageForbidden("This account is disabled; ask an admin.")
    return account


async def admin_account(account: Annotated[Any, Depends(current_account)]) -> Account:
    """Admins only: everyone else gets a 403 page."""
    if not getattr(account, "is_admin", False):
        raise PageForbidden("This page is for admins.")
    return account  # type: ignore[no-any-return]


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PageRoute(APIRoute):
    """Route class of the pages router: errors become HTML pages, not JSON."""

    def get_route_handler(self) -> Handler:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except LoginRequired as exc:
                return RedirectResponse(exc.url, status_code=303)
            except (PageForbidden, PermissionDeniedError) as exc:
                return _error_page(request, 403, "Not allowed", str(exc))
            except NotFoundError as exc:
                return _error_page(request, 404, "Not found", str(exc))
            except SourcewiseError as exc:
                if request.method == "POST":
                    from ui.pages.render import redirect, same_site_path

                    home = "/admin" if request.url.path.startswith("/admin") else "/owners"
                    back = same_site_path(request.headers.get("referer"), request, home)
                    return redirect(back, error=str(exc))
                return _error_page(request, 400, "Something needs fixing", str(exc))

        return handler


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    from ui.pages.render import render

    return render(request, "error.html", status_code=status, title=title, message=message)
