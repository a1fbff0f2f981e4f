"""Chat load: N concurrent Chainlit sessions against a running ``sourcewise serve`` (``extractive``).

What it measures, per question, over real Chainlit sessions on loopback (sign-in at
``/login``, socket.io at ``/ws/socket.io``, ``client_message`` as the web client sends
it; see ``bench/chat_load_client.py``):

- time to first token: ``client_message`` sent -> the first streamed token (or content)
  of the answer;
- time to the full answer: -> the final answer message (the one carrying
  ``interaction_id``), and to ``task_end`` (the chat takes the next question);
- errors by kind: refused or timed-out connections and sign-ins, questions with no first
  token / no answer within ``--timeout`` (default 30 s), error messages in the chat,
  dropped sockets, exceptions;
- cross-session leaks: every question carries a nonce ``ref-<tag>-<session>-<n>``; a
  session that receives another session's nonce, an event for another thread, a citation
  element for a step it never saw, or a step/thread id that another session also saw,
  counts a leak.

By default it builds its own world in a temp dir: a ``SOURCEWISE_HOME``, the sample git
repository of ``tests/fixtures/gitrepo.py`` (or ``--repo PATH``), ``sourcewise source add``
+ ``sourcewise index`` and ``sourcewise user add NAME --password-stdin`` for ``--users``
users (sessions take them round robin, so users hold several sessions each), then
``sourcewise serve`` on a free loopback port with ``SOURCEWISE_GENERATION__GENERATOR=extractive``.
One warm-up question loads the embedding model and is reported apart. Then all sessions
sign in and connect at once; when every session is connected (or failed) they all start
asking, each ``--questions`` questions in sequence, the next one after the previous
``task_end``. With ``--url`` it targets a running app instead (``--login NAME:PASSWORD``,
repeatable). Everything stops after ``--time-budget`` seconds (default 600) and reports
what it has; the server and the temp dir go in a ``finally``.

Prints a Markdown block; exits 0 whatever the numbers (a benchmark, not a test), 2 when
the world cannot be set up. The client runs on the same machine as the server and
competes with it for CPU, so the numbers are an upper bound for a real deployment.

    .venv/bin/python bench/chat_load.py [--sessions 50] [--questions 3] [--users 10] [--repo PATH]
    .venv/bin/python bench/chat_load.py --url http://127.0.0.1:8000 --login alice:secret --login bob:secret
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx
import machine
from chat_load_client import ChatSession, Leak, QuestionResult, SessionAborted

SAMPLE_QUESTIONS = [
    "how do we retry failed payments?",
    "what is RETRY_LIMIT and where is it used?",
    "how does RetryPolicy compute the backoff delay?",
    "what does HttpClient.send do?",
    "how do we roll back a deploy?",
    "who owns the payments code?",
    "which HTTP method does buildRequest use?",
    "where is the legacy function now?",
]
REPO_QUESTIONS = [
    "How does the pipeline decide which files to re-embed?",
    "Where are point ids computed?",
    "How are access groups enforced on queries?",
    "How does the git source compute per-file freshness?",
    "How is the sparse vector built from code identifiers?",
    "How are CODEOWNERS files used?",
    "Where is the embedding model loaded?",
    "How are symlinks in a git repository handled?",
    "What settings control the chunk size?",
    "How are deletions swept after a file is removed?",
]
SOURCE_GROUP = "eng"
HEALTH_TIMEOUT_S = 180
PERSIST_GRACE_S = 2.0


class SetupError(Exception):
    """The world could not be built (exit 2)."""


@dataclass
class World:
    base_url: str
    logins: list[tuple[str, str]]
    questions: list[str]
    described: str
    tmp: Path | None = None
    server: subprocess.Popen[bytes] | None = None
    server_log: Path | None = None
    setup_s: dict[str, float] = field(default_factory=dict)


@dataclass
class SessionOutcome:
    index: int
    user: str
    session: ChatSession | None = None
    open_error: str | None = None
    open_detail: str = ""
    results: list[QuestionResult] = field(default_factory=list)
    budget_stopped: bool = False


@dataclass
class Run:
    """Everything measured, for the report."""

    warm: SessionOutcome | None = None
    outcomes: list[SessionOutcome] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    stopped_by_budget: bool = False
    server_pid: int | None = None
    server_before: dict[str, float] = field(default_factory=dict)
    server_connected: dict[str, float] = field(default_factory=dict)  # when every session is connected
    server_after: dict[str, float] = field(default_factory=dict)
    client_cpu_s: float | None = None
    load_before: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    health_s: list[float] = field(default_factory=list)  # /healthz latency while the questions run
    health_errors: int = 0
    leaks: list[Leak] = field(default_factory=list)
    persisted: dict[str, int] = field(default_factory=dict)


# -- statistics -------------------------------------------------------------------------
def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (as ``bench/answer_latency.py``); NaN when empty."""
    v = sorted(values)
    if not v:
        return math.nan
    return v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))]


