"""Render ``/admin/health`` over a seeded catalog in a real Chromium and save the picture
the README shows (``docs/images/admin-health.png``).

It builds what the browser tests build (``tests/e2e/conftest.py``): the sample git repo
indexed by the CLI with the bundled model, an admin user, ``sourcewise serve`` in a
subprocess; then writes a month of interaction and feedback rows
(``tests/fixtures/health_log.py``, a planted documentation gap included) and signs in
through the real login form. Nothing is downloaded; Debian's ``/usr/bin/chromium`` is used.

Usage: PYTHONPATH=. python tools/screenshot_health.py [OUT.png] [--days 30]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.catalog.db import Database  # noqa: E402
from tests.e2e.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORDS,
    Server,
    Session,
    _free_port,
    _stop,
    _wait_healthy,
    cli,
    _env,
)
from tests.fixtures.gitrepo import make_sample_repo  # noqa: E402
from tests.fixtures.health_log import seed_health_log  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default=str(ROOT / "docs" / "images" / "admin-health.png"))
    ap.add_argument("--days", type=int, default=30, choices=(1, 7, 30))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sourcewise-health-shot-"))
    home = tmp / "home"
    proc = None
    try:
        repo = make_sample_repo(tmp / "repo")
        cli(home, "source", "add", "sample", "--git", str(repo.path))
        cli(home, "index")
        for user, extra in (("alice", ["--groups", "eng"]), ("root", ["--admin"])):
            cli(home, "user", "add", user, *extra, "--password-stdin", stdin=PASSWORDS[user] + "\n")
        db = Database(f"sqlite:///{home}/catalog.db")
        try:
            with db.engine.connect() as conn:
                doc_ids = [r[0] for r in conn.exec_driver_sql("SELECT doc_id FROM documents ORDER BY doc_id")]
            seed_health_log(db, doc_ids, days=args.days)
        finally:
            db.close()
        port = _free_port()
        log_path = tmp / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "sourcewise.cli", "serve", "--host", "127.0.0.1",
                                     "--port", str(port)], env=_env(home), cwd=tmp, stdout=log,
                                    stderr=subprocess.STDOUT)
        srv = Server(home, repo, port, proc, log_path, tmp)
        _wait_healthy(srv)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
            try:
                session = Session(browser, srv, "root").login()
                response = session.page.goto(f"/admin/health?days={args.days}")
                if response is None or response.status != 200:
                    raise SystemExit(f"/admin/health answered {response.status if response else 'nothing'}")
                session.page.locator("img.plot").last.wait_for()
                out = Path(args.out)
                out.parent.mkdir(parents=True, exist_ok=True)
                session.page.screenshot(path=str(out), full_page=True, animations="disabled", caret="hide")
                _shrink(out)
                print(f"wrote {out}")
            finally:
                browser.close()
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _shrink(path: Path) -> None:
    """A 256-colour palette: a UI screenshot at about a third of the size, looking the same."""
    from PIL import Image

    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


if __name__ == "__main__":
    raise SystemExit(main())
