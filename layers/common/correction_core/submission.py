"""Turns one uploaded object into one paid task and one state machine execution.

Order matters for "nothing charged twice": validation first (free), then the task is created
under an idempotency record keyed by the object's identity (bucket, key, version or ETag,
redrive attempt), then the execution starts under a second record and a deterministic name. A
redelivered event finds both records and repeats nothing; a crash between the two steps re-runs
only the free second one; a create whose answer was lost is recorded as such, never repeated.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .client import proves_nothing_created
from .create_notes import CreateNotes
from .errors import AmbiguousCreate, ApiError, CorrectionError, InvalidInput, NotEnoughTime, RequestRejected
from .failures import FailureRecord, count_failure, utc_now, write_failure_record
from .objects import ObjectRef, is_superseded, skip_reason
from .observability import MetricUnit, logger, metrics
from .options import TaskOptions, resolve_options
from .services import Services, create_call_seconds
from .settings import Settings
from .validation import InspectedObject, SourceGone, inspect_object


@dataclass(frozen=True)
class SubmitOutcome:
    ref: ObjectRef
    status: str  # submitted | skipped | rejected
    reason: str = ""
    task_id: str | None = None
    execution_arn: str | None = None


_lambda_context: Any = None

#: After a create returns: storing its outcome (the idempotency record) must fit before the
#: invocation can end, or a redelivery would find the lock expired and create again.
AFTER_CREATE_SECONDS = 5
#: One record's work besides the create, at worst: the checks' S3 reads (or the whole object,
#: up to 20 MB, in file mode), the idempotency records, StartExecution or a failure record.
RECORD_OVERHEAD_SECONDS = 15
#: AWS's advice for a Lambda's SQS source: visibility timeout six times the function timeout.
VISIBILITY_TIMEOUT_FACTOR = 6


def submit_timeout_seconds(settings: Settings, batch_size: int) -> int:
    """The submit function's timeout: a full batch finishes even when every step takes its
    longest (budget waits are capped per invocation, see ``Services.begin_invocation``).

    The template's Timeout, BatchSize, the client timeouts, BUDGET_WAIT_SECONDS and the
    queue's visibility timeout are tied by this (tests/unit/test_definition_and_template.py).
    """
    per_record = create_call_seconds(settings) + AFTER_CREATE_SECONDS + RECORD_OVERHEAD_SECONDS
    return math.ceil(max(0.0, settings.budget_wait_seconds) + batch_size * per_record)


def bind_lambda_context(context: Any) -> None:
    """Lets Idempotency size its in-progress lock to the invocation's remaining time."""
    global _lambda_context
    _lambda_context = context


def _ensure_time_to_send(call_seconds_left: float) -> None:
    """Refuse to send a create attempt that might not finish within this invocation.

    Called by the client immediately before each attempt goes out (``Services.create_guard``),
    after the key fetch and the budget-token wait, with the most the call can still take (the
    client enforces that as a total deadline). Idempotency's in-progress lock lasts the
    invocation's remaining time as of when it was taken, earlier, so it lasts at least as long:
    a create sent now is finished, and its outcome (``AFTER_CREATE_SECONDS``) stored, before
    the lock can expire.
    """
    if _lambda_context is None:
        return  # not in Lambda (a script, a test without a context): no deadline to honour
    remaining = _lambda_context.get_remaining_time_in_millis() / 1000
    needed = call_seconds_left + AFTER_CREATE_SECONDS
    if remaining < needed:
        raise NotEnoughTime(
            f"{remaining:.1f} s left in this invocation; a create needs up to {needed:.1f} s: "
            "the message goes back to the queue unsent"
        )


@dataclass(frozen=True)
class _OnceSteps:
    create: Callable[..., dict[str, Any]]
    start: Callable[..., dict[str, Any]]
    config: Any
    notes: CreateNotes


