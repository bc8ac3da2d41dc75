"""Fault injection: make the engine misbehave the way a cloud API does, on purpose and repeatably.

Everything is off by default, and the injector is inert unless the engine was started with
fault injection enabled (``EngineSettings.fault_injection``): a production engine cannot be
made to fail on purpose at runtime. :class:`FaultSettings` is a plain mutable object read live on
every request, so a test flips a knob at runtime (``settings.faults.error_500_rate = 1.0``) or
through ``PUT /_engine/faults``. Decisions come from one seeded RNG, so a sequential test sees
the same faults on every run. A rate of exactly 0 or 1 never consumes a random number.
"""

from __future__ import annotations

import random
import threading
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

from correction_core import contract

# Endpoints the per-request faults (429, 500, slow) apply to.
ENDPOINT_CREATE = "create"
ENDPOINT_QUERY = "query"
ENDPOINT_RESULT = "result"
ENDPOINTS = frozenset({ENDPOINT_CREATE, ENDPOINT_QUERY, ENDPOINT_RESULT})


def _default_of(spec: Field[Any]) -> Any:
    if spec.default is not MISSING:
        return spec.default
    if spec.default_factory is not MISSING:
        return spec.default_factory()
    raise TypeError(f"{spec.name} has no default")


@dataclass
class FaultSettings:
    """Rates are probabilities in [0, 1], rolled independently per request or per task.

    Per request (on the endpoints in ``endpoints``):
      ``error_429_rate``   answer 429 with Retry-After (nothing is created);
      ``error_500_rate``   answer 500 (nothing is created);
      ``slow_rate``        wait ``slow_seconds`` *after* doing the work, before answering, so a
                           client that times out on a create has still created the task.
    Per task (decided when the task is created):
      ``failed_state_rate``     the task ends in ``failed_state`` (any negative code);
      ``never_finish_rate``     the task stays "processing" (state 4) until it expires;
      ``expired_url_rate``      its result URL is already expired when handed out (403);
      ``broken_url_rate``       its result URL names no result (404);
      ``corrupt_result_rate``   its result bytes (URL, base64 or binary) are not an image.
    """

    seed: int | None = None
    error_429_rate: float = 0.0
    error_500_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    failed_state_rate: float = 0.0
    failed_state: int = contract.STATE_FAILED
    never_finish_rate: float = 0.0
    expired_url_rate: float = 0.0
    broken_url_rate: float = 0.0
    corrupt_result_rate: float = 0.0
    endpoints: frozenset[str] = field(default_factory=lambda: frozenset({ENDPOINT_CREATE, ENDPOINT_QUERY}))

    RATE_FIELDS = (
        "error_429_rate",
        "error_500_rate",
        "slow_rate",
        "failed_state_rate",
        "never_finish_rate",
        "expired_url_rate",
        "broken_url_rate",
        "corrupt_result_rate",
    )

    def validate(self) -> None:
        for name in self.RATE_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"fault {name} must be within [0, 1], got {value!r}")
        if not isinstance(self.failed_state, int) or self.failed_state >= 0:
            raise ValueError(f"failed_state must be a negative state code, got {self.failed_state!r}")
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds must be >= 0")
        unknown = set(self.endpoints) - ENDPOINTS
        if unknown:
            raise ValueError(f"unknown fault endpoints {sorted(unknown)}; known: {sorted(ENDPOINTS)}")

    def as_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["endpoints"] = sorted(self.endpoints)
        return out

    def update(self, changes: dict) -> None:
        """Apply a partial update (the admin endpoint's body); all-or-nothing on errors."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}")
        candidate = FaultSettings(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})
        if "endpoints" in changes:
            candidate.endpoints = frozenset(changes["endpoints"])
        candidate.validate()
        for name in known:
            setattr(self, name, getattr(candidate, name))

    def reset(self) -> None:
        """Back to everything off (the seed is kept)."""
        defaults = {f.name: _default_of(f) for f in fields(self)}
        defaults["seed"] = self.seed
        self.update(defaults)


@dataclass(frozen=True)
class TaskFaults:
    """The per-task decisions, rolled once at creation."""

    failed_state: int | None = None
    never_finish: bool = False
    expired_url: bool = False
    broken_url: bool = False
    corrupt_result: bool = False


class FaultInjector:
    """Rolls the dice for :class:`FaultSettings` with one seeded, lock-guarded RNG."""

    def __init__(self, settings: FaultSettings, enabled: bool = True):
        self.settings = settings
        self.enabled = enabled
        self._lock = threading.Lock()
        self._seed = settings.seed
        self._rng = random.Random(settings.seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self.settings.seed = seed
            self._seed = seed
            self._rng = random.Random(seed)

    def _roll(self, rate: float) -> bool:
        if not self.enabled or rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        with self._lock:
            if self.settings.seed != self._seed:  # seed changed by assignment: follow it
                self._seed = self.settings.seed
                self._rng = random.Random(self._seed)
            return self._rng.random() < rate

    def request_fault(self, endpoint: str) -> str | None:
        """``"429"``, ``"500"`` or None for one request to ``endpoint``."""
        s = self.settings
        if endpoint not in s.endpoints:
            return None
        if self._roll(s.error_429_rate):
            return "429"
        if self._roll(s.error_500_rate):
            return "500"
        return None

    def slow_delay(self, endpoint: str) -> float:
        s = self.settings
        if endpoint in s.endpoints and s.slow_seconds > 0 and self._roll(s.slow_rate):
            return float(s.slow_seconds)
        return 0.0

    def task_faults(self) -> TaskFaults:
        s = self.settings
        return TaskFaults(
            failed_state=s.failed_state if self._roll(s.failed_state_rate) else None,
            never_finish=self._roll(s.never_finish_rate),
            expired_url=self._roll(s.expired_url_rate),
            broken_url=self._roll(s.broken_url_rate),
            corrupt_result=self._roll(s.corrupt_result_rate),
        )