def fmt_s(x: float) -> str:
    if math.isnan(x):
        return "–"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


# -- building the world -----------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sourcewise_cmd() -> list[str]:
    script = Path(sys.executable).with_name("sourcewise")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sourcewise.cli"]


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCEWISE_", "CHAINLIT_"))}
    env.update(SOURCEWISE_HOME=str(home), SOURCEWISE_GENERATION__GENERATOR="extractive",
               PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path, *, stdin: str | None = None,
            timeout: float = 600) -> str:
    cmd = sourcewise_cmd() + args
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout,
                           check=False)
    except subprocess.TimeoutExpired as exc:
        raise SetupError(f"`sourcewise {' '.join(args)}` took over {timeout:.0f} s") from exc
    if p.returncode != 0:
        raise SetupError(f"`sourcewise {' '.join(args)}` exited {p.returncode}:\n{(p.stderr or p.stdout)[-2000:]}")
    return p.stdout


def build_world(args: argparse.Namespace, deadline: float) -> World:
    """Temp home, repo, source + index, users, ``sourcewise serve`` on a free port, /healthz."""
    tmp = Path(tempfile.mkdtemp(prefix="sw-chat-load-"))
    world = World("", [], [], "", tmp=tmp)
    try:
        home = tmp / "home"
        env = clean_env(home)
        t0 = time.perf_counter()
        if args.repo:
            repo, source, questions = Path(args.repo).resolve(), "self", REPO_QUESTIONS
            described = f"`{repo}` as source `self`"
        else:
            from tests.fixtures.gitrepo import make_sample_repo

            repo, source, questions = tmp / "repo", "sample", SAMPLE_QUESTIONS
            make_sample_repo(repo)
            described = "the sample repo of `tests/fixtures/gitrepo.py` as source `sample`"
        run_cli(["source", "add", source, "--git", str(repo), "--groups", SOURCE_GROUP], env, tmp)
        run_cli(["index"], env, tmp, timeout=max(30.0, deadline - time.monotonic()))
        world.setup_s["index"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(args.users):
            name, password = f"load{i:02d}", secrets.token_urlsafe(12)
            run_cli(["user", "add", name, "--groups", SOURCE_GROUP, "--password-stdin"], env, tmp,
                    stdin=password + "\n", timeout=120)
            world.logins.append((name, password))
        world.setup_s["users"] = time.perf_counter() - t0
        port = args.port or free_port()
        world.base_url = f"http://127.0.0.1:{port}"
        world.server_log = tmp / "server.log"
        t0 = time.perf_counter()
        serve_env = {**env, **dict(kv.split("=", 1) for kv in args.server_env)}  # e.g. metrics on/off
        with world.server_log.open("wb") as log:
            world.server = subprocess.Popen(sourcewise_cmd() + ["serve", "--host", "127.0.0.1", "--port", str(port)],
                                            env=serve_env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
        wait_healthy(world, min(deadline, time.monotonic() + HEALTH_TIMEOUT_S))
        world.setup_s["serve"] = time.perf_counter() - t0
        world.questions, world.described = questions, described
        return world
    except BaseException:
        stop_world(world, keep=args.keep)
        raise


def wait_healthy(world: World, until: float) -> None:
    while time.monotonic() < until:
        if world.server is not None and world.server.poll() is not None:
            raise SetupError(f"`sourcewise serve` exited {world.server.returncode}:\n{log_tail(world)}")
        try:
            if httpx.get(world.base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SetupError(f"{world.base_url}/healthz did not answer 200 in time:\n{log_tail(world)}")


def log_tail(world: World, chars: int = 3000) -> str:
    if world.server_log is None or not world.server_log.exists():
        return "(no server log)"
    return world.server_log.read_text(errors="replace")[-chars:]


def stop_world(world: World, *, keep: bool = False) -> None:
    proc = world.server
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    if world.tmp is not None:
        if keep:
            print(f"(kept {world.tmp})", file=sys.stderr)
        else:
            shutil.rmtree(world.tmp, ignore_errors=True)


def proc_stats(pid: int) -> dict[str, float]:
    """CPU seconds (user+system) and peak RSS (MiB) of a local process, from /proc (Linux)."""
    out: dict[str, float] = {}
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        out["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        out["sys_s"] = int(fields[12]) / os.sysconf("SC_CLK_TCK")
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return out


def server_log_problems(world: World) -> tuple[int, list[str]]:
    """Tracebacks in the server log and a few distinct error lines."""
    if world.server_log is None or not world.server_log.exists():
        return 0, []
    lines = world.server_log.read_text(errors="replace").splitlines()
    tracebacks = sum(1 for line in lines if line.startswith("Traceback"))
    seen: list[str] = []
    for i, line in enumerate(lines):
        interesting = ("ERROR" in line or "Exception" in line or "Error:" in line) and "INFO" not in line
        if line.startswith("Traceback"):
            nxt = next((x for x in lines[i + 1:] if x and not x.startswith((" ", "\t", "Traceback"))), "")
            line, interesting = nxt, bool(nxt)
        text = line.strip()[:240]
        if interesting and text not in seen:
            seen.append(text)
    return tracebacks, seen[:8]


# -- the load -----------------------------------------------------------------------------
def question_for(questions: list[str], tag: str, session: int, n: int) -> str:
    return f"{questions[(session * 7 + n) % len(questions)]} ref-{tag}-{session}-{n}"


async def open_session(base_url: str, index: int, login: tuple[str, str], nonce_re: re.Pattern[str],
                       args: argparse.Namespace) -> SessionOutcome:
    outcome = SessionOutcome(index, login[0])
    sess = ChatSession(base_url, index, login[0], login[1], nonce_re=nonce_re,
                       transports=args.transport.split(","), timeout_s=args.timeout)
    outcome.session = sess
    async with httpx.AsyncClient(timeout=args.timeout) as http:
        try:
            await sess.open(http, wait_chat_start=not args.eager)
        except SessionAborted as exc:
            outcome.open_error, outcome.open_detail = exc.kind, exc.detail[:300]
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            outcome.open_error, outcome.open_detail = "exception", f"{type(exc).__name__}: {exc}"[:300]
    return outcome


async def ask_all(outcome: SessionOutcome, tag: str, questions: list[str], args: argparse.Namespace,
                  deadline: float) -> None:
    sess = outcome.session
    assert sess is not None
    for n in range(args.questions):
        if time.monotonic() >= deadline:
            outcome.budget_stopped = True
            return
        res = await sess.ask(n, question_for(questions, tag, outcome.index, n))
        outcome.results.append(res)
        if res.error and (res.error.startswith("timeout") or res.error == "disconnected"):
            return  # the socket is gone or the server is stuck on this session: it stops here
        if args.think > 0:
            await asyncio.sleep(args.think)


async def close_all(outcomes: list[SessionOutcome]) -> None:
    await asyncio.gather(*(o.session.close() for o in outcomes if o.session is not None),
                         return_exceptions=True)


async def warm_up(world: World, tag: str, nonce_re: re.Pattern[str], args: argparse.Namespace) -> SessionOutcome:
    """One session, one question: the first answer loads the embedding model."""
    wargs = argparse.Namespace(**{**vars(args), "questions": 1, "think": 0.0, "eager": False,
                                  "timeout": max(args.timeout, 120.0)})
    outcome = await open_session(world.base_url, -1, world.logins[0], nonce_re, wargs)
    if outcome.open_error is None:
        res = await outcome.session.ask(0, f"{world.questions[0]} ref-{tag}-warmup-0")  # type: ignore[union-attr]
        outcome.results.append(res)
    await close_all([outcome])
    return outcome


async def probe_health(base_url: str, run: Run, stop: asyncio.Event) -> None:
    """``GET /healthz`` every 100 ms: how long the server's event loop keeps a trivial request waiting."""
    async with httpx.AsyncClient(timeout=10) as http:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                r = await http.get(base_url + "/healthz")
                if r.status_code == 200:
                    run.health_s.append(time.perf_counter() - t0)
                else:
                    run.health_errors += 1
            except httpx.HTTPError:
                run.health_errors += 1
            try:
                await asyncio.wait_for(stop.wait(), 0.1)
            except TimeoutError:
                pass


async def run_load(world: World, tag: str, nonce_re: re.Pattern[str], args: argparse.Namespace,
                   deadline: float, run: Run) -> None:
    """Open every session at once, then let them all ask; fills ``run.outcomes`` as it goes."""
    marks, outcomes = run.marks, run.outcomes
    marks["open_start"] = time.perf_counter()
    opened = await asyncio.gather(*(
        open_session(world.base_url, i, world.logins[i % len(world.logins)], nonce_re, args)
        for i in range(args.sessions)))
    outcomes.extend(opened)
    marks["open_end"] = time.perf_counter()
    if run.server_pid:
        run.server_connected = proc_stats(run.server_pid)
    live = [o for o in outcomes if o.open_error is None]
    stop = asyncio.Event()
    probe = asyncio.create_task(probe_health(world.base_url, run, stop))
    profiler = start_profiler(args.profile, run.server_pid)
    try:
        await asyncio.gather(*(ask_all(o, tag, world.questions, args, deadline) for o in live))
    finally:
        marks["ask_end"] = time.perf_counter()
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes what it has on Ctrl-C
        stop.set()
        await close_all(outcomes)
        await asyncio.gather(probe, return_exceptions=True)
        if profiler is not None:
            profiler.wait(30)


def start_profiler(path: str | None, pid: int | None) -> subprocess.Popen[bytes] | None:
    """``py-spy record --gil`` on the server for the question phase only: where the time
    that every question waits for (the GIL) goes. Needs py-spy (pip install py-spy)."""
    if not path or not pid:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    extra = os.environ.get("SOURCEWISE_BENCH_PYSPY", "--gil --nonblocking").split()  # --native: C frames too
    return subprocess.Popen([spy, "record", *extra, "-r", "250", "-f", "raw", "-p", str(pid), "-o", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cross_session_leaks(outcomes: list[SessionOutcome]) -> list[Leak]:
    """Step or thread ids seen by more than one session."""
    leaks: list[Leak] = []
    step_owner: dict[str, int] = {}
    thread_owner: dict[str, int] = {}
    for o in outcomes:
        s = o.session
        if s is None:
            continue
        s.finish_checks()
        for sid in s.step_ids:
            if sid in step_owner and step_owner[sid] != o.index:
                leaks.append(Leak(o.index, "shared-step", "*", f"step {sid} also seen by session {step_owner[sid]}"))
            step_owner.setdefault(sid, o.index)
        for tid in s.thread_ids_seen:
            if tid in thread_owner and thread_owner[tid] != o.index:
                leaks.append(Leak(o.index, "shared-thread", "*",
                                  f"thread {tid} also seen by session {thread_owner[tid]}"))
            thread_owner.setdefault(tid, o.index)
        leaks.extend(s.leaks)
    return leaks


def check_persisted(world: World, outcomes: list[SessionOutcome]) -> tuple[dict[str, int], list[Leak]]:
    """Read the catalog: is every answer's step stored, with its interaction id, in its own thread and user's?

    Only for a world built here (SQLite catalog under the temp home); read-only, while the
    server still runs. Returns counts and leaks (a step stored in another session's thread
    or a thread stored under another user).
    """
    counts: Counter[str] = Counter()
    leaks: list[Leak] = []
    if world.tmp is None:
        return {}, []
    path = world.tmp / "home" / "catalog.db"
    if not path.exists():
        return {"no catalog.db": 1}, []
    expected = [(o, r) for o in outcomes for r in o.results if r.answer_step is not None]
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
            for o, r in expected:
                row = db.execute("SELECT s.thread_id, s.interaction_id, s.output, t.user_name FROM chat_steps s "
                                 "LEFT JOIN chat_threads t ON t.id = s.thread_id WHERE s.id = ?",
                                 (r.answer_step,)).fetchone()
                if row is None:
                    counts["answer step missing"] += 1
                    continue
                thread_id, iid, output, owner = row
                counts["stored"] += 1
                if iid != r.interaction_id:
                    counts["stored without its interaction id"] += 1
                if not output:
                    counts["stored without its text"] += 1
                sess = o.session
                if sess is not None and sess.thread_id and thread_id != sess.thread_id:
                    leaks.append(Leak(o.index, "persisted-thread", "catalog",
                                      f"answer {r.answer_step} stored in thread {thread_id}, ours {sess.thread_id}"))
                if owner is not None and owner != o.user:
                    leaks.append(Leak(o.index, "persisted-owner", "catalog",
                                      f"thread {thread_id} stored for {owner!r}, asked by {o.user!r}"))
    except sqlite3.Error as exc:
        counts[f"unreadable: {exc}"] += 1
    counts["expected"] = len(expected)
    return dict(counts), leaks


# -- the report ---------------------------------------------------------------------------
def timing_row(label: str, values: list[float]) -> str:
    return (f"| {label} | {len(values)} | {fmt_s(pct(values, 50))} | {fmt_s(pct(values, 95))} | "
            f"{fmt_s(max(values) if values else math.nan)} |")


def report(args: argparse.Namespace, world: World, run: Run, wall_s: float) -> str:
    warm, outcomes, leaks, marks, persisted = run.warm, run.outcomes, run.leaks, run.marks, run.persisted
    results = [r for o in outcomes for r in o.results]
    ok = [r for r in results if r.error is None]
    ttft = [r.first_token_s for r in results if r.first_token_s is not None]
    full = [r.answer_s for r in ok if r.answer_s is not None]
    done = [r.done_s for r in ok if r.done_s is not None]
    connect = [o.session.connect_s for o in outcomes if o.session is not None and o.session.connect_s is not None]
    login = [o.session.login_s for o in outcomes if o.session is not None and o.session.login_s is not None]
    errors: Counter[str] = Counter(o.open_error for o in outcomes if o.open_error)
    errors.update(r.error for r in results if r.error)
    examples: dict[str, str] = {}
    for o in outcomes:
        if o.open_error and o.open_error not in examples:
            examples[o.open_error] = o.open_detail
    for r in results:
        if r.error and r.error not in examples:
            examples[r.error] = r.error_detail
    not_asked = args.sessions * args.questions - len(results)
    lines = [
        f"### Sourcewise chat load — {args.sessions} sessions x {args.questions} questions (extractive)",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        (f"- machine: {machine.describe()}; "
         "client and server on the same machine; load average when the load started "
         + "/".join(f"{x:.1f}" for x in run.load_before)),
        (f"- target: {world.base_url} ({'a running app' if args.url else 'spawned `sourcewise serve`'}; "
         f"{world.described}); transport {args.transport}; {len(world.logins)} users, sessions round robin"
         + ("; first questions sent before on_chat_start ends (--eager)" if args.eager else "")),
    ]
    if world.setup_s:
        lines.append("- setup: " + ", ".join(f"{k} {v:.1f} s" for k, v in world.setup_s.items()))
    if warm is not None:
        w = warm.results[0] if warm.results else None
        if w is None:
            lines.append(f"- warm-up (loads the model): failed to open: {warm.open_error} {warm.open_detail}")
        else:
            lines.append(f"- warm-up (first question, loads the model): first token {fmt_s(w.first_token_s or math.nan)}, "
                         f"answer {fmt_s(w.answer_s or math.nan)}" + (f", error {w.error}: {w.error_detail}"
                                                                      if w.error else ""))
    lines += [
        f"- questions: {len(results)} asked, {len(ok)} answered without error, {not_asked} not asked"
        + (" (time budget reached)" if run.stopped_by_budget else ""),
        "",
        "| measure | n | p50 | p95 | max |",
        "|---|---:|---:|---:|---:|",
        timing_row("time to first token", ttft),
        timing_row("full answer", full),
        timing_row("until the chat takes the next question (task_end)", done),
        timing_row("sign-in (/login)", login),
        timing_row("sign-in + socket connect" + ("" if args.eager else " + chat start"), connect),
        "",
    ]
    p95 = pct(ttft, 95)
    verdict = "met" if ttft and p95 < 1.0 and not errors and not leaks else "not met"
    lines.append(f"- target (p95 first token < 1 s, zero errors, zero leaks): {verdict} "
                 f"(p95 {fmt_s(p95)}, {sum(errors.values())} errors, {len(leaks)} leaks)")
    if errors:
        lines.append("- errors by kind: " + ", ".join(f"{k} {v}" for k, v in errors.most_common()))
        for k, v in examples.items():
            if v:
                lines.append(f"  - {k}, e.g.: `{v[:200]}`")
    else:
        lines.append("- errors: 0")
    if leaks:
        kinds = Counter(leak.kind for leak in leaks)
        lines.append("- cross-session leaks: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
        for leak in leaks[:5]:
            lines.append(f"  - session {leak.session} ({leak.event}): {leak.detail}")
    else:
        checked = sum(1 for o in outcomes if o.session is not None and o.session.events)
        lines.append(f"- cross-session leaks: 0 (nonces, thread ids, step ids, citation elements; "
                     f"{checked} sessions checked)")
    answered = [r for r in ok if r.answer_s is not None]
    if answered:
        lines.append(f"- answers: {pct([r.answer_chars for r in answered], 50):.0f} chars, "
                     f"{pct([r.tokens for r in answered], 50):.0f} streamed chunks, "
                     f"{pct([r.citations for r in answered], 50):.0f} citation elements (p50)")
    ask_s = marks.get("ask_end", 0) - marks.get("open_end", 0)
    if "ask_end" in marks and ask_s > 0:
        lines.append(f"- load phase: connect {marks['open_end'] - marks['open_start']:.1f} s, "
                     f"questions {ask_s:.1f} s ({len(ok) / ask_s:.1f} answers/s)")
    before, mid, after = run.server_before, run.server_connected, run.server_after
    cpu = [f"client (this process) {run.client_cpu_s:.1f} CPU s"] if run.client_cpu_s is not None else []
    if "cpu_s" in before and "cpu_s" in after:
        split = ""
        if "cpu_s" in mid:
            per = (after["cpu_s"] - mid["cpu_s"]) / max(1, len(results))
            split = (f" (sign-in + connect {mid['cpu_s'] - before['cpu_s']:.1f}, questions "
                     f"{after['cpu_s'] - mid['cpu_s']:.1f} = {per * 1000:.0f} ms per question, of which "
                     f"{after.get('sys_s', 0) - mid.get('sys_s', 0):.1f} s in the kernel)")
        cpu.insert(0, f"server {after['cpu_s'] - before['cpu_s']:.1f} CPU s{split}, peak RSS "
                      f"{after.get('VmHWM', math.nan):.0f} MiB")
    if cpu:
        lines.append("- during the load: " + "; ".join(cpu))
    if run.health_s or run.health_errors:
        h = run.health_s
        lines.append(f"- `/healthz` while the questions ran (event-loop responsiveness): p50 {fmt_s(pct(h, 50))}, "
                     f"p95 {fmt_s(pct(h, 95))}, max {fmt_s(max(h) if h else math.nan)} over {len(h)} probes"
                     + (f", {run.health_errors} failed" if run.health_errors else ""))
    if persisted:
        exp, stored = persisted.get("expected", 0), persisted.get("stored", 0)
        extra = {k: v for k, v in persisted.items() if k not in ("expected", "stored")}
        lines.append(f"- chat history in the catalog: {stored}/{exp} answers stored"
                     + ("; " + ", ".join(f"{k} {v}" for k, v in extra.items()) if extra else ", all complete"))
    if not args.url:
        tracebacks, problems = server_log_problems(world)
        lines.append(f"- server log: {tracebacks} tracebacks" + (", errors:" if problems else ""))
        lines += [f"  - `{p}`" for p in problems]
    lines.append(f"- total wall: {wall_s:.1f} s (budget {args.time_budget:.0f} s)")
    return "\n".join(lines)


# -- entry point --------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=50, help="concurrent chat sessions (default 50)")
    p.add_argument("--questions", type=int, default=3, help="questions per session, in sequence (default 3)")
    p.add_argument("--users", type=int, default=10, help="users to create; sessions take them round robin")
    p.add_argument("--repo", default=None, help="index this git repository instead of the sample repo")
    p.add_argument("--url", default=None, help="target a running app (no world is built)")
    p.add_argument("--login", action="append", default=[], metavar="NAME:PASSWORD",
                   help="with --url: a user to sign in as (repeatable; round robin)")
    p.add_argument("--port", type=int, default=0, help="port for the spawned server (default: a free one)")
    p.add_argument("--timeout", type=float, default=30.0, help="bound per question and per connection, s")
    p.add_argument("--think", type=float, default=0.0, help="pause between a session's questions, s")
    p.add_argument("--eager", action="store_true",
                   help="ask the first question as soon as the socket connects, before on_chat_start ends")
    p.add_argument("--transport", default="websocket",
                   help="socket.io transports, comma-separated (the browser: polling,websocket)")
    p.add_argument("--time-budget", type=float, default=600.0, help="stop and report after this many s")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server log, home)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the spawned server, e.g. SOURCEWISE_METRICS__ENABLED=false")
    p.add_argument("--profile", default=None, metavar="PATH",
                   help="write a py-spy profile (raw, GIL-holding samples) of the server's question phase")
    args = p.parse_args(argv)
    if args.url and not args.login:
        p.error("--url needs at least one --login NAME:PASSWORD")
    if args.sessions < 1 or args.questions < 1 or args.users < 1:
        p.error("--sessions, --questions and --users must be at least 1")
    return args


async def main_async(args: argparse.Namespace, world: World, start: float) -> Run:
    deadline = start + args.time_budget
    tag = secrets.token_hex(3)
    nonce_re = re.compile(rf"ref-{tag}-(\d+)-(\d+)")
    run = Run()
    run.warm = await warm_up(world, tag, nonce_re, args)
    if run.warm.open_error is not None:
        raise SetupError(f"the warm-up session could not open ({run.warm.open_error}): {run.warm.open_detail}\n"
                         f"{log_tail(world) if world.server is not None else ''}")
    pid = run.server_pid = world.server.pid if world.server is not None else None
    run.load_before = os.getloadavg()
    run.server_before = proc_stats(pid) if pid else {}
    cpu0 = time.process_time()
    try:
        await asyncio.wait_for(run_load(world, tag, nonce_re, args, deadline, run),
                               max(1.0, deadline - time.monotonic()))
    except TimeoutError:
        run.stopped_by_budget = True
    run.client_cpu_s = time.process_time() - cpu0
    run.server_after = proc_stats(pid) if pid else {}
    run.stopped_by_budget = run.stopped_by_budget or any(o.budget_stopped for o in run.outcomes)
    return run


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the server and remove the temp dir
    start = time.monotonic()
    world: World | None = None
    try:
        if args.url:
            logins = [tuple(x.split(":", 1)) for x in args.login]
            if any(len(x) != 2 for x in logins):
                raise SetupError("--login takes NAME:PASSWORD")
            world = World(args.url.rstrip("/"), logins, SAMPLE_QUESTIONS if not args.repo else REPO_QUESTIONS,
                          "questions about the sample repo" if not args.repo else "questions about this repository")
        else:
            world = build_world(args, start + args.time_budget)
        print(f"chat load: {args.sessions} sessions x {args.questions} questions against {world.base_url}",
              file=sys.stderr, flush=True)
        run = asyncio.run(main_async(args, world, start))
        run.leaks = cross_session_leaks(run.outcomes)
        if not args.url:
            time.sleep(PERSIST_GRACE_S)  # the data layer writes after the answer is shown
            run.persisted, stored_leaks = check_persisted(world, run.outcomes)
            run.leaks += stored_leaks
        print(report(args, world, run, time.monotonic() - start))
        return 0
    except SetupError as exc:
        print(f"chat load: setup failed: {exc}", file=sys.stderr)
        return 2
    finally:
        if world is not None and not args.url:
            stop_world(world, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
