"""The engine behind the HTTP routes: keys, limiter, faults, tasks, workers, result URLs.

``app.py`` translates HTTP to calls on :class:`EngineService` and back; the service knows no
HTTP. Storage, the work queue, the workers and the rate limiter are the interfaces of
``tasks``, ``storage``, ``queueing``, ``workers`` and ``ratelimit``, bundled as
:class:`EngineBackends`: :func:`local_backends` wires this machine's (tasks in memory, bytes in a
spool directory, an in-memory bounded queue, worker threads); ``correction_engine.aws.api``
wires DynamoDB, S3 and SQS into the same service. A test that runs the
server in-process reaches it as ``app.state.engine`` (or through ``run_in_thread``'s handle).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from correction_core import contract

from .errors import BackendUnavailable
from .faults import FaultInjector
from .queueing import MemoryWorkQueue, WorkQueue
from .ratelimit import RateLimiter, TokenBucketLimiter
from .settings import EngineSettings
from .signing import ResultUrlSigner
from .stats import EngineStats, key_fingerprint
from .storage import SOURCE_PREFIX, BlobStore, SpoolBlobStore, StorageFull
from .tasks import MemoryTaskStore, Task, TaskStore
from .workers import ThreadWorkerPool, WorkerPool

log = logging.getLogger("correction_engine.server")


class Busy(Exception):
    """No room for another task now (queue or storage full); nothing was created."""

    def __init__(self, reason: str, retry_after: float):
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class EngineBackends:
    """Where the engine keeps tasks, bytes, work and rate-limit buckets, and who does the work.

    ``api_keys`` is read on every request, so a backend whose keys live elsewhere (Secrets
    Manager, cached) picks up a rotated key without a restart.
    """

    blobs: BlobStore
    store: TaskStore
    work: WorkQueue
    workers: WorkerPool
    limiter: RateLimiter
    api_keys: Callable[[], Sequence[str]]


def local_backends(settings: EngineSettings) -> EngineBackends:
    """One machine: tasks in memory, bytes in a spool directory, a bounded queue, worker threads."""
    spool = SpoolBlobStore(
        settings.spool_max_bytes, clock=lambda: settings.clock(), directory=settings.spool_directory
    )
    if spool.stale_removed:
        log.warning(
            "removed %d spool directories left by engines that did not stop cleanly", spool.stale_removed
        )
    store = MemoryTaskStore(
        clock=lambda: settings.clock(),
        ttl_seconds=lambda: settings.task_ttl_seconds,
        processing_limit_seconds=lambda: settings.max_processing_seconds,
        blobs=spool,
    )
    work = MemoryWorkQueue(settings.max_queued_tasks)
    return EngineBackends(
        blobs=spool,
        store=store,
        work=work,
        workers=ThreadWorkerPool(settings, store, work, spool),
        limiter=TokenBucketLimiter(
            rate=lambda: settings.rate_limit_qps,
            burst=lambda: settings.rate_limit_burst,
            clock=lambda: settings.monotonic(),
        ),
        api_keys=lambda: settings.api_keys,
    )


class EngineService:
    def __init__(self, settings: EngineSettings, backends: EngineBackends | None = None):
        settings.validate()
        self.settings = settings
        self.stats = EngineStats(settings.stats_max_sources_per_key)
        self.faults = FaultInjector(settings.faults, enabled=settings.fault_injection)
        self.signer = ResultUrlSigner(settings.signing_key, clock=lambda: settings.clock())
        backends = backends if backends is not None else local_backends(settings)
        self.limiter: RateLimiter = backends.limiter
        self.blobs: BlobStore = backends.blobs
        self.store: TaskStore = backends.store
        self.work: WorkQueue = backends.work
        self.workers: WorkerPool = backends.workers
        self._api_keys = backends.api_keys
        self.workers.start()
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.workers.close()
            self.blobs.close()

    # --- authentication ----------------------------------------------------------------------

    def authenticate(self, presented: str | None) -> str | None:
        """The key's fingerprint if it is one of ours, else None. Constant time per key."""
        if not presented:
            return None
        candidate = presented.encode()
        matched = None
        for key in self._api_keys():  # no early exit: time does not tell which key matched
            if hmac.compare_digest(candidate, key.encode()):
                matched = key
        return key_fingerprint(matched) if matched is not None else None

    # --- tasks ---------------------------------------------------------------------------------

    def create_task(
        self,
        owner: str,
        *,
        enhancement_type: int,
        return_type: int,
        image_bytes: bytes | None,
        image_url: str | None,
    ) -> Task:
        """Store, record and enqueue one task; :class:`Busy` (nothing created) when there is no room."""
        settings = self.settings
        if image_bytes is not None:
            digest = "sha256:" + hashlib.sha256(image_bytes).hexdigest()
        else:
            digest = "url:" + hashlib.sha256(_url_identity(image_url or "").encode()).hexdigest()
        if self.work.depth() >= self.work.capacity:
            raise Busy("the work queue is full", settings.queue_full_retry_after_seconds)
        now = settings.clock()
        task = Task(
            task_id=self.store.new_task_id(),
            owner=owner,
            enhancement_type=enhancement_type,
            return_type=return_type,
            created_at=now,
            source_url=image_url,
            source_digest=digest,
            faults=self.faults.task_faults(),
        )
        if image_bytes is not None:
            name = SOURCE_PREFIX + task.task_id
            try:
                # Released when the task finishes or expires; the blob's own expiry is a backstop.
                self.blobs.put(name, image_bytes, expires_at=now + settings.task_ttl_seconds + 60)
            except StorageFull:
                raise Busy("the engine's storage is full", settings.queue_full_retry_after_seconds) from None
            except BackendUnavailable as exc:
                raise _unavailable(exc, settings) from exc
            task.source_blob = name
        try:
            self.store.add(task)
        except BackendUnavailable as exc:
            self._discard(task)
            raise _unavailable(exc, settings) from exc
        if task.faults.never_finish:
            # Looks like work in progress forever (until it expires); never reaches a worker.
            self.store.start(task)
            self.store.set_progress(task, 50)
        else:
            try:
                queued = self.work.offer(task.task_id)
            except BackendUnavailable as exc:
                self._discard(task)
                raise _unavailable(exc, settings) from exc
            if not queued:  # lost a race for the last place
                self._discard(task)
                raise Busy("the work queue is full", settings.queue_full_retry_after_seconds)
        self.stats.task_created(owner, digest)
        return task

    def _discard(self, task: Task) -> None:
        """Undo a create that could not be completed: nothing of it may stay behind."""
        try:
            self.store.fail(task, contract.STATE_FAILED, "not queued")
            self.store.forget(task)
        except BackendUnavailable:
            # The record expires by itself (TTL); a worker finding it finds it unqueued and failed.
            log.warning("could not remove the half-created task %s", task.task_id)
        if task.source_blob is not None:
            self.blobs.delete(task.source_blob)

    def result_bytes(self, task: Task) -> bytes | None:
        return self.blobs.get(task.result_blob) if task.result_blob else None

    def open_result(self, task: Task):
        """A readable handle on the result (streamed to the client), or None if it is gone."""
        return self.blobs.open(task.result_blob) if task.result_blob else None

    def task_data(self, task: Task, base_url: str) -> dict[str, Any]:
        """The response's ``data`` object for a task, per the contract."""
        self.store.refresh(task)
        data: dict[str, Any] = {
            "task_id": task.task_id,
            "created_at": _timestamp(task.created_at),
            "processed_at": _timestamp(task.processed_at),
            "completed_at": _timestamp(task.completed_at),
            "progress": task.progress,
            "state": task.state,
            # Extra fields seen on the vendor's other endpoints; clients must ignore them.
            "return_type": task.return_type,
            "state_detail": _state_detail(task.state),
        }
        if task.state == contract.STATE_SUCCEEDED and task.result_blob is not None:
            if task.return_type == contract.ReturnType.BASE64:
                result = self.result_bytes(task)
                if result is not None:
                    data["image"] = base64.b64encode(result).decode("ascii")
            else:
                data["image"] = self.result_url(task, base_url)
        return data

    def task_message(self, task: Task) -> str:
        if contract.is_failed(task.state):
            meaning = contract.state_meaning(task.state)
            return f"{meaning} {task.detail}".strip() if task.detail else meaning
        return "success"

    def result_url(self, task: Task, base_url: str) -> str:
        base = self.settings.public_base_url or base_url
        completed = task.completed_at if task.completed_at is not None else self.settings.clock()
        expires = int(completed + self.settings.result_url_ttl_seconds)
        if task.result_blob is not None:
            # An object store hands out its own signed URL, so results never pass through the API.
            name = task.result_blob
            if task.faults.broken_url:
                name = "missing-" + hashlib.sha256(name.encode()).hexdigest()[:24]
            valid_until = completed + self.settings.result_url_ttl_seconds
            direct = self.blobs.direct_url(
                name, self.settings.clock() if task.faults.expired_url else valid_until
            )
            if direct is not None:
                return direct
        token = task.result_token or ""
        if task.faults.expired_url:
            expires = int(self.settings.clock()) - 1
        if task.faults.broken_url:
            token = "missing-" + hashlib.sha256(token.encode()).hexdigest()[:24]
        return self.signer.url(base, token, expires)


def _unavailable(exc: BackendUnavailable, settings: EngineSettings) -> Exception:
    """A throttled backend is a busy engine (429, retry later); any other failure stays a 500."""
    if exc.throttled:
        return Busy("the engine is busy", settings.queue_full_retry_after_seconds)
    return exc


def _timestamp(value: float | None) -> str:
    """Unix time in whole seconds, as a string; empty until the moment is reached."""
    return "" if value is None else str(int(value))


def _state_detail(state: int) -> str:
    if state == contract.STATE_SUCCEEDED:
        return "Complete"
    if state == contract.STATE_QUEUED:
        return "Queued"
    if contract.is_failed(state):
        return "Failed"
    return "Processing"


def _url_identity(url: str) -> str:
    # A presigned URL's signature changes per presign; the object is the path, not the query.
    return url.split("?", 1)[0]
