"""Tasks and their store: state, timestamps, blob references, expiry and the processing limit.

:class:`TaskStore` is the interface (DynamoDB with TTL on AWS, ``correction_engine.aws.tasks``);
:class:`MemoryTaskStore` the one-machine backend. A task holds no image bytes: its upload and its result live in the
:class:`~.storage.BlobStore` under random names, and the task store deletes them when the task
fails or expires. One lock guards every transition, because worker threads finish tasks while
the event loop reads them. Time comes from the injected clock, so expiry and the processing
limit are tested by moving a clock, not by sleeping; both are applied when a task is read
(lazily) and by a sweep at most once a second.

The processing limit counts from creation, queue time included: a task nobody could start
within the limit ends -8 and is never started, so a backlog cannot turn into work whose
client has already given up.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from correction_core import contract

from .faults import TaskFaults
from .storage import BlobStore

TERMINAL = "terminal"


@dataclass
class Task:
    task_id: str
    owner: str  # API-key fingerprint
    enhancement_type: int
    return_type: int
    created_at: float
    source_blob: str | None = None  # name of the queued upload in the blob store
    source_url: str | None = None
    source_digest: str = ""
    faults: TaskFaults = field(default_factory=TaskFaults)
    state: int = contract.STATE_QUEUED
    progress: int = 0
    processed_at: float | None = None
    completed_at: float | None = None
    detail: str = ""  # why it failed, for the response message
    result_blob: str | None = None  # name of the encoded result in the blob store
    result_size: int = 0
    result_content_type: str | None = None
    result_token: str | None = None
    # Which worker attempt holds the task (a store that may hand one task to a second attempt,
    # after a crash, lets only the latest attempt finish it).
    claim: str | None = None
    _waiters: list = field(default_factory=list, repr=False)

    @property
    def finished(self) -> bool:
        return self.state == contract.STATE_SUCCEEDED or contract.is_failed(self.state)


class TaskStore(ABC):
    """Task records and their transitions; every method is safe to call from any thread."""

    @abstractmethod
    def new_task_id(self) -> str: ...

    @abstractmethod
    def add(self, task: Task) -> None: ...

    @abstractmethod
    def forget(self, task: Task) -> None:
        """Remove a task (and its blobs) that was never handed out."""

    @abstractmethod
    def get(self, task_id: str, owner: str) -> Task | None:
        """The task if it exists, is not expired and belongs to ``owner``; limits applied."""

    @abstractmethod
    def by_id(self, task_id: str) -> Task | None:
        """For workers: the live task whatever its owner."""

    @abstractmethod
    def by_token(self, token: str) -> Task | None:
        """The live task whose result carries this token."""

    @abstractmethod
    def refresh(self, task: Task) -> None:
        """Apply the processing limit to a task already in hand."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def start(self, task: Task) -> bool:
        """Queued -> processing (a store fed by a redelivering queue also takes a task back from
        an attempt that died). False if the task is gone, finished or past its limit."""

    @abstractmethod
    def still_running(self, task: Task) -> bool:
        """Applies the processing limit; True while the worker should carry on."""

    @abstractmethod
    def deadline(self, task: Task) -> float:
        """The clock time at which the task's processing limit ends it."""

    @abstractmethod
    def set_progress(self, task: Task, progress: int) -> None: ...

    @abstractmethod
    def succeed(self, task: Task, result_blob: str, size: int, content_type: str) -> bool:
        """Processing -> done with the stored result; False (caller drops the blob) if too late."""

    @abstractmethod
    def fail(self, task: Task, state: int, detail: str = "") -> bool: ...

    @abstractmethod
    async def wait(self, task: Task, timeout: float) -> None:
        """Until the task finishes or ``timeout`` real seconds pass (sync mode)."""


