"""Retrieval, citation and answer metrics: pure functions over ranked lists and case scores.

Everything here is arithmetic on values the runner already computed, so each metric can
be checked by hand (``tests/unit/eval/test_metrics.py`` does) and reused by benchmarks.
Conventions shared by every function:

- A ranked list is deduplicated keeping the first occurrence before it is cut at ``k``:
  the same file retrieved as three chunks occupies one rank, so a file-level list of
  chunk paths measures files, not chunks.
- Gold sets are sets: duplicates in ``gold`` count once.
- A metric with no gold is undefined and raises ``ValueError``; ``aggregate`` leaves
  cases without gold out of the gold-based means instead of scoring them 0.
- Rates over an empty population are ``None`` (shown as "n/a"), never 0: a set with no
  must-include checks has no must-include rate, which is not the same as failing them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

T = TypeVar("T")

DEFAULT_KS = (1, 3, 5, 10)


def _dedupe(ranked: Iterable[T]) -> list[T]:
    seen: set[T] = set()
    out: list[T] = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _gold_set(gold: Collection[str]) -> set[str]:
    g = set(gold)
    if not g:
        raise ValueError("the metric is undefined without gold items")
    return g


def _check_k(k: int | None) -> None:
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, not {k}")


def recall_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """Recall@k = |gold ∩ top-k(ranked)| / |gold|: how much of what is needed was found.

    ``k`` larger than the list just takes the whole list.
    """
    g = _gold_set(gold)
    _check_k(k)
    return len(g.intersection(_dedupe(ranked)[:k])) / len(g)


def hit_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """Hit@k, a.k.a. accuracy@k (Acc@k): 1.0 when any gold item is in the top k, else 0.0.

    The SWE-bench localization papers report this as "file accuracy@k".
    """
    g = _gold_set(gold)
    _check_k(k)
    return 1.0 if g.intersection(_dedupe(ranked)[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], gold: Collection[str], k: int | None = None) -> float:
    """1 / rank of the first gold item (ranks from 1, after deduplication), 0.0 when none
    appears in the top ``k`` (or anywhere when ``k`` is None). Its mean over cases is MRR."""
    g = _gold_set(gold)
    _check_k(k)
    items = _dedupe(ranked)
    for rank, item in enumerate(items[:k] if k is not None else items, 1):
        if item in g:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Collection[str], k: int = 10) -> float:
    """Normalised discounted cumulative gain with binary relevance.

    DCG@k = Σ_{i=1..k} rel_i / log2(i + 1), rel_i = 1 when the item at rank i is gold;
    IDCG@k is the DCG of the ideal list (all gold first): Σ_{i=1..min(|gold|, k)} 1 / log2(i + 1);
    nDCG@k = DCG@k / IDCG@k, in [0, 1]. Rewards finding *all* gold files *early*.
    """
    g = _gold_set(gold)
    _check_k(k)
    dcg = sum(1.0 / math.log2(i + 1) for i, item in enumerate(_dedupe(ranked)[:k], 1) if item in g)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(g), k) + 1))
    return dcg / idcg


def citation_precision(cited: Sequence[str], gold: Collection[str]) -> float | None:
    """|cited ∩ gold| / |cited| (distinct cited items): how many citations point at gold.

    ``None`` when nothing was cited: an answer that cites nothing has no precision (its
    failure shows in ``citation_recall`` and in the pass criteria instead).
    """
    g = _gold_set(gold)
    c = set(cited)
    if not c:
        return None
    return len(c & g) / len(c)


def citation_recall(cited: Sequence[str], gold: Collection[str]) -> float:
    """|cited ∩ gold| / |gold|: how much of the gold the answer actually cited (0.0 when nothing cited)."""
    g = _gold_set(gold)
    return len(g.intersection(cited)) / len(g)


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0-100) with linear interpolation, as ``numpy.percentile``'s default.

    With the values sorted ascending, position = (n - 1) * p / 100; the result interpolates
    between the two neighbouring values. ``None`` for no values.
    """
    if not 0 <= p <= 100:
        raise ValueError(f"percentile p must be within 0..100, not {p}")
    xs = sorted(float(v) for v in values)
    if not xs:
        return None
    pos = (len(xs) - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Iterable[float]) -> float | None:
    """The arithmetic mean, ``None`` for no values."""
    xs = [float(v) for v in values]
    return sum(xs) / len(xs) if xs else None


