"""The index job worker, the freshness histogram and the rendering helpers, on their own."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from assistant.container import Container
from assistant.errors import ConfigError, SourceError
from assistant.settings import load_settings
from tests.unit.ui.pages.conftest import FakeReport
from ui.pages.health import histogram
from ui.pages.jobs import IndexJobs
from ui.pages.render import age, safe_url


def _jobs(tmp_path: Path, reindex: Any) -> IndexJobs:
    return IndexJobs(Container(load_settings(home=tmp_path / "home")), reindex=reindex)


def test_jobs_run_one_at_a_time_in_order(tmp_path: Path) -> None:
    running: list[str] = []
    overlap: list[bool] = []
    gate = threading.Event()

    def reindex(container: Any, name: str, *, full: bool = False, progress: Any = None) -> FakeReport:
        overlap.append(bool(running))
        running.append(name)
        if name == "a":
            assert gate.wait(30)
        running.remove(name)
        return FakeReport(name)

    jobs = _jobs(tmp_path, reindex)
    a, b, c = (jobs.submit(n, requested_by="root") for n in "abc")
    assert jobs.submit("b", requested_by="alice") is b  # a queued job for b already exists
    assert b.state == "queued" and c.state == "queued"
    gate.set()
    for job in (a, b, c):
        assert jobs.wait(job.id, 30).state == "done"
    assert overlap == [False, False, False]
    assert [j.id for j in jobs.list()] == [c.id, b.id, a.id]
    jobs.close()


def test_a_failing_job_does_not_stop_the_worker(tmp_path: Path) -> None:
    def reindex(container: Any, name: str, *, full: bool = False, progress: Any = None) -> FakeReport:
        if name == "boom":
            raise RuntimeError("disk on fire")
        if name == "bad":
            raise SourceError("cannot clone https://git.example.com/bad.git")
        return FakeReport(name, status="failed", error="ref nope not found") if name == "ref" else FakeReport(name)

    jobs = _jobs(tmp_path, reindex)
    boom, bad, ref, ok = (jobs.submit(n, requested_by="root") for n in ("boom", "bad", "ref", "ok"))
    assert jobs.wait(boom.id, 30).state == "failed" and "RuntimeError" in (boom.error or "")
    assert "disk on fire" not in (boom.error or "")  # details go to the log, not the page
    assert jobs.wait(bad.id, 30).error == "cannot clone https://git.example.com/bad.git"
    assert jobs.wait(ref.id, 30).error == "ref nope not found" and ref.report["status"] == "failed"
    assert jobs.wait(ok.id, 30).state == "done" and ok.report["new"] == 1
    jobs.close()


def test_work_wraps_the_index_call(tmp_path: Path) -> None:
    seen: list[Any] = []
    jobs = _jobs(tmp_path, lambda c, name, full=False, progress=None: FakeReport(name))
    job = jobs.submit("app", requested_by="alice", label="mark fixed",
                      work=lambda index_now: seen.append(index_now("app").source))
    assert jobs.wait(job.id, 30).state == "done" and seen == ["app"]
    jobs.close()
    with pytest.raises(ConfigError, match="shutting down"):
        jobs.submit("app", requested_by="alice")


def test_histogram_buckets_by_age_of_last_change() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    dates = [now - timedelta(days=d) for d in (1, 29, 31, 89, 100, 364, 366, 1094, 1096, 5000)]
    assert [(b.label, b.count) for b in histogram(dates, now)] == \
        [("< 30 d", 2), ("< 90 d", 2), ("< 1 y", 2), ("< 3 y", 2), ("older", 2)]
    assert [b.percent for b in histogram([], now)] == [0.0] * 5


def test_only_web_links_become_hrefs() -> None:
    assert safe_url("https://git.example.com/a") == "https://git.example.com/a"
    assert safe_url("/owners") == "/owners"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "//evil.example/x", None):
        assert safe_url(bad) == ""


def test_age_reads_like_a_person_wrote_it() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert age(now - timedelta(days=400), now) == "1 year ago"
    assert age(now - timedelta(hours=5), now) == "5 hours ago"
    assert age(now, now) == "just now" and age(None) == "never"
