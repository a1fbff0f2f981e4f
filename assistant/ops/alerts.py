"""Alerts: the rules' signals as deduplicated catalog rows, posted to a webhook, resolved
when they clear.

``AlertService.check`` evaluates the rules (``assistant.ops.alert_rules``), opens a row for
each new key (one open row per key, enforced by the table), refreshes the ones still
standing, resolves the ones a rule no longer reports, writes an audit row for each raise
and resolve, and then delivers what is owed: one "raised" post per alert, one "resolved"
post once it clears (only if its raise went out), and an optional reminder. A post that
fails is recorded on the row and retried on the next check; nothing here raises out of
the server's scheduler thread. ``AlertScheduler`` is that thread; it also starts the
canary eval (a callable the composition root passes in, since ``assistant`` never imports
``eval``) in its own thread, never two at once.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from assistant.audit import AuditLog
from assistant.catalog.alert_schema import AlertRow
from assistant.catalog.db import Database
from assistant.notify import Poster, post_json
from assistant.ops.alert_rules import Signal, evaluate
from assistant.periodic import PeriodicTask
from assistant.settings import Settings

log = logging.getLogger(__name__)

ACTOR = "system:alerts"
HEALTH_PATH = "/admin/health"
POST_CLAIM_S = 120  # a webhook post in flight holds its alert this long (a post times out after 5 s)


@dataclass(frozen=True)
class AlertView:
    """An alert as pages, the CLI and JSON show it."""

    id: int
    key: str
    rule: str
    subject: str | None
    state: str
    message: str
    observed: float | None
    threshold: float | None
    baseline: float | None
    window_hours: float | None
    details: dict[str, Any]
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    posted: bool  # the "raised" post went out
    post_error: str | None

    @property
    def anchor(self) -> str:
        """The element id ``/admin/health`` gives this alert (the webhook links to it)."""
        return f"alert-{self.id}"

    def as_dict(self) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        return {"id": self.id, "key": self.key, "rule": self.rule, "subject": self.subject, "state": self.state,
                "message": self.message, "observed": self.observed, "threshold": self.threshold,
                "baseline": self.baseline, "window_hours": self.window_hours, "details": dict(self.details),
                "opened_at": iso(self.opened_at), "last_seen_at": iso(self.last_seen_at),
                "resolved_at": iso(self.resolved_at), "posted": self.posted, "post_error": self.post_error}


def _view(row: AlertRow) -> AlertView:
    return AlertView(row.id, row.key, row.rule, row.subject, row.state, row.message, row.observed, row.threshold,
                     row.baseline, row.window_hours, dict(row.details or {}), row.opened_at, row.last_seen_at,
                     row.resolved_at, row.raised_sent_at is not None, row.post_error)


def open_alerts(db: Database) -> list[AlertView]:
    """The alerts standing now, oldest first (``/admin/health`` shows these)."""
    with db.session() as s:
        return [_view(r) for r in s.scalars(select(AlertRow).where(AlertRow.state == "open").order_by(AlertRow.id))]


def list_alerts(db: Database, *, include_resolved: bool = False, limit: int = 200) -> list[AlertView]:
    """Open alerts, or with ``include_resolved`` the most recent incidents too; newest first."""
    stmt = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
    if not include_resolved:
        stmt = stmt.where(AlertRow.state == "open")
    with db.session() as s:
        return [_view(r) for r in s.scalars(stmt)]


def slack_escape(text: str) -> str:
    """Slack's three control characters: a source named ``<!channel>`` pings no one."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class CheckReport:
    """What one check did (``sourcewise alerts check --json`` prints it)."""

    raised: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    standing: list[str] = field(default_factory=list)
    posted: int = 0
    post_failures: int = 0
    broken_rules: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"raised": self.raised, "resolved": self.resolved, "standing": self.standing, "posted": self.posted,
                "post_failures": self.post_failures, "broken_rules": self.broken_rules}


