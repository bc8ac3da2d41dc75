"""Who answers the API during a local run: the engine hosted by the run, or an API it only calls.

The runner needs three things of whatever serves the API, and this module's ``EngineHost`` is
exactly that seam:

- ``start()`` brings it up and returns an ``EngineEndpoint``: the base URL the functions call
  and the API key they send (put into the emulated Secrets Manager, never on a command line);
- ``task_timings(task_id)`` returns the engine's own moments of one task (``created``,
  ``started``, ``completed``; Unix seconds as floats; empty when not known), which the runner
  needs because the API reports whole seconds only;
- ``stop()`` takes it down (called once, also after a failed run).

``runs_engine`` says whether the run brought an engine up (True) or calls one that runs
elsewhere (False: the vendor's API); the gallery and the summary report it.

Implementations here: ``InProcessEngine`` (the self-hosted engine in a thread of this process,
on loopback; the default; it also counts the tasks its key created, for benches) and
``ExternalApi`` (the vendor's, or any, API at ``--api-base-url``).
Another implementation plugs in through ``RunConfig.engine_host``: a factory that takes the
run's ``RunConfig`` and returns an object with this shape; ``host_for`` picks it when the run
has no ``api_base_url``. Nothing else in the runner knows which one it talks to.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .config import RunConfig, RunnerError

if TYPE_CHECKING:
    from correction_engine.server.stats import EngineStats
    from correction_engine.server.tasks import TaskStore


@dataclass(frozen=True)
class EngineEndpoint:
    base_url: str
    api_key: str = field(repr=False)  # never printed with the endpoint


class EngineHost(Protocol):
    runs_engine: bool

    def start(self) -> EngineEndpoint: ...

    def task_timings(self, task_id: str) -> dict[str, float]: ...

    def stop(self) -> None: ...


@contextmanager
def hosted(host: EngineHost) -> Iterator[EngineEndpoint]:
    """``host`` started for the duration of the block, stopped however the block ends."""
    endpoint = host.start()
    try:
        yield endpoint
    finally:
        host.stop()


class InProcessEngine:
    """The self-hosted engine on a free loopback port, in a thread of this process."""

    runs_engine = True

    def __init__(self, config: RunConfig) -> None:
        self._config = config
        self._api_key = secrets.token_urlsafe(24)  # a fresh key per run, known only here
        self._stack = ExitStack()
        self._store: TaskStore | None = None
        self._stats: EngineStats | None = None

    def start(self) -> EngineEndpoint:
        from correction_engine.server.background import run_in_thread
        from correction_engine.server.settings import EngineSettings

        settings = EngineSettings(api_keys=[self._api_key], rate_limit_qps=float(self._config.qps or 0))
        if self._config.engine_workers:
            settings.workers = self._config.engine_workers
        running = self._stack.enter_context(run_in_thread(settings))
        self._store, self._stats = running.engine.store, running.engine.stats
        return EngineEndpoint(running.base_url, self._api_key)

    def task_timings(self, task_id: str) -> dict[str, float]:
        from correction_engine.server.stats import task_timings

        if self._store is None:
            return {}
        return task_timings(self._store, self._api_key, task_id)

    def tasks_created(self) -> int:
        """Tasks this run's key created so far (benches price the API's credits with it)."""
        return self._stats.tasks_created(self._api_key) if self._stats is not None else 0

    def stop(self) -> None:
        self._store = None
        self._stack.close()


class ExternalApi:
    """An API this run only calls (the vendor's): its URL from the config, its key from the
    environment. Refused at construction, before anything is uploaded, when either is unfit."""

    runs_engine = False

    def __init__(self, config: RunConfig) -> None:
        url = str(config.api_base_url or "")
        key = os.environ.get(config.api_key_env, "").strip()
        if not key:
            raise RunnerError(
                f"--api-base-url needs the API key in the environment variable {config.api_key_env} "
                "(it is put into the emulated Secrets Manager, never on the command line)"
            )
        if not url.startswith("https://"):
            raise RunnerError(
                "the vendor's API is served over https; --api-base-url must start with https://"
            )
        self._endpoint = EngineEndpoint(url.rstrip("/"), key)

    def start(self) -> EngineEndpoint:
        return self._endpoint

    def task_timings(self, task_id: str) -> dict[str, float]:
        return {}  # the vendor's task store is not ours to look into

    def stop(self) -> None:
        pass


def host_for(config: RunConfig) -> EngineHost:
    """The host a run uses: the given API, else the configured engine, else the in-process one."""
    if not config.uses_engine:
        return ExternalApi(config)
    if config.engine_host is not None:
        return config.engine_host(config)
    return InProcessEngine(config)
