"""The work queue on SQS: the API offers task ids; Lambda's event source mapping feeds the workers.

A message carries ``{"task_id": ...}`` only (the bytes are in S3). The queue has a DLQ behind
it (maxReceiveCount 3, set by the stack); a message that keeps failing ends there, and the
worker's DLQ handler ends its task failed.
"""

from __future__ import annotations

import json
from typing import Any

from ..server.queueing import WorkQueue
from ..server.workers import WorkerPool
from .clients import translated


def message_body(task_id: str) -> str:
    return json.dumps({"task_id": task_id})


def task_id_of(body: str) -> str | None:
    """The task id a message names, or None for a body that names none (nothing to do for it)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    task_id = parsed.get("task_id") if isinstance(parsed, dict) else None
    return task_id if isinstance(task_id, str) and task_id else None


class SqsWorkQueue(WorkQueue):
    def __init__(self, sqs: Any, queue_url: str, capacity: int):
        self._sqs = sqs
        self._url = queue_url
        self._capacity = capacity

    def offer(self, task_id: str) -> bool:
        with translated("queueing a task"):
            self._sqs.send_message(QueueUrl=self._url, MessageBody=message_body(task_id))
        return True

    def depth(self) -> int:
        """Messages waiting or in flight: the backlog a new task would join."""
        with translated("reading the queue depth"):
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self._url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    @property
    def capacity(self) -> int:
        return self._capacity

    def close(self) -> None:
        """Nothing to release: the queue belongs to the stack, and other containers share it."""


class LambdaWorkerPool(WorkerPool):
    """The API container's view of the workers: they run elsewhere (Lambda), so nothing starts here."""

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass
