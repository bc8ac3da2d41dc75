"""The engine server's configuration: one mutable object, read live by the running server.

Limits default to the contract's (imported, never restated). Tests shrink them, inject clocks
and an operation table, and flip fault knobs on the same object while the server runs.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from correction_core import contract

from ..codec import JPEG_QUALITY
from ..operations import OperationRef
from .faults import FaultSettings

API_KEYS_ENV = "CORRECTION_ENGINE_API_KEYS"  # comma-separated
ADMIN_KEY_ENV = "CORRECTION_ENGINE_ADMIN_KEY"


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class EngineSettings:
    api_keys: Sequence[str] = field(default=(), repr=False)  # never in a log line
    rate_limit_qps: float = contract.DEFAULT_QPS  # per key, create and query; 0 = off
    rate_limit_burst: float | None = None  # bucket size; None = max(1, qps)
    workers: int = field(default_factory=default_workers)
    public_base_url: str | None = None  # None: derived from each request's Host
    max_upload_bytes: int = contract.MAX_UPLOAD_BYTES
    max_form_overhead_bytes: int = 1024 * 1024  # other fields and multipart framing
    max_url_image_bytes: int = contract.MAX_URL_IMAGE_BYTES
    max_processing_seconds: float = contract.MAX_PROCESSING_SECONDS
    sync_wait_seconds: float | None = None  # None: max_processing_seconds + 5
    task_ttl_seconds: float = contract.RESULT_URL_TTL_SECONDS
    result_url_ttl_seconds: float = contract.RESULT_URL_TTL_SECONDS
    url_fetch_timeout_seconds: float = 10.0  # one connect or read
    url_fetch_deadline_seconds: float = (
        30.0  # the whole download, every hop (and never past the task's limit)
    )
    url_fetch_max_redirects: int = 5
    # Non-public ranges image_url may reach (e.g. "127.0.0.0/8" for tests); public addresses always.
    url_fetch_allowed_networks: Sequence[str] = ()
    url_fetch_resolver: Callable[[str, int], Sequence[str]] | None = None  # None: getaddrinfo
    # TLS verification stays on; a CA bundle path or SSLContext may replace the default trust.
    url_fetch_verify: bool | str | ssl.SSLContext = True
    # Injectable like httpx itself; it replaces the address-checking transport, so tests only.
    url_fetch_transport: httpx.BaseTransport | None = None
    max_queued_tasks: int = 64  # beyond this a create answers 429 with Retry-After
    # The whole create body must arrive within this (a 20 MB upload at 2 Mbit/s takes ~80 s);
    # a client that drips it is answered 400 and its connection closed.
    create_body_seconds: float = 120.0
    # Open connections (and requests in flight) the server accepts before answering 503: a
    # bound on file handles held by slow or idle clients. Idle keep-alive connections close
    # after keep_alive_seconds.
    max_connections: int = 256
    keep_alive_seconds: int = 5
    queue_full_retry_after_seconds: float = 5.0
    spool_directory: str | None = None  # None: a private temporary directory, removed at close
    spool_max_bytes: int = 2 * 1024**3  # queued uploads and results together
    stats_max_sources_per_key: int = 10_000  # distinct sources remembered per key (oldest forgotten)
    admin_key: str | None = field(default=None, repr=False)  # None: no admin endpoints at all (404)
    fault_injection: bool = False  # fault knobs are inert unless this is set at start
    jpeg_quality: int = JPEG_QUALITY
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    operations: Mapping[int, OperationRef] | None = None  # None: operations.DEFAULT_OPERATIONS
    faults: FaultSettings = field(default_factory=FaultSettings)
    clock: Callable[[], float] = time.time  # wall clock: timestamps, expiry, processing limit
    monotonic: Callable[[], float] = time.monotonic  # rate limiter

    def validate(self) -> None:
        if isinstance(self.api_keys, str):
            raise ValueError("api_keys must be a sequence of keys, not one string")
        self.api_keys = tuple(k for k in self.api_keys if k)
        if not self.api_keys:
            raise ValueError(f"at least one API key is required ({API_KEYS_ENV} or --api-key-file)")
        if self.rate_limit_qps < 0:
            raise ValueError("rate_limit_qps must be >= 0 (0 = off)")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if self.max_processing_seconds <= 0:
            raise ValueError("max_processing_seconds must be > 0")
        if self.admin_key is not None and (not self.admin_key or self.admin_key in self.api_keys):
            raise ValueError("the admin key must be set and differ from every API key")
        if self.max_queued_tasks < 1 or self.spool_max_bytes < self.max_upload_bytes:
            raise ValueError("the queue needs room for one task and the spool for one upload")
        if self.create_body_seconds <= 0 or self.max_connections < 1 or self.keep_alive_seconds < 1:
            raise ValueError("create_body_seconds, max_connections and keep_alive_seconds must be positive")
        if self.url_fetch_deadline_seconds <= 0 or self.url_fetch_timeout_seconds <= 0:
            raise ValueError("url fetch time limits must be > 0")
        for network in self.url_fetch_allowed_networks:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        if self.url_fetch_verify is False:
            raise ValueError("TLS verification of image_url downloads cannot be turned off")
        if self.public_base_url is not None:
            self.public_base_url = self.public_base_url.rstrip("/")
        self.faults.validate()

    @property
    def effective_sync_wait_seconds(self) -> float:
        if self.sync_wait_seconds is not None:
            return self.sync_wait_seconds
        return self.max_processing_seconds + 5.0


def api_keys_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    raw = (environ if environ is not None else os.environ).get(API_KEYS_ENV, "")
    return tuple(k.strip() for k in raw.split(",") if k.strip())


def keys_from_file(path: str) -> tuple[str, ...]:
    """One key per line (blank lines and ``#`` comments ignored), so no key sits in a process list."""
    with open(path, encoding="utf-8") as handle:
        lines = [line.strip() for line in handle]
    return tuple(line for line in lines if line and not line.startswith("#"))
