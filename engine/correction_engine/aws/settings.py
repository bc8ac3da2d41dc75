"""The engine's AWS shape, configured from the environment its stack sets (read once, typed)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from correction_core import contract

from ..server.settings import EngineSettings

TASKS_TABLE_ENV = "ENGINE_TASKS_TABLE"
RESULTS_BUCKET_ENV = "ENGINE_RESULTS_BUCKET"
WORK_QUEUE_URL_ENV = "ENGINE_WORK_QUEUE_URL"
KEYS_SECRET_ARN_ENV = "ENGINE_KEYS_SECRET_ARN"
RATE_LIMIT_QPS_ENV = "ENGINE_RATE_LIMIT_QPS"
RESULT_TTL_ENV = "ENGINE_RESULT_TTL_SECONDS"
MAX_PROCESSING_ENV = "ENGINE_MAX_PROCESSING_SECONDS"
ALLOW_FETCH_NETWORKS_ENV = "ENGINE_ALLOW_FETCH_NETWORKS"  # comma-separated, like --allow-fetch-network
MAX_QUEUED_TASKS_ENV = "ENGINE_MAX_QUEUED_TASKS"
MAX_RECEIVES_ENV = "ENGINE_MAX_RECEIVES"  # the work queue's redrive maxReceiveCount


class SettingsError(ValueError):
    """A required variable is missing or a value is not what the stack should have set."""


@dataclass(frozen=True)
class AwsEngineSettings:
    tasks_table: str
    results_bucket: str
    work_queue_url: str
    keys_secret_arn: str
    rate_limit_qps: float = float(contract.DEFAULT_QPS)  # per key, shared by every API container
    result_ttl_seconds: float = float(contract.RESULT_URL_TTL_SECONDS)
    max_processing_seconds: float = float(contract.MAX_PROCESSING_SECONDS)
    allow_fetch_networks: Sequence[str] = ()
    # SQS holds any backlog, but a task nobody starts within the processing limit ends -8:
    # past this many waiting messages a create answers 429 instead of queueing certain failures.
    max_queued_tasks: int = 10_000
    max_receives: int = 3
    keys_max_age_seconds: int = 300  # a rotated key is accepted within this long
    # None: boto3's own resolution (AWS_ENDPOINT_URL included). The local host names its
    # emulator here instead, so the pipeline's own emulated AWS in the same process is not redirected.
    endpoint_url: str | None = None
    region_name: str | None = None

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, *, worker: bool = False
    ) -> AwsEngineSettings:
        """``worker``: the Lambda worker's variables, which need neither the queue (its events
        arrive through the event source mapping) nor the key secret (it authenticates nobody)."""
        env = os.environ if environ is None else environ

        def required(name: str, needed: bool = True) -> str:
            value = env.get(name, "").strip()
            if not value and needed:
                raise SettingsError(f"{name} is not set")
            return value

        def number(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number, got {raw[:20]!r}") from None
            if value < 0:
                raise SettingsError(f"{name} must be >= 0")
            return value

        networks = tuple(n.strip() for n in env.get(ALLOW_FETCH_NETWORKS_ENV, "").split(",") if n.strip())
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise SettingsError(f"{ALLOW_FETCH_NETWORKS_ENV}: {exc}") from None
        settings = cls(
            tasks_table=required(TASKS_TABLE_ENV),
            results_bucket=required(RESULTS_BUCKET_ENV),
            work_queue_url=required(WORK_QUEUE_URL_ENV, needed=not worker),
            keys_secret_arn=required(KEYS_SECRET_ARN_ENV, needed=not worker),
            rate_limit_qps=number(RATE_LIMIT_QPS_ENV, float(contract.DEFAULT_QPS)),
            result_ttl_seconds=number(RESULT_TTL_ENV, float(contract.RESULT_URL_TTL_SECONDS)),
            max_processing_seconds=number(MAX_PROCESSING_ENV, float(contract.MAX_PROCESSING_SECONDS)),
            allow_fetch_networks=networks,
            max_queued_tasks=int(number(MAX_QUEUED_TASKS_ENV, 10_000)),
            max_receives=int(number(MAX_RECEIVES_ENV, 3)),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.max_processing_seconds <= 0 or self.result_ttl_seconds <= 0:
            raise SettingsError("the processing limit and the result TTL must be > 0")
        if self.max_queued_tasks < 1 or self.max_receives < 1:
            raise SettingsError("max_queued_tasks and max_receives must be >= 1")

    def engine_settings(self, api_keys: Sequence[str], admin_key: str | None = None) -> EngineSettings:
        """The service's settings: the same object, limits and defaults the one-machine engine uses."""
        return EngineSettings(
            api_keys=tuple(api_keys),
            admin_key=admin_key,
            rate_limit_qps=self.rate_limit_qps,
            max_processing_seconds=self.max_processing_seconds,
            task_ttl_seconds=self.result_ttl_seconds,
            result_url_ttl_seconds=self.result_ttl_seconds,
            url_fetch_allowed_networks=tuple(self.allow_fetch_networks),
            max_queued_tasks=self.max_queued_tasks,
            workers=1,  # nothing in the API container works on tasks; Lambda does
        )
