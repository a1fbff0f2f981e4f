"""Human-readable run reports and status tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant.catalog.redactions import RedactionInfo
from assistant.catalog.repo import SourceStatus
from indexers.pipeline import RunReport


def age(when: datetime | None) -> str:
    if when is None:
        return "never"
    seconds = (datetime.now(UTC) - when).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def print_report(console: Console, r: RunReport) -> None:
    if r.status != "ok":
        console.print(f"[red]✗ {r.source}: {r.error}[/red]")
        return
    head = f"[green]✓ {r.source}[/green] @ {(r.version or '')[:12]}  {r.seconds:.1f}s"
    if r.seconds:
        head += f" (embedding {r.embed_share:.0%})"
    console.print(head)
    console.print(
        f"  files seen {r.seen}: new {r.new}, changed {r.changed}, unchanged {r.unchanged}, "
        f"relabelled {r.meta_updated}, deleted {r.deleted}, skipped {sum(r.skipped.values())}"
    )
    console.print(f"  chunks written {r.chunks} ({r.embedded} embedded)"
                  + (f", line-window fallback: {dict(r.fallback)}" if r.fallback else "")
                  + (f", recovered {r.recovered} interrupted documents" if r.recovered else ""))
    if r.symbols_files or r.references_docs:
        console.print(f"  symbol tables: {r.symbols} names from {r.symbols_files} files; doc references: "
                      f"{r.references} from {r.references_docs} docs"
                      + (f" ({r.references_truncated} capped)" if r.references_truncated else ""))
    if r.findings_open or r.findings_opened or r.findings_closed or r.staleness_error:
        line = (f"  staleness findings: {r.findings_open} open ({r.findings_opened} new, {r.findings_closed} "
                f"closed) in {r.detection_seconds:.1f}s"
                + (f", {r.staleness_checked_docs} docs re-checked (scoped)" if r.staleness_scoped else "")
                + (f", {r.staleness_capped} huge docs capped" if r.staleness_capped else "")
                + (f", {r.staleness_deferred} docs left for the next run" if r.staleness_deferred else ""))
        console.print(line + (f"; [red]detection failed: {r.staleness_error}[/red]" if r.staleness_error else "")
                      + ("  (`sourcewise stale`)" if r.findings_open else ""))
    if r.skipped:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.skipped.items()))
        console.print(f"  skipped: {reasons}")
        for f in r.failures[:10]:
            console.print(f"    {f.path}: {f.reason} {('- ' + f.message) if f.message else ''}")
        if len(r.failures) > 10:
            console.print(f"    … {len(r.failures) - 10} more (`sourcewise status --failures`)")
    if r.redactions:
        total = sum(sum(c.values()) for c in r.redactions.values())
        console.print(f"  redacted {total} secrets in {len(r.redactions)} files (never stored; `sourcewise status "
                      "--failures` lists them)", highlight=False)
        for path, counts in sorted(r.redactions.items())[:10]:
            console.print(f"    {path}: {_rule_counts(counts)}", highlight=False, markup=False)
        if len(r.redactions) > 10:
            console.print(f"    … {len(r.redactions) - 10} more files")


def _rule_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items()))


def print_redactions(console: Console, name: str, items: list[RedactionInfo]) -> None:
    """Per file of one source: which rules removed how much, on which lines (never what)."""
    by_path: dict[str, list[RedactionInfo]] = {}
    for item in items:
        by_path.setdefault(item.path, []).append(item)
    console.print(f"[bold]{name}[/bold]: {sum(i.count for i in items)} redactions in {len(by_path)} files")
    for path, rows in by_path.items():
        detail = ", ".join(f"{i.rule} {i.count} (L{', L'.join(map(str, i.lines[:5]))})" for i in rows)
        console.print(f"  {path}@{rows[0].version[:12]}: {detail}", highlight=False, markup=False)


def status_table(rows: list[SourceStatus]) -> Table:
    table = Table(title="Sources")
    for col in ("name", "kind", "location", "ref", "groups", "docs", "chunks", "indexed commit",
                "indexed", "failures", "error"):
        table.add_column(col)
    for s in rows:
        table.add_row(
            s.name, s.kind, s.location, s.ref or "HEAD", ",".join(s.access_groups) or "-",
            str(s.documents), str(s.chunks), (s.last_version or "-")[:12], age(s.last_indexed_at),
            str(s.failures), s.last_error or "",
        )
    return table


def store_config_warnings(container: Any) -> list[str]:
    """What ``status`` warns about the vector store: a Qdrant server that does not answer, or
    a collection whose settings differ from ``store.*`` (reported, never changed)."""
    if container.settings.store.backend != "server":
        return []
    from assistant.errors import StoreError

    store = container.store
    try:
        drift = store.config_drift()
    except StoreError as exc:
        return [str(exc)]
    return [f"the Qdrant collection {store.collection!r} differs from the settings and was not changed "
            f"(recreate it to apply them, or change the settings): {d}" for d in drift]
