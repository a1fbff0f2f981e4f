"""Bearer-token authentication: every route but ``/healthz`` needs a valid token.

A token maps to a ``User`` (name, groups, admin flag); the retriever turns that into
the access-group filter, so what a token can see is decided once, here. The verifier
(``TokenStore.verify``) checks the token's user on every request: a disabled or deleted
user's token gets 401, and a token never carries more groups or rights than its user
has at that moment. ``/docs`` and ``/openapi.json`` need a caller too
(``assistant.api.app``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from assistant.api.errors import ApiError
from assistant.models import User

TokenVerifier = Callable[[str], "User | None"]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_user(request: Request) -> User:
    """FastAPI dependency: the caller, or 401 (a sync def, so the lookup runs off the loop)."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise ApiError(
            401, "missing bearer token: send 'Authorization: Bearer <token>' "
            "(an admin creates one with `sourcewise token create`)",
            type_="authentication_error", code="missing_api_key", headers=_CHALLENGE,
        )
    verify: TokenVerifier = request.app.state.verify_token
    user = verify(token)
    if user is None:
        raise ApiError(401, "invalid or revoked token", type_="authentication_error",
                       code="invalid_api_key", headers=_CHALLENGE)
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def catalog_token_verifier(container: Any) -> TokenVerifier:
    """Tokens checked against the catalog on every request (``TokenStore.verify``: a revoked
    token, or a user disabled since it was made, gets nothing); the catalog is opened (and
    migrated) on first use. One verifier for every door that takes API tokens (/api, /v1, MCP)."""
    from assistant.catalog.tokens import TokenStore

    store: list[TokenStore] = []

    def verify(token: str) -> Any:
        if not store:
            store.append(TokenStore(container.db))
        return store[0].verify(token)

    return verify
