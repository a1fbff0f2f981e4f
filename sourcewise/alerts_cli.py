"""``sourcewise alerts``: evaluate the alert rules once (cron, or to see what the server
would post) and list the alerts standing or past."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sourcewise.context import open_container

alerts_app = typer.Typer(no_args_is_help=True, help="Alerts: thumbs-down, latency, errors, indexing, canary gate.")
console = Console(highlight=False)


@alerts_app.command("check")
def check(as_json: Annotated[bool, typer.Option("--json", help="Print what the check did as JSON.")] = False) -> None:
    """Evaluate every enabled rule once, open/resolve alerts and post what is owed to the webhook."""
    from assistant.ops.alerts import AlertService, list_alerts

    with open_container() as c:
        report = AlertService(c.db, c.settings, audit=c.audit).check()
        standing = list_alerts(c.db)
    if as_json:
        print(json.dumps(report.as_dict() | {"open": [a.as_dict() for a in standing]}, indent=2))
        return
    for key in report.raised:
        console.print(f"raised    {key}")
    for key in report.resolved:
        console.print(f"resolved  {key}")
    for name, why in report.broken_rules.items():
        console.print(f"[red]rule {name} failed ({why}); its alerts are unchanged (see the log)[/red]")
    console.print(f"{len(standing)} open alert(s); {report.posted} webhook post(s) sent"
                  + (f", {report.post_failures} failed (retried next check)" if report.post_failures else ""))
    for a in standing:
        console.print(f"  #{a.id} {a.key}: {a.message}", soft_wrap=True)


@alerts_app.command("list")
def list_cmd(
    show_all: Annotated[bool, typer.Option("--all", help="Resolved alerts too (newest first).")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Open alerts (with --all, past ones too), as the last check left them."""
    from assistant.ops.alerts import list_alerts

    with open_container() as c:
        rows = list_alerts(c.db, include_resolved=show_all)
    if as_json:
        print(json.dumps([a.as_dict() for a in rows], indent=2))
        return
    if not rows:
        console.print("no alerts" if show_all else "no open alerts")
        return
    table = Table()
    for col in ("id", "key", "state", "opened", "resolved", "posted", "message"):
        table.add_column(col)
    for a in rows:
        table.add_row(str(a.id), a.key, a.state, f"{a.opened_at:%Y-%m-%d %H:%M}",
                      f"{a.resolved_at:%Y-%m-%d %H:%M}" if a.resolved_at else "",
                      "yes" if a.posted else ("failed" if a.post_error else "no"), a.message)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``sourcewise alerts`` to the main CLI."""
    app.add_typer(alerts_app, name="alerts")
