"""Admin and owner actions from the CLI, on a real repo, the real model and EdgeStore:
users, a flag reaching its owner's queue, deprecation hiding a document from answers,
mark-fixed re-indexing, promotion to an eval case, and the audit log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.container import build
from assistant.settings import Settings
from tests.fixtures.gitrepo import make_sample_repo
from tests.integration.cli import run_cli, run_json

pytestmark = pytest.mark.slow


def feedback_in_catalog(home: Path, interaction_id: int, user: str) -> tuple[int, int]:
    """What the chat does when alice thumbs down and flags source [1] (no browser here)."""
    c = build(Settings(home=home))
    try:
        who = c.users.require(user).user()
        down = c.feedback.rate(interaction_id, who, "down", "outdated_source", "rollback changed")
        flag = c.feedback.flag(interaction_id, 1, who, "outdated", "we use helm now")
        return down, flag
    finally:
        c.close()


def paths(answer: dict) -> list[str]:
    return [p["citation"].split(":", 1)[1].split("#")[0] for p in answer["passages"]]


def test_owner_and_admin_actions_from_the_cli(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path))
    run_cli(home, "index")
    env = {**os.environ, "SOURCEWISE_HOME": str(home)}
    for name, extra in (("alice", ["--groups", "eng"]), ("plat", ["--aliases", "@platform-team"])):
        proc = subprocess.run([sys.executable, "-m", "sourcewise.cli", "user", "add", name, *extra,
                               "--password-stdin"], input="a-good-password\n", text=True, env=env,
                              capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    users = {u["name"]: u for u in run_json(home, "user", "list")}
    assert users["alice"]["groups"] == ["eng"] and users["plat"]["aliases"] == ["@platform-team"]
    bad = run_cli(home, "user", "add", "<x>", "--no-password", check=False)
    assert bad.returncode == 2 and "invalid user name" in bad.stderr

    answer = run_json(home, "ask", "how do we roll back a release?", "--user", "alice")
    assert answer["citations"] and paths(answer)[0] == "docs/deploy.md"
    down, flag = feedback_in_catalog(home, answer["interaction_id"], "alice")

    [item] = run_json(home, "owners", "queue", "--owner", "@platform-team")
    assert item["path"] == "docs/deploy.md" and item["flags"][0]["comment"] == "we use helm now"
    review = run_json(home, "feedback", "list")
    assert {(r["kind"], r["id"]) for r in review} == {("feedback", down), ("flag", flag)}

    run_cli(home, "feedback", "promote", "feedback", str(down), "--gold", "app:docs/deploy.md", "--set", "smoke")
    assert run_json(home, "feedback", "list", "--pending") == [r for r in review if r["kind"] == "flag"]

    run_cli(home, "owners", "deprecate", "app:docs/deploy.md", "--note", "replaced")
    after = run_json(home, "ask", "how do we roll back a release?", "--user", "alice")
    assert "docs/deploy.md" not in paths(after)
    run_cli(home, "owners", "deprecate", "app:docs/deploy.md", "--restore")
    again = run_json(home, "ask", "how do we roll back a release? make rollback", "--user", "alice")
    assert "docs/deploy.md" in paths(again)

    flag2 = feedback_in_catalog(home, again["interaction_id"], "alice")[1]
    repo.write("docs/deploy.md", repo.path.joinpath("docs/deploy.md").read_text().replace("make rollback", "helm rollback"))
    fixed_at = repo.commit("fix rollback docs", "2024-07-01T00:00:00+00:00")
    out = run_cli(home, "owners", "fix", "app:docs/deploy.md").stdout
    assert "closed 1 flag(s)" in out and flag2 > flag
    assert run_json(home, "owners", "queue") == []
    hits = run_json(home, "search", "helm rollback", "--k", "3")
    assert hits[0]["path"] == "docs/deploy.md" and hits[0]["commit"] == fixed_at

    everything = [e["action"] for e in run_json(home, "audit")]
    assert "question.answer" in everything  # every question is audited too
    actions = [a for a in everything if not a.startswith("question.")]
    assert actions[:4] == ["owner.fixed", "flag.create", "owner.restored", "owner.deprecated"]
    assert {"eval.promote", "source.add", "user.add"} <= set(actions)
