"""One line that says what machine a benchmark ran on, with two speed probes.

The same 2-core "development machine" has meant CPUs two to three times apart in speed
from one session to the next (an AMD EPYC of 2017 here, something faster before), so
numbers quoted side by side need the speed they were measured at: a pure-Python loop
(the GIL-bound part of serving) and a float32 matrix multiply in torch on one thread
(the embedding model's forward pass).
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def python_loop_s(n: int = 10_000_000) -> float:
    """Seconds for ``n`` iterations of a trivial Python loop (lower is faster)."""
    t = time.perf_counter()
    s = 0
    for i in range(n):
        s += i
    return time.perf_counter() - t


def matmul_gflops() -> float | None:
    """Single-thread float32 GEMM throughput in torch, the shape of a MiniLM layer."""
    try:
        import torch
    except ImportError:
        return None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(256, 384), torch.randn(384, 1536)
        for _ in range(3):
            a @ b
        n, t = 100, time.perf_counter()
        for _ in range(n):
            a @ b
        return 2 * 256 * 384 * 1536 * n / (time.perf_counter() - t) / 1e9
    finally:
        torch.set_num_threads(threads)


def describe() -> str:
    """``x86_64, 2 CPUs (AMD EPYC), Python 3.11.7; 10M-step Python loop 1.88 s, GEMM 32 GFLOPS/thread``."""
    gflops = matmul_gflops()
    speed = f"10M-step Python loop {python_loop_s():.2f} s"
    if gflops is not None:
        speed += f", torch GEMM {gflops:.0f} GFLOPS on one thread"
    return (f"{platform.machine()}, {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}; {speed}")
