"""The app under hypercorn in a process of its own, with a probe thread inside it that
reports the process's memory (RSS, live objects, tracemalloc) to the benchmark.

    with ProbedServer({"DATABASE_URL": url, ...}, trace=False) as server:
        server.ask("pid")        # to point a profiler at (py-spy record -p PID)
        server.ask("rss")        # MB
        server.ask("cpu")        # seconds of CPU used so far
        server.ask("sockets")    # live sockets the app holds
        server.ask("trim")       # gc + malloc_trim(0): RSS before and after, and with
                                 # trace=True the object types and sites that grew
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import math
import multiprocessing
import os
import sys
import tempfile
import threading
import tracemalloc
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tests.server import free_port, wait_until_healthy

START_TIMEOUT = 300.0  # tracemalloc makes imports slow on a busy machine


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def malloc_stats() -> dict[str, float]:
    """glibc's heap: bytes in use by live allocations, and free bytes it keeps."""
    library = libc()
    if library is None or not hasattr(library, "mallinfo2"):
        return {}
    library.mallinfo2.restype = MallInfo2
    info = library.mallinfo2()
    return {
        "heap_in_use_mb": (info.uordblks + info.hblkhd) / 2**20,
        "heap_free_mb": info.fordblks / 2**20,
    }


def obmalloc_stats() -> dict[str, float]:
    """Python's small-object allocator: arenas held, and how much of them is live."""
    with tempfile.TemporaryFile(mode="w+") as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read()
    found: dict[str, float] = {}
    for line in text.splitlines():
        label, _, value = line.partition("=")
        label = label.strip()
        if label in ("# arenas allocated current", "# bytes in allocated blocks"):
            found[label.removeprefix("# ")] = int(value.strip().replace(",", ""))
    return {
        "arenas_mb": found.get("arenas allocated current", math.nan),  # 1 MiB each
        "objects_mb": found.get("bytes in allocated blocks", math.nan) / 2**20,
    }


class Probe:
    """Answers the benchmark's questions from a thread inside the server process."""

    def __init__(self, app: Any, trace: bool) -> None:
        self.app = app
        self.trace = trace
        self.snapshot: tracemalloc.Snapshot | None = None
        self.objects: Counter[str] = Counter()

    def sockets(self) -> int:
        from smsproxy.web.live import HUB_KEY

        return len(self.app.extensions[HUB_KEY])

    def trimmed(self) -> dict[str, Any]:
        """RSS before and after returning free heap to the system, and what is alive."""
        gc.collect()
        report: dict[str, Any] = {"before_trim": rss_mb(), **malloc_stats(), **obmalloc_stats()}
        library = libc()
        if library is not None:
            library.malloc_trim(0)
        report["after_trim"] = rss_mb()
        objects = Counter(type(item).__qualname__ for item in gc.get_objects())
        report["live_objects"] = sum(objects.values())
        report["grown_objects"] = (objects - self.objects).most_common(8)
        self.objects = objects
        if self.trace:
            report.update(self._growth())
        return report

    def _growth(self) -> dict[str, Any]:
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        grown: list[str] = []
        if self.snapshot is not None:
            for stat in snapshot.compare_to(self.snapshot, "lineno")[:12]:
                grown.append(str(stat))
        self.snapshot = snapshot
        traced, _ = tracemalloc.get_traced_memory()
        return {"grown_sites": grown, "traced_mb": traced / 2**20}


def serve(connection: Connection, env: dict[str, str], port: int, trace: bool) -> None:
    """Child process: run the app under hypercorn, answer probes until told to stop."""
    if trace:
        tracemalloc.start(8)
    os.environ.update(env)
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    from smsproxy.app import create_app

    app = create_app()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.backlog = 4096
    probe = Probe(app, trace)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def answer() -> None:
        questions: dict[str, Callable[[], Any]] = {
            "pid": os.getpid,
            "rss": rss_mb,
            "cpu": lambda: sum(os.times()[:2]),
            "sockets": probe.sockets,
            "trim": probe.trimmed,
        }
        while True:
            try:
                question = connection.recv()
            except EOFError:
                question = "stop"
            if question == "stop":
                loop.call_soon_threadsafe(stop.set)
                return
            try:
                connection.send(("ok", questions[question]()))
            except Exception as error:  # the benchmark reports it; the probe carries on
                connection.send(("error", repr(error)))

    threading.Thread(target=answer, daemon=True).start()
    loop.run_until_complete(hypercorn_serve(app, config, shutdown_trigger=stop.wait))


class ProbedServer:
    def __init__(self, env: dict[str, str], trace: bool) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=serve, args=(child, env, self.port, trace), name="smsproxy", daemon=True
        )

    def __enter__(self) -> ProbedServer:
        self._process.start()

        def died() -> str | None:
            return None if self._process.is_alive() else "the server exited"

        if not wait_until_healthy(f"http://127.0.0.1:{self.port}", START_TIMEOUT, died):
            raise RuntimeError("the server did not answer /healthz")
        return self

    def ask(self, question: str) -> Any:
        self._connection.send(question)
        outcome, answer = self._connection.recv()
        if outcome != "ok":
            raise RuntimeError(f"the server could not answer {question!r}: {answer}")
        return answer

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._connection.send("stop")
        self._process.join(15)
        if self._process.is_alive():
            self._process.kill()
