"""Gap selection and clustering on vectors built here (``assistant.ops.gaps``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from assistant.ops.gaps import Candidate, build_topics, cluster, gap_reasons, normalise
from assistant.settings import GapSettings
from tests.unit.ops.fakes import WordEmbedder


@dataclass
class Row:
    id: int
    answer: str | None = "text [1]"
    supported: bool | None = True
    retrieved: list[dict[str, Any]] = field(default_factory=lambda: [{"doc_id": "a:x.md", "score": 0.03}])


def test_gap_reasons() -> None:
    assert gap_reasons(Row(1), set(), 0.0) == ()
    assert gap_reasons(Row(1), {1}, 0.0) == ("missing_source",)
    assert gap_reasons(Row(2, supported=False), set(), 0.0) == ("unsupported",)
    assert gap_reasons(Row(3), set(), 0.05) == ("weak",)  # 0.03 < 0.05
    assert gap_reasons(Row(3, retrieved=[]), set(), 0.01) == ("weak",)
    assert gap_reasons(Row(3), set(), 0.0) == ()  # weak_score 0: off
    assert gap_reasons(Row(4, answer=None, supported=None), set(), 0.05) == ()  # refused: an ops problem, not a gap


def test_cluster_groups_by_average_similarity() -> None:
    v = normalise([[1, 0, 0], [0.95, 0.05, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.97, 0.03], [0, 0, 1]])
    assert cluster(v, 0.9) == [[0, 1, 2], [3, 4], [5]]
    assert cluster(v, 0.9999) == [[0], [1], [2], [3], [4], [5]]
    assert cluster(normalise([[1, 0]]), 0.5) == [[0]] and cluster(normalise([]), 0.5) == []


def test_build_topics_counts_examples_and_nearest_sources() -> None:
    qs = ["how do we rotate kafka certificates?", "rotate the kafka certificates how?",
          "kafka certificates rotation steps", "what colour is the logo?"]
    now = datetime.now(UTC)
    cands = [Candidate(10 + i, now, q, ({"doc_id": "ops:kafka.md", "score": 0.02 + i / 1000},
                                          {"doc_id": f"ops:other{i % 2}.md", "score": 0.01}), ("missing_source",))
             for i, q in enumerate(qs)]
    vectors = normalise(WordEmbedder().embed_documents(qs))
    topics = build_topics(cands, vectors, GapSettings(similarity=0.4, min_cluster_size=2), {"ops:kafka.md": "@alice"})
    assert len(topics) == 1
    t = topics[0]
    assert t.count == 3 and t.id == 10 and t.why == {"missing_source": 3}
    assert {e.question for e in t.examples} == set(qs[:3])
    assert t.sources[0].doc_id == "ops:kafka.md" and t.sources[0].hits == 3 and t.sources[0].owner == "@alice"
    assert t.sources[0].best_score == 0.022 and t.sources[0].source == "ops"
    assert build_topics(cands, vectors, GapSettings(similarity=0.4, min_cluster_size=4), {}) == []
    assert np.isclose(np.linalg.norm(vectors, axis=1), 1).all()
