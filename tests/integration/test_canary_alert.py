"""The canary eval end to end: the fixture corpus indexed with the real model, the
``fixture`` set run by ``sourcewise eval canary`` (the first run becomes the baseline),
retrieval weakened through settings (the lexical legs and boosts turned down, as an
operator's bad config change would), and the canary fails its gate: the CLI exits 1, an
alert row ``canary_gate:fixture`` opens and a real loopback webhook gets one post naming
the metrics that dropped. Restored, the canary passes against the last *passing* run and
the alert resolves with one "resolved" post."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.eval_corpus import SOURCES, build_corpus
from tests.integration.cli import run_cli, run_json
from tests.integration.test_alerts import Hook
from tests.integration.test_eval_gate import tolerances_without_latency

pytestmark = pytest.mark.slow

# sparse_weight must stay > 0 (a setting's bound); 0.01 leaves the lexical list next to nothing
WEAKENED = {"SOURCEWISE_RETRIEVAL__SPARSE_WEIGHT": "0.01", "SOURCEWISE_RETRIEVAL__EXACT_WEIGHT": "0",
            "SOURCEWISE_RETRIEVAL__SYMBOL_BOOST": "0", "SOURCEWISE_RETRIEVAL__PATH_BOOST": "0"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("canary")
    corpus = build_corpus(root / "corpus")
    home = root / "home"
    for name, _kind, flag in SOURCES:
        run_cli(home, "source", "add", name, flag, str(corpus[name]))
    assert [r["status"] for r in run_json(home, "index")] == ["ok"] * 3
    return home


def test_canary_gate_failure_raises_an_alert_and_a_pass_resolves_it(home: Path) -> None:
    hook = Hook()
    try:
        # latency off: the gate here judges retrieval, never how busy the machine is
        env = {"SOURCEWISE_ALERTS__WEBHOOK_URL": hook.url, "SOURCEWISE_UI__PUBLIC_URL": "https://sw.example",
               "SOURCEWISE_ALERTS__CANARY_TOLERANCES": str(tolerances_without_latency(home))}

        def canary(extra: dict[str, str] | None = None) -> tuple[int, dict, str]:
            proc = run_cli(home, "eval", "canary", "--set", "fixture", "--json", env={**env, **(extra or {})},
                           check=False)
            return proc.returncode, json.loads(proc.stdout), proc.stderr

        code, first, _ = canary()
        assert code == 0 and first["baseline_id"] is None and first["passed"], first
        assert hook.bodies == [] and run_json(home, "alerts", "list", env=env) == []

        code, weak, stderr = canary(WEAKENED)
        assert code == 1, stderr
        assert weak["baseline_id"] == first["id"] and not weak["passed"] and weak["failing_metrics"], weak
        assert "canary regression" in stderr and weak["failing_metrics"][0] in stderr
        [alert] = run_json(home, "alerts", "list", env=env)
        assert alert["key"] == "canary_gate:fixture" and alert["state"] == "open" and alert["posted"]
        assert alert["details"]["failing_metrics"] == weak["failing_metrics"]
        assert alert["details"]["run_id"] == weak["id"]
        [post] = hook.texts
        assert post.startswith("[Sourcewise ALERT] canary_gate:fixture")
        assert all(m in post for m in weak["failing_metrics"]), post
        assert f"https://sw.example/admin/health#alert-{alert['id']}" in post

        # a plain check while it stands posts nothing new
        assert run_json(home, "alerts", "check", env=env)["standing"] == ["canary_gate:fixture"]
        assert len(hook.bodies) == 1

        code, restored, stderr = canary()
        assert code == 0, stderr
        assert restored["baseline_id"] == first["id"] and restored["passed"]  # the failed run is no baseline
        assert run_json(home, "alerts", "list", env=env) == []
        [past] = run_json(home, "alerts", "list", "--all", env=env)
        assert past["state"] == "resolved" and past["id"] == alert["id"]
        assert len(hook.bodies) == 2 and hook.texts[1].startswith("[Sourcewise RESOLVED] canary_gate:fixture")
        runs = run_json(home, "eval", "list")
        assert [r["gate_passed"] for r in runs[:3]] == [True, False, None]
    finally:
        hook.close()
