"""How many threads a new embedded store builds its graphs on (``usable_cpus``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.store.edge_config import EdgeTuning, cpu_quota, usable_cpus


@pytest.mark.parametrize(("line", "cpus"), [
    ("max 100000\n", None),  # no limit
    ("200000 100000\n", 2),
    ("150000 100000", 2),  # 1.5 CPUs: round up, the graph build may use the second one part-time
    ("50000 100000", 1),
    ("garbage", None),
    ("", None),
])
def test_cpu_quota_reads_cgroup_v2_cpu_max(line: str, cpus: int | None) -> None:
    assert cpu_quota(line) == cpus


def test_usable_cpus_is_capped_by_a_container_quota(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    limited = tmp_path / "cpu.max"
    limited.write_text("100000 100000\n")
    assert usable_cpus(limited) == 1
    limited.write_text("max 100000\n")
    assert usable_cpus(limited) == affinity
    assert usable_cpus(tmp_path / "missing") == affinity  # no cgroup v2: the affinity mask


def test_zero_threads_means_every_usable_cpu_and_a_number_is_kept() -> None:
    assert EdgeTuning().edge_config(8).hnsw_config.max_indexing_threads == usable_cpus()
    assert EdgeTuning(indexing_threads=3).edge_config(8).hnsw_config.max_indexing_threads == 3