def rate(flags: Iterable[bool | None]) -> float | None:
    """The fraction of True among the values that are not ``None`` (``None`` = not checked)."""
    return mean(1.0 if f else 0.0 for f in flags if f is not None)


def chunk_hit_at_k(chunk_hits: Sequence[bool], k: int) -> float:
    """1.0 when any of the first ``k`` retrieved chunks matches a gold source."""
    _check_k(k)
    return 1.0 if any(chunk_hits[:k]) else 0.0


def chunk_reciprocal_rank(chunk_hits: Sequence[bool]) -> float:
    """1 / rank of the first retrieved chunk that matches a gold source, 0.0 when none does."""
    for rank, hit in enumerate(chunk_hits, 1):
        if hit:
            return 1.0 / rank
    return 0.0


def chunk_recall_at_k(chunk_gold: Sequence[Collection[int]], gold_count: int, k: int) -> float:
    """|gold entries matched by a top-k chunk| / gold_count, where ``chunk_gold[i]`` lists the
    indices of the gold entries that retrieved chunk i matches (lines overlap / symbol equal)."""
    _check_k(k)
    if gold_count < 1:
        raise ValueError("the metric is undefined without gold items")
    covered = {i for matched in chunk_gold[:k] for i in matched}
    return len(covered) / gold_count


# -- per-case scores and their aggregate --------------------------------------------------

@dataclass(frozen=True)
class CaseScore:
    """What the runner measured for one case; ``aggregate`` turns many into the run's metrics.

    File keys (``file_ranked``, ``gold_files``, ``cited_files``) are opaque strings the
    runner makes comparable (e.g. ``source:path``); chunk-level fields are per retrieved
    chunk, in rank order. ``None`` in a check means the case did not ask for it.
    """

    case_id: str
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # source names the case is about (from gold or filters)
    file_ranked: tuple[str, ...] = ()  # file keys of the retrieved chunks, in rank order
    chunk_hits: tuple[bool, ...] = ()  # per retrieved chunk: does it match a gold entry
    gold_files: tuple[str, ...] = ()
    cited_files: tuple[str, ...] = ()  # file keys of the sources the answer cited
    must_include_ok: bool | None = None  # every must_include present; None when the case has none
    must_not_ok: bool | None = None  # no must_not_include present; None when the case has none
    supported: bool | None = None  # answer grounded in its citations; None when not judged
    stale_cited: int = 0  # citations of sources marked stale or deprecated
    cited_total: int = 0  # all citations of the answer
    passed: bool = False
    timings: Mapping[str, float] = field(default_factory=dict)  # stage -> seconds
    skipped: str | None = None  # why the case was not run (excluded from every metric)
    # Optional, for chunk recall over several gold entries: per retrieved chunk, the indices
    # of the case's gold entries it matches; gold_count = number of gold entries.
    chunk_gold: tuple[tuple[int, ...], ...] = ()
    gold_count: int = 0

    @property
    def reciprocal_rank(self) -> float | None:
        """File-level reciprocal rank; ``None`` for a case without gold files."""
        return reciprocal_rank(self.file_ranked, self.gold_files) if self.gold_files else None

    def chunk_recall(self, k: int) -> float:
        """Chunk recall@k: exact with ``chunk_gold``; otherwise chunk hit@k (exact for one gold entry)."""
        if self.chunk_gold and self.gold_count > 0:
            return chunk_recall_at_k(self.chunk_gold, self.gold_count, k)
        return chunk_hit_at_k(self.chunk_hits, k)


