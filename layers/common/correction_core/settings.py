"""Settings of the pipeline's functions, read once from the environment the template sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from . import contract

# Presigned source URLs are handed to a third party; keep their life short (issue: ≤ 15 min).
MAX_PRESIGN_SECONDS = 900


class SettingsError(ValueError):
    """The environment does not describe a valid deployment."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    return raw in {"1", "true", "yes", "on"}


def _csv(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _prefix(raw: str) -> str:
    """Normalise an S3 prefix: no leading slash, a trailing slash unless empty."""
    raw = raw.strip().lstrip("/")
    return raw if not raw or raw.endswith("/") else raw + "/"


def check_areas_apart(destination_prefix: str, failure_prefix: str) -> None:
    """Refuse a result area and a failure-record area that overlap.

    If either prefix starts with the other (an empty one starts everything), some source name
    would put its result among the failure records, where redrive and the local runner read
    every object as a record, or a record among the results. The template enforces the same
    with a Rule; this catches environments set by hand.
    """
    if not destination_prefix or not failure_prefix:
        raise SettingsError("DESTINATION_PREFIX and FAILURE_PREFIX must both be set (non-empty folders)")
    if destination_prefix.startswith(failure_prefix) or failure_prefix.startswith(destination_prefix):
        raise SettingsError(
            f"DESTINATION_PREFIX {destination_prefix!r} and FAILURE_PREFIX {failure_prefix!r} overlap: "
            "results and failure records need separate folders"
        )


IDEMPOTENCY_TTL_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Settings:
    destination_bucket: str = ""
    # Results and failure records share the destination bucket; these two areas never overlap.
    destination_prefix: str = "results/"
    failure_prefix: str = "failures/"
    source_prefix: str = ""
    api_base_url: str = contract.BASE_URL_GLOBAL
    api_key_secret_id: str = ""
    default_type: int = int(contract.EnhancementType.DOCUMENT_CROP_ENHANCE)
    default_return_type: int = int(contract.ReturnType.URL)
    source_mode: str = "url"  # "url": presigned image_url; "file": upload bytes as image_file
    presign_seconds: int = 600
    state_machine_arn: str = ""
    idempotency_table: str = ""
    # Longer than a notification can live: 14 days in the intake queue, then up to 14 in the
    # dead-letter queue before it is moved back. A note that expired first let a redriven message
    # create (and pay for) its task again (review: 7 days).
    idempotency_ttl_seconds: int = IDEMPOTENCY_TTL_SECONDS
    result_hosts: tuple[str, ...] = (".aoscdn.com",)
    allow_http_results: bool = False
    max_result_bytes: int = contract.MAX_RESULT_BYTES
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    api_qps: int = contract.DEFAULT_QPS
    rate_budget_table: str = ""
    result_refs_table: str = ""
    # How long a function may wait for a budget token before it gives up with RateLimited.
    # Submit waits (SQS would redeliver only after minutes); the polling functions do not
    # (the state machine retries them with jittered backoff).
    budget_wait_seconds: float = 0.0
    downscale_oversize: bool = True  # big photos are fitted by default (issue 11)
    #: The EventBridge bus completion events go to; empty: none are published (a script, a test).
    event_bus_name: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source_mode not in {"url", "file"}:
            raise SettingsError(f"SOURCE_MODE must be 'url' or 'file', got {self.source_mode!r}")
        if self.default_type not in contract.ENHANCEMENT_TYPE_MEANINGS:
            raise SettingsError(f"DEFAULT_TYPE must be 0-4, got {self.default_type}")
        if self.default_return_type not in (contract.ReturnType.URL, contract.ReturnType.BASE64):
            raise SettingsError("DEFAULT_RETURN_TYPE must be 1 (URL) or 2 (base64); 3 is sync-only")
        if not 1 <= self.presign_seconds <= MAX_PRESIGN_SECONDS:
            raise SettingsError(f"PRESIGN_SECONDS must be 1-{MAX_PRESIGN_SECONDS}")
        check_areas_apart(self.destination_prefix, self.failure_prefix)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            destination_bucket=env.get("DESTINATION_BUCKET", ""),
            destination_prefix=_prefix(env.get("DESTINATION_PREFIX", "results/")),
            failure_prefix=_prefix(env.get("FAILURE_PREFIX", "failures/")),
            source_prefix=_prefix(env.get("SOURCE_PREFIX", "")),
            api_base_url=env.get("API_BASE_URL", contract.BASE_URL_GLOBAL).rstrip("/"),
            api_key_secret_id=env.get("API_KEY_SECRET_ID", ""),
            default_type=_int(env, "DEFAULT_TYPE", int(contract.EnhancementType.DOCUMENT_CROP_ENHANCE)),
            default_return_type=_int(env, "DEFAULT_RETURN_TYPE", int(contract.ReturnType.URL)),
            source_mode=env.get("SOURCE_MODE", "url").strip().lower() or "url",
            presign_seconds=_int(env, "PRESIGN_SECONDS", 600),
            state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", ""),
            idempotency_ttl_seconds=_int(env, "IDEMPOTENCY_TTL_SECONDS", IDEMPOTENCY_TTL_SECONDS),
            result_hosts=_csv(env, "RESULT_HOSTS", (".aoscdn.com",)),
            allow_http_results=_bool(env, "ALLOW_HTTP_RESULTS", False),
            max_result_bytes=_int(env, "MAX_RESULT_BYTES", contract.MAX_RESULT_BYTES),
            connect_timeout=float(env.get("API_CONNECT_TIMEOUT", "5") or 5),
            read_timeout=float(env.get("API_READ_TIMEOUT", "20") or 20),
            api_qps=_int(env, "API_QPS", contract.DEFAULT_QPS),
            rate_budget_table=env.get("RATE_BUDGET_TABLE", ""),
            result_refs_table=env.get("RESULT_REFS_TABLE", ""),
            budget_wait_seconds=float(env.get("BUDGET_WAIT_SECONDS", "0") or 0),
            downscale_oversize=_bool(env, "DOWNSCALE_OVERSIZE", True),
            event_bus_name=env.get("EVENT_BUS_NAME", "").strip(),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once (a Lambda container keeps them for its life)."""
    return Settings.from_env()
