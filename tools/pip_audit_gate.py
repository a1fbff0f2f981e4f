"""Turn a ``pip-audit -f json`` report into a verdict that cannot pass by accident.

pip-audit prints "No known vulnerabilities found" and exits 0 even when it could not look
a single package up (the vulnerability service unreachable, every lookup "not found on
PyPI"). ``make audit`` runs this afterwards: it fails on any vulnerability, and also when
any locked package was not checked, saying so.

Usage: python tools/pip_audit_gate.py REPORT.json [PIP_AUDIT_EXIT_CODE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def verdict(report: dict, pip_audit_rc: int = 0) -> tuple[int, list[str]]:
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = len(deps) - len(skipped)
    lines = [f"pip-audit: {len(deps)} locked package(s), {audited} checked, {len(skipped)} not checked, "
             f"{len(vulnerable)} with known vulnerabilities"]
    for d in vulnerable:
        for v in d["vulns"]:
            fixed = ", ".join(v.get("fix_versions") or []) or "no fix yet"
            lines.append(f"  VULNERABLE {d['name']} {d.get('version')}: {v.get('id')} (fixed in {fixed})")
    if vulnerable:
        return 1, lines
    if deps and audited == 0:
        reasons = sorted({d["skip_reason"].split(":")[0] for d in skipped})
        lines.append("FAILED: the vulnerability database was not reachable; no package was checked "
                     f"({'; '.join(reasons)}). This is not a pass: run `make audit` where pip-audit's "
                     "service (PyPI's JSON API, or OSV with AUDIT_SERVICE=osv) answers.")
        return 2, lines
    if skipped:
        for d in skipped:
            lines.append(f"  NOT CHECKED {d['name']} {d.get('version')}: {d['skip_reason']}")
        lines.append("FAILED: some locked packages could not be checked (above)")
        return 2, lines
    if pip_audit_rc not in (0, 1):
        lines.append(f"FAILED: pip-audit exited {pip_audit_rc}")
        return 2, lines
    if not deps:
        lines.append("FAILED: the report lists no packages")
        return 2, lines
    lines.append("ok: no known vulnerabilities in the locked packages")
    return 0, lines


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[1])
    rc = int(argv[2]) if len(argv) > 2 else 0
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        print(f"FAILED: pip-audit wrote no readable report ({exc}); it exited {rc}", file=sys.stderr)
        return 2
    code, lines = verdict(report, rc)
    print("\n".join(lines), file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
