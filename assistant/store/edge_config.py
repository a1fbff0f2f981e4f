"""How a new qdrant-edge shard is laid out: ``EdgeTuning`` and the engine config it builds.

Why it exists: at a million chunks the 2026-12-05 layout spent 58 min in ``optimize()``
and 16.6 GB resident. gdb put the time in Qdrant's *payload-block* HNSW links: with
``payload_m`` left at its default, every keyword index builds an extra HNSW graph per
value block large enough to matter (``kind=code``, ``language=python``, ``status``,
``model_id``, ``owner`` ... each a near-full copy of the main graph). Only the filters a
dense query actually carries need them (the caller's ``access_groups`` and ``source``);
every other field keeps its index for filtering, deletes and counts but builds no links.
Dense vectors are kept as int8 (scalar quantization, in RAM) for the graph and the
search, and the float originals stay on disk (mmap) for rescoring the candidates. With
those gone, a segment build is mostly Qdrant parsing every payload once per payload index
(py-spy, 2026-12-07), and the engine's "auto" thread count built graphs on one of two
CPUs: so graphs use every usable CPU and fields nothing filters on have no index. Since
then the keyword fields without links share one index and everything the engine never
reads is one packed JSON string (``edge_payload``: 16 payload indexes became 7).

The tuning applies when a shard is *created*; an existing shard keeps its persisted
layout (``EdgeShard.load`` without a config), so old stores keep working unchanged and
pick the new layout up on a rebuild into a new store directory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import qdrant_edge as qe

from assistant.store.base import DENSE, FLOAT_FIELDS, INTEGER_FIELDS, KEYWORD_FIELDS, SPARSE
from assistant.store.edge_payload import TAGS, PayloadLayout

# The filters every retrieval's dense prefetches carry (``scoring.build_filter``); a
# selective value of these (one repository, a small group) is where the main graph alone
# loses recall, so their value blocks get their own HNSW links.
DENSE_FILTER_FIELDS = ("access_groups", "source")
# Fields the layout before 2026-12-07 also indexed (for ``legacy()`` benchmarks).
UNFILTERED_FIELDS = ("path", "symbol", "owner", "model_id")


@dataclass(frozen=True)
class EdgeTuning:
    """Layout of a new shard. ``legacy()`` is the layout before 2026-12-07 (for benchmarks)."""

    quantization: Literal["int8", "none"] = "int8"
    oversampling: float = 2.0  # int8 candidates per result, rescored with the float originals
    # The same for a keyword leg's prefetch (``KeywordLeg``: the dense query among the points
    # holding an exact identifier or path). The engine walks the graph ``max(ef, limit x
    # oversampling)`` wide, and a leg's filter (a symbol on 1 chunk in 12, say) makes every
    # step of that walk expensive: at 1M chunks the legs were half of ``Retriever.retrieve``.
    # At 1 the leg's top 10 is unchanged and its top 100 loses about 1 % (bench/oversampling.py),
    # while the dense lists keep 2 (at 1 their recall@10 fell from 0.97 to 0.87).
    leg_oversampling: float = 1.0
    payload_hnsw_fields: tuple[str, ...] = DENSE_FILTER_FIELDS
    hnsw_m: int = 16
    ef_construct: int = 100
    payload_m: int | None = 16  # None: Qdrant's default (= m)
    # A filtered sparse search scores each point the filter lets through against every
    # query term (cost: points x terms) when the filter may match fewer points of a segment
    # than this, and walks the terms' posting lists otherwise (cost: about that of the
    # unfiltered search). Qdrant's default, 5,000, suits a 12-term question; a 300-term one
    # (an issue pasted in) under a one-repository filter (5,000 of a segment's 100k chunks)
    # took 25-29 ms on 4 segments that way against 9 ms through the posting lists, while
    # 12-term questions and very selective filters (50 points) were unchanged at 2,000.
    # None: Qdrant's default.
    sparse_full_scan_threshold: int | None = 2_000
    # HNSW build threads. 0: every CPU this process may use (``usable_cpus``). Qdrant's own
    # "auto" leaves one CPU for searches, which on a 2-CPU machine builds every graph on one
    # thread (measured: optimize() of 100k chunks 87 s on one thread, 69 s on two).
    indexing_threads: int = 0
    vectors_on_disk: bool = True  # float originals mmapped; only the int8 copy is pinned
    legacy_indexes: bool = False  # plain ``PayloadSchemaType`` indexes, links for all
    # ``edge_payload.PayloadLayout``: keyword fields without HNSW links share one ``_tags``
    # index (instead of one index, and one pass over every payload per segment build,
    # each), and the fields the engine never reads are stored as one JSON string.
    compact_payload: bool = True
    # Optimizer settings of a new shard (None: the engine's default). Sizes are in KB of
    # float vector data, 1.5 KB per 384-dim chunk: 150,000 KB is 100k such chunks. With up
    # to 16 segments the optimizer builds each bounded segment once instead of merging
    # everything into one giant segment (and rebuilding its graph) on every ``optimize()``.
    max_segment_kb: int | None = 150_000
    indexing_threshold_kb: int | None = None
    default_segment_number: int | None = 16
    # Where the sparse index, payload indexes and id tracker of optimized segments live:
    # None keeps the engine's defaults (in RAM); "cold"/"cached" mmap them from disk.
    indexes_memory: Literal["cold", "cached"] | None = None
    # Not layout: ``EdgeStore.upsert`` calls ``optimize()`` itself once this many points were
    # upserted since the last one, so a bulk load's in-RAM appendable segment stays bounded
    # (None: only explicit ``optimize()`` calls, as before).
    optimize_every: int | None = 100_000

    @classmethod
    def legacy(cls) -> EdgeTuning:
        """The layout every shard had before: float vectors in RAM, links on every index."""
        return cls(quantization="none", payload_m=None, vectors_on_disk=False, legacy_indexes=True,
                   payload_hnsw_fields=KEYWORD_FIELDS + UNFILTERED_FIELDS, max_segment_kb=None,
                   default_segment_number=None, optimize_every=None, compact_payload=False,
                   sparse_full_scan_threshold=None)

    def payload_layout(self) -> PayloadLayout:
        """A new shard's payload layout: every keyword field without links folded into
        ``_tags``; the linked ones and the numeric fields stored as themselves; the rest packed."""
        if not self.compact_payload or self.legacy_indexes:
            return PayloadLayout()
        links = set(self.payload_hnsw_fields)
        folded = frozenset(f for f in KEYWORD_FIELDS if f not in links)
        engine = frozenset(f for f in KEYWORD_FIELDS if f in links) | set(INTEGER_FIELDS + FLOAT_FIELDS)
        return PayloadLayout(folded, frozenset(engine))

    def edge_config(self, dense_dim: int) -> qe.EdgeConfig:
        """The ``EdgeConfig`` a new shard is created with."""
        if self.legacy_indexes and self.quantization == "none" and not self.vectors_on_disk:
            return qe.EdgeConfig(
                vectors={DENSE: qe.EdgeVectorParams(size=dense_dim, distance=qe.Distance.Cosine)},
                sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            )
        quant = (
            qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Pinned)
            if self.quantization == "int8" else None
        )
        memory = qe.Memory.Cold if self.vectors_on_disk and quant is not None else None
        optimizers = None
        if (self.max_segment_kb, self.indexing_threshold_kb, self.default_segment_number) != (None,) * 3:
            optimizers = qe.EdgeOptimizersConfig(
                max_segment_size=self.max_segment_kb, indexing_threshold=self.indexing_threshold_kb,
                default_segment_number=self.default_segment_number,
            )
        return qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(
                size=dense_dim, distance=qe.Distance.Cosine, quantization_config=quant, memory=memory,
            )},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(
                modifier=qe.Modifier.Idf, memory=self._indexes_memory(),
                full_scan_threshold=self.sparse_full_scan_threshold)},
            id_tracker_memory=self._indexes_memory(),
            hnsw_config=qe.HnswIndexConfig(
                m=self.hnsw_m, ef_construct=self.ef_construct, full_scan_threshold=10_000,
                payload_m=self.payload_m, max_indexing_threads=self.indexing_threads or usable_cpus(),
            ),
            payload_memory=qe.Memory.Cold,
            optimizers=optimizers,
        )

    def _indexes_memory(self) -> qe.Memory | None:
        return {"cold": qe.Memory.Cold, "cached": qe.Memory.Cached}.get(self.indexes_memory or "")

    def search_params(self, leg: bool = False) -> qe.SearchParams | None:
        """Dense-prefetch params: rescore int8 candidates with the float originals
        (``leg``: a keyword leg's prefetch, with ``leg_oversampling``)."""
        if self.quantization == "none":
            return None
        oversampling = self.leg_oversampling if leg else self.oversampling
        return qe.SearchParams(quantization=qe.QuantizationSearchParams(
            rescore=True, oversampling=float(oversampling)))

    def payload_indexes(self, layout: PayloadLayout | None = None) -> list[tuple[str, object]]:
        """``(field, schema)`` for every payload index of a shard with ``layout`` (default: a
        new shard's), HNSW links only where wanted; folded fields share the ``_tags`` index."""
        layout = self.payload_layout() if layout is None else layout
        if self.legacy_indexes:
            out: list[tuple[str, object]] = [(f, qe.PayloadSchemaType.Keyword)
                                             for f in KEYWORD_FIELDS + UNFILTERED_FIELDS]
            out += [(f, qe.PayloadSchemaType.Integer) for f in INTEGER_FIELDS]
            return out + [(f, qe.PayloadSchemaType.Float) for f in FLOAT_FIELDS]
        links, mem = set(self.payload_hnsw_fields), self._indexes_memory()
        out = [(f, qe.KeywordIndexParams(enable_hnsw=f in links, memory=mem))
               for f in KEYWORD_FIELDS if f not in layout.tag_fields]
        if layout.tag_fields:
            out.append((TAGS, qe.KeywordIndexParams(enable_hnsw=False, memory=mem)))
        out += [(f, qe.IntegerIndexParams(lookup=True, range=True, enable_hnsw=False, memory=mem))
                for f in INTEGER_FIELDS]
        return out + [(f, qe.FloatIndexParams(enable_hnsw=False, memory=mem)) for f in FLOAT_FIELDS]


def cpu_quota(cpu_max: str) -> int | None:
    """CPUs a cgroup v2 ``cpu.max`` line ("200000 100000", "max 100000") allows, rounded up."""
    parts = cpu_max.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return max(1, -(-quota // period)) if quota > 0 and period > 0 else None


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this process may use: its affinity mask, capped by a container's CPU quota, so a
    pod limited to 2 CPUs on a 64-CPU node builds graphs on 2 threads, not 64."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        quota = cpu_quota(cgroup.read_text())
    except OSError:
        quota = None
    return max(1, min(cpus, quota) if quota else cpus)


def tuning_from(
    quantization: str = "int8", oversampling: float = 2.0,
    payload_hnsw_fields: Sequence[str] = DENSE_FILTER_FIELDS, optimize_every: int = 100_000,
    indexing_threads: int = 0,
) -> EdgeTuning:
    """``EdgeTuning`` from the ``store.edge_*`` settings (``optimize_every`` 0: never by itself)."""
    return EdgeTuning(quantization="none" if quantization == "none" else "int8",
                      oversampling=oversampling, payload_hnsw_fields=tuple(payload_hnsw_fields),
                      optimize_every=optimize_every or None, indexing_threads=indexing_threads)
