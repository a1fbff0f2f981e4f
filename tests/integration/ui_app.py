"""The full server app (API + pages + chat) over a real catalog, answering from fixed passages.

Run as ``python -m tests.integration.ui_app HOME PORT``: a real uvicorn on 127.0.0.1
with the real Answerer and extractive generator; only retrieval is replaced (the
embedding model is not needed to test the chat's plumbing).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from assistant.answer import Answerer
from assistant.container import build
from assistant.generation.extractive import ExtractiveGenerator
from assistant.settings import load_settings
from tests.unit.generation.fakes import FakeRetriever
from tests.unit.generation.passages import passage

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def passages() -> list[Any]:
    code = ("def retry_failed_payment(payment):\n"
            f"    # {HOSTILE}\n"
            "    for attempt in range(5):\n"
            "        charge(payment)\n")
    return [
        passage(1, "payments/retry.py", code, symbol="retry_failed_payment", start_line=10),
        passage(2, "docs/deploy.md", "# Deploying\n\nFailed payments are retried five times.\n", kind="docs",
                language=None, title="Deploying", status="stale", stale_reason="mentions a removed flag",
                age_days=800),
    ]


def make_app(home: Path) -> Any:
    from ui.server import create_server_app

    settings = load_settings(home=home)
    container = build(settings)
    catalog = container.catalog
    if not any(s.name == "payments" for s in catalog.list_sources()):
        catalog.add_source("payments", "git", "/nowhere", access_groups=["everyone"])
    answerer = Answerer(FakeRetriever(passages()), ExtractiveGenerator(), catalog, settings)
    return create_server_app(container, answerer=answerer)


def main() -> None:
    import uvicorn

    home, port = Path(sys.argv[1]), int(sys.argv[2])
    uvicorn.run(make_app(home), host="127.0.0.1", port=port, workers=1, log_level="warning")


if __name__ == "__main__":
    main()
