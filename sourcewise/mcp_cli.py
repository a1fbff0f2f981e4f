"""`sourcewise mcp`: the MCP server for IDE assistants and CLI agents.

Over stdio (the default) the process acts as one caller for its whole life: the user a
``--token`` (or ``SOURCEWISE_TOKEN``) belongs to, the user ``--user`` names (an enabled
account in the catalog, with its current groups), or, with neither, an anonymous caller
who sees only the sources open to everyone. Never an implicit admin. With ``--http`` it
serves streamable HTTP, where every request carries its own token. stdout belongs to the
protocol: messages go to stderr.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

import typer

from assistant.errors import ConfigError, PermissionDeniedError
from assistant.settings import load_settings


def mcp(
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP instead of stdio (every call "
                                       "needs 'Authorization: Bearer <token>').")] = False,
    host: Annotated[str | None, typer.Option("--host", help="Bind address for --http (default: settings).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port for --http (default: settings).")] = None,
    token: Annotated[str | None, typer.Option("--token", envvar="SOURCEWISE_TOKEN", show_envvar=True,
                                              help="stdio: act as this API token's user.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="stdio: act as this user (an enabled account).")] = None,
) -> None:
    """Serve the MCP tools (search_code, ask, get_source, list_sources, find_definition, report_outdated)."""
    from assistant.container import build
    from sourcewise.api_cli import serving_settings

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    settings = serving_settings(load_settings())
    if http and (token or user):
        raise ConfigError("--token and --user are for stdio; over --http every request sends its own token")
    if token and user:
        raise ConfigError("give --token or --user, not both")
    container = build(settings)
    try:
        if http:
            _serve_http(container, host or settings.mcp.host, port or settings.mcp.port)
        else:
            _serve_stdio(container, token, user)
    finally:
        container.close()


def stdio_caller(container: Any, token: str | None, user: str | None) -> Any:
    """Who a stdio server acts as; refuses a bad token, an unknown or disabled user."""
    from assistant.catalog.tokens import TokenStore
    from assistant.mcp.tools import Caller, anonymous_caller

    if token:
        found = TokenStore(container.db).verify(token)
        if found is None:
            raise PermissionDeniedError("invalid or revoked token (SOURCEWISE_TOKEN / --token); "
                                        "an admin creates one with `sourcewise token create`")
        return Caller(found)
    if user:
        account = container.users.get(user)
        if account is None or getattr(account, "disabled", False):
            raise PermissionDeniedError(f"no enabled user {user!r}; `sourcewise user list` shows them")
        return Caller(account.user())
    return anonymous_caller()


def _serve_stdio(container: Any, token: str | None, user: str | None) -> None:
    import anyio

    from assistant.mcp.server import build_server, mcp_tools, serve_stdio

    caller = stdio_caller(container, token, user)
    server = build_server(mcp_tools(container), lambda: caller)
    anyio.run(serve_stdio, server)


def _serve_http(container: Any, host: str, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from assistant.api.auth import catalog_token_verifier
    from assistant.mcp.server import McpHttpApp, build_server, mcp_tools

    settings = container.settings
    if settings.store.backend == "edge":
        container.store  # noqa: B018 - the embedded store admits one process: fail now, with its advice
    container.db  # noqa: B018 - migrations before the first request
    server = build_server(mcp_tools(container))
    endpoint = McpHttpApp(server, catalog_token_verifier(container), max_body_bytes=settings.api.max_body_bytes)

    async def healthz(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route(settings.mcp.path, endpoint=endpoint, methods=["GET", "POST", "DELETE"]),
                            Route("/healthz", healthz)])
    print(f"Sourcewise MCP on http://{host}:{port}{settings.mcp.path} (streamable HTTP; "
          "send 'Authorization: Bearer <token>')", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, workers=1, log_level=settings.api.log_level, proxy_headers=False)


def register(parent: typer.Typer) -> None:
    parent.command("mcp")(mcp)