def aggregate(scores: Sequence[CaseScore], ks: Sequence[int] = DEFAULT_KS) -> dict[str, float | None]:
    """The run's metrics: means over the cases that were run (skipped ones are only counted).

    - ``file_recall@k``, ``file_acc@k``, ``file_mrr``, ``file_ndcg@10``: means of
      ``recall_at_k``/``hit_at_k``/``reciprocal_rank``/``ndcg_at_k`` over cases with gold files.
    - ``chunk_acc@k``: fraction of cases with gold whose top-k chunks include a gold-matching
      chunk; ``chunk_mrr``: mean 1/rank of the first such chunk; ``chunk_recall@k``: mean
      fraction of gold entries matched by a top-k chunk (``CaseScore.chunk_recall``).
    - ``citation_precision``: mean over cases with gold that cited something;
      ``citation_recall``: mean over cases with gold.
    - ``must_include_rate``/``must_not_include_rate``: fraction of cases with such checks
      that pass them; ``unsupported_rate``: fraction of judged answers not supported.
    - ``stale_citation_rate``: Σ stale citations / Σ citations (pooled over cases).
    - ``pass_rate``: passed / run cases.
    - ``latency_<stage>_p50``/``_p95``: percentiles of each timed stage, in seconds.
    - ``cases``: all cases, ``skipped``: skipped ones, ``scored``: the rest.
    """
    run = [s for s in scores if s.skipped is None]
    gold = [s for s in run if s.gold_files]
    out: dict[str, float | None] = {"cases": len(scores), "skipped": len(scores) - len(run), "scored": len(run)}
    out["pass_rate"] = rate(s.passed for s in run)
    for k in ks:
        out[f"file_recall@{k}"] = mean(recall_at_k(s.file_ranked, s.gold_files, k) for s in gold)
    for k in ks:
        out[f"file_acc@{k}"] = mean(hit_at_k(s.file_ranked, s.gold_files, k) for s in gold)
    out["file_mrr"] = mean(reciprocal_rank(s.file_ranked, s.gold_files) for s in gold)
    out["file_ndcg@10"] = mean(ndcg_at_k(s.file_ranked, s.gold_files, 10) for s in gold)
    for k in ks:
        out[f"chunk_recall@{k}"] = mean(s.chunk_recall(k) for s in gold)
    for k in ks:
        out[f"chunk_acc@{k}"] = mean(chunk_hit_at_k(s.chunk_hits, k) for s in gold)
    out["chunk_mrr"] = mean(chunk_reciprocal_rank(s.chunk_hits) for s in gold)
    precisions = [citation_precision(s.cited_files, s.gold_files) for s in gold]
    out["citation_precision"] = mean(p for p in precisions if p is not None)
    out["citation_recall"] = mean(citation_recall(s.cited_files, s.gold_files) for s in gold)
    out["must_include_rate"] = rate(s.must_include_ok for s in run)
    out["must_not_include_rate"] = rate(s.must_not_ok for s in run)
    judged = [s.supported for s in run if s.supported is not None]
    out["unsupported_rate"] = rate(not s for s in judged)
    cited = sum(s.cited_total for s in run)
    out["stale_citation_rate"] = sum(s.stale_cited for s in run) / cited if cited else None
    stages: dict[str, list[float]] = defaultdict(list)
    for s in run:
        for stage, seconds in s.timings.items():
            if seconds is not None:
                stages[stage].append(seconds)
    for stage in sorted(stages):
        out[f"latency_{stage}_p50"] = percentile(stages[stage], 50)
        out[f"latency_{stage}_p95"] = percentile(stages[stage], 95)
    return out


NO_TAG = "(untagged)"
NO_SOURCE = "(no source)"


def breakdown(scores: Sequence[CaseScore], key: Literal["tag", "source"],
              ks: Sequence[int] = DEFAULT_KS) -> dict[str, dict[str, float | None]]:
    """``aggregate`` per tag or per source, sorted by name. A case with several tags (or
    sources) counts in each group; one with none lands in ``(untagged)``/``(no source)``."""
    if key not in ("tag", "source"):
        raise ValueError(f"breakdown key must be 'tag' or 'source', not {key!r}")
    groups: dict[str, list[CaseScore]] = defaultdict(list)
    for s in scores:
        names = s.tags if key == "tag" else s.sources
        for name in _dedupe(names) or [NO_TAG if key == "tag" else NO_SOURCE]:
            groups[name].append(s)
    return {name: aggregate(groups[name], ks) for name in sorted(groups)}
