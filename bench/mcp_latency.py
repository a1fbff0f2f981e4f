"""What the MCP door adds over the HTTP API: p50/p95 of ``search_code`` and ``get_source``
through the mounted MCP endpoint (stateless streamable HTTP, JSON responses) next to
``GET /api/search``, in-process (Starlette's TestClient), on the sample repository indexed
with the real pipeline, model and EdgeStore. The model loads before timing. Prints
numbers; asserts nothing.

    .venv/bin/python bench/mcp_latency.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUERIES = ["where do we retry failed payments?", "http client request method", "how do we deploy?",
           "legacy function", "retry policy backoff"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from assistant.api.app import create_app
    from assistant.catalog.tokens import TokenStore
    from assistant.container import Container
    from assistant.mcp.server import http_endpoint
    from assistant.settings import load_settings
    from indexers import admin
    from indexers.runner import index_source
    from tests.fixtures.gitrepo import make_sample_repo

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        repo = make_sample_repo(base / "repo")
        container = Container(load_settings(home=base / "home"))
        container.users.create("alice", groups=["eng"])
        admin.add_source(container, "app", "git", str(repo.path), actor="bench", groups=["everyone"], door="cli")
        index_source(container, "app")
        token = TokenStore(container.db).create("t", user="alice", groups=["eng"])[1]
        app = create_app(container)
        app.add_route("/mcp", http_endpoint(container, app.state.services, app.state.verify_token), methods=["POST"])
        auth = {"Authorization": f"Bearer {token}"}
        mcp_headers = {**auth, "Accept": "application/json, text/event-stream"}

        def api(q: str) -> None:
            assert client.get("/api/search", params={"q": q, "k": 8}, headers=auth).status_code == 200

        def mcp_search(q: str) -> None:
            r = client.post("/mcp", headers=mcp_headers, json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                            "params": {"name": "search_code", "arguments": {"query": q, "limit": 8}}})
            assert r.status_code == 200 and not r.json()["result"]["isError"], r.text

        def mcp_source(q: str) -> None:
            r = client.post("/mcp", headers=mcp_headers, json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                            "params": {"name": "get_source", "arguments": {"source": "app",
                                                                          "path": "payments/retry.py"}}})
            assert r.status_code == 200 and not r.json()["result"]["isError"], r.text

        with TestClient(app) as client:
            api(QUERIES[0])
            mcp_search(QUERIES[0])  # model and store warm
            for name, fn in (("GET /api/search", api), ("MCP search_code", mcp_search),
                             ("MCP get_source", mcp_source)):
                times = []
                for i in range(args.rounds):
                    t0 = time.perf_counter()
                    fn(QUERIES[i % len(QUERIES)])
                    times.append((time.perf_counter() - t0) * 1000)
                times.sort()
                p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
                print(f"{name:18s} n={len(times)} p50={statistics.median(times):7.1f} ms  p95={p95:7.1f} ms")
        container.close()


if __name__ == "__main__":
    main()
