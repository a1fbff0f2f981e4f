"""``sourcewise gaps`` and ``sourcewise owners gaps``: documentation gaps from the interaction log.

Topics come from ``assistant.ops.gaps.GapFinder`` (which filters them for the viewer and
audits every view that shows question text); example questions pass through the
indexers' secret redactor first. The CLI acts as an admin unless ``--user`` names who
to show it as.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.console import Console

from assistant.errors import ConfigError
from assistant.ops.gaps import GapFinder, Topic
from sourcewise.context import open_container
from sourcewise.people_cli import cli_account, owners_app

console = Console(highlight=False)


def finder(c: Any) -> GapFinder:
    """The container's gap finder with the secret redactor over example questions."""
    from indexers.redaction.redactor import Redactor

    redactor = Redactor.from_settings(c.settings.secrets)
    return GapFinder(c.db, c.embedder, c.settings.gaps, c.audit, redact=redactor.redact_value)


def _topic_json(t: Topic) -> dict[str, Any]:
    out = asdict(t)
    out.pop("member_ids", None)
    out["label"] = t.label
    return out


def _show(topics: list[Topic], as_json: bool, days: int) -> None:
    if as_json:
        print(json.dumps([_topic_json(t) for t in topics], indent=2, default=str))
        return
    if not topics:
        console.print(f"no documentation gaps in the last {days} day(s)")
        return
    for t in topics:
        why = ", ".join(f"{k} {v}" for k, v in sorted(t.why.items()))
        console.print(f"[bold]gap #{t.id}[/bold]  {t.count} question(s)  ({why})")
        for e in t.examples:
            console.print(f"  #{e.interaction_id}  {e.question[:200]}", markup=False)
        if t.hidden_examples:
            console.print(f"  ({t.hidden_examples} more you may not see)")
        for s in t.sources:
            console.print(f"  near {s.doc_id}  score {s.best_score:.4f}  {s.hits}x  owner {s.owner or '-'}",
                          markup=False)


def _days(days: int) -> int:
    if not 1 <= days <= 365:
        raise ConfigError("--days must be between 1 and 365")
    return days


def gaps(
    days: Annotated[int, typer.Option("--days", help="Window: the last N UTC days (1-365).")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the topics as JSON.")] = False,
) -> None:
    """Questions the corpus could not answer, grouped into topics, with the closest sources and their owners."""
    with open_container() as c:
        topics = finder(c).topics(cli_account(), _days(days), door="cli")
    _show(topics, as_json, days)


@owners_app.command("gaps")
def owners_gaps(
    owner: Annotated[str | None, typer.Option("--owner", help="Whose gaps (an owner string, e.g. @alice).")] = None,
    user: Annotated[str | None, typer.Option(
        "--user", help="Show them exactly as this signed-in user sees them (their documents and groups decide).")] = None,
    days: Annotated[int, typer.Option("--days", help="Window: the last N UTC days (1-365).")] = 7,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Documentation gap topics near the documents an owner owns."""
    with open_container() as c:
        viewer = c.users.require(user) if user is not None else cli_account()
        if user is None and owner is None:
            raise ConfigError("name --owner (or --user); `sourcewise gaps` lists every topic")
        topics = finder(c).topics(viewer, _days(days), owner=owner, door="cli")
    _show(topics, as_json, days)


def register(app: typer.Typer) -> None:
    app.command("gaps")(gaps)
