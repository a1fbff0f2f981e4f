"""An eval run as a Markdown summary (CI logs, pull requests) or a self-contained HTML page.

Both renderers read the same plain mapping the runner stores (see ``render_html``), so a
report can be rebuilt from the store at any time. The HTML page has no external
references at all — inline CSS, plots as base64 PNG ``data:`` URIs — so it can be attached
to a CI run or mailed and still open. Everything that came from a user, a repository or a
model (questions, answers, paths, tags, set and generator names) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

HEADLINE = ("pass_rate", "file_acc@1", "file_acc@3", "file_acc@5", "file_acc@10", "file_recall@5", "file_mrr",
            "file_ndcg@10", "chunk_acc@5", "chunk_mrr", "citation_precision", "citation_recall",
            "must_include_rate", "unsupported_rate", "stale_citation_rate", "cases", "skipped")
LOWER_IS_BETTER = ("unsupported_rate", "stale_citation_rate")
COUNTS = ("cases", "skipped", "scored")
BREAKDOWN_COLUMNS = ("cases", "skipped", "pass_rate", "file_acc@1", "file_acc@5", "file_mrr", "citation_recall")
HISTORY_METRICS = (("pass_rate", "pass rate"), ("file_acc@5", "file Acc@5"), ("file_mrr", "file MRR"))
_LATENCY = re.compile(r"^latency_(.+)_p(50|95)$")
_PERCENT = re.compile(r"(_rate|acc@\d+|recall@\d+|^citation_precision|^citation_recall)$")
TOP_RETRIEVED = 5

Row = list[str]
Esc = Callable[[Any], str]


# -- numbers -------------------------------------------------------------------------------

def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def fmt_metric(name: str, value: Any) -> str:
    """Rates as percentages, counts as integers, latencies in ms or s, ranks to 3 decimals."""
    v = _num(value)
    if v is None:
        return "n/a"
    if name in COUNTS:
        return str(int(v))
    if name.startswith("latency_"):
        return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"
    if _PERCENT.search(name):
        return f"{v * 100:.1f}%"
    return f"{v:.3f}"


def fmt_delta(name: str, value: Any, base: Any) -> tuple[str, str]:
    """The change from the baseline and whether it is ``better``/``worse``/``same`` (for colour)."""
    v, b = _num(value), _num(base)
    if v is None or b is None:
        return "", "same"
    d = v - b
    if abs(d) < 1e-12:
        return "±0", "same"
    lower = name in LOWER_IS_BETTER or name.startswith("latency_") or name == "skipped"
    verdict = "same" if name in ("cases", "scored") else ("better" if (d < 0) == lower else "worse")
    if name in COUNTS:
        text = f"{d:+.0f}"
    elif name.startswith("latency_"):
        text = f"{d * 1000:+.0f} ms" if abs(d) < 1 else f"{d:+.2f} s"
    elif _PERCENT.search(name):
        text = f"{d * 100:+.1f} pp"
    else:
        text = f"{d:+.3f}"
    return text, verdict


# -- the tables both renderers share -------------------------------------------------------

def _metrics(run: Mapping[str, Any]) -> Mapping[str, Any]:
    return run.get("metrics") or {}


def _metric_rows(run: Mapping[str, Any], names: Sequence[str]) -> tuple[Row, list[tuple[Row, str]]]:
    """(header, [(cells, verdict)]): one row per metric, with baseline and delta columns when
    the run was compared to a baseline."""
    metrics, base = _metrics(run), run.get("baseline_metrics")
    header = ["metric", "value"] + (["baseline", "delta"] if base is not None else [])
    rows = []
    for name in names:
        cells = [name, fmt_metric(name, metrics.get(name))]
        verdict = "same"
        if base is not None:
            delta, verdict = fmt_delta(name, metrics.get(name), base.get(name))
            cells += [fmt_metric(name, base.get(name)), delta]
        rows.append((cells, verdict))
    return header, rows


def _headline_names(run: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Headline metrics present in the run, then every other non-latency metric."""
    metrics = _metrics(run)
    head = [n for n in HEADLINE if n in metrics]
    rest = sorted(n for n in metrics if n not in head and not _LATENCY.match(n))
    return head, rest


def _breakdown_rows(run: Mapping[str, Any], key: str) -> tuple[Row, list[Row]]:
    groups = (run.get("breakdown") or {}).get(key) or {}
    header = [key] + list(BREAKDOWN_COLUMNS)
    return header, [[str(name)] + [fmt_metric(c, (m or {}).get(c)) for c in BREAKDOWN_COLUMNS]
                    for name, m in sorted(groups.items())]


