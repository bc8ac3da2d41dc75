"""The state machine's failure branch: one failure record (and its metrics and event) per object.

What RecordFailure does, apart from the Lambda event shape; failures.py holds the record itself.
"""

from __future__ import annotations

from typing import Any

from .completion_events import announce_failure
from .failures import count_failure, record_from_state, write_failure_record
from .objects import ObjectRef, is_superseded
from .observability import MetricUnit, logger, metrics
from .services import Services


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
