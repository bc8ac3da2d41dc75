"""Workers and what a worker does with one task: fetch, decode, operate, encode, store.

:class:`TaskRunner` is the work on one task, shared by every home; :class:`WorkerPool` is
the interface for what feeds it: :class:`ThreadWorkerPool` runs ``workers`` threads that take
task ids from the :class:`~.queueing.MemoryWorkQueue`; on AWS, Lambda functions fed by SQS
run the same :class:`TaskRunner` (``correction_engine.aws.worker``). Threads, because OpenCV and NumPy release the GIL in their
heavy loops and a thread shares the lazily imported operations without pickling 36 MB frames.

A thread cannot be killed, so the processing limit is kept by deadlines instead: a task past
its limit is never started; the download is bounded by the task's remaining time; the
deadline is checked between stages (fetch, decode, operate, encode), and a task found over
it is reported -8 at once by the store while its worker drops the work at the next boundary.
The only unbounded stretch is one operation on one image, itself bounded by the 4096 x 4096
input limit (seconds, not minutes).
"""

from __future__ import annotations

import logging
import secrets
import threading
from abc import ABC, abstractmethod

from correction_core import contract

from .. import codec, operations
from .errors import BackendUnavailable
from .fetching import FetchError, SourceFetcher
from .queueing import MemoryWorkQueue
from .settings import EngineSettings
from .storage import BlobStore, StorageFull
from .tasks import Task, TaskStore

log = logging.getLogger("correction_engine.server")

# Bytes handed out when the corrupt-result fault fires: plausible length, no image signature.
CORRUPT_RESULT = b"<html><body>not an image: injected fault</body></html>\n" * 64
_TAKE_SECONDS = 0.2  # how often an idle worker looks whether the pool is closing


class WorkerPool(ABC):
    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class TaskRunner:
    """What every worker does with one task, whatever feeds it (threads here, Lambda on AWS).

    Failures the contract names end the task in their state; a :class:`BackendUnavailable`
    (the store or the queue could not be reached) is raised to the caller instead, because the
    task may still succeed once the backend answers: an SQS-fed worker hands it back to its
    queue; a thread logs it and the processing limit ends the task if nobody else does.
    """

    def __init__(self, settings: EngineSettings, store: TaskStore, blobs: BlobStore):
        self._settings = settings
        self._store = store
        self._blobs = blobs
        self._fetcher = SourceFetcher(settings)

    def close(self) -> None:
        self._fetcher.close()

    def run(self, task: Task) -> None:
        store = self._store
        if not store.start(task):
            return
        try:
            self._process(task)
        except BackendUnavailable:
            raise
        except (FetchError, codec.CodecError) as exc:
            store.fail(task, exc.state, str(exc))
        except operations.EmptyResultError as exc:
            store.fail(task, -11, str(exc))
        except operations.OperationError as exc:
            store.fail(task, contract.STATE_FAILED, str(exc))
        except StorageFull:
            store.fail(task, contract.STATE_RESULT_UPLOAD_FAILED, "the engine's result storage is full")
        except MemoryError:
            store.fail(task, -15, "insufficient memory for this image")
        except Exception as exc:  # an operation's bug must not kill the worker
            log.exception("task %s failed in processing", task.task_id)
            store.fail(task, contract.STATE_FAILED, f"processing error ({type(exc).__name__})")

    def _process(self, task: Task) -> None:
        store = self._store
        data: bytes | None
        if task.source_url is not None:
            data = self._fetcher.fetch(task.source_url, deadline=store.deadline(task))
        else:
            data = self._blobs.get(task.source_blob) if task.source_blob else None
        if data is None:
            raise codec.InvalidImageError("the upload is no longer stored")
        store.set_progress(task, 20)
        if not store.still_running(task):
            return
        pixels = codec.decode_image(data)
        del data
        store.set_progress(task, 35)
        if task.faults.failed_state is not None:
            store.fail(task, task.faults.failed_state, "injected fault")
            return
        if not store.still_running(task):
            return
        result = operations.run_enhancement(pixels, task.enhancement_type, self._settings.operations)
        del pixels
        store.set_progress(task, 85)
        if not store.still_running(task):
            return
        encoded = codec.encode_image(result, jpeg_quality=self._settings.jpeg_quality)
        del result
        payload = CORRUPT_RESULT if task.faults.corrupt_result else encoded.data
        if not store.still_running(task):
            return
        name = secrets.token_urlsafe(24)
        # The task store deletes the blob when the task expires; the blob's own expiry is a backstop.
        self._blobs.put(
            name, payload, expires_at=self._settings.clock() + self._settings.task_ttl_seconds + 60
        )
        if not store.succeed(task, name, len(payload), encoded.content_type):
            self._blobs.delete(name)
            log.info("task %s finished after it timed out or expired; result dropped", task.task_id)


class ThreadWorkerPool(WorkerPool):
    def __init__(self, settings: EngineSettings, store: TaskStore, work: MemoryWorkQueue, blobs: BlobStore):
        self._settings = settings
        self._store = store
        self._work = work
        self._runner = TaskRunner(settings, store, blobs)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for number in range(self._settings.workers):
            thread = threading.Thread(target=self._loop, name=f"correction-worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        # Queued work is dropped; a running operation finishes in its thread (it cannot be
        # interrupted) and its result is discarded.
        self._stop.set()
        self._work.close()
        self._runner.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            task_id = self._work.take(_TAKE_SECONDS)
            if task_id is None:
                continue
            try:
                task = self._store.by_id(task_id)
                if task is not None:
                    self.run(task)
            except Exception:  # a storage error must not end the worker thread
                log.exception("worker failed on task %s", task_id)

    def run(self, task: Task) -> None:
        self._runner.run(task)
