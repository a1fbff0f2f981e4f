"""CPU cost of the metrics per question and per scrape, in-process (no server, no load).

Times ``Metrics.observe_answer`` with a full set of stage timings and tokens (what the
Answerer calls once per question), the cache counter, and ``render`` (one scrape) of the
registry after that. A complement to ``bench/chat_load.py`` with metrics on and off, whose
numbers on a shared machine move more than this costs. Prints numbers; asserts nothing.

    .venv/bin/python bench/metrics_cost.py [--n 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.metrics import Metrics  # noqa: E402
from assistant.settings import MetricsSettings, ModelPrice  # noqa: E402

TIMINGS = {"cache": 0.0004, "retrieve": 0.05, "retrieve.embed": 0.02, "retrieve.dense": 0.01, "generate": 0.3,
           "validate": 0.002, "total": 0.36, "first_token": 0.1}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=20000)
    n = p.parse_args().n
    m = Metrics(MetricsSettings(prices={"gpt-small": ModelPrice(prompt=0.15, completion=0.6)}), models=["gpt-small"])
    entries = ("chat", "api", "openai", "cli")
    t = time.perf_counter()
    for i in range(n):
        m.observe_cache(i % 3 == 0)
        m.observe_answer(channel=entries[i % 4], generator="openai", model="gpt-small", outcome="answered",
                         timings=TIMINGS, tokens={"prompt": 900, "completion": 120}, stale=i % 2)
    per_q = (time.perf_counter() - t) / n
    t = time.perf_counter()
    body = m.render()
    scrape = time.perf_counter() - t
    print(f"observe per question (cache + answer, 7 stages, TTFT, tokens, cost): {per_q * 1e6:.1f} us over {n:,}")
    print(f"one scrape (render, {len(body):,} bytes): {scrape * 1e3:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
