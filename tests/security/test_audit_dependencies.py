"""Promise 7, dependencies: floors above known advisories, a hashed lock for deployments
(torch excluded and pinned by hash on its own), and a `make audit` that cannot pass when
the vulnerability database was not reached."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from pip_audit_gate import verdict  # noqa: E402


def _locked() -> dict[str, tuple[str, list[str]]]:
    text = (ROOT / "requirements.lock").read_text()
    out = {}
    for block in re.split(r"\n(?=[a-z0-9])", text):
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", block)
        if m:
            out[m.group(1).lower().replace("_", "-")] = (m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return out


def test_lock_pins_every_dependency_with_hashes_and_leaves_torch_out() -> None:
    locked = _locked()
    assert "torch" not in locked and not any(n.startswith(("nvidia-", "triton")) for n in locked)
    assert all(hashes for _, hashes in locked.values())
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in map(Requirement, deps):
        name = dep.name.lower().replace("_", "-")
        if name == "torch":
            continue
        assert name in locked, f"{name} missing from requirements.lock (run `make lock`)"
        assert dep.specifier.contains(Version(locked[name][0]), prereleases=True), (dep, locked[name][0])
    torch = (ROOT / "requirements-torch.txt").read_text()
    assert "torch==2.13.0+cpu" in torch and re.search(r"--hash=sha256:[0-9a-f]{64}", torch)
    assert '"torch==2.13.0"' in (ROOT / "pyproject.toml").read_text()


def test_floors_sit_above_known_advisories() -> None:
    deps = {Requirement(d).name.lower(): Requirement(d)
            for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    for name, vulnerable in [("jinja2", "3.1.5"), ("python-multipart", "0.0.18"), ("pyjwt", "2.10.0"),
                             ("starlette", "0.47.1"), ("urllib3", "2.5.0"), ("requests", "2.32.3"),
                             ("gitpython", "3.1.40"), ("h11", "0.14.0")]:
        assert not deps[name].specifier.contains(vulnerable), f"{name} {vulnerable} still allowed"
    assert str(deps["chainlit"].specifier) == "==2.12.0"


def test_the_gate_fails_when_nothing_was_checked() -> None:
    unreachable = {"dependencies": [{"name": "jinja2", "version": "3.1.6",
                                     "skip_reason": "Dependency not found on PyPI and could not be audited"}]}
    code, lines = verdict(unreachable)
    assert code == 2 and "not reachable" in lines[-1] and "not a pass" in lines[-1]


def test_the_gate_fails_on_a_vulnerability_or_a_partly_checked_lock() -> None:
    vuln = {"dependencies": [{"name": "jinja2", "version": "3.1.4", "vulns": [
        {"id": "GHSA-q2x7-8rv6-6q7h", "fix_versions": ["3.1.5"]}]}, {"name": "idna", "version": "3.7", "vulns": []}]}
    code, lines = verdict(vuln)
    assert code == 1 and any("VULNERABLE jinja2 3.1.4: GHSA-q2x7-8rv6-6q7h (fixed in 3.1.5)" in x for x in lines)
    partial = {"dependencies": [{"name": "idna", "version": "3.7", "vulns": []},
                                {"name": "x", "version": "1", "skip_reason": "not found"}]}
    assert verdict(partial)[0] == 2
    clean = {"dependencies": [{"name": "idna", "version": "3.7", "vulns": []}]}
    assert verdict(clean) == (0, ["pip-audit: 1 locked package(s), 1 checked, 0 not checked, 0 with known "
                                  "vulnerabilities", "ok: no known vulnerabilities in the locked packages"])
    assert verdict({"dependencies": []})[0] == 2


def test_the_gate_fails_without_a_report(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "pip_audit_gate.py"), str(tmp_path / "none.json"),
                           "1"], capture_output=True, text=True)
    assert proc.returncode == 2 and "wrote no readable report" in proc.stderr


def test_make_test_does_not_run_the_audit() -> None:
    makefile = (ROOT / "Makefile").read_text()
    test_rule = re.search(r"^test:.*\n(?:\t.*\n)*", makefile, re.M).group(0)
    assert "audit" not in test_rule and "pip-audit" not in test_rule
    assert re.search(r"^audit:", makefile, re.M) and "tools/pip_audit_gate.py" in makefile
