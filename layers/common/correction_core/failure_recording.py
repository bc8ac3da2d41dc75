"""The state machine's failure branch: one failure record (and its metrics and event) per object.

What RecordFailure does, apart from the Lambda event shape; failures.py holds the record itself.
"""

from __future__ import annotations

import time
from typing import Any

from .completion_events import StageTimes, announce_failure, announce_result
from .failures import clear_failure_record, count_failure, record_from_state, write_failure_record
from .objects import ObjectRef, is_superseded, result_keys
from .observability import MetricUnit, logger, metrics
from .services import Services
from .settings import Settings


def record_failure(
    services: Services, state: dict[str, Any], *, execution: str | None = None
) -> dict[str, Any]:
    """Write the object's failure record from what the failure branch carried; returns its key
    and reason (the state machine's ResultSelector reads both)."""
    ref = ObjectRef.from_dict(state["object"])
    logger.append_keys(object_key=ref.key)
    if is_superseded(services.s3, ref):
        # A newer upload of the same key decides what the key shows; this one leaves no record.
        logger.info("superseded by a newer upload; no failure record")
        return {"failure_key": None, "reason": "superseded"}
    task = state.get("task") or {}
    task_id = task.get("task_id")
    stored = stored_result(services.s3, services.settings, ref, task_id)
    if stored is not None:
        # Finalize stored this upload's result and failed after it (review: the clean-up of a
        # stale record refused, retried, caught): the result is the outcome. A record beside it
        # would be a second one; a stale one is removed if S3 lets us.
        try:
            clear_failure_record(services.s3, services.settings, ref)
        except Exception:  # best effort: the result is stored either way
            logger.exception("could not remove a stale failure record beside the stored result")
        key, image_format, head = stored
        logger.warning("result already stored; no failure record", extra={"result_key": key})
        # Its outcome is the result: announced as Finalize would have (review: no event at all).
        announce_result(
            services.completion_events,
            ref,
            result_bucket=services.settings.destination_bucket,
            result_key=key,
            image_format=image_format,
            content_type=str(head.get("ContentType", "")),
            size=int(head.get("ContentLength", 0)),
            task_id=str(task_id),
            enhancement_type=task.get("enhancement_type"),
            times=StageTimes(
                uploaded=None, submitted=None, finished=None, written=_epoch(head.get("LastModified"))
            ),
        )
        return {"failure_key": None, "reason": "result_stored"}
    record = record_from_state(state, execution=execution)
    key = write_failure_record(services.s3, services.settings, ref, record)
    metrics.add_metric(name="Failed", unit=MetricUnit.Count, value=1)
    count_failure(record.reason)
    logger.warning(
        "failure recorded", extra={"reason": record.reason, "record_key": key, "task_id": record.task_id}
    )
    # After the record is stored; never raises, so the state machine's Retry cannot repeat the record.
    announce_failure(
        services.completion_events,
        ref,
        record,
        record_bucket=services.settings.destination_bucket,
        record_key=key,
    )
    return {"failure_key": key, "reason": record.reason}


def stored_result(
    s3: Any, settings: Settings, ref: ObjectRef, task_id: str | None
) -> tuple[str, str, dict[str, Any]] | None:
    """This upload's result if Finalize already stored it, as (key, format, its HEAD): a result
    under any of the result formats' keys whose metadata names this attempt and this task (or,
    without a task id, this source version)."""
    for image_format, key in result_keys(ref, settings).items():
        try:
            head = s3.head_object(Bucket=settings.destination_bucket, Key=key)
        except Exception:  # NotFound, or unreadable: not known to be stored
            continue
        metadata = head.get("Metadata", {})
        if metadata.get("attempt", "0") != str(ref.attempt):
            continue
        if (task_id is not None and metadata.get("task-id") == task_id) or (
            task_id is None and ref.version_id and metadata.get("source-version") == ref.version_id
        ):
            return key, image_format, head
    return None


def _epoch(moment: Any) -> float:
    return moment.timestamp() if hasattr(moment, "timestamp") else time.time()
