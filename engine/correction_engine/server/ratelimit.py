"""Per-key token buckets: the vendor's QPS limit (default 2 per key, create and query alike).

:class:`RateLimiter` is the interface: :class:`TokenBucketLimiter` keeps the buckets in this
process; on AWS every API container shares them in DynamoDB (``correction_engine.aws.ratelimit``).
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass


def bucket_capacity(rate: float, burst: float | None) -> float:
    """Tokens a full bucket holds: the burst if one is set, else one second's worth (at least 1)."""
    return float(burst) if burst else max(1.0, rate)


def take_token(
    tokens: float, updated: float, now: float, rate: float, capacity: float
) -> tuple[float, float]:
    """One step of the token bucket: ``(tokens left, seconds to wait)``; wait 0.0 means one was taken.

    Pure, so the bucket kept in this process and the one kept in DynamoDB for every API
    container (``correction_engine.aws.ratelimit``) count the same way.
    """
    tokens = min(capacity, tokens + max(0.0, now - updated) * rate)
    if tokens >= 1.0:
        return tokens - 1.0, 0.0
    return tokens, (1.0 - tokens) / rate


class RateLimiter(ABC):
    @abstractmethod
    def acquire(self, key: str) -> float:
        """0.0 when allowed, else the seconds to wait before a retry would succeed."""


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter(RateLimiter):
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
        rate = float(self._rate())
        if rate <= 0:
            return 0.0
        capacity = bucket_capacity(rate, self._burst())
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=capacity, updated=now)
            bucket.tokens, wait = take_token(bucket.tokens, bucket.updated, now, rate, capacity)
            bucket.updated = now
            return wait


def retry_after_header(wait_seconds: float) -> str:
    """Retry-After takes whole seconds; round up so a client that obeys it succeeds."""
    return str(max(1, math.ceil(wait_seconds)))
