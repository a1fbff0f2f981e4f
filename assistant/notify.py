"""Owner notifications through a Slack-compatible webhook (``{"text": ...}``).

Every notification is a catalog row first, so a webhook that is down loses nothing:
failed rows are retried by ``retry_failed`` and, in digest mode, rows wait for the daily
``send_digest``. Posting happens off the caller's thread; flagging never waits on Slack.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.schema import NotificationRow, utcnow
from assistant.periodic import PeriodicTask

log = logging.getLogger(__name__)

Poster = Callable[[str, dict], None]


def post_json(url: str, body: dict, timeout_s: float = 5.0) -> None:
    """POST ``body`` as JSON; raises on a non-2xx status or a network error."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # admin-configured URL
        if resp.status >= 300:
            raise OSError(f"webhook answered {resp.status}")


class Notifier:
    def __init__(self, db: Database, webhook_url: str | None, *, digest: bool = False,
                 public_url: str = "http://localhost:8000", poster: Poster = post_json,
                 background: bool = True) -> None:
        self.db = db
        self.webhook_url = webhook_url
        self.digest = digest
        self.public_url = public_url.rstrip("/")
        self._post = poster
        self._background = background

    def flag_raised(self, owner: str | None, flag_id: int, text: str) -> int | None:
        """Queue a notification for ``owner``; sent now unless digest mode is on."""
        if not owner:
            return None
        body = f"{text}\nQueue: {self.public_url}/owners"
        with self.db.session() as s:
            row = NotificationRow(owner=owner, flag_id=flag_id, text=body,
                                  status="digest" if self.digest else "pending")
            s.add(row)
            s.flush()
            nid = row.id
        if not self.digest and self.webhook_url:
            if self._background:
                threading.Thread(target=self._send, args=(nid,), daemon=True, name=f"notify-{nid}").start()
            else:
                self._send(nid)
        return nid

    def _send(self, notification_id: int) -> bool:
        with self.db.session() as s:
            row = s.get(NotificationRow, notification_id)
            if row is None or row.status == "sent":
                return True
            text, owner = row.text, row.owner
        ok, error = self._deliver({"text": f"{owner}: {text}"})
        with self.db.session() as s:
            row = s.get(NotificationRow, notification_id)
            row.attempts += 1
            row.status, row.error = ("sent", None) if ok else ("failed", error)
            row.sent_at = utcnow() if ok else None
        return ok

    def _deliver(self, body: dict) -> tuple[bool, str | None]:
        if not self.webhook_url:
            return False, "no webhook configured (SOURCEWISE_UI__WEBHOOK_URL)"
        try:
            self._post(self.webhook_url, body)
            return True, None
        except (OSError, urllib.error.URLError, ValueError) as exc:
            log.warning("owner notification failed: %s", exc)
            return False, str(exc)[:500]

    def retry_failed(self) -> int:
        """Resend failed notifications; returns how many went out."""
        with self.db.session() as s:
            ids = list(s.scalars(select(NotificationRow.id).where(NotificationRow.status == "failed")))
        return sum(self._send(i) for i in ids)

    def send_digest(self) -> dict[str, int]:
        """One message per owner with everything waiting; returns notifications sent per owner."""
        with self.db.session() as s:
            rows = list(s.scalars(select(NotificationRow).where(NotificationRow.status == "digest")
                                  .order_by(NotificationRow.id)))
            by_owner: dict[str, list[tuple[int, str]]] = defaultdict(list)
            for r in rows:
                by_owner[r.owner].append((r.id, r.text.split("\n", 1)[0]))
        sent: dict[str, int] = {}
        for owner, items in by_owner.items():
            lines = "\n".join(f"• {t}" for _, t in items)
            ok, error = self._deliver({"text": f"{owner}: {len(items)} flag(s) on your sources today\n{lines}\n"
                                               f"Queue: {self.public_url}/owners"})
            with self.db.session() as s:
                for nid, _ in items:
                    row = s.get(NotificationRow, nid)
                    row.attempts += 1
                    if ok:
                        row.status, row.sent_at, row.error = "sent", utcnow(), None
                    else:
                        row.error = error
            if ok:
                sent[owner] = len(items)
        return sent


class DigestScheduler(PeriodicTask):
    """Sends the daily owner digest at ``hour`` (UTC) from inside the server.

    Checks once a minute; a digest missed while the server was down goes out at the next
    day's hour (the rows wait as ``digest``), and sending twice in one hour finds nothing
    left to send. ``sourcewise owners digest`` does the same from cron.
    """

    thread_name = "owner-digest"

    def __init__(self, notifier: Notifier, hour: int, *, clock: Callable[[], datetime] | None = None,
                 interval_s: float = 60.0) -> None:
        super().__init__(interval_s)
        self.notifier = notifier
        self.hour = hour
        self._clock = clock or (lambda: datetime.now(UTC))
        self._last_day: date | None = None

    def tick(self) -> dict[str, int] | None:
        """Send if it is digest time and today's digest has not gone yet; returns what was sent."""
        now = self._clock()
        if now.hour != self.hour or self._last_day == now.date():
            return None
        self._last_day = now.date()
        try:
            sent = self.notifier.send_digest()
            self.notifier.retry_failed()
        except Exception:  # noqa: BLE001 - a broken webhook must not kill the server's thread
            log.exception("owner digest failed")
            return None
        return sent

