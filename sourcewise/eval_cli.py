"""`sourcewise eval ...`: run eval sets through the real retrieval and answer path, gate
regressions against a baseline run, write reports, import benchmarks, export promoted cases.

``eval run --baseline`` exits 1 when a metric fell by more than its tolerance
(``eval/tolerances.yaml``), so CI can run it like a test; an interrupted run exits 130 and
keeps its results for ``--resume``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from assistant.errors import ConfigError
from sourcewise.context import open_container

eval_app = typer.Typer(no_args_is_help=True, help="Eval sets: run, gate against a baseline, report, import.")
import_app = typer.Typer(no_args_is_help=True, help="Public benchmarks as eval sets (JSONL or YAML).")
eval_app.add_typer(import_app, name="import")
console = Console()
err = Console(stderr=True)

# Retrieval with only the dense (semantic) leg: the lexical legs and exact-match boosts off.
DENSE_ONLY = {"sparse_weight": 0.0, "exact_weight": 0.0, "symbol_boost": 0.0, "path_boost": 0.0}
SUMMARY_METRICS = ("pass_rate", "file_acc@1", "file_acc@5", "file_recall@10", "file_mrr", "file_ndcg@10",
                   "chunk_acc@5", "chunk_mrr", "citation_precision", "citation_recall", "must_include_rate",
                   "unsupported_rate", "stale_citation_rate", "latency_answer_p50", "latency_answer_p95")


def _run_id(store: Any, value: str, set_name: str | None = None) -> int:
    """A run id, or ``latest`` (the newest finished run, of ``set_name`` when given)."""
    if value == "latest":
        if set_name is None:
            runs = [r for r in store.list_runs() if r.status == "done"]
            found = runs[0].id if runs else None
        else:
            found = store.latest(set_name)
        if found is None:
            where = f" of set {set_name!r}" if set_name else ""
            raise ConfigError(f"no finished eval run{where} yet: run `sourcewise eval run --set NAME` first")
        return found
    if not value.isdigit():
        raise ConfigError(f"a run is a number from `sourcewise eval list` or 'latest', not {value!r}")
    store.get(int(value))
    return int(value)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _summary(run: dict[str, Any]) -> Table:
    metrics, base = run["metrics"], run.get("baseline_metrics") or {}
    rows = {r["metric"]: r for r in (run.get("gate") or {}).get("rows", [])}
    title = f"eval run {run['id']} · set {run['set']} · {run['generator']} · {metrics.get('scored', 0)} scored"
    if metrics.get("skipped"):
        title += f", {metrics['skipped']} skipped"
    table = Table(title=title)
    for col in ("metric", "value", *(("baseline", "delta", "gate") if base else ())):
        table.add_column(col, justify="left" if col in ("metric", "gate") else "right")
    for name in SUMMARY_METRICS:
        if name not in metrics and name not in base:
            continue
        cells = [name, _fmt(metrics.get(name))]
        if base:
            row = rows.get(name, {})
            delta = row.get("delta")
            status = row.get("status", "")
            color = {"fail": "red", "better": "green"}.get(status, "")
            cells += [_fmt(base.get(name)), f"{delta:+.3f}" if delta is not None else "",
                      f"[{color}]{status}[/{color}]" if color else status]
        table.add_row(*cells)
    return table


@eval_app.command("run")
def run(
    set_name: Annotated[str, typer.Option("--set", help="A set in eval/sets/, a catalog set, or a file path.")],
    generator: Annotated[str | None, typer.Option(
        "--generator", help="extractive, openai or llamacpp (default: the configured one).")] = None,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="Run id or 'latest': gate against it (exit 1 on a regression).")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue an interrupted run.")] = None,
    dense_only: Annotated[bool, typer.Option(
        "--dense-only", help="Dense retrieval only: sparse and exact legs and boosts off (an ablation).")] = False,
    tolerances: Annotated[Path | None, typer.Option(
        "--tolerances", help="Gate tolerances file (default eval/tolerances.yaml).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's metrics and gate as JSON.")] = False,
) -> None:
    """Run an eval set through retrieval and answering; with --baseline, gate regressions."""
    from eval.gate import load_tolerances
    from eval.runner import resolve_set, run_eval
    from eval.store import EvalStore

    tol = load_tolerances(tolerances) if tolerances is not None else None
    with open_container() as c:
        store = EvalStore(c.db)
        eval_set = resolve_set(c, set_name)
        resume_id = _run_id(store, resume) if resume is not None else None
        baseline_id = _run_id(store, baseline, eval_set.name) if baseline is not None else None
        if generator is not None and generator not in ("extractive", "openai", "llamacpp"):
            raise ConfigError(f"--generator is extractive, openai or llamacpp, not {generator!r}")
        overrides = dict(DENSE_ONLY) if dense_only else (None if resume_id is not None else {})
        progress = Progress(TextColumn("[bold]eval {task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal)
        task = progress.add_task(eval_set.name, total=len(eval_set.cases))
        try:
            with progress:
                run_id = run_eval(c, eval_set, generator=generator, baseline_id=baseline_id, resume_id=resume_id,
                                  retrieval_overrides=overrides, tolerances=tol,
                                  progress=lambda done, total, _case: progress.update(task, completed=done))
        except KeyboardInterrupt:
            latest = store.list_runs(eval_set.name, limit=1)
            rid = resume_id or (latest[0].id if latest and latest[0].status == "running" else None)
            if rid is not None:
                saved = len(store.results(rid))
                err.print(f"interrupted: eval run {rid} keeps {saved} of {len(eval_set.cases)} cases; "
                          f"`sourcewise eval run --set {set_name} --resume {rid}` continues it, "
                          f"`sourcewise eval discard {rid}` drops it", soft_wrap=True)
            raise typer.Exit(130) from None
        result = store.load(run_id)
    gate = result.get("gate")
    if as_json:
        print(json.dumps({"id": run_id, "set": result["set"], "generator": result["generator"],
                          "baseline_id": result["baseline_id"], "metrics": result["metrics"],
                          "gate": gate}, indent=2, default=str))
    else:
        console.print(_summary(result))
        failed = [x for x in result["cases"] if not x["passed"] and not x.get("skipped")]
        for case in failed[:15]:
            why = case.get("error") or _why(case)
            console.print(f"  [red]✗[/red] {case['case_id']}: {why}", highlight=False, soft_wrap=True)
        if len(failed) > 15:
            console.print(f"  ... and {len(failed) - 15} more (`sourcewise eval report {run_id}`)")
        for case in (x for x in result["cases"] if x.get("skipped")):
            console.print(f"  [yellow]skipped[/yellow] {case['case_id']}: {case['skipped']}", highlight=False,
                          soft_wrap=True)
    if gate is not None and not gate["passed"]:
        err.print(f"[red]regression against run {result['baseline_id']}[/red] "
                  f"({len(gate['failures'])} metrics worse than their tolerance):", highlight=False)
        for line in gate["failures"]:
            err.print(f"  {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _why(case: dict[str, Any]) -> str:
    """Why a case failed, in the words of its pass criteria."""
    reasons = []
    gold = set(case.get("gold_files") or [])
    ranked = case.get("file_ranked") or []
    k = int(case.get("retrieval_k") or 5)
    if gold and not gold & set(ranked):
        reasons.append("no gold file in the ranking")
    elif gold and not gold & set(ranked[:k]):
        reasons.append(f"no gold file in the top {k}")
    if case.get("missing_includes"):
        reasons.append(f"answer lacks {case['missing_includes']}")
    if case.get("found_excludes"):
        reasons.append(f"answer contains {case['found_excludes']}")
    if gold and not gold & set(case.get("cited_files") or []):
        reasons.append("no gold source cited")
    return "; ".join(reasons) or "failed"


@eval_app.command("canary")
def canary(
    set_name: Annotated[str | None, typer.Option(
        "--set", help="The set to run (default: the alerts.canary_set setting).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run and its gate as JSON.")] = False,
) -> None:
    """Run a set against the live index, gated against its last passing canary run; exit 1
    on a regression, which also raises the alert canary_gate:<set> (a pass resolves it)."""
    from assistant.ops.alerts import AlertService
    from eval.canary import run_canary

    with open_container() as c:
        result = run_canary(c, set_name)
        AlertService(c.db, c.settings, audit=c.audit).check(["canary_gate"])
    if as_json:
        print(json.dumps(result.as_dict(), indent=2, default=str))
    elif result.baseline_id is None:
        console.print(f"canary run {result.run_id} of set {result.set_name}: the first, now the baseline")
    else:
        verdict = "passed" if result.passed else "[red]failed[/red]"
        console.print(f"canary run {result.run_id} of set {result.set_name} {verdict} against run "
                      f"{result.baseline_id}", highlight=False)
    if not result.passed:
        err.print(f"[red]canary regression against run {result.baseline_id}[/red]: "
                  f"{', '.join(result.failing_metrics)} dropped", highlight=False)
        for line in result.failures:
            err.print(f"  {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@eval_app.command("report")
def report(
    run_id: Annotated[str, typer.Argument(help="Run id or 'latest'.")],
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    md: Annotated[Path | None, typer.Option("--md", help="Write the Markdown report here.")] = None,
) -> None:
    """Write a run's report (Markdown and HTML, with the set's history); prints the paths."""
    from eval.report import render_html, render_markdown
    from eval.store import EvalStore

    with open_container() as c:
        store = EvalStore(c.db)
        rid = _run_id(store, run_id)
        data = store.load(rid)
        history = store.history(data["set"], upto=rid)
        out_dir = c.settings.home / "eval-reports"
    targets: list[tuple[Path, str]] = []
    if html is None and md is None:
        md, html = out_dir / f"run-{rid}.md", out_dir / f"run-{rid}.html"
    if md is not None:
        targets.append((md, render_markdown(data, history)))
    if html is not None:
        targets.append((html, render_html(data, history)))
    for path, text in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        console.print(str(path), highlight=False, soft_wrap=True)


@eval_app.command("list")
def list_runs(
    set_name: Annotated[str | None, typer.Option("--set", help="Only this set's runs.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Eval runs, newest first: status, cases saved, pass rate, gate."""
    from eval.store import EvalStore

    with open_container() as c:
        runs = EvalStore(c.db).list_runs(set_name, limit=limit)
    if as_json:
        print(json.dumps([r.as_dict() for r in runs], indent=2))
        return
    if not runs:
        console.print("no eval runs yet: `sourcewise eval run --set fixture`")
        return
    table = Table()
    for col in ("id", "set", "status", "generator", "started", "cases", "pass rate", "baseline", "gate"):
        table.add_column(col)
    for r in runs:
        gate = "" if r.gate_passed is None else ("passed" if r.gate_passed else "[red]failed[/red]")
        table.add_row(str(r.id), r.set_name, r.status, r.generator, f"{r.created_at:%Y-%m-%d %H:%M}",
                      str(r.cases_saved), _fmt(r.pass_rate), str(r.baseline_id or ""), gate)
    console.print(table)


