"""The Lambda worker: SQS messages in, the same :class:`TaskRunner` the engine's threads run.

``handler`` is the work queue's event source (batch size 1, partial batch responses): it loads
the task, claims it with a conditional write, processes it, writes the result to S3 and marks
the task finished once. A failure the contract names ends the task in its state and the
message is consumed. When the table or the bucket cannot be reached, the message is handed back
(SQS redelivers it after the visibility timeout) unless this was its last allowed receive, in
which case the task ends failed. A worker that dies mid-task (timeout, memory) leaves the task
processing and its message invisible; the redelivery takes the claim over and finishes it.
After the last receive a message goes to the DLQ, and ``dlq_handler`` ends its task failed, so
no task stays "processing" (the processing limit, applied when a task is read, is the backstop).
"""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from correction_core import contract

from ..server.errors import BackendUnavailable
from ..server.settings import EngineSettings
from ..server.workers import TaskRunner
from .api import task_store
from .blobs import S3BlobStore
from .clients import AwsClients
from .queue import task_id_of
from .settings import AwsEngineSettings

logger = Logger(service="correction-engine")
DEAD_LETTER_DETAIL = "the task could not be processed after repeated attempts"


class AwsWorker:
    """One Lambda container's worker: the task table, the bucket and the runner, built once."""

    def __init__(
        self, settings: AwsEngineSettings, clients: AwsClients, engine: EngineSettings | None = None
    ):
        self.settings = settings
        # The worker never authenticates; the service's settings carry the limits it applies.
        self.engine = engine or settings.engine_settings(api_keys=())
        blobs = S3BlobStore(clients.s3, settings.results_bucket, clock=lambda: self.engine.clock())
        self.store = task_store(settings, self.engine, clients, blobs)
        self.runner = TaskRunner(self.engine, self.store, blobs)

    def process(self, task_id: str, receive_count: int) -> None:
        """Run one task; raises (the message returns) only while retrying can still help."""
        task = self.store.by_id(task_id)
        if task is None or task.finished:
            return  # expired, or a duplicate delivery of a finished task
        try:
            self.runner.run(task)
        except BackendUnavailable as exc:
            if receive_count < self.settings.max_receives:
                logger.warning("backend unavailable; the message returns", extra={"error": str(exc)})
                raise
            self.store.fail(task, contract.STATE_FAILED, DEAD_LETTER_DETAIL)

    def dead_letter(self, task_id: str) -> None:
        task = self.store.by_id(task_id)
        if task is not None and self.store.fail(task, contract.STATE_FAILED, DEAD_LETTER_DETAIL):
            logger.warning("task ended failed from the dead-letter queue")


def handle_batch(event: dict[str, Any], context: Any, worker: AwsWorker) -> dict[str, Any]:
    """The work queue's batch, as Lambda delivers it; returns the partial batch response."""

    # Powertools passes the record by the keyword ``record``.
    def one(record: SQSRecord) -> None:
        task_id = task_id_of(record.body)
        if task_id is None:
            logger.warning("message names no task; consumed", extra={"message_id": record.message_id})
            return
        logger.append_keys(task_id=task_id)
        worker.process(task_id, int(record.attributes.approximate_receive_count))

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(process_partial_response(event, record_handler=one, processor=processor, context=context))


def handle_dead_letters(event: dict[str, Any], context: Any, worker: AwsWorker) -> dict[str, Any]:
    def one(record: SQSRecord) -> None:
        task_id = task_id_of(record.body)
        if task_id is not None:
            logger.append_keys(task_id=task_id)
            worker.dead_letter(task_id)

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(process_partial_response(event, record_handler=one, processor=processor, context=context))


_worker: AwsWorker | None = None
_worker_lock = threading.Lock()


def environment_worker() -> AwsWorker:
    """Built on the first invocation of a container (clients and settings survive warm starts)."""
    global _worker
    with _worker_lock:
        if _worker is None:
            settings = AwsEngineSettings.from_environment(worker=True)
            _worker = AwsWorker(settings, AwsClients.create(settings))
        return _worker


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, context, environment_worker())


@logger.inject_lambda_context(clear_state=True)
def dlq_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_dead_letters(event, context, environment_worker())
