"""Docs trees and wiki exports through the real CLI, model and store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.gitrepo import GitRepo
from tests.integration.cli import run_cli, run_json, snapshot

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wiki"


def test_docs_mediawiki_confluence_and_git_wiki(tmp_path: Path) -> None:
    docs = tmp_path / "handbook"
    (docs / "ops").mkdir(parents=True)
    (docs / "ops" / "oncall.md").write_text(
        "---\nowner: sre-team\nlast_reviewed: 2023-05-01\n---\n# On-call\n\n## Paging\n\n"
        "Escalate a page after 15 minutes without acknowledgement.\n"
    )
    (docs / "intro.rst").write_text("Intro\n=====\n\nWelcome to the engineering handbook.\n")
    wiki_repo = GitRepo(tmp_path / "wiki")
    wiki_repo.write("Release-Process.md", "# Release process\n\nTag the release, then run the pipeline.\n")
    wiki_repo.commit("page", "2024-02-02T00:00:00+00:00", "Wendy Wiki <wendy@example.com>")
    confluence = tmp_path / "confluence"
    shutil.copytree(FIXTURES / "confluence-ENG", confluence)

    home = tmp_path / "home"
    run_cli(home, "source", "add", "handbook", "--docs", str(docs))
    run_cli(home, "source", "add", "mw", "--wiki", str(FIXTURES / "mediawiki-export.xml"))
    run_cli(home, "source", "add", "conf", "--wiki", str(confluence))
    run_cli(home, "source", "add", "gitwiki", "--wiki", str(wiki_repo.path))
    reports = {r["source"]: r for r in run_json(home, "index")}
    assert all(r["status"] == "ok" for r in reports.values()), reports
    assert reports["handbook"]["new"] == 2
    assert reports["mw"]["new"] == 3 and reports["conf"]["new"] == 3 and reports["gitwiki"]["new"] == 1

    points = snapshot(home)["points"].values()
    oncall = [p for p in points if p["path"] == "ops/oncall.md"]
    assert oncall and all(p["owner"] == "sre-team" and p["kind"] == "docs" for p in oncall)
    assert any(p["title"] and "Paging" in p["title"] for p in oncall)
    failover = [p for p in points if p["source"] == "mw" and "Database" in p["path"]]
    assert failover and failover[0]["author"] == "Chen Wei" and failover[0]["kind"] == "wiki"
    assert failover[0]["updated_at"].startswith("2024-01-18")
    guide = [p for p in points if p["source"] == "conf" and "Deployment" in p["path"]]
    assert guide and guide[0]["author"] == "Bob Okafor" and guide[0]["doc_title"] == "Deployment Guide"
    release = [p for p in points if p["source"] == "gitwiki"]
    assert release[0]["kind"] == "wiki" and release[0]["author"].startswith("Wendy Wiki")

    hits = run_json(home, "search", "how do I fail over the orders database", "--k", "3")
    assert "failover" in hits[0]["path"].lower()  # both wikis have a failover runbook
    assert {"mw", "conf"} <= {h["source"] for h in hits if "failover" in h["path"].lower()}
    hits = run_json(home, "search", "canary promotion error budget", "--source", "conf", "--k", "2")
    assert "Deployment" in hits[0]["path"]
    again = {r["source"]: r for r in run_json(home, "index")}
    assert sum(r["embedded"] for r in again.values()) == 0


def test_malformed_mediawiki_fails_that_source_only(tmp_path: Path) -> None:
    bad = tmp_path / "broken.xml"
    bad.write_text((FIXTURES / "mediawiki-export.xml").read_text()[:1500])
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "def a():\n    return 1\n")
    repo.commit("a", "2024-01-01T00:00:00+00:00")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "bad", "--wiki", str(bad))
    run_cli(home, "source", "add", "code", "--git", str(repo.path))
    proc = run_cli(home, "index", "--json", check=False)
    assert proc.returncode == 1
    import json

    reports = {r["source"]: r for r in json.loads(proc.stdout)}
    assert reports["code"]["status"] == "ok" and reports["code"]["new"] == 1
    assert reports["bad"]["status"] == "failed" and "Special:Export" in reports["bad"]["error"]
