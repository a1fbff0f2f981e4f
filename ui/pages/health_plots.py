"""Server-side plots for ``/admin/health``: matplotlib (Agg) to SVG ``data:`` URIs.

The pages' Content-Security-Policy allows no external scripts and ``img-src 'self'
data:``, so every chart is an ``<img>`` whose source is the SVG itself: no JavaScript,
no chart library, and an SVG in an ``<img>`` cannot run scripts either. Figures are
built with ``matplotlib.figure.Figure`` (never pyplot's global state), so concurrent
requests do not share a figure.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import date

from matplotlib.figure import Figure

from assistant.ops.stats import DayRates, Latency, ModelUsage

_W, _H = 6.4, 2.6
_COLOURS = ("#2563eb", "#dc2626", "#d97706", "#059669", "#7c3aed", "#0891b2", "#be185d")


def _figure() -> tuple[Figure, object]:
    fig = Figure(figsize=(_W, _H), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig, ax


def _uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _labels(days: Sequence[date]) -> list[str]:
    return [d.strftime("%m-%d") for d in days]


def _thin_ticks(ax: object, n: int) -> None:
    step = max(1, n // 10)
    ax.set_xticks(range(0, n, step))  # type: ignore[attr-defined]


def questions_chart(daily: Sequence[DayRates]) -> str:
    fig, ax = _figure()
    labels = _labels([d.day for d in daily])
    ax.bar(range(len(daily)), [d.questions for d in daily], color=_COLOURS[0])  # type: ignore[attr-defined]
    _thin_ticks(ax, len(daily))
    ax.set_xticklabels(labels[::max(1, len(daily) // 10)])  # type: ignore[attr-defined]
    ax.set_ylabel("questions", fontsize=8)  # type: ignore[attr-defined]
    ax.set_title("Questions per day", fontsize=10)  # type: ignore[attr-defined]
    return _uri(fig)


def latency_chart(latency: Sequence[Latency]) -> str:
    fig, ax = _figure()
    xs = range(len(latency))
    p50 = [x.p50 or 0.0 for x in latency]
    p95 = [x.p95 or 0.0 for x in latency]
    ax.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50", color=_COLOURS[0])  # type: ignore[attr-defined]
    ax.bar([x + 0.2 for x in xs], p95, width=0.4, label="p95", color=_COLOURS[1])  # type: ignore[attr-defined]
    ax.set_xticks(list(xs))  # type: ignore[attr-defined]
    ax.set_xticklabels([x.stage for x in latency])  # type: ignore[attr-defined]
    ax.set_ylabel("seconds", fontsize=8)  # type: ignore[attr-defined]
    ax.legend(fontsize=8, frameon=False)  # type: ignore[attr-defined]
    ax.set_title("Latency per stage", fontsize=10)  # type: ignore[attr-defined]
    return _uri(fig)


def rates_chart(daily: Sequence[DayRates]) -> str:
    fig, ax = _figure()
    n = len(daily)
    series = (("thumbs-down", [d.thumbs_down for d in daily]), ("unsupported", [d.unsupported for d in daily]),
              ("stale citations", [d.stale for d in daily]), ("cache hits", [d.cache_hits for d in daily]))
    drawn = 0
    for i, (name, values) in enumerate(series):
        pts = [(x, 100 * v) for x, v in enumerate(values) if v is not None]
        if pts:
            drawn += 1
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=3,  # type: ignore[attr-defined]
                    label=name, color=_COLOURS[i + 1])
    ax.set_xlim(-0.5, n - 0.5)  # type: ignore[attr-defined]
    ax.set_ylim(0, 100)  # type: ignore[attr-defined]
    _thin_ticks(ax, n)
    ax.set_xticklabels(_labels([d.day for d in daily])[::max(1, n // 10)])  # type: ignore[attr-defined]
    ax.set_ylabel("% per day", fontsize=8)  # type: ignore[attr-defined]
    if drawn:
        ax.legend(fontsize=7, frameon=False, ncols=4, loc="upper left")  # type: ignore[attr-defined]
    ax.set_title("Quality rates", fontsize=10)  # type: ignore[attr-defined]
    return _uri(fig)


def tokens_chart(days: Sequence[date], usage: Sequence[ModelUsage], *, cost: bool = False) -> str:
    """Stacked tokens (or, with ``cost``, estimated USD of priced models) per day, one colour per model."""
    fig, ax = _figure()
    if cost:
        usage = [u for u in usage if u.cost is not None]
    models = sorted({u.model for u in usage})
    index = {d: i for i, d in enumerate(days)}
    bottom: list[float] = [0.0] * len(days)
    for i, model in enumerate(models):
        heights: list[float] = [0.0] * len(days)
        for u in usage:
            if u.model == model and u.day in index:
                heights[index[u.day]] += (u.cost or 0.0) if cost else u.prompt_tokens + u.completion_tokens
        ax.bar(range(len(days)), heights, bottom=bottom, label=model[:40],  # type: ignore[attr-defined]
               color=_COLOURS[i % len(_COLOURS)])
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    _thin_ticks(ax, len(days))
    ax.set_xticklabels(_labels(days)[::max(1, len(days) // 10)])  # type: ignore[attr-defined]
    ax.set_ylabel("USD" if cost else "tokens", fontsize=8)  # type: ignore[attr-defined]
    if models:
        ax.legend(fontsize=7, frameon=False)  # type: ignore[attr-defined]
    title = "Estimated cost per day per model" if cost else "Tokens per day per model"
    ax.set_title(title, fontsize=10)  # type: ignore[attr-defined]
    return _uri(fig)
