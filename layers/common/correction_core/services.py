"""The clients one Lambda container needs, built once and lazily.

Handlers call ``get_services()``; tests and the local runner call ``reset_services()`` after
changing the environment, so each run sees the settings it set up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
import httpx

from .client import CorrectionClient, RetryPolicy, request_budget_seconds
from .errors import BudgetExhausted
from .observability import MetricUnit, metrics
from .rate_budget import RateBudget
from .redaction import install_log_redaction, register_secret
from .settings import Settings, get_settings

if TYPE_CHECKING:  # imported where first used: Submit needs neither, and pays for each at cold start
    from .completion_events import EventPublisher
    from .result_refs import ResultRefs

# Secrets Manager is read at most every 5 minutes per container; a rotated key is seen within that.
SECRET_MAX_AGE_SECONDS = 300

# Inside a Lambda the state machine owns long retries; the client only absorbs short blips.
LAMBDA_RETRY = RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=2.0)


def api_timeout(settings: Settings) -> httpx.Timeout:
    """The API client's timeouts, from the settings (write like read, pool like connect)."""
    return httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.read_timeout,
        pool=settings.connect_timeout,
    )


def create_call_seconds(settings: Settings) -> float:
    """The longest one create call can take once it holds a budget token (all attempts)."""
    return request_budget_seconds(api_timeout(settings), LAMBDA_RETRY)


#: Secrets Manager answers in tens of milliseconds; botocore's defaults (60 s timeouts, retries)
#: could hold a cold container far longer, eating the time a create was promised. The fetch is
#: bounded to 2 attempts x (1 + 2 s) and is in any case done before the "time to finish" check.
SECRET_FETCH_CONFIG = {"connect_timeout": 1, "read_timeout": 2, "retries": {"total_max_attempts": 2}}


def _api_key_from_secrets_manager(secret_id: str) -> Callable[[], str]:
    provider: Any = None

    def fetch() -> str:
        nonlocal provider
        from aws_lambda_powertools.utilities.parameters import SecretsProvider
        from botocore.config import Config

        install_log_redaction()  # before the call: botocore logs the secret's body at DEBUG
        if provider is None:  # one provider per container: it holds the max_age cache
            provider = SecretsProvider(boto_config=Config(**SECRET_FETCH_CONFIG))
        raw = provider.get(secret_id, max_age=SECRET_MAX_AGE_SECONDS)
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        key = key.strip()
        register_secret(key)
        return key

    return fetch