def _latency_rows(run: Mapping[str, Any]) -> tuple[Row, list[Row]]:
    metrics, base = _metrics(run), run.get("baseline_metrics")
    stages = sorted({m.group(1) for n in metrics if (m := _LATENCY.match(n))})
    header = ["stage", "p50", "p95"] + (["baseline p50", "baseline p95"] if base is not None else [])
    rows = []
    for st in stages:
        names = (f"latency_{st}_p50", f"latency_{st}_p95")
        row = [st] + [fmt_metric(n, metrics.get(n)) for n in names]
        if base is not None:
            row += [fmt_metric(n, base.get(n)) for n in names]
        rows.append(row)
    return header, rows


def worst_cases(run: Mapping[str, Any], limit: int = 10) -> list[Mapping[str, Any]]:
    """Failed cases first, then passed ones by ascending reciprocal rank (cases without a
    rank last in their group); perfect passes (rank 1 or no gold) are not "worst"."""
    def rr(c: Mapping[str, Any]) -> float:
        v = _num(c.get("reciprocal_rank"))
        return 2.0 if v is None else v

    run_cases = [c for c in run.get("cases") or () if not c.get("skipped")]
    bad = [c for c in run_cases if not c.get("passed") or rr(c) < 1.0]
    return sorted(bad, key=lambda c: (bool(c.get("passed")), rr(c), str(c.get("case_id"))))[:limit]


def _skipped(run: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in run.get("cases") or () if c.get("skipped")]


def _excerpt(text: Any, limit: int) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


def _settings_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _gate_line(run: Mapping[str, Any]) -> tuple[str, list[str]]:
    gate = run.get("gate")
    if not gate:
        return "not gated", []
    return ("PASSED" if gate.get("passed") else "FAILED"), [str(f) for f in gate.get("failures") or ()]


# -- Markdown ------------------------------------------------------------------------------

def _md(value: Any) -> str:
    """Escaped for Markdown text and table cells: HTML-escaped (viewers render inline HTML),
    pipes escaped, on one line."""
    return html.escape(" ".join(str(value).split()), quote=False).replace("|", "\\|")


def _md_table(header: Row, rows: Sequence[Row]) -> list[str]:
    out = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return out + [""]


def render_markdown(run: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = (), *,
                    worst: int = 10) -> str:
    """A Markdown report: header, gate, headline metrics (with deltas against the baseline),
    per-tag/per-source breakdowns, latency per stage, the worst cases and the skipped ones."""
    verdict, failures = _gate_line(run)
    lines = [f"# Eval run #{_md(run.get('id'))}: {_md(run.get('set', ''))}", "",
             f"- created: {_md(run.get('created_at', ''))}", f"- generator: {_md(run.get('generator', ''))}",
             f"- baseline: {'run #' + _md(run['baseline_id']) if run.get('baseline_id') is not None else 'none'}",
             f"- gate: **{verdict}**"]
    lines += [f"  - {_md(f)}" for f in failures]
    settings = run.get("settings") or {}
    if settings:
        lines.append("- settings: " + ", ".join(f"`{_md(k)}={_md(_settings_text(v))}`" for k, v in settings.items()))
    lines.append("")
    head, rest = _headline_names(run)
    header, rows = _metric_rows(run, head)
    lines += ["## Headline metrics", ""] + _md_table(header, [r for r, _ in rows])
    if rest:
        header, rows = _metric_rows(run, rest)
        lines += ["## Other metrics", ""] + _md_table(header, [r for r, _ in rows])
    hist = _history_points(run, history)
    if len(hist) > 1:
        header = ["run", "created"] + [label for _, label in HISTORY_METRICS]
        lines += ["## History", ""] + _md_table(header, [
            [f"#{h.get('id')}", str(h.get("created_at", ""))[:19]]
            + [fmt_metric(n, (h.get("metrics") or {}).get(n)) for n, _ in HISTORY_METRICS] for h in hist])
    for key, title in (("tag", "By tag"), ("source", "By source")):
        header, rows2 = _breakdown_rows(run, key)
        if rows2:
            lines += [f"## {title}", ""] + _md_table(header, rows2)
    header, rows2 = _latency_rows(run)
    if rows2:
        lines += ["## Latency per stage", ""] + _md_table(header, rows2)
    cases = worst_cases(run, worst)
    if cases:
        lines += ["## Worst cases", ""]
        for c in cases:
            lines += _md_case(c)
    skipped = _skipped(run)
    if skipped:
        lines += ["## Skipped cases", ""] + [f"- `{_md(c.get('case_id'))}`: {_md(c.get('skipped'))}"
                                              for c in skipped] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _md_case(c: Mapping[str, Any]) -> list[str]:
    gold = set(c.get("gold_files") or ())
    status = "passed" if c.get("passed") else "FAILED"
    rr = fmt_metric("rr", c.get("reciprocal_rank"))
    out = [f"### `{_md(c.get('case_id'))}`: {status}, reciprocal rank {rr}", ""]
    if c.get("tags"):
        out.append("tags: " + ", ".join(_md(t) for t in c["tags"]))
    out += ["", f"> {_md(_excerpt(c.get('question'), 500))}", "",
            "- gold: " + (", ".join(f"`{_md(g)}`" for g in c.get("gold_files") or ()) or "none"),
            "- retrieved: " + (", ".join(f"{i}. `{_md(f)}`{' ✓' if f in gold else ''}"
                                         for i, f in enumerate(_top(c), 1)) or "nothing"),
            "- cited: " + (", ".join(f"`{_md(f)}`" for f in c.get("cited_files") or ()) or "nothing"),
            "- answer: " + (_md(_excerpt(c.get("answer"), 400)) or "(none)"), ""]
    return out


