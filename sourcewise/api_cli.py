"""`sourcewise serve` and `sourcewise token ...`: run the HTTP API and manage its tokens.

Kept apart from ``sourcewise.cli`` so the API's commands can be registered there with
``register(app)``; ``python -m sourcewise.api_cli`` runs them on their own.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from assistant.catalog.tokens import TokenInfo, TokenStore
from assistant.container import build
from assistant.errors import SourcewiseError
from assistant.settings import Settings, load_settings
from sourcewise.context import cli_actor
from sourcewise.options import parse_groups

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Sourcewise HTTP API.")
token_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API tokens.")
app.add_typer(token_app, name="token")
console = Console()
err = Console(stderr=True)


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Bind address (default: settings).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default: settings).")] = None,
) -> None:
    """Serve the chat at /, the owner and admin pages, /api and the OpenAI-compatible /v1 (one worker)."""
    import uvicorn

    from ui.server import create_server_app

    settings = serving_settings(load_settings())
    container = build(settings)
    try:
        if settings.store.backend == "edge":
            # The embedded store admits one process: fail now with LockedError's advice,
            # not on the first question. (Hence also one uvicorn worker, never more.)
            container.store  # noqa: B018
        container.db  # noqa: B018 - runs catalog migrations before accepting requests
        bind_host, bind_port = host or settings.api.host, port or settings.api.port
        app = create_server_app(container)
        shown = "localhost" if bind_host in ("127.0.0.1", "0.0.0.0") else bind_host
        err.print(f"Sourcewise on http://{shown}:{bind_port} (chat at /, API at /api, OpenAI base_url: "
                  f"http://{shown}:{bind_port}/v1, model {settings.api.model_id!r})", soft_wrap=True)
        # proxy_headers=False: the app sees the immediate peer, which header auth checks against
        # SOURCEWISE_AUTH__TRUSTED_PROXIES; the client behind a trusted proxy comes from its
        # X-Forwarded-For there (ui.identity.client_address), never from any client's say-so.
        uvicorn.run(app, host=bind_host, port=bind_port, workers=1, log_level=settings.api.log_level,
                    proxy_headers=False)
    finally:
        container.close()


def serving_settings(settings: Settings) -> Settings:
    """The server's defaults: the model gets half the cores unless told otherwise.

    Python (the GIL) answers on one core while torch embeds a batch of questions; with
    torch on every core the two take turns, and 50 concurrent chats were 15 % slower.
    """
    if settings.embedding.threads:
        return settings
    threads = max(1, (os.cpu_count() or 1) // 2)
    return settings.model_copy(update={"embedding": settings.embedding.model_copy(update={"threads": threads})})


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="A label for the token, used to revoke it.")],
    user: Annotated[str, typer.Option("--user", help="The user the token acts as.")],
    groups: Annotated[str | None, typer.Option("--groups", help="Access groups, comma-separated.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="See every source, whatever its groups.")] = False,
) -> None:
    """Create a token for an existing, enabled user and print it once (only its hash is stored).

    The token never carries more than its user may do at the time of each request: the
    groups it was given that the user still has, admin only while the user is an admin.
    """
    container = build(load_settings())
    try:
        info, plaintext = TokenStore(container.db, container.audit).create(
            name, user=user, groups=parse_groups(groups), is_admin=admin, actor=cli_actor())
    finally:
        container.close()
    print(plaintext)
    scope = "admin" if info.is_admin else f"groups: {', '.join(info.groups) or '(public sources only)'}"
    err.print(f"token {info.name!r} for user {info.user} ({scope}); store it now, it is not shown again")


def _token_json(t: TokenInfo) -> dict[str, object]:
    def iso(value: object) -> object:
        return value.isoformat() if value is not None else None  # type: ignore[attr-defined]

    return {"name": t.name, "user": t.user, "groups": list(t.groups), "admin": t.is_admin,
            "active": t.active, "created_at": iso(t.created_at), "last_used_at": iso(t.last_used_at),
            "revoked_at": iso(t.revoked_at)}


@token_app.command("list")
def token_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List tokens (never their secrets)."""
    container = build(load_settings())
    try:
        tokens = TokenStore(container.db).list()
    finally:
        container.close()
    if as_json:
        print(json.dumps([_token_json(t) for t in tokens], indent=2))
        return
    if not tokens:
        console.print("no tokens yet: `sourcewise token create NAME --user USER`")
    for t in tokens:
        used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never used"
        state = "active" if t.active else "revoked"
        scope = "admin" if t.is_admin else ",".join(t.groups) or "-"
        console.print(f"{t.name}\t{t.user}\t{scope}\t{state}\t{used}", markup=False, highlight=False)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token; requests with it get 401 from then on."""
    container = build(load_settings())
    try:
        TokenStore(container.db, container.audit).revoke(name, actor=cli_actor())
    finally:
        container.close()
    console.print(f"revoked {name}")


def register(parent: typer.Typer) -> None:
    """Add ``serve`` and the ``token`` group to the main ``sourcewise`` app."""
    parent.command("serve")(serve)
    parent.add_typer(token_app, name="token")


app.command("serve")(serve)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except SourcewiseError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