@dataclass
class Services:
    settings: Settings
    transport: httpx.BaseTransport | None = None
    api_key: Callable[[], str] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    #: Asked immediately before each create attempt is sent, with the most that create can still
    #: take (seconds); raises to refuse sending (submission: not enough time left to finish it).
    create_guard: Callable[[float], None] | None = None

    @cached_property
    def s3(self) -> Any:
        return boto3.client("s3")

    @cached_property
    def sfn(self) -> Any:
        return boto3.client("stepfunctions")

    @cached_property
    def rate_budget(self) -> RateBudget | None:
        settings = self.settings
        if not settings.rate_budget_table or settings.api_qps <= 0:
            return None
        table = boto3.resource("dynamodb").Table(settings.rate_budget_table)
        return RateBudget(table=table, qps=settings.api_qps)

    @cached_property
    def result_refs(self) -> ResultRefs | None:
        if not self.settings.result_refs_table:
            return None
        from .result_refs import ResultRefs

        return ResultRefs(boto3.resource("dynamodb").Table(self.settings.result_refs_table))

    @cached_property
    def completion_events(self) -> EventPublisher | None:
        """The completion-event publisher, or None when no bus is configured.

        botocore's own retries are off and its timeouts short (PutEvents answers in tens of
        milliseconds): the publisher's loop is the only retry, so an unreachable EventBridge
        costs a function at most 3 attempts x (1 + 1 s) + 0.45 s of backoff, about 6.5 s.
        """
        if not self.settings.event_bus_name:
            return None
        from botocore.config import Config

        from .completion_events import EventPublisher

        config = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1})
        return EventPublisher(
            client=boto3.client("events", config=config), bus_name=self.settings.event_bus_name
        )

    def begin_invocation(self, context: Any = None, after_calls_seconds: float = 0.0) -> None:
        """Per-invocation state: the submit function waits for budget tokens at most
        ``budget_wait_seconds`` in all, however many records and attempts share the wait; and,
        given the Lambda context, the moment this invocation's calls must be over by: its end,
        less ``after_calls_seconds`` the handler still needs once they return."""
        self._budget_wait_left = max(0.0, self.settings.budget_wait_seconds)
        self._calls_end: float | None = None
        if context is not None:
            remaining = context.get_remaining_time_in_millis() / 1000
            self._calls_end = time.monotonic() + remaining - after_calls_seconds

    def time_left(self) -> float | None:
        """Seconds until this invocation's calls must be over; None outside Lambda."""
        end = getattr(self, "_calls_end", None)
        return None if end is None else max(0.0, end - time.monotonic())

    def budget_wait_left(self) -> float:
        return getattr(self, "_budget_wait_left", max(0.0, self.settings.budget_wait_seconds))

    def create_budget_seconds(self) -> float:
        """The longest a create started now can take: the budget wait this invocation still
        allows, then every attempt at its full timeouts (see ``request_budget_seconds``)."""
        wait = self.budget_wait_left() if self.rate_budget is not None else 0.0
        return wait + create_call_seconds(self.settings)

    def _take_budget_token(self, method: str) -> None:
        budget = self.rate_budget
        if budget is not None:
            try:
                self._acquire_budget_token(budget, method)
            except BudgetExhausted:
                # The dashboard's "request budget" widget: requests sent against refusals.
                metrics.add_metric(name="ApiBudgetRefused", unit=MetricUnit.Count, value=1)
                raise
        metrics.add_metric(name="ApiRequests", unit=MetricUnit.Count, value=1)

    def _acquire_budget_token(self, budget: RateBudget, method: str) -> None:
        left = self.budget_wait_left()
        if left <= 0:
            budget.acquire(method)
            return
        started = time.monotonic()
        try:
            budget.acquire_waiting(method, give_up_after=left)
        except BudgetExhausted:
            # The budget is busy with polls: the rest of this batch goes back to the queue at
            # once instead of each record waiting in turn (and timing the invocation out).
            self._budget_wait_left = 0.0
            raise
        self._budget_wait_left = max(0.0, left - (time.monotonic() - started))

    def _before_send(self, method: str, call_seconds_left: float) -> None:
        if method == "POST" and self.create_guard is not None:
            self.create_guard(call_seconds_left)

    @cached_property
    def api(self) -> CorrectionClient:
        key = self.api_key or _api_key_from_secrets_manager(self.settings.api_key_secret_id)
        return CorrectionClient(
            base_url=self.settings.api_base_url,
            api_key=key,
            timeout=api_timeout(self.settings),
            retry=LAMBDA_RETRY,
            transport=self.transport,
            before_request=self._take_budget_token,
            before_send=self._before_send,
            time_left=self.time_left,
        )


_services: Services | None = None
_scoped = threading.local()


def get_services() -> Services:
    scoped = getattr(_scoped, "services", None)
    if scoped is not None:
        return scoped
    global _services
    if _services is None:
        _services = Services(settings=get_settings())
    return _services


@contextmanager
def services_scope(services: Services) -> Iterator[Services]:
    """Use ``services`` in this thread for the duration (the local runner runs several
    functions in one process, each with its own environment, as Lambda gives each its own)."""
    previous = getattr(_scoped, "services", None)
    _scoped.services = services
    try:
        yield services
    finally:
        _scoped.services = previous


def reset_services(services: Services | None = None) -> None:
    """Forget cached settings and clients (tests, the local runner); optionally install some."""
    global _services
    get_settings.cache_clear()
    _services = services