@lru_cache(maxsize=4)
def _once_steps(table_name: str, ttl_seconds: int) -> _OnceSteps:
    """Create-the-task and start-the-execution, each wrapped in Powertools Idempotency.

    Two steps, two records: a crash after the (paid) create re-runs only the (free) start, and
    a replayed event (a duplicate delivery, a backfill of done work) repeats neither.
    """
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(table_name=table_name)
    config = IdempotencyConfig(
        event_key_jmespath="identity",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=ttl_seconds,
    )

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config)
    def create_once(
        *, request: dict[str, Any], create: Callable[[], tuple[str, dict[str, Any]]]
    ) -> dict[str, Any]:
        try:
            task_id, sent = create()
        except ApiError as lost:
            # Inverted default: only an answer that proves no task was made lets the step run
            # again; any other failure of the call (a 200 without a task id included) is stored.
            if proves_nothing_created(lost):
                raise
            # Stored as this step's outcome, so no redelivery can create (and pay) again.
            return {
                "task_id": None,
                "ambiguous": lost.message,
                "submitted_at": utc_now(),
                "submitted_epoch": time.time(),
            }
        return {"task_id": task_id, "sent": sent, "submitted_at": utc_now(), "submitted_epoch": time.time()}

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config)
    def start_once(*, request: dict[str, Any], start: Callable[[], str]) -> dict[str, Any]:
        return {"execution_arn": start()}

    import boto3

    notes = CreateNotes(table=boto3.resource("dynamodb").Table(table_name), ttl_seconds=ttl_seconds)
    return _OnceSteps(create_once, start_once, config, notes)


def _noted_create(
    once: _OnceSteps, services: Services, inspected: InspectedObject, options: TaskOptions
) -> Callable[[], tuple[str, dict[str, Any]]]:
    """The create step for one delivery, with a durable note written before each send.

    The note is what stops a second paid create after this process dies mid-call (see
    ``create_notes``). It is removed again when the call fails in a way that proves nothing was
    made, so such failures stay retryable: a refusal (429, 4xx, never sent), or running out of
    time before a retry, which the client only attempts after answers that proved as much.
    """
    identity, owner = inspected.ref.identity, uuid.uuid4().hex

    def guard(call_seconds_left: float) -> None:
        _ensure_time_to_send(call_seconds_left)
        once.notes.claim(identity, owner)

    def create() -> tuple[str, dict[str, Any]]:
        services.create_guard = guard
        try:
            return _create_task(services, inspected, options)
        except ApiError as failed:
            if proves_nothing_created(failed):
                once.notes.release(identity, owner)
            raise
        except NotEnoughTime:
            if not services.api.retry.retry_ambiguous_create:
                once.notes.release(identity, owner)
            raise

    return create


def _create_task(
    services: Services, inspected: InspectedObject, options: TaskOptions
) -> tuple[str, dict[str, Any]]:
    """Create the task; returns its id and what was sent (the source, or how it was converted)."""
    s3 = services.s3
    ref = inspected.ref
    version = {"VersionId": ref.version_id} if ref.version_id else {}
    reasons = inspected.conversion_reasons
    sent: dict[str, Any] = {"source_format": inspected.image_format, "converted": list(reasons)}
    if options.source_mode == "file" or reasons:
        body = s3.get_object(Bucket=ref.bucket, Key=ref.key, **version)["Body"].read()
        filename = ref.key.rsplit("/", 1)[-1] or "image"
        content_type = inspected.content_type
        if reasons:
            # A copy the API takes, sent as the request's file: nothing is stored, the source
            # stays as it is. One record per invocation (BatchSize 1): no other upload waits.
            # Imported here: most uploads need no copy, and Submit's cold start would pay for it.
            from .source_conversion import convert_for_api

            converted = convert_for_api(body, inspected.image_format)
            del body
            body, content_type = converted.data, converted.content_type
            filename = filename.rsplit(".", 1)[0] + converted.filename_suffix
            sent.update(converted.summary(), notes=list(converted.notes))
            logger.info("converted before sending", extra={"why": list(reasons), **converted.summary()})
        created = services.api.create_task(
            image_file=(filename, body, content_type),
            enhancement_type=options.enhancement_type,
            return_type=options.return_type,
        )
    else:
        url = s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": ref.bucket, "Key": ref.key, **version},
            ExpiresIn=services.settings.presign_seconds,
        )
        created = services.api.create_task(
            image_url=url, enhancement_type=options.enhancement_type, return_type=options.return_type
        )
    return created.task_id, sent


