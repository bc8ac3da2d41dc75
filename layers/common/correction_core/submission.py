"""Turns one uploaded object into one paid task and one state machine execution.

Order matters for "nothing charged twice": validation first (free), then the task is created
under an idempotency record keyed by the object's identity (bucket, key, version or ETag,
redrive attempt), then the execution starts under a second record and a deterministic name. A
redelivered event finds both records and repeats nothing; a crash between the two steps re-runs
only the free second one; a create whose answer was lost is recorded as such, never repeated.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from .downscale import fit_within_limits
from .errors import AmbiguousCreate, ApiTransportError, CorrectionError, InvalidInput, RequestRejected
from .failures import FailureRecord, utc_now, write_failure_record
from .objects import ObjectRef, is_superseded, skip_reason
from .observability import MetricUnit, logger, metrics
from .options import TaskOptions, resolve_options
from .services import Services
from .validation import InspectedObject, SourceGone, inspect_object


@dataclass(frozen=True)
class SubmitOutcome:
    ref: ObjectRef
    status: str  # submitted | skipped | rejected
    reason: str = ""
    task_id: str | None = None
    execution_arn: str | None = None


_lambda_context: Any = None


def bind_lambda_context(context: Any) -> None:
    """Lets Idempotency size its in-progress lock to the invocation's remaining time."""
    global _lambda_context
    _lambda_context = context


@dataclass(frozen=True)
class _OnceSteps:
    create: Callable[..., dict[str, Any]]
    start: Callable[..., dict[str, Any]]
    config: Any


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
    def create_once(*, request: dict[str, Any], create: Callable[[], str]) -> dict[str, Any]:
        try:
            task_id = create()
        except ApiTransportError as lost:
            if not lost.details.get("request_may_have_been_processed"):
                raise  # nothing reached the API: the step may run again
            # Stored as this step's outcome, so no redelivery can create (and pay) again.
            return {"task_id": None, "ambiguous": lost.message, "submitted_at": utc_now(), "submitted_epoch": time.time()}
        return {"task_id": task_id, "submitted_at": utc_now(), "submitted_epoch": time.time()}

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config)
    def start_once(*, request: dict[str, Any], start: Callable[[], str]) -> dict[str, Any]:
        return {"execution_arn": start()}

    return _OnceSteps(create_once, start_once, config)


def _create_task(services: Services, inspected: InspectedObject, options: TaskOptions) -> str:
    s3 = services.s3
    ref = inspected.ref
    version = {"VersionId": ref.version_id} if ref.version_id else {}
    if options.source_mode == "file" or inspected.needs_downscale:
        body = s3.get_object(Bucket=ref.bucket, Key=ref.key, **version)["Body"].read()
        filename = ref.key.rsplit("/", 1)[-1] or "image"
        content_type = inspected.content_type
        if inspected.needs_downscale:
            # The user opted in: send a copy within the limits; the source stays as it is.
            fitted = fit_within_limits(body)
            body, content_type = fitted.data, fitted.content_type
            filename = filename.rsplit(".", 1)[0] + fitted.filename_suffix
            logger.info("downscaled", extra={"from": fitted.original_size, "to": fitted.size, "bytes": len(body)})
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
    return created.task_id


def _start_execution(services: Services, ref: ObjectRef, options: TaskOptions, task: dict[str, Any]) -> str:
    execution_input = {
        "object": ref.to_dict(),
        "task": {"task_id": task["task_id"], **options.to_dict()},
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
        logger.info("rejected version superseded by a newer upload; no record", extra={"reason": error.reason})
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
    write_failure_record(services.s3, services.settings, ref, record)
    metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=1)
    logger.warning("object rejected", extra={"reason": record.reason, "code": record.code})
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
            create=lambda: _create_task(services, inspected, options),
        )
    except (RequestRejected, InvalidInput) as rejected:
        return _reject(services, ref, rejected, enhancement_type=options.enhancement_type)
    if task.get("ambiguous"):
        lost = AmbiguousCreate(
            f"the create request was sent but its answer was lost ({task['ambiguous']}); the task "
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