@eval_app.command("discard")
def discard(run_id: Annotated[int, typer.Argument(help="The run to discard.")]) -> None:
    """Mark a run discarded: never resumed, never a baseline (its rows stay for the record)."""
    from eval.store import EvalStore

    with open_container() as c:
        EvalStore(c.db).discard(run_id)
    console.print(f"discarded eval run {run_id}")


@eval_app.command("export-catalog")
def export_catalog(
    set_name: Annotated[str, typer.Option("--set", help="The catalog set (cases promoted from feedback).")],
    out: Annotated[Path, typer.Option("--out", help="A .yaml, .yml or .jsonl file.")],
) -> None:
    """Write a catalog set's cases to a file, to review or commit as a curated set."""
    from eval.sets import catalog_cases, export_set

    with open_container() as c:
        sets = catalog_cases(c.db, set_name)
    if not sets:
        raise ConfigError(f"the catalog has no eval cases in set {set_name!r} "
                          "(promote some with `sourcewise feedback promote`)")
    path = export_set(sets[0], out)
    console.print(f"wrote {len(sets[0].cases)} cases to {path}", highlight=False, soft_wrap=True)


@import_app.command("swebench")
def import_swebench_cmd(
    path: Annotated[Path, typer.Argument(help="SWE-bench Lite localization JSONL.")],
    out: Annotated[Path, typer.Option("--out", help="A .yaml, .yml or .jsonl file.")],
    repo: Annotated[list[str] | None, typer.Option("--repo", help="Keep only this repo (repeatable).")] = None,
) -> None:
    """SWE-bench Lite rows as cases: the issue text asks, the fixed files are the gold."""
    from eval.importers import import_swebench
    from eval.sets import export_set

    cases = import_swebench(path, repos=repo)
    if not cases:
        raise ConfigError(f"{path}: no rows{' for ' + ', '.join(repo) if repo else ''}")
    export_set(cases, out)
    console.print(f"wrote {len(cases)} cases to {out}", highlight=False, soft_wrap=True)


