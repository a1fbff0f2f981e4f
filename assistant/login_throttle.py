"""Login throttling: too many failed password sign-ins per account or per client address.

Failures are catalog rows, so the count survives a restart and is shared by every
worker and process on the same catalog. While an account or address is over its
limit, sign-in answers exactly like a wrong password and the password is not even
checked (so a correct guess during the lock-out is worth nothing, and a flood costs no
hashing). A success clears the account's count, never the address's.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select

from assistant.catalog.db import Database
from assistant.catalog.identity_schema import LoginFailureRow
from assistant.catalog.schema import utcnow

MAX_KEY = 200


def account_key(name: str) -> str:
    """The throttle key of a sign-in name: case and surrounding blanks do not make a new account."""
    return (name or "").strip().lower()[:MAX_KEY]


class LoginThrottle:
    """Counts failed sign-ins in a sliding window (``AuthSettings.login_*``)."""

    def __init__(self, db: Database, *, max_account: int = 5, max_address: int = 20,
                 window_s: int = 900) -> None:
        self.db = db
        self.limits = {"account": max_account, "address": max_address}
        self.window = timedelta(seconds=window_s)

    def _keys(self, name: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("account", account_key(name))]
        if address:
            keys.append(("address", address[:MAX_KEY]))
        return keys

    def blocked(self, name: str, address: str | None) -> str | None:
        """``"account"`` or ``"address"`` when that one is over its limit, else ``None``."""
        since = utcnow() - self.window
        with self.db.session() as s:
            for kind, key in self._keys(name, address):
                count = s.scalar(select(func.count()).select_from(LoginFailureRow).where(
                    LoginFailureRow.kind == kind, LoginFailureRow.key == key, LoginFailureRow.at >= since))
                if int(count or 0) >= self.limits[kind]:
                    return kind
        return None

    def failed(self, name: str, address: str | None) -> None:
        """Count one failure against the account and the address (and forget expired ones)."""
        now = utcnow()
        with self.db.session() as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.at < now - self.window))
            for kind, key in self._keys(name, address):
                s.add(LoginFailureRow(kind=kind, key=key, at=now))

    def succeeded(self, name: str) -> None:
        """A correct password: the account starts afresh (its address's count stays)."""
        with self.db.session() as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.kind == "account",
                                                    LoginFailureRow.key == account_key(name)))
