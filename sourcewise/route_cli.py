"""``sourcewise route status``: each route, each step's circuit and its recent failures."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sourcewise.context import open_container

console = Console(highlight=False)
route_app = typer.Typer(no_args_is_help=True, help="Model routes and their circuits (routing.* settings).")


@route_app.command("status")
def route_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the routes as JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Recent answers replayed.")] = 2000,
) -> None:
    """Each route's steps with their circuit state, replayed from the recorded answers."""
    from assistant.route_status import recorded_status

    with open_container() as c:
        if not c.settings.routing.routes:
            console.print("no routes configured: the single SOURCEWISE_GENERATION__* generator answers "
                          "(see README, Model routing)")
            raise typer.Exit(0)
        routes = recorded_status(c.settings, c.db, limit=limit)
    if as_json:
        print(json.dumps(routes, indent=2, default=str))
        return
    table = Table("route", "step", "endpoint", "kind", "model", "circuit", "failures", "recent failures")
    for route in routes:
        for n, step in enumerate(route["steps"], 1):
            recent = ", ".join(f"{r['reason']} ({_ago(r['ago_s'])} ago)" for r in step.get("recent", [])[:3])
            failures = f"{step['failures_in_window']}/{step['threshold']}" if "threshold" in step else ""
            state = step["state"] + (f" (probe in {step['retry_in_s']:g} s)" if step.get("retry_in_s") else "")
            table.add_row(route["route"] if n == 1 else "", str(n), step["endpoint"], step["generator"],
                          step.get("model") or "—", state, failures, recent or "—")
    console.print(table)
    console.print("[dim]circuits replayed from recorded answers; the server's live view is /admin/settings[/dim]")


def _ago(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else \
        f"{seconds / 3600:.0f} h"


def register(app: typer.Typer) -> None:
    app.add_typer(route_app, name="route")