def _start_execution(services: Services, ref: ObjectRef, options: TaskOptions, task: dict[str, Any]) -> str:
    execution_input = {
        "object": ref.to_dict(),
        # What was sent rides along to Finalize, which names it in the result's metadata.
        "task": {"task_id": task["task_id"], **options.to_dict(), "sent": task.get("sent") or {}},
        "submitted_at": task["submitted_at"],
        "submitted_epoch": task["submitted_epoch"],
        "poll": {"elapsed": 0},
    }
    sfn = services.sfn
    try:
        response = sfn.start_execution(
            stateMachineArn=services.settings.state_machine_arn,
            name=ref.execution_name(),
            input=json.dumps(execution_input, sort_keys=True),
        )
        return response["executionArn"]
    except sfn.exceptions.ExecutionAlreadyExists:
        # Same name, already started by an earlier delivery: the work is under way or done.
        arn = services.settings.state_machine_arn.replace(":stateMachine:", ":execution:")
        return f"{arn}:{ref.execution_name()}"


def _reject(services: Services, ref: ObjectRef, error: CorrectionError, **extra: Any) -> SubmitOutcome:
    if is_superseded(services.s3, ref):
        logger.info(
            "rejected version superseded by a newer upload; no record", extra={"reason": error.reason}
        )
        return SubmitOutcome(ref, "skipped", reason="superseded by a newer upload")
    fields = error.to_record()
    record = FailureRecord(
        source=ref.to_dict(),
        stage="submit",
        reason=fields.pop("reason"),
        message=fields.pop("message"),
        error_type=fields.pop("error"),
        code=fields.pop("code", None),
        http_status=fields.pop("http_status", None),
        details={**{k: v for k, v in fields.items() if v is not None}, **extra},
    )
    record_key = write_failure_record(services.s3, services.settings, ref, record)
    metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=1)
    count_failure(record.reason)
    logger.warning("object rejected", extra={"reason": record.reason, "code": record.code})
    # A refusal is an outcome too; published after the record, never raising (completion_events).
    from .completion_events import announce_failure  # refusals are rare: not at cold start

    announce_failure(
        services.completion_events,
        ref,
        record,
        record_bucket=services.settings.destination_bucket,
        record_key=record_key,
    )
    return SubmitOutcome(ref, "rejected", reason=record.code or record.reason)


def submit_object(services: Services, ref: ObjectRef) -> SubmitOutcome:
    """Validate, create the task (once), start the execution. Transient errors propagate."""
    settings = services.settings
    logger.append_keys(object_key=ref.key, bucket=ref.bucket)
    reason = skip_reason(ref, settings)
    if reason:
        logger.info("skipped", extra={"why": reason})
        return SubmitOutcome(ref, "skipped", reason=reason)
    try:
        inspected = inspect_object(services.s3, ref, allow_downscale=settings.downscale_oversize)
        options = resolve_options(inspected.metadata, settings)
    except SourceGone as gone:
        logger.info("skipped", extra={"why": str(gone)})
        return SubmitOutcome(ref, "skipped", reason="source gone or replaced")
    except InvalidInput as invalid:
        return _reject(services, ref, invalid)

    once = _once_steps(settings.idempotency_table, settings.idempotency_ttl_seconds)
    if _lambda_context is not None:
        once.config.register_lambda_context(_lambda_context)
    try:
        task = once.create(
            request={"identity": ref.identity, "options": options.to_dict()},
            create=_noted_create(once, services, inspected, options),
        )
    except (RequestRejected, InvalidInput) as rejected:
        return _reject(services, ref, rejected, enhancement_type=options.enhancement_type)
    if task.get("ambiguous"):
        lost = AmbiguousCreate(
            f"the create request was sent but its outcome is unknown ({task['ambiguous']}); the task "
            "may exist and be charged, so it is not repeated automatically: redrive to try again"
        )
        return _reject(services, ref, lost, enhancement_type=options.enhancement_type)
    logger.append_keys(task_id=task["task_id"])
    arn = once.start(
        request={"identity": ref.identity}, start=lambda: _start_execution(services, ref, options, task)
    )["execution_arn"]
    metrics.add_metric(name="Submitted", unit=MetricUnit.Count, value=1)
    logger.info("task submitted", extra={"type": options.enhancement_type, **inspected.summary()})
    return SubmitOutcome(ref, "submitted", task_id=task["task_id"], execution_arn=arn)
