"""The work queue between the API and the workers: bounded, so a flood answers 429, not a backlog.

:class:`WorkQueue` is the interface (SQS on AWS, ``correction_engine.aws.queue``);
:class:`MemoryWorkQueue` the one-machine backend. Items are task ids only: the bytes stay in
the blob store, as a queue message carries a reference, not an image.
"""

from __future__ import annotations

import queue
from abc import ABC, abstractmethod


class WorkQueue(ABC):
    """The API's side of the queue: offer work, and say how much waits.

    How workers receive it is the backend's own business: threads ``take`` from the memory
    queue; on AWS, Lambda's event source mapping delivers SQS messages to the worker handler.
    """

    @abstractmethod
    def offer(self, task_id: str) -> bool:
        """Enqueue without waiting; False when the queue is full."""

    @abstractmethod
    def depth(self) -> int: ...

    @property
    @abstractmethod
    def capacity(self) -> int: ...

    @abstractmethod
    def close(self) -> None:
        """Stop accepting work (a queue in this process also drops what waits and wakes its workers)."""


class MemoryWorkQueue(WorkQueue):
    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError("the work queue needs room for at least one task")
        self._capacity = capacity
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=capacity)
        self._closed = False

    def offer(self, task_id: str) -> bool:
        if self._closed:
            return False
        try:
            self._queue.put_nowait(task_id)
        except queue.Full:
            return False
        return True

    def take(self, timeout: float) -> str | None:
        """The next task id, or None after ``timeout`` seconds (or once closed)."""
        if self._closed:
            return None
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def depth(self) -> int:
        return self._queue.qsize()

    @property
    def capacity(self) -> int:
        return self._capacity

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
