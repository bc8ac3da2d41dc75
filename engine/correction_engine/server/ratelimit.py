"""Per-key token buckets: the vendor's QPS limit (default 2 per key, create and query alike)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """``acquire(key)`` takes one token or says how long until one is available.

    Rate and burst are read through callables on each call, so changing the settings object
    at runtime takes effect on the next request. A rate of 0 turns the limiter off.
    """

    def __init__(
        self, rate: Callable[[], float], burst: Callable[[], float | None], clock: Callable[[], float]
    ):
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """0.0 when allowed, else the seconds to wait before a retry would succeed."""
        rate = float(self._rate())
        if rate <= 0:
            return 0.0
        burst = self._burst()
        capacity = float(burst) if burst else max(1.0, rate)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=capacity, updated=now)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(capacity, bucket.tokens + elapsed * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate


def retry_after_header(wait_seconds: float) -> str:
    """Retry-After takes whole seconds; round up so a client that obeys it succeeds."""
    return str(max(1, math.ceil(wait_seconds)))
