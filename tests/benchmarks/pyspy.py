"""Where a server's time goes under load: py-spy on its process tree, and a summary.

With `--profile DIR`, the closed loop of each smsproxy app is sampled by
`py-spy record --idle --threads --native --subprocesses --format raw` (wall-clock
samples of every thread, C frames included), saved as DIR/<app>-closed.txt (collapsed
stacks: open it in speedscope or feed it to flamegraph.pl). The printed summary sorts
each thread's samples into what it was doing:

  event loop    waiting for I/O (idle) or running; when running, the share of samples
                inside each smsproxy file and library area (inclusive), and the top
                Python frames (self)
  database      aiosqlite's threads: waiting for SQLite's write lock (its busy handler
                sleeping), in SQLite otherwise, or idle (no statement to run)
  carrier       worker threads (asyncio.to_thread): sending, or idle

py-spy needs ptrace rights over the server (root, or kernel.yama.ptrace_scope=0).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

RATE = 50  # samples/s per thread: native unwinding of ~25 threads is not free
AREAS = {
    "SQLAlchemy ORM flush": ("sqlalchemy/orm/unitofwork",),
    "SQLAlchemy (all)": ("sqlalchemy/",),
    "aiosqlite/asyncpg calls": ("aiosqlite/", "asyncpg/"),
    "logging": ("logging/",),
    "JSON": ("json/",),
    "Jinja2": ("jinja2/",),
    "pydantic": ("pydantic",),
    "hypercorn + h11": ("hypercorn/", "h11/"),
    "Quart": ("quart/",),
}
SMSPROXY_FILE = re.compile(r"\((smsproxy/[^:)]+)")
LINE_NUMBER = re.compile(r":\d+\)")


class Profile:
    """A py-spy recording running in the background."""

    def __init__(self, pid: int, seconds: float, path: Path) -> None:
        self.path = path
        beside = Path(sys.executable).with_name("py-spy")  # in this venv, maybe not on PATH
        executable = str(beside) if beside.exists() else shutil.which("py-spy")
        self.error: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        if executable is None:
            self.error = "py-spy is not installed (pip install py-spy)"
            return
        command = [
            executable, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
            "--rate", str(RATE), "--idle", "--threads", "--native", "--subprocesses",
            "--format", "raw", "--output", str(path),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self) -> str:
        """Wait for py-spy; the summary (or why there is none)."""
        if self._process is not None:
            _, err = self._process.communicate(timeout=120)
            if self._process.returncode != 0 or not self.path.exists():
                self.error = f"py-spy failed: {err.decode(errors='replace').strip()[-300:]}"
        if self.error:
            return f"    profile: {self.error}"
        return summarize(self.path)


def _kind(thread: str, loops: set[str]) -> str:
    if "MainThread" in thread:
        # hypercorn's supervisor and multiprocessing's resource tracker run no loop
        return "event loop" if thread in loops else "other"
    if "_connection_worker_thread" in thread:
        return "database"
    if re.search(r"asyncio_\d+|ThreadPoolExecutor", thread):
        return "carrier"
    return "other"


def _state(kind: str, stack: str) -> str:
    if kind == "event loop":
        return "idle" if "select (selectors.py" in stack or "epoll_wait" in stack else "running"
    if kind == "database":
        if "sqlite3InvokeBusyHandler" in stack:
            return "waiting for the write lock"
        return "idle" if "SimpleQueue_get" in stack or "core.py:59)" in stack else "in the database"
    if kind == "carrier":
        return "sending" if "requests/" in stack or "vonage" in stack else "idle"
    return "other"


def summarize(path: Path) -> str:
    states: dict[str, Counter[str]] = defaultdict(Counter)
    threads: dict[str, set[str]] = defaultdict(set)
    areas: Counter[str] = Counter()
    files: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    samples = []
    for line in path.read_text().splitlines():
        stack, _, raw_count = line.rpartition(" ")
        if raw_count.isdigit():
            parts = [p for p in stack.split(";") if not p.startswith("process ")]
            thread = next((p for p in parts if p.startswith("thread ")), "")
            samples.append((thread, parts, stack, int(raw_count)))
    # A thread that ever ran asyncio's loop is an event loop; SQLAlchemy's greenlets run
    # on it with stacks that do not show the loop.
    loops = {thread for thread, _, stack, _ in samples if "asyncio/base_events.py" in stack}
    for thread, parts, stack, count in samples:
        kind = _kind(thread, loops)
        threads[kind].add(thread)
        state = _state(kind, stack)
        states[kind][state] += count
        if kind == "event loop" and state == "running":
            # Only what the loop is running (a task, a callback), not how it got there.
            dispatch = [n for n, p in enumerate(parts) if "Handle._run (asyncio/events.py" in p]
            parts = parts[dispatch[-1] + 1 :] if dispatch else parts
            stack = ";".join(parts)
            for area, needles in AREAS.items():
                areas[area] += count * any(needle in stack for needle in needles)
            for name in set(SMSPROXY_FILE.findall(stack)):
                files[name] += count
            python = [p for p in parts if ".py:" in p]
            if python:
                frames[LINE_NUMBER.sub(")", python[-1])] += count
    lines = [f"    profile ({path.name}, py-spy, wall-clock samples of every thread):"]
    for kind in ("event loop", "database", "carrier"):
        total = sum(states[kind].values())
        if not total:
            continue
        shares = ", ".join(f"{name} {n / total:.0%}" for name, n in states[kind].most_common())
        lines.append(f"      {len(threads[kind])} {kind} thread(s): {shares}")
    running = states["event loop"]["running"]
    if running:
        top = ", ".join(f"{name} {n / running:.0%}" for name, n in files.most_common(6))
        lines.append(f"      event loop running, inside: {top}")
        top = ", ".join(f"{name} {n / running:.0%}" for name, n in areas.most_common() if n)
        lines.append(f"      event loop running, in libraries: {top}")
        top = ", ".join(f"{name} {n / running:.0%}" for name, n in frames.most_common(5))
        lines.append(f"      event loop running, top frames (self): {top}")
    return "\n".join(lines)