class AlertService:
    """Evaluate, deduplicate, resolve, audit and post alerts."""

    def __init__(self, db: Database, settings: Settings, *, audit: AuditLog | None = None,
                 poster: Poster = post_json, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.cfg = settings.alerts
        self.webhook_url = settings.alerts.webhook_url or settings.ui.webhook_url
        self.public_url = settings.ui.public_url.rstrip("/")
        self.audit = audit or AuditLog(db)
        self._post = poster
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()  # one check at a time within a process

    def link(self, alert_id: int) -> str:
        return f"{self.public_url}{HEALTH_PATH}#alert-{alert_id}"

    def check(self, rules: Iterable[str] | None = None, *, now: datetime | None = None) -> CheckReport:
        """Evaluate ``rules`` (default all), update the alert rows, and post what is owed."""
        with self._lock:
            now = now or self._clock()
            found = evaluate(self.db, self.cfg, now, rules)
            report = CheckReport(broken_rules=dict(found.broken))
            self._apply(found.signals, found.evaluated - set(found.broken), now, report)
            report.posted, report.post_failures = self.deliver(now)
            return report

    # -- rows ----------------------------------------------------------------------------
    def _apply(self, signals: list[Signal], evaluated: set[str], now: datetime, report: CheckReport) -> None:
        firing = {s.key: s for s in signals}
        with self.db.session() as s:
            standing = {r.key: r for r in s.scalars(select(AlertRow).where(AlertRow.state == "open"))}
            for key, row in standing.items():
                sig = firing.get(key)
                if sig is not None:
                    row.last_seen_at, row.observed, row.threshold, row.baseline = now, sig.observed, sig.threshold, \
                        sig.baseline
                    row.message, row.details = sig.message, dict(sig.details)
                    report.standing.append(key)
                elif row.rule in evaluated:
                    row.state, row.open_key, row.resolved_at = "resolved", None, now
                    report.resolved.append(key)
        for key in report.resolved:
            self._audit("alert.resolved", key, {"rule": key.split(":", 1)[0]})
        for key, sig in firing.items():
            if key in standing:
                continue
            alert_id = self._open(sig, now)
            if alert_id is not None:
                report.raised.append(key)
                self._audit("alert.raised", key, {"id": alert_id, "rule": sig.rule, "observed": sig.observed,
                                                  "threshold": sig.threshold, "baseline": sig.baseline})

    def _open(self, sig: Signal, now: datetime) -> int | None:
        """A new open row for ``sig``; None when another process opened the key first."""
        try:
            with self.db.session() as s:
                row = AlertRow(key=sig.key, open_key=sig.key, rule=sig.rule, subject=sig.subject, state="open",
                               observed=sig.observed, threshold=sig.threshold, baseline=sig.baseline,
                               window_hours=sig.window_hours, message=sig.message, details=dict(sig.details),
                               opened_at=now, last_seen_at=now, notifications=[], post_attempts=0)
                s.add(row)
                s.flush()
                return row.id
        except IntegrityError:
            return None

    def _audit(self, action: str, key: str, details: dict[str, Any]) -> None:
        try:
            self.audit.record(ACTOR, action, key, details)
        except Exception:  # noqa: BLE001 - an audit hiccup is logged; the alert itself stands
            log.exception("could not write the %s audit row for %s", action, key)

    # -- delivery ------------------------------------------------------------------------
    def _due(self, r: AlertRow, now: datetime) -> str | None:
        """The post ``r`` is owed now (raised, reminder, resolved), if any."""
        remind = timedelta(hours=self.cfg.reminder_hours) if self.cfg.reminder_hours > 0 else None
        if r.state == "open" and r.raised_sent_at is None:
            return "raised"
        if r.state == "open" and remind and now - (r.reminded_at or r.raised_sent_at) >= remind:
            return "reminder"
        if r.state == "resolved" and r.raised_sent_at is not None and r.resolved_sent_at is None:
            return "resolved"
        return None

    def _owed(self, now: datetime) -> list[tuple[int, str]]:
        with self.db.session() as s:
            rows = s.scalars(select(AlertRow).where(
                (AlertRow.state == "open")
                | (AlertRow.resolved_sent_at.is_(None) & AlertRow.raised_sent_at.is_not(None))).order_by(AlertRow.id))
            return [(r.id, event) for r in rows if (event := self._due(r, now)) is not None]

    def _claim(self, alert_id: int, now: datetime) -> bool:
        """Take the post of ``alert_id`` for ``POST_CLAIM_S``: False while another process
        holds it, so app replicas delivering at once post each event once, not twice."""
        with self.db.session() as s:
            done = s.execute(update(AlertRow).where(
                AlertRow.id == alert_id,
                AlertRow.posting_until.is_(None) | (AlertRow.posting_until < now),
            ).values(posting_until=now + timedelta(seconds=POST_CLAIM_S)))
            return bool(done.rowcount)

    def deliver(self, now: datetime | None = None) -> tuple[int, int]:
        """Post every raise, reminder and resolve still owed; returns (sent, failed)."""
        now = now or self._clock()
        if not self.webhook_url:
            return 0, 0  # the rows stand; `sourcewise alerts list` and /admin/health show them
        sent = failed = 0
        for alert_id, event in self._owed(now):
            if not self._claim(alert_id, now):
                continue  # another process is posting it
            with self.db.session() as s:
                row = s.get(AlertRow, alert_id)
                if self._due(row, now) != event:  # another process posted it since we looked
                    row.posting_until = None
                    continue
                body = {"text": self._text(row, event)}
            error: str | None = None
            try:
                self._post(self.webhook_url, body)
            except (OSError, urllib.error.URLError, ValueError) as exc:
                error = str(exc)[:500]
                log.warning("alert %s: webhook post failed: %s", alert_id, exc)
            with self.db.session() as s:
                row = s.get(AlertRow, alert_id)
                row.post_attempts += 1
                row.posting_until = None
                row.post_error = error
                row.notifications = [*(row.notifications or []), {"event": event, "at": now.isoformat(),
                                                                   "ok": error is None, "error": error}][-50:]
                if error is None:
                    field_name = {"raised": "raised_sent_at", "reminder": "reminded_at",
                                  "resolved": "resolved_sent_at"}[event]
                    setattr(row, field_name, now)
            sent, failed = (sent + 1, failed) if error is None else (sent, failed + 1)
        return sent, failed

    def _text(self, row: AlertRow, event: str) -> str:
        head = {"raised": "ALERT", "reminder": "STILL OPEN", "resolved": "RESOLVED"}[event]
        text = f"[Sourcewise {head}] {row.key}: {row.message}"
        if event == "resolved":
            text = f"[Sourcewise {head}] {row.key} cleared (open since {row.opened_at:%Y-%m-%d %H:%M} UTC)."
        return f"{slack_escape(text)}\n{self.link(row.id)}"


class AlertScheduler(PeriodicTask):
    """Checks the alert rules every ``interval_s`` from inside the server, and starts the
    canary eval when it is due (in its own thread; never two at once).

    ``tick`` does one round and is what tests call; ``start`` loops it in a daemon thread.
    ``canary_due`` says whether a canary should start now (the composition root reads the
    last canary run from the catalog, so a restart does not re-run it).
    """

    thread_name = "alerts"

    def __init__(self, service: AlertService, *, interval_s: float,
                 canary: Callable[[], Any] | None = None, canary_due: Callable[[datetime], bool] | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(interval_s)
        self.service = service
        self._canary = canary
        self._canary_due = canary_due
        self._clock = clock or (lambda: datetime.now(UTC))
        self._canary_thread: threading.Thread | None = None
        self._canary_lock = threading.Lock()

    def tick(self) -> CheckReport | None:
        """One check (and a canary start when due); never raises."""
        report = None
        try:
            report = self.service.check(now=self._clock())
        except Exception:  # noqa: BLE001 - the server's thread outlives a broken catalog or webhook
            log.exception("alert check failed")
        try:
            if self._canary is not None and self._canary_due is not None and self._canary_due(self._clock()):
                self.start_canary()
        except Exception:  # noqa: BLE001
            log.exception("could not start the canary eval")
        return report

    def start_canary(self) -> threading.Thread | None:
        """Run the canary in its own thread unless one is running; returns the thread started."""
        if self._canary is None or not self._canary_lock.acquire(blocking=False):
            return None

        def run() -> None:
            try:
                self._canary()  # type: ignore[misc]
                self.service.check(["canary_gate"])
            except Exception:  # noqa: BLE001
                log.exception("canary eval failed")
            finally:
                self._canary_lock.release()

        self._canary_thread = threading.Thread(target=run, daemon=True, name="canary-eval")
        self._canary_thread.start()
        return self._canary_thread

    @property
    def canary_running(self) -> bool:
        return self._canary_lock.locked()