class MemoryTaskStore(TaskStore):
    def __init__(
        self,
        clock: Callable[[], float],
        ttl_seconds: Callable[[], float],
        processing_limit_seconds: Callable[[], float],
        blobs: BlobStore,
    ):
        self._blobs = blobs
        self._clock = clock
        self._ttl = ttl_seconds
        self._limit = processing_limit_seconds
        self._lock = threading.RLock()
        self._tasks: dict[str, Task] = {}
        self._by_token: dict[str, str] = {}
        self._last_sweep = float("-inf")

    # --- creation and lookup ------------------------------------------------------------

    def new_task_id(self) -> str:
        return secrets.token_hex(16)

    def add(self, task: Task) -> None:
        with self._lock:
            self._sweep()
            self._tasks[task.task_id] = task

    def get(self, task_id: str, owner: str) -> Task | None:
        with self._lock:
            self._sweep()
            task = self._live(self._tasks.get(task_id))
            if task is None or task.owner != owner:
                return None
            self._enforce_limit(task)
            return task

    def forget(self, task: Task) -> None:
        with self._lock:
            self._remove(task)

    def by_id(self, task_id: str) -> Task | None:
        with self._lock:
            task = self._live(self._tasks.get(task_id))
            if task is not None:
                self._enforce_limit(task)
            return task

    def by_token(self, token: str) -> Task | None:
        with self._lock:
            self._sweep()
            task_id = self._by_token.get(token)
            return self._live(self._tasks.get(task_id)) if task_id else None

    def refresh(self, task: Task) -> None:
        with self._lock:
            self._enforce_limit(task)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)

    # --- transitions (called by workers) ---------------------------------------------------

    def start(self, task: Task) -> bool:
        with self._lock:
            self._enforce_limit(task)
            if task.task_id not in self._tasks or task.state != contract.STATE_QUEUED:
                return False
            task.state = contract.STATE_PROCESSING
            task.processed_at = self._clock()
            task.progress = max(task.progress, 5)
            return True

    def still_running(self, task: Task) -> bool:
        """Applies the processing limit; True while the worker should carry on."""
        with self._lock:
            self._enforce_limit(task)
            return task.task_id in self._tasks and task.state == contract.STATE_PROCESSING

    def deadline(self, task: Task) -> float:
        return task.created_at + self._limit()

    def set_progress(self, task: Task, progress: int) -> None:
        with self._lock:
            if task.state == contract.STATE_PROCESSING:
                task.progress = max(task.progress, min(int(progress), contract.PROGRESS_COMPLETE - 1))

    def succeed(self, task: Task, result_blob: str, size: int, content_type: str) -> bool:
        with self._lock:
            self._enforce_limit(task)
            if task.task_id not in self._tasks or task.state != contract.STATE_PROCESSING:
                return False  # timed out (-8) or expired meanwhile: the caller drops the late result
            task.result_blob = result_blob
            task.result_size = size
            task.result_content_type = content_type
            task.result_token = secrets.token_urlsafe(24)
            self._by_token[task.result_token] = task.task_id
            task.state = contract.STATE_SUCCEEDED
            task.progress = contract.PROGRESS_COMPLETE
            task.completed_at = self._clock()
            self._drop_source(task)
            self._notify(task)
            return True

    def fail(self, task: Task, state: int, detail: str = "") -> bool:
        with self._lock:
            if task.finished:
                return False
            self._fail_locked(task, state, detail)
            return True

    def _fail_locked(self, task: Task, state: int, detail: str) -> None:
        task.state = state
        task.detail = detail
        task.completed_at = self._clock()
        self._drop_source(task)
        self._notify(task)

    def _drop_source(self, task: Task) -> None:
        if task.source_blob is not None:
            self._blobs.delete(task.source_blob)
            task.source_blob = None

    # --- waiting (sync mode) ---------------------------------------------------------------

    async def wait(self, task: Task, timeout: float) -> None:
        """Wait until the task finishes or ``timeout`` real seconds pass, without a thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        with self._lock:
            if task.finished:
                return
            task._waiters.append((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                try:
                    task._waiters.remove((loop, future))
                except ValueError:
                    pass
        self.refresh(task)

    def _notify(self, task: Task) -> None:
        for loop, future in task._waiters:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # that loop is closed; nobody is waiting any more
                pass

    # --- limits ----------------------------------------------------------------------------

    def _enforce_limit(self, task: Task) -> None:
        if task.finished or task.faults.never_finish:
            return
        limit = self._limit()
        if self._clock() - task.created_at > limit:
            self._fail_locked(task, contract.STATE_PROCESSING_TIMEOUT, f"processing exceeded {limit:g} s")

    def _live(self, task: Task | None) -> Task | None:
        if task is not None and (task.completed_at or task.created_at) + self._ttl() <= self._clock():
            self._remove(task)
            return None
        return task

    def _remove(self, task: Task) -> None:
        self._tasks.pop(task.task_id, None)
        if task.result_token:
            self._by_token.pop(task.result_token, None)
        if task.result_blob is not None:
            self._blobs.delete(task.result_blob)
            task.result_blob = None
        self._drop_source(task)
        if not task.finished:
            self._notify(task)

    def _sweep(self) -> None:
        now = self._clock()
        # Full scans at most once per second of (injected) time keep reads O(1) amortised.
        if now - self._last_sweep < 1.0 and now >= self._last_sweep:
            return
        self._last_sweep = now
        ttl = self._ttl()
        expired = [t for t in self._tasks.values() if (t.completed_at or t.created_at) + ttl <= now]
        for task in expired:
            self._remove(task)
        # Finished or not, a task past its limit should not wait for a reader to be ended:
        # its queued upload is released now.
        for task in [t for t in self._tasks.values() if not t.finished]:
            self._enforce_limit(task)
        self._blobs.sweep()


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
