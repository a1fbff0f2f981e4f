"""``sourcewise stale``: the staleness gate a docs repository's CI runs, and the owners'
commands for findings (``owners findings``, ``dismiss-finding``, ``patch``, ``fix-finding``).

Findings come from the last index run (``sourcewise index`` detects them); this command
reads them. Exit 1 when a finding at or above ``--min-severity`` stands, 0 otherwise, 2
on a usage or configuration error.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import pathspec
import typer
from rich.console import Console

from assistant.errors import ConfigError
from assistant.findings import FindingView
from assistant.staleness import SEVERITY
from sourcewise.context import open_container
from sourcewise.people_cli import cli_account, owners_app

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)
LEVELS = ("dead", "drift", "age")


def _changed_docs(c: Any, names: list[str], ref: str, named: bool) -> dict[str, set[str]]:
    """Per source: the paths changed between ``ref`` and the indexed commit (``ref...indexed``)."""
    import git

    from indexers.staleness.history import GitReader, source_repo

    out: dict[str, set[str]] = {}
    for name in names:
        row = c.catalog.get_source(name)
        repo = source_repo(row, c.settings.repos_dir)
        if repo is None or not row.last_version:
            if named:
                raise ConfigError(f"--changed-since needs a git-backed, indexed source; {name} is not one")
            continue
        try:
            out[name] = GitReader(repo).changed_paths(ref, row.last_version)
        except (git.GitCommandError, ValueError):
            raise ConfigError(f"{name}: git does not know {ref!r} (fetch it first, e.g. `git fetch origin main`)"
                              ) from None
    return out


def _line(v: FindingView) -> str:
    where = f"{v.source}:{v.path}" + (f":{v.line}" if v.line else "")
    return f"{v.kind.upper():5}  #{v.id}  {where}  {v.summary}"


def stale(
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source's documents (repeatable).")] = None,
    changed_since: Annotated[str | None, typer.Option(
        "--changed-since", help="Only documents changed since REF (git REF...indexed commit): what a docs CI gates on.")] = None,
    min_severity: Annotated[str, typer.Option(
        "--min-severity", help="Exit 1 when a finding this severe or worse stands: dead > drift > age.")] = "dead",
    path: Annotated[list[str] | None, typer.Option("--path", help="Only documents matching this glob (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List open staleness findings (dead references, drift, age), most severe first; exit 1
    when any at or above --min-severity stands."""
    if min_severity not in LEVELS:
        raise ConfigError(f"--min-severity is one of {', '.join(LEVELS)}, not {min_severity!r}")
    with open_container() as c:
        names = [c.catalog.get_source(n).name for n in source] if source else \
            [r.name for r in c.catalog.list_sources()]
        views = c.findings.list(cli_account(), sources=names)
        if changed_since:
            changed = _changed_docs(c, names, changed_since, named=bool(source))
            views = [v for v in views if v.path in changed.get(v.source, ())]
        from assistant.catalog.symbols import SymbolCatalog

        symbols = SymbolCatalog(c.db)
        unchecked = [n for n in names if not symbols.scanned_docs(c.catalog.get_source(n).id)]
    if path:
        spec = pathspec.GitIgnoreSpec.from_lines(path)
        views = [v for v in views if spec.match_file(v.path)]
    threshold = SEVERITY[min_severity]
    blocking = [v for v in views if v.severity >= threshold]
    counts = Counter(v.kind for v in views)
    if as_json:
        print(json.dumps({
            "min_severity": min_severity, "blocking": len(blocking), "counts": {k: counts.get(k, 0) for k in LEVELS},
            "unchecked": unchecked,
            "findings": [{**v.as_json(), "blocking": v.severity >= threshold} for v in views],
        }, indent=2, default=str))
    else:
        for v in views:
            console.print(_line(v), markup=False)
            cite = (v.evidence.get("change") or {}).get("commit")
            if v.evidence.get("withheld"):
                console.print(f"       {v.evidence['withheld']}", markup=False)
            elif cite:
                change = v.evidence["change"]
                console.print(f"       {cite[:12]} {change.get('author', '')}: {change.get('subject', '')}",
                              markup=False)
            if v.suggestion:
                fix = f"       fix: `{v.suggestion['replace']}` -> `{v.suggestion['with']}`"
                console.print(fix + (f" (sourcewise owners patch {v.id})" if v.has_patch else ""), markup=False)
        summary = ", ".join(f"{counts[k]} {k}" for k in LEVELS if counts.get(k))
        verdict = f"{len(blocking)} at or above {min_severity}: failing" if blocking else \
            f"none at or above {min_severity}"
        console.print(f"{len(views)} open finding{'s' if len(views) != 1 else ''}"
                      f"{' (' + summary + ')' if summary else ''}; {verdict}", markup=False)
    for n in unchecked:
        err.print(f"note: {n} has no reference table yet (index it with this version: `sourcewise index {n}`)",
                  markup=False)
    if blocking:
        raise typer.Exit(1)


@owners_app.command("findings")
def owners_findings(
    owner: Annotated[str | None, typer.Option("--owner", help="Whose findings (default: every open finding).")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Open staleness findings with their evidence and suggested fix, per owner."""
    with open_container() as c:
        views = c.findings.queue(cli_account(), owner=owner) if owner else \
            c.findings.list(cli_account(), sources=source)
        if owner and source:
            views = [v for v in views if v.source in set(source)]
    if as_json:
        print(json.dumps([v.as_json() for v in views], indent=2, default=str))
        return
    for v in views:
        console.print(f"{_line(v)}\towner {v.owner or '-'}", markup=False)
    if not views:
        console.print("no open findings")


@owners_app.command("dismiss-finding")
def owners_dismiss_finding(
    finding_id: int,
    note: Annotated[str, typer.Option("--note", help="Why it is not a problem (remembered: it will not come back).")],
) -> None:
    """Dismiss one staleness finding for good."""
    with open_container() as c:
        view = c.findings.dismiss(finding_id, cli_account(), note)
    console.print(f"dismissed finding {finding_id} on {view.source}:{view.path}", markup=False)


@owners_app.command("patch")
def owners_patch(
    finding_id: int,
    out: Annotated[Path | None, typer.Option("--out", help="Write the patch here instead of printing it.")] = None,
) -> None:
    """The suggested fix of a finding as a unified diff (`git apply` it in the docs repository)."""
    with open_container() as c:
        name, text = c.findings.patch(finding_id, cli_account())
    if out is None:
        print(text, end="")
        return
    out.write_text(text)
    err.print(f"wrote {out} ({name})", markup=False)


@owners_app.command("fix-finding")
def owners_fix_finding(finding_id: int) -> None:
    """Re-index the finding's document source now; it closes if the fix took."""
    from indexers.runner import index_source

    with open_container(write=True) as c:
        view = c.findings.mark_fixed(finding_id, cli_account(), lambda name: index_source(c, name))
    console.print(f"re-indexed {view.source}; finding {finding_id} is {view.status}", markup=False)
    if view.status == "open":
        raise typer.Exit(1)


def register(parent: typer.Typer) -> None:
    parent.command("stale")(stale)
