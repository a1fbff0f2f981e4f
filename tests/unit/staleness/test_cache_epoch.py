"""Dismissing a staleness finding moves the answer cache's index version: a cached answer
would otherwise keep warning about a finding its owner closed."""

from __future__ import annotations

from assistant.catalog.interactions import InteractionLog
from tests.unit.staleness.test_lifecycle import renamed_world
from tests.unit.staleness.conftest import StaleWorld


def test_dismissing_a_finding_moves_the_index_version(stale: StaleWorld, tmp_path) -> None:
    renamed_world(stale, tmp_path)
    [f] = stale.findings()
    log = InteractionLog(stale.db)
    before = log.index_version()
    assert log.index_version() == before
    owner = stale.users.create("bea", password="bea-password", groups=["eng"], aliases=["@billing-team"])
    stale.service.dismiss(f.id, owner, "the old name is kept as an alias")
    assert log.index_version() != before
