"""The answer names what is wrong with a stale cited document (its staleness score and reason)."""

from __future__ import annotations

import dataclasses

from assistant.generation.citations import stale_warnings
from assistant.retrieval.retriever import to_passage
from assistant.models import Hit
from tests.unit.generation.passages import NOW, passage

LIMITS = {"code": 10_000, "docs": 10_000, "wiki": 10_000}
REASON = "`docs/billing.md` names `compute_invoice_total`, renamed to `invoice_total` in a1b2c3d"


def test_a_stale_cited_document_is_named_with_its_reason() -> None:
    doc = dataclasses.replace(passage(1, "docs/billing.md", "Totals...", kind="docs", language=None),
                              staleness=0.6, stale_reason=REASON)
    assert stale_warnings([(1, doc)], LIMITS, NOW) == [REASON + " [1]."]
    assert stale_warnings([(1, doc)], LIMITS, NOW, min_staleness=0.7) == []  # below the threshold
    low = dataclasses.replace(doc, staleness=0.15, stale_reason="`docs/billing.md` was last reviewed long ago")
    assert stale_warnings([(1, low)], LIMITS, NOW) == []  # age alone stays quiet
    nameless = dataclasses.replace(doc, stale_reason=None)
    assert stale_warnings([(2, nameless)], LIMITS, NOW) == ["docs/billing.md has open staleness findings [2]."]


def test_the_payload_carries_staleness_to_the_passage() -> None:
    p = to_passage(Hit("1", 0.5, {"doc_id": "d:a.md", "path": "a.md", "staleness": 0.84, "stale_reason": "x"}))
    assert (p.staleness, p.stale_reason) == (0.84, "x")
    assert to_passage(Hit("1", 0.5, {"doc_id": "d:a.md", "path": "a.md"})).staleness == 0.0
