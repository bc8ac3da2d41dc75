"""The clients one Lambda container needs, built once and lazily.

Handlers call ``get_services()``; tests and the local runner call ``reset_services()`` after
changing the environment, so each run sees the settings it set up.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterator

import boto3
import httpx

from .client import CorrectionClient, RetryPolicy
from .errors import BudgetExhausted
from .rate_budget import RateBudget
from .result_refs import ResultRefs
from .redaction import register_secret
from .settings import Settings, get_settings

# Secrets Manager is read at most every 5 minutes per container; a rotated key is seen within that.
SECRET_MAX_AGE_SECONDS = 300

# Inside a Lambda the state machine owns long retries; the client only absorbs short blips.
LAMBDA_RETRY = RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=2.0)


def _api_key_from_secrets_manager(secret_id: str) -> Callable[[], str]:
    def fetch() -> str:
        from aws_lambda_powertools.utilities import parameters

        raw = parameters.get_secret(secret_id, max_age=SECRET_MAX_AGE_SECONDS)
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
        return ResultRefs(boto3.resource("dynamodb").Table(self.settings.result_refs_table))

    def begin_invocation(self) -> None:
        """Per-invocation state: the submit function waits for the budget at most once."""
        self._budget_wait_spent = False

    def _take_budget_token(self, method: str) -> None:
        budget = self.rate_budget
        if budget is None:
            return
        if self.settings.budget_wait_seconds <= 0 or getattr(self, "_budget_wait_spent", False):
            budget.acquire(method)
            return
        try:
            budget.acquire_waiting(method, give_up_after=self.settings.budget_wait_seconds)
        except BudgetExhausted:
            # The budget is busy with polls: the rest of this batch goes back to the queue at
            # once instead of each record waiting in turn (and timing the invocation out).
            self._budget_wait_spent = True
            raise

    @cached_property
    def api(self) -> CorrectionClient:
        key = self.api_key or _api_key_from_secrets_manager(self.settings.api_key_secret_id)
        return CorrectionClient(
            base_url=self.settings.api_base_url,
            api_key=key,
            timeout=httpx.Timeout(
                connect=self.settings.connect_timeout,
                read=self.settings.read_timeout,
                write=self.settings.read_timeout,
                pool=self.settings.connect_timeout,
            ),
            retry=LAMBDA_RETRY,
            transport=self.transport,
            before_request=self._take_budget_token,
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