def _top(c: Mapping[str, Any]) -> list[str]:
    """The first distinct retrieved files (a file retrieved as several chunks takes one rank)."""
    return list(dict.fromkeys(str(f) for f in c.get("file_ranked") or ()))[:TOP_RETRIEVED]


# -- HTML ----------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2328;
padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #d0d7de;padding:.25rem .6rem;
text-align:right}th{background:#f6f8fa}td:first-child,th:first-child{text-align:left}
.better{color:#1a7f37}.worse{color:#cf222e;font-weight:600}.pass{color:#1a7f37}.fail{color:#cf222e}
.gate{display:inline-block;padding:.15rem .6rem;border-radius:1rem;color:#fff;font-weight:600}
.gate.PASSED{background:#1a7f37}.gate.FAILED{background:#cf222e}.gate.not{background:#6e7781}
.case{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;margin:.75rem 0}
.q{white-space:pre-wrap;background:#f6f8fa;padding:.5rem;border-radius:4px}code{font-size:12px}
.gold{font-weight:600}.muted{color:#6e7781}img{max-width:100%}
"""


def _h(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _html_table(header: Row, rows: Sequence[Row], classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{_h(x)}</th>" for x in header)
    body = []
    for i, row in enumerate(rows):
        cls = classes[i] if i < len(classes) else ""
        cells = "".join(f'<td class="{_h(cls)}">{_h(x)}</td>' if j == len(row) - 1 and cls else f"<td>{_h(x)}</td>"
                        for j, x in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(run: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = (), *, worst: int = 10) -> str:
    """A self-contained HTML report.

    ``run``: ``{id, set, created_at, generator, settings, baseline_id, metrics,
    baseline_metrics, breakdown: {tag, source}, cases: [{case_id, question, tags, passed,
    skipped, gold_files, file_ranked, cited_files, answer, reciprocal_rank, timings}], gate:
    {passed, failures} | None}``; ``history``: earlier runs' ``{id, created_at, metrics}``.
    """
    verdict, failures = _gate_line(run)
    parts = [f"<h1>Eval run #{_h(run.get('id'))}: {_h(run.get('set', ''))}</h1>",
             f'<p><span class="gate {_h(verdict.split()[0])}">gate: {_h(verdict)}</span> '
             f'<span class="muted">{_h(run.get("created_at", ""))} · generator {_h(run.get("generator", ""))} · '
             + (f"baseline run #{_h(run['baseline_id'])}" if run.get("baseline_id") is not None else "no baseline")
             + "</span></p>"]
    if failures:
        parts.append("<ul>" + "".join(f'<li class="fail">{_h(f)}</li>' for f in failures) + "</ul>")
    settings = run.get("settings") or {}
    if settings:
        parts.append(_html_table(["setting", "value"], [[str(k), _settings_text(v)] for k, v in settings.items()]))
    head, rest = _headline_names(run)
    header, rows = _metric_rows(run, head)
    parts += ["<h2>Headline metrics</h2>", _html_table(header, [r for r, _ in rows], [v for _, v in rows])]
    if rest:
        header, rows = _metric_rows(run, rest)
        parts += ["<details><summary>All other metrics</summary>",
                  _html_table(header, [r for r, _ in rows], [v for _, v in rows]), "</details>"]
    hist = _history_points(run, history)
    parts.append("<h2>History</h2>")
    if len(hist) > 1:
        parts.append(_img(_history_png(hist), "metric history over runs"))
    else:
        parts.append('<p class="muted">No earlier runs of this set yet: the history plot starts with the second run.</p>')
    tag_header, tag_rows = _breakdown_rows(run, "tag")
    if tag_rows:
        parts += ["<h2>By tag</h2>", _img(_tag_png(run), "pass rate and file Acc@5 per tag"),
                  _html_table(tag_header, tag_rows)]
    header, rows2 = _breakdown_rows(run, "source")
    if rows2:
        parts += ["<h2>By source</h2>", _html_table(header, rows2)]
    header, rows2 = _latency_rows(run)
    if rows2:
        parts += ["<h2>Latency per stage</h2>", _html_table(header, rows2)]
    cases = worst_cases(run, worst)
    if cases:
        parts.append("<h2>Worst cases</h2>")
        parts += [_html_case(c) for c in cases]
    skipped = _skipped(run)
    if skipped:
        parts += ["<h2>Skipped cases</h2>", _html_table(["case", "reason"],
                                                        [[str(c.get("case_id")), str(c.get("skipped"))] for c in skipped])]
    title = f"Eval run #{_h(run.get('id'))}: {_h(run.get('set', ''))}"
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def _html_case(c: Mapping[str, Any]) -> str:
    gold = set(c.get("gold_files") or ())
    passed = bool(c.get("passed"))
    retrieved = "".join(f'<li class="{"gold" if f in gold else ""}"><code>{_h(f)}</code>{" ✓ gold" if f in gold else ""}</li>'
                        for f in _top(c)) or "<li class=\"muted\">nothing</li>"
    tags = ", ".join(_h(t) for t in c.get("tags") or ())
    return (f'<div class="case"><h3><code>{_h(c.get("case_id"))}</code> '
            f'<span class="{"pass" if passed else "fail"}">{"passed" if passed else "FAILED"}</span> '
            f'<span class="muted">reciprocal rank {_h(fmt_metric("rr", c.get("reciprocal_rank")))}'
            f'{" · " + tags if tags else ""}</span></h3>'
            f'<div class="q">{_h(_excerpt(c.get("question"), 800))}</div>'
            f'<p>gold: {", ".join(f"<code>{_h(g)}</code>" for g in c.get("gold_files") or ()) or "none"}</p>'
            f"<p>retrieved (top {TOP_RETRIEVED}):</p><ol>{retrieved}</ol>"
            f'<p>cited: {", ".join(f"<code>{_h(g)}</code>" for g in c.get("cited_files") or ()) or "nothing"}</p>'
            f'<p>answer: <span class="q">{_h(_excerpt(c.get("answer"), 600)) or "(none)"}</span></p></div>')


# -- plots ---------------------------------------------------------------------------------

def _history_points(run: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Earlier runs plus this one, by id, without duplicates."""
    points = {h.get("id"): h for h in history}
    points[run.get("id")] = {"id": run.get("id"), "created_at": run.get("created_at"), "metrics": _metrics(run)}
    return sorted(points.values(), key=lambda h: (_num(h.get("id")) is None, _num(h.get("id")) or 0))


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # Agg through savefig; no pyplot global state

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(png_b64: str, alt: str) -> str:
    return f'<img alt="{_h(alt)}" src="data:image/png;base64,{png_b64}">'


def _label(name: Any, limit: int = 24) -> str:
    """A tick label: shortened, with ``$`` escaped so a tag is never parsed as mathtext."""
    text = str(name)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _history_png(hist: Sequence[Mapping[str, Any]]) -> str:
    fig = _figure(8, 3.2)
    ax = fig.add_subplot()
    xs = list(range(len(hist)))
    for name, label in HISTORY_METRICS:
        ys = [_num((h.get("metrics") or {}).get(name)) for h in hist]
        ax.plot(xs, [float("nan") if y is None else y for y in ys], marker="o", label=label)
    ax.set_xticks(xs, [f"#{h.get('id')}" for h in hist], rotation=45 if len(hist) > 12 else 0)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("run")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, frameon=False)
    return _png(fig)


def _tag_png(run: Mapping[str, Any]) -> str:
    groups = sorted(((run.get("breakdown") or {}).get("tag") or {}).items())
    fig = _figure(max(5.0, min(16.0, 1 + 0.6 * len(groups))), 3.4)
    ax = fig.add_subplot()
    xs = list(range(len(groups)))
    width = 0.4
    for i, (name, label) in enumerate((("pass_rate", "pass rate"), ("file_acc@5", "file Acc@5"))):
        ys = [_num((m or {}).get(name)) or 0.0 for _, m in groups]
        ax.bar([x + (i - 0.5) * width for x in xs], ys, width, label=label)
    many = len(groups) > 6 or any(len(str(n)) > 12 for n, _ in groups)
    ax.set_xticks(xs, [_label(n) for n, _ in groups], rotation=45 if many else 0, ha="right" if many else "center")
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    return _png(fig)
