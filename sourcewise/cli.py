"""`sourcewise` command line. Scripts and the eval rely on this shape: keep it stable."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from assistant.catalog.redactions import RedactionLog
from assistant.errors import ConfigError, SourcewiseError
from assistant.models import PUBLIC_GROUP
from assistant.retrieval.search import HybridSearcher
from indexers import admin
from indexers.pipeline import RunReport
from indexers.runner import index_source
from sourcewise.alerts_cli import register as register_alerts
from sourcewise.api_cli import register as register_api
from sourcewise.ask_cli import ask
from sourcewise.context import cli_actor, open_container
from sourcewise.eval_cli import register as register_eval
from sourcewise.gaps_cli import register as register_gaps
from sourcewise.mcp_cli import register as register_mcp
from sourcewise.options import parse_groups
from sourcewise.people_cli import register as register_people
from sourcewise.progress import RichProgress
from sourcewise.reports import print_redactions, print_report, status_table, store_config_warnings
from sourcewise.route_cli import register as register_route
from sourcewise.stale_cli import register as register_stale
from sourcewise.worker_cli import enqueue_index
from sourcewise.worker_cli import register as register_workers

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Sourcewise: answers from your code and docs.")
source_app = typer.Typer(no_args_is_help=True, help="Add, change, list and remove sources.")
app.add_typer(source_app, name="source")
app.command("ask")(ask)
register_api(app)
register_people(app)
register_eval(app)
register_stale(app)
register_alerts(app)
register_route(app)
register_gaps(app)
register_mcp(app)
register_workers(app)
console = Console()
err = Console(stderr=True)
log = logging.getLogger("sourcewise")


@source_app.command("add")
def source_add(
    name: Annotated[str, typer.Argument(help="A short unique name, used in citations.")],
    git: Annotated[Optional[str], typer.Option("--git", help="Local path, bare repo or clone URL.")] = None,
    docs: Annotated[Optional[Path], typer.Option("--docs", help="A directory of docs.")] = None,
    wiki: Annotated[Optional[str], typer.Option("--wiki", help="Git wiki, MediaWiki XML or Confluence export.")] = None,
    ref: Annotated[Optional[str], typer.Option("--ref", help="Branch, tag or commit (git).")] = None,
    groups: Annotated[Optional[str], typer.Option(
        "--groups", help="Who may read it: access groups, comma-separated, or `everyone` (public, the default).")] = None,
    classification: Annotated[Optional[str], typer.Option(
        "--classification", help="public, internal (default) or restricted: which generators may see it.")] = None,
    include: Annotated[list[str], typer.Option("--include", help="Glob to include (repeatable).")] = [],
    exclude: Annotated[list[str], typer.Option("--exclude", help="Glob to exclude (repeatable).")] = [],
    browse_url: Annotated[Optional[str], typer.Option("--browse-url", help="URL template with {commit} and {path}.")] = None,
    redact_pii: Annotated[Optional[bool], typer.Option(
        "--redact-pii/--no-redact-pii",
        help="Redact personal data (e-mail, phone, SSN, NI number, IBAN, card) from its text "
             "(default: SOURCEWISE_SECRETS__PII_DEFAULT).")] = None,
) -> None:
    """Register a source (index it with `sourcewise index NAME`)."""
    given = [(k, v) for k, v in (("git", git), ("docs", docs), ("wiki", wiki)) if v is not None]
    if len(given) != 1:
        raise ConfigError("give exactly one of --git, --docs or --wiki")
    kind, location = given[0]
    with open_container(write=True) as c:
        row = admin.add_source(c, name, kind, str(location), actor=cli_actor(), ref=ref,
                               groups=parse_groups(groups) if groups is not None else None,
                               include=include, exclude=exclude, browse_url=browse_url, door="cli",
                               redact_pii=redact_pii, classification=classification)
    console.print(f"added {kind} source [bold]{name}[/bold] ({row.location}); run `sourcewise index {name}`")
    readers = "everyone (public)" if row.access_groups == [PUBLIC_GROUP] else ", ".join(row.access_groups)
    console.print(f"readable by: {readers}; classification: {row.classification}", highlight=False)


@source_app.command("update")
def source_update(
    name: str,
    ref: Annotated[Optional[str], typer.Option("--ref", help="New branch, tag or commit.")] = None,
    groups: Annotated[Optional[str], typer.Option(
        "--groups", help="New access groups, or `everyone`; applied to the index at once.")] = None,
    classification: Annotated[Optional[str], typer.Option(
        "--classification", help="public, internal or restricted; applies to the next question.")] = None,
    redact_pii: Annotated[Optional[bool], typer.Option(
        "--redact-pii/--no-redact-pii", help="Turn personal-data redaction on or off (re-index to apply).")] = None,
) -> None:
    """Change a source's ref or personal-data redaction (re-index to apply), access groups or classification (applied now)."""
    with open_container(write=True) as c:
        admin.update_source(c, name, actor=cli_actor(), ref=ref,
                            groups=parse_groups(groups) if groups is not None else None,
                            classification=classification, redact_pii=redact_pii)
    console.print(f"updated {name}" + (f"; run `sourcewise index {name}` to apply the new ref or redaction"
                                       if ref or redact_pii is not None else ""))


