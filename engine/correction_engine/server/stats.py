"""Counters per API key, so tests can assert what a client did ("one task per object").

Keys are stored and reported by fingerprint (first 12 hex digits of their SHA-256), never
in clear. Counters exist only for authenticated keys (a bounded set); the per-source counts
of each key are a least-recently-used map of at most ``max_sources_per_key`` entries, so a
long-running engine does not grow with every distinct photo it ever saw.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, OrderedDict, defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tasks import TaskStore

COUNTERS = (
    "create_requests",  # authenticated, within the rate limit, before any fault
    "tasks_created",  # tasks actually created
    "query_requests",  # authenticated, within the rate limit
    "rate_limited",  # answered 429 by the limiter
    "refused_busy",  # create answered 429 because the queue or the spool was full
    "injected_429",
    "injected_500",
    "injected_slow",
    "result_downloads",  # result URL fetched successfully (no key on that route: counted per task owner)
)


def key_fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


class EngineStats:
    def __init__(self, max_sources_per_key: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._max_sources = max(1, max_sources_per_key)
        self._counts: dict[str, Counter[str]] = defaultdict(Counter)
        # fingerprint -> source digest -> tasks, most recently created last
        self._sources: dict[str, OrderedDict[str, int]] = defaultdict(OrderedDict)

    def incr(self, fingerprint: str, counter: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[fingerprint][counter] += amount

    def task_created(self, fingerprint: str, source_digest: str) -> None:
        with self._lock:
            self._counts[fingerprint]["tasks_created"] += 1
            sources = self._sources[fingerprint]
            sources[source_digest] = sources.get(source_digest, 0) + 1
            sources.move_to_end(source_digest)
            while len(sources) > self._max_sources:
                sources.popitem(last=False)

    def for_fingerprint(self, fingerprint: str) -> dict:
        with self._lock:
            counts = self._counts.get(fingerprint, Counter())
            sources = self._sources.get(fingerprint, OrderedDict())
            return {
                "key": fingerprint,
                **{name: counts.get(name, 0) for name in COUNTERS},
                "distinct_sources": len(sources),
                "max_tasks_per_source": max(sources.values(), default=0),
                "tasks_per_source": dict(sources),
            }

    def for_key(self, api_key: str) -> dict:
        """Counters of one API key (in clear; hashed here)."""
        return self.for_fingerprint(key_fingerprint(api_key))

    def tasks_created(self, api_key: str) -> int:
        return self.for_key(api_key)["tasks_created"]

    def snapshot(self) -> dict:
        with self._lock:
            fingerprints = sorted(set(self._counts) | set(self._sources))
        keys = [self.for_fingerprint(fp) for fp in fingerprints]
        totals = {name: sum(k[name] for k in keys) for name in COUNTERS}
        return {"totals": totals, "keys": keys}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._sources.clear()


def task_timings(store: TaskStore, api_key: str, task_id: str) -> dict[str, float]:
    """A task's own moments (Unix seconds, float): ``created``, ``started`` (a worker took it),
    ``completed``; the ones not reached yet are absent, and so is a task this key does not own.

    The API reports whole seconds, too coarse for a per-image overhead; a caller that hosts the
    engine (the local runner, benches) asks here instead of reading the store's records.
    """
    task = store.get(task_id, key_fingerprint(api_key))
    if task is None:
        return {}
    moments = {"created": task.created_at, "started": task.processed_at, "completed": task.completed_at}
    return {name: float(value) for name, value in moments.items() if value is not None}
