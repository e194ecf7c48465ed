"""The app as production runs it: migrated, then hypercorn in a process of its own.

For tests that need a real server (browser tests, the crash test):

    with AppServer({"DATABASE_URL": url}, log_dir=tmp_path) as server:
        requests.get(server.url("/healthz"))
        server.kill()      # SIGKILL, as a crash
        server.start()     # again, on the same database

The server's environment is this process's, minus every smsproxy setting, plus what
the test passes: a developer's own DATABASE_URL or REDIS_URL never leaks in. It runs in
its own process group so that a kill reaches hypercorn's worker processes too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

from smsproxy.config import Settings

TEST_SECRET_KEY = "test-secret-key-for-the-server-subprocess"
START_TIMEOUT = 30.0


def wait_until_healthy(base_url: str, timeout: float, died: Callable[[], str | None]) -> bool:
    """Poll GET /healthz until it answers 200 (True) or `timeout` passes (False).

    `died` names why the server cannot come up any more (it exited), or returns None;
    a reason is raised at once instead of waiting out the timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reason = died()
        if reason is not None:
            raise RuntimeError(reason)
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    settings = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in settings}
    env.update({"SMSPROXY_ENV": "test", "SECRET_KEY": TEST_SECRET_KEY, "CARRIER": "sandbox"})
    env.update(overrides)
    return env


class AppServer:
    def __init__(
        self,
        env: Mapping[str, str],
        *,
        log_dir: Path,
        port: int | None = None,
        workers: int = 1,
    ) -> None:
        if "DATABASE_URL" not in env:
            raise ValueError("AppServer needs DATABASE_URL: tests never touch ./smsproxy.db")
        self.env = server_environment(env)
        self.log_dir = log_dir
        self.port = port or free_port()
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"server-{self.port}.log"

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def migrate(self) -> None:
        """What the Procfile's release step does."""
        result = subprocess.run(
            [sys.executable, "-m", "smsproxy", "db", "upgrade"],
            env=self.env,
            cwd=self.log_dir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"migration failed:\n{result.stdout}\n{result.stderr}")

    def start(self, timeout: float = START_TIMEOUT) -> AppServer:
        """Migrate, start hypercorn, and return once /healthz answers."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the server is already running")
        self.migrate()
        command = [
            sys.executable,
            "-m",
            "hypercorn",
            "smsproxy.app:create_app()",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
        ]
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                cwd=self.log_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self.starts += 1
        self._wait_until_healthy(timeout)
        return self

    def _wait_until_healthy(self, timeout: float) -> None:
        process = self.process
        assert process is not None

        def died() -> str | None:
            if process.poll() is None:
                return None
            return f"the server exited with {process.returncode}:\n{self.log_tail()}"

        if wait_until_healthy(self.base_url, timeout, died):
            return
        self.kill()
        raise RuntimeError(f"the server did not answer /healthz in {timeout} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, as a process manager stops it; SIGKILL if it does not go in time."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        finally:
            self._kill_group()

    def kill(self) -> None:
        """SIGKILL the server and its workers at once: a crash, nothing gets to clean up."""
        if self.process is None:
            return
        self._kill_group()
        self.process.wait(10)

    def _kill_group(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