@source_app.command("pause")
def source_pause(name: str) -> None:
    """Keep a source's index as it is: `index` skips it until it is resumed."""
    with open_container(write=True) as c:
        admin.set_paused(c, name, True, actor=cli_actor())
    console.print(f"paused {name}")


@source_app.command("resume")
def source_resume(name: str) -> None:
    """Index a paused source again on the next `index`."""
    with open_container(write=True) as c:
        admin.set_paused(c, name, False, actor=cli_actor())
    console.print(f"resumed {name}; run `sourcewise index {name}`")


@source_app.command("list")
def source_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List sources."""
    with open_container() as c:
        rows = c.catalog.list_sources()
    if as_json:
        print(json.dumps([{"name": r.name, "kind": r.kind, "location": r.location, "ref": r.ref,
                           "groups": r.access_groups, "classification": r.classification, "status": r.status,
                           "redact_pii": (r.options or {}).get("redact_pii")} for r in rows], indent=2))
        return
    for r in rows:
        console.print(f"{r.name}\t{r.kind}\t{r.location}\t{r.ref or 'HEAD'}\t{','.join(r.access_groups) or '-'}"
                      f"\t{r.classification}")
    if not rows:
        console.print("no sources yet: `sourcewise source add NAME --git PATH`")


@source_app.command("remove")
def source_remove(name: str) -> None:
    """Remove a source and purge its points and catalog rows."""
    with open_container(write=True) as c:
        admin.remove_source(c, name, actor=cli_actor())
    console.print(f"removed {name}")


@app.command("index")
def index(
    names: Annotated[Optional[list[str]], typer.Argument(help="Sources to index (default: all).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Re-embed everything and sweep orphans.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print run reports as JSON.")] = False,
    queue: Annotated[bool, typer.Option(
        "--queue", help="Enqueue a job per source for the workers instead of indexing here.")] = False,
) -> None:
    """Index sources incrementally: only what changed is re-embedded."""
    if queue:
        enqueue_index(names, full=full, as_json=as_json)
        return
    reports: list[RunReport] = []
    with open_container(write=True) as c:
        rows = [c.catalog.get_source(n) for n in names] if names else c.catalog.list_sources()
        if not rows:
            raise ConfigError("no sources to index: `sourcewise source add NAME --git PATH` first")
        for row in rows:
            if row.status == "paused" and not names:
                err.print(f"{row.name}: paused, skipped (`sourcewise source resume {row.name}`)")
                continue
            with RichProgress(err, row.name) as progress:
                report = index_source(c, row, full=full, progress=progress)
            reports.append(report)
            if not as_json:
                print_report(console, report)
    if as_json:
        print(json.dumps([r.counts() | {"source": r.source, "status": r.status, "version": r.version,
                                        "seconds": round(r.seconds, 3), "embed_seconds": round(r.embed_seconds, 3),
                                        "staleness_seconds": round(r.staleness_seconds, 3),
                                        "error": r.error} for r in reports], indent=2))
    if any(r.status != "ok" for r in reports):
        raise typer.Exit(1)


@app.command("search")
def search(
    query: str,
    source: Annotated[Optional[list[str]], typer.Option("--source", help="Limit to a source (repeatable).")] = None,
    k: Annotated[int, typer.Option("--k", help="Number of hits.")] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Hybrid search over indexed chunks."""
    with open_container() as c:
        known = {r.name for r in c.catalog.list_sources()}
        for s in source or []:
            if s not in known:
                raise ConfigError(f"unknown source {s!r}; known: {', '.join(sorted(known)) or 'none'}")
        results = HybridSearcher(c.store, c.embedder, c.sparse).search(query, k=k, sources=source)
    if as_json:
        print(json.dumps([{k_: v for k_, v in r.as_json().items() if k_ != "text"} for r in results], indent=2))
        return
    if not results:
        console.print("no results (is anything indexed? `sourcewise status`)")
    for i, r in enumerate(results, 1):
        label = r.symbol or r.title or ""
        console.print(f"[bold]{i}.[/bold] {r.citation} {label}  [dim]{r.score:.4f} · updated {r.updated_at[:10]}[/dim]")