@import_app.command("sweqa")
def import_sweqa_cmd(
    path: Annotated[Path, typer.Argument(help="One SWE-QA-Bench repository file (<repo>.jsonl).")],
    repo: Annotated[str, typer.Option("--repo", help="owner/name of the repository.")],
    out: Annotated[Path, typer.Option("--out", help="A .yaml, .yml or .jsonl file.")],
    git_dir: Annotated[Path | None, typer.Option(
        "--git-dir", help="The repository (bare or not): gold paths are checked at the pinned commit.")] = None,
    commit: Annotated[str | None, typer.Option(
        "--commit", help="The pinned commit (default: from repo_commit.txt next to the file).")] = None,
    source: Annotated[str | None, typer.Option(
        "--source", help="Source name in citations (default: the repo's short name).")] = None,
) -> None:
    """SWE-QA questions as cases; gold = paths the reference answer cites that exist.

    Without --git-dir the paths are checked against the indexed source's documents.
    """
    from eval.importers import git_paths, import_sweqa, read_sweqa_pins, repo_short_name
    from eval.sets import export_set

    name = source or repo_short_name(repo)
    if git_dir is not None:
        pins = path.parent / "repo_commit.txt"
        commit = commit or (read_sweqa_pins(pins).get(repo) if pins.is_file() else None)
        if not commit:
            raise ConfigError(f"no pinned commit for {repo}: give --commit (or keep repo_commit.txt next to {path})")
        paths = git_paths(git_dir, commit)
    else:
        with open_container() as c:
            paths = frozenset(d.path for d in c.catalog.documents(c.catalog.get_source(name).id))
    cases, notes = import_sweqa(path, repo=repo, path_exists=paths.__contains__, source_name=name,
                                commit=commit)
    for note in notes:
        err.print(note, highlight=False, soft_wrap=True)
    if not cases:
        raise ConfigError(f"{path}: no question kept a gold path that exists in {repo}")
    export_set(cases, out)
    console.print(f"wrote {len(cases)} cases to {out} ({len(notes)} notes above)", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``sourcewise eval`` to the main CLI (``sourcewise/cli.py`` calls this)."""
    app.add_typer(eval_app, name="eval")
