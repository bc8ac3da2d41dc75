"""Run the engine with real uvicorn in a background thread, on a free loopback port.

For the pipeline's integration tests and the local runner::

    settings = EngineSettings(api_keys=["test-key"])
    with run_in_thread(settings) as engine_url:
        httpx.post(f"{engine_url}/api/tasks/visual/correction", ...)
        engine_url.engine.stats.tasks_created("test-key")   # counters
        settings.faults.error_500_rate = 1.0                 # flip a fault at runtime

The yielded value is the base URL (a ``str``) that also carries ``.base_url``, ``.app``,
``.engine`` and ``.settings``. The port is bound before the thread starts (no race for a
"free" port); startup failures surface as exceptions in the caller; leaving the block stops
the server and its worker pool.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from .app import create_app
from .service import EngineService
from .settings import EngineSettings


class RunningEngine(str):
    """The base URL of a running engine, with handles on the app behind it."""

    base_url: str
    app: FastAPI
    engine: EngineService
    settings: EngineSettings

    def __new__(cls, base_url: str, app: FastAPI) -> RunningEngine:
        self = super().__new__(cls, base_url)
        self.base_url = base_url
        self.app = app
        self.engine = app.state.engine
        self.settings = app.state.settings
        return self


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def server_limits(settings: EngineSettings) -> dict[str, Any]:
    """uvicorn's connection limits from the settings; the CLI and the test server both use them."""
    return {
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keep_alive_seconds,
    }


@contextmanager
def run_in_thread(
    settings: EngineSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 15.0,
    shutdown_timeout: float = 10.0,
    log_level: str = "warning",
    app: FastAPI | None = None,
) -> Iterator[RunningEngine]:
    """``app``: an app already made from ``settings`` (the engine on other backends); default: the
    one-machine engine's."""
    app = app if app is not None else create_app(settings)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=max(1, int(shutdown_timeout / 2)),
        **server_limits(settings),
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=serve, name=f"correction-engine:{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if failure or not thread.is_alive():
            sock.close()
            app.state.engine.close()
            raise RuntimeError(f"engine server failed to start: {failure[0] if failure else 'thread exited'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(shutdown_timeout)
            sock.close()
            app.state.engine.close()
            raise RuntimeError(f"engine server did not start within {startup_timeout} s")
        time.sleep(0.005)

    url_host = f"[{host}]" if ":" in host else host
    try:
        yield RunningEngine(f"http://{url_host}:{bound_port}", app)
    finally:
        server.should_exit = True
        thread.join(shutdown_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(shutdown_timeout)
        sock.close()
        app.state.engine.close()  # idempotent; lifespan normally did it