@app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    failures: Annotated[bool, typer.Option("--failures", help="List the last run's per-file failures.")] = False,
) -> None:
    """Per source: documents, chunks, last indexed commit and time, failures."""
    with open_container() as c:
        rows = c.catalog.status()
        fails = {}
        redacted = {}
        if failures:
            log_ = RedactionLog(c.db)
            for src in c.catalog.list_sources():
                run = c.catalog.last_run(src.id)
                fails[src.name] = [(f.path, f.reason, f.message) for f in c.catalog.failures(run.id)] if run else []
                redacted[src.name] = log_.for_source(src.id)
        store_warnings = store_config_warnings(c)
    if as_json:
        print(json.dumps([r.__dict__ | {"last_indexed_at": r.last_indexed_at.isoformat() if r.last_indexed_at else None}
                          for r in rows], indent=2))
    else:
        console.print(status_table(rows))
    for name, items in fails.items():
        console.print(f"[bold]{name}[/bold]: {len(items)} failures")
        for path, reason, message in items:
            console.print(f"  {path}: {reason} {message}")
    for name, found in redacted.items():
        if found:
            print_redactions(console, name, found)
    for line in store_warnings:  # stderr: `--json` output stays parseable
        err.print(f"[yellow]warning:[/yellow] {line}", highlight=False)


@app.command("shell")
def shell(
    user: Annotated[Optional[str], typer.Option("--user", help="Ask as this user (default: local admin).")] = None,
    groups: Annotated[Optional[str], typer.Option("--groups", help="That user's access groups.")] = None,
) -> None:
    """Interactive prompt: cited answers from the indexed code and docs, with follow-ups."""
    from assistant.answer import build_answerer
    from sourcewise.ask_cli import make_user, print_streamed

    caller = make_user(user, groups)
    with open_container() as c:
        answerer = build_answerer(c)
        history: list[dict[str, str]] = []
        console.print("Ask about the indexed code and docs; filters like repo:NAME path:GLOB lang:python work. "
                      "Empty line or Ctrl-D quits.")
        while True:
            try:
                question = console.input("[bold cyan]? [/bold cyan]").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if not question:
                break
            try:
                answer = print_streamed(answerer.stream(question, history, caller, channel="cli"))
            except SourcewiseError as exc:
                console.print(f"[red]{exc}[/red]")
                continue
            history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
            console.print()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(standalone_mode=False)  # returns the exit code of a typer.Exit
        sys.exit(code if isinstance(code, int) else 0)
    except SourcewiseError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click usage errors come through here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
