"""The real app, served by hypercorn on a free port in a thread of this process.

The server thread has its own event loop. A test reaches the app's objects (the
Runtime, the LiveHub) on that loop with `await server.run(coroutine)`, so what it does
there happens exactly as a request handler would do it. Browser tests and the API
fuzzing test serve the app this way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from smsproxy.runtime import Runtime
from smsproxy.web.live import HUB_KEY, LiveHub
from tests.server import wait_until_healthy

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

T = TypeVar("T")


class LiveServer:
    """The app under hypercorn in a background thread with its own event loop."""

    def __init__(self, app: Quart, port: int) -> None:
        self.app = app
        self.port = port
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"hypercorn-{port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def runtime(self) -> Runtime:
        value: Runtime = self.app.extensions["smsproxy"]
        return value

    @property
    def hub(self) -> LiveHub:
        value: LiveHub = self.app.extensions[HUB_KEY]
        return value

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported by start() or stop()
            self._error = error

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.graceful_timeout = 3.0
        config.accesslog = None
        await serve(self.app, config, shutdown_trigger=self._stop.wait)

    def start(self) -> None:
        """Serve, and return once /healthz answers."""
        self._thread.start()

        def died() -> str | None:
            if self._thread.is_alive():
                return None
            return f"the server stopped while starting: {self._error!r}"

        if wait_until_healthy(self.base_url, START_TIMEOUT, died):
            return
        self.stop()
        raise RuntimeError(f"the server did not answer /healthz within {START_TIMEOUT} s")

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own
                self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(STOP_TIMEOUT)
        if self._thread.is_alive():
            raise RuntimeError(f"the server did not stop within {STOP_TIMEOUT} s")
        if self._error is not None:
            raise RuntimeError("the server thread failed") from self._error

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start a coroutine on the server's loop, as a request handler would run it."""
        assert self.loop is not None, "the server is not running"
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop and return its result."""
        return await asyncio.wrap_future(self.submit(coroutine))
