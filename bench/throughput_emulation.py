"""The local pipeline on a scaled clock, for bench/throughput.py: ``s`` real seconds per simulated one.

What is scaled: moto's Step Functions Wait and Retry back-off, the request budget's windows and
waits (RateBudget's own clock), a stand-in image operation that takes a simulated task time.
What Lambda gives each concurrent invocation and one process does not (its own handler module
and services) is given per invoking thread here.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from types import SimpleNamespace
from typing import Any

import numpy as np
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from correction_core.rate_budget import RateBudget
from correction_core.services import Services, services_scope
from correction_core.settings import Settings
from correction_local import lambda_bridge
from correction_local.template import PROJECT_ROOT, load_template

TEMPLATE = load_template()


@dataclass
class SimClock:
    """Simulated time: ``scale`` real seconds per simulated second, from a common origin."""

    scale: float
    origin_wall: float = field(default_factory=time.time)
    origin_mono: float = field(default_factory=time.monotonic)

    def wall(self) -> float:
        return self.origin_wall + (time.time() - self.origin_wall) / self.scale

    def monotonic(self) -> float:
        return self.origin_mono + (time.monotonic() - self.origin_mono) / self.scale

    def sleep(self, simulated: float) -> None:
        time.sleep(simulated * self.scale)


@dataclass
class ScaledRateBudget(RateBudget):
    """The real budget on the simulated clock; only its waits for the next window are scaled."""

    sim: SimClock | None = None

    def acquire_waiting(self, method: str, *, give_up_after: float, sleep: Any = None) -> None:
        assert self.sim is not None
        return super().acquire_waiting(method, give_up_after=give_up_after, sleep=self.sim.sleep)


@contextmanager
def scaled_time(sim: SimClock) -> Iterator[None]:
    """Put moto's state machine interpreter and the functions' request budget on ``sim``."""
    original_wait = WaitFunction._wait_interval
    original_time = retrier_decl.time
    original_budget = Services.__dict__["rate_budget"]

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * sim.scale)

    def rate_budget(self: Services) -> RateBudget | None:
        budget = original_budget.func(self)
        if budget is None:
            return None
        return ScaledRateBudget(table=budget.table, qps=budget.qps, clock=sim.wall, sim=sim)

    scaled_budget = cached_property(rate_budget)
    scaled_budget.__set_name__(Services, "rate_budget")
    WaitFunction._wait_interval = wait_interval  # type: ignore[method-assign]
    retrier_decl.time = SimpleNamespace(sleep=sim.sleep)  # type: ignore[assignment]
    Services.rate_budget = scaled_budget
    try:
        yield
    finally:
        WaitFunction._wait_interval = original_wait  # type: ignore[method-assign]
        retrier_decl.time = original_time
        Services.rate_budget = original_budget


def sleeping_operation(task_seconds: tuple[float, float], sim: SimClock, seed: int) -> Any:
    """Stands in for the image operation: returns the photo after a simulated task time."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def operate(image: np.ndarray) -> np.ndarray:
        with lock:
            seconds = rng.uniform(*task_seconds)
        sim.sleep(seconds)
        return image

    return operate


def submit_environment(stack: Any) -> dict[str, str]:
    """The submit function's own environment, resolved as build_stack resolves it."""
    submit = TEMPLATE["Resources"][stack.submit_function]["Properties"]
    variables = {
        **TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
        **submit["Environment"]["Variables"],
    }
    return {k: str(v) for k, v in stack.resolver.resolve(variables).items()}


def stretch_submit_deadlines(stack: Any, environment: dict[str, str], scale: float) -> dict[str, str]:
    """Above a scale of 1 a simulated create lasts longer in real time than the create's client
    timeouts and the function's timeout allow: stretch those by the scale (below 1 they stay
    real, so relatively longer), or every slow create would end as an unknown outcome."""
    if scale <= 1:
        return environment
    submit = TEMPLATE["Resources"][stack.submit_function]["Properties"]
    stack.client("lambda").update_function_configuration(
        FunctionName=stack.submit_function, Timeout=math.ceil(int(submit["Timeout"]) * scale)
    )
    stretched = dict(environment)
    for name in ("API_CONNECT_TIMEOUT", "API_READ_TIMEOUT"):
        stretched[name] = str(float(environment[name]) * scale)
    return stretched


def one_environment_per_invoker(stack: Any, scale: float) -> None:
    """Lambda runs each concurrent invocation in its own environment. In one process the submit
    module's batch processor and the core's per-invocation state (the budget wait left) would be
    shared between concurrent invocations, so each pump thread gets its own handler module and
    its own services, as a container of its own would."""
    local = threading.local()
    code_dir = PROJECT_ROOT / TEMPLATE["Resources"][stack.submit_function]["Properties"]["CodeUri"]
    environment = stretch_submit_deadlines(stack, submit_environment(stack), scale)
    ordinals = iter(range(1, 1_000_000))
    ttl = Settings().idempotency_ttl_seconds

    def handler(event: Any, context: Any) -> Any:
        if not hasattr(local, "handler"):
            local.handler = lambda_bridge.load_handler(code_dir, "app.lambda_handler")
            # Powertools' persistence layer is configured per call and is not meant to be shared
            # by two invocations at once (Lambda never does); the core caches one per (table,
            # TTL), so a TTL a few seconds apart gives each container its own over the same table.
            mine = {**environment, "IDEMPOTENCY_TTL_SECONDS": str(ttl + next(ordinals))}
            local.services = Services(settings=Settings.from_env({**os.environ, **mine}))
        with services_scope(local.services):
            return local.handler(event, context)

    lambda_bridge.register(stack.submit_function, handler, environment)
