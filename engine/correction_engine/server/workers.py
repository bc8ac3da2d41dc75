"""The worker pool and what a worker does with one task: fetch, decode, operate, encode.

A thread pool sized to the cores: OpenCV and NumPy release the GIL in their heavy loops, a
thread shares the lazily imported operations and needs no pickling of 36 MB frames. The cost
is that a thread cannot be killed: a task over the processing limit is reported -8 at once
(by the store) and its worker drops the late result at the next stage boundary.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from correction_core import contract

from .. import codec, operations
from .fetching import FetchError, SourceFetcher
from .settings import EngineSettings
from .tasks import Task, TaskStore

log = logging.getLogger("correction_engine.server")

# Bytes handed out when the corrupt-result fault fires: plausible length, no image signature.
CORRUPT_RESULT = b"<html><body>not an image: injected fault</body></html>\n" * 64


class TaskProcessor:
    def __init__(self, settings: EngineSettings, store: TaskStore):
        self._settings = settings
        self._store = store
        self._fetcher = SourceFetcher(settings)
        self._pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="correction-worker")

    def submit(self, task: Task) -> None:
        self._pool.submit(self._run, task)

    def close(self) -> None:
        # Queued work is dropped; running operations finish in their threads (they cannot be
        # interrupted) and their results are discarded.
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._fetcher.close()

    def _run(self, task: Task) -> None:
        store = self._store
        if not store.start(task):
            return
        try:
            self._process(task)
        except (FetchError, codec.CodecError) as exc:
            store.fail(task, exc.state, str(exc))
        except operations.EmptyResultError as exc:
            store.fail(task, -11, str(exc))
        except operations.OperationError as exc:
            store.fail(task, contract.STATE_FAILED, str(exc))
        except MemoryError:
            store.fail(task, -15, "insufficient memory for this image")
        except Exception as exc:  # an operation's bug must not kill the worker
            log.exception("task %s failed in processing", task.task_id)
            store.fail(task, contract.STATE_FAILED, f"processing error ({type(exc).__name__})")

    def _process(self, task: Task) -> None:
        store = self._store
        if task.source_url is not None:
            data = self._fetcher.fetch(task.source_url)
        else:
            data = task.source_bytes or b""
        task.source_bytes = None  # the worker's local reference is the only one now
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
        if not store.succeed(task, payload, encoded.content_type):
            log.info("task %s finished after it timed out or expired; result dropped", task.task_id)
