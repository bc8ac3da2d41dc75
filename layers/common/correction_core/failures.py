"""Failure records: one JSON document per source object that did not make it.

Written under the failure prefix of the destination bucket, named after the source key, so an
object has at most one record and ``redrive`` can find every failed object by listing the prefix.
A later success of the same object deletes its record: an upload ends in exactly one outcome.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import contract
from .objects import ObjectRef, failure_key
from .observability import NAMESPACE, MetricUnit
from .redaction import redact_text
from .settings import Settings

RECORD_CONTENT_TYPE = "application/json"
RECORD_VERSION = 1


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class FailureRecord:
    source: dict[str, Any]
    stage: str  # submit | check_status | finalize | poll
    reason: str  # machine-readable: errors.CorrectionError.reason or a validation code
    message: str
    error_type: str | None = None
    code: str | None = None
    state: int | None = None
    state_meaning: str | None = None
    http_status: int | None = None
    task_id: str | None = None
    enhancement_type: int | None = None
    submitted_at: str | None = None
    failed_at: str = field(default_factory=utc_now)
    execution: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    record_version: int = RECORD_VERSION

    def __post_init__(self) -> None:
        self.message = redact_text(self.message)
        if self.state is not None and self.state_meaning is None:
            self.state_meaning = contract.state_meaning(self.state)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str)


def write_failure_record(s3: Any, settings: Settings, ref: ObjectRef, record: FailureRecord) -> str:
    """Write (or replace) the object's failure record; returns its key."""
    key = failure_key(ref, settings)
    s3.put_object(
        Bucket=settings.destination_bucket,
        Key=key,
        Body=record.to_json().encode(),
        ContentType=RECORD_CONTENT_TYPE,
    )
    return key


def count_failure(reason: str) -> None:
    """Count one failure record by its reason (the dashboard's "failures by reason"), whichever
    function wrote it: Submit's refusals before paying (also counted as Rejected) and
    RecordFailure's after (also counted as Failed; each of those two has its own alarm)."""
    from aws_lambda_powertools import single_metric

    with single_metric(name="FailedByReason", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="Reason", value=reason)


def clear_failure_record(s3: Any, settings: Settings, ref: ObjectRef) -> None:
    """Remove a stale record after the object finally succeeded (e.g. after a redrive)."""
    s3.delete_object(Bucket=settings.destination_bucket, Key=failure_key(ref, settings))


def _parse_cause(cause: str) -> tuple[str, str]:
    """(errorType, errorMessage) from a Catch's Cause: Lambda errors arrive as a JSON string."""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            return str(parsed.get("errorType", "")), str(parsed.get("errorMessage", cause))
    except (TypeError, ValueError):
        pass
    return "", str(cause)


def _reason_for_error(error_type: str) -> str:
    from . import errors

    cls = getattr(errors, error_type, None)
    if isinstance(cls, type) and issubclass(cls, errors.CorrectionError):
        return cls.reason
    if error_type.startswith("Lambda.") or error_type.startswith("States."):
        return "orchestration_error"
    return "unexpected_error"


def _server_said(message: str | None, meaning: str) -> str:
    if not message or message.strip().rstrip(".") in meaning:
        return ""
    return f" (server said: {message})"


def record_from_state(state: dict[str, Any], *, execution: str | None = None) -> FailureRecord:
    """Build the failure record from what the state machine carried to its failure branch.

    Three routes lead here: a Catch (``error`` holds Error and Cause), a task that reached a
    negative state (``status.outcome == "failed"``), or the poll cap (``timeout`` is set).
    """
    task = state.get("task", {})
    status = state.get("status") or {}
    common = dict(
        source=state.get("object", {}),
        task_id=task.get("task_id"),
        enhancement_type=task.get("enhancement_type"),
        submitted_at=state.get("submitted_at"),
        execution=execution,
    )
    if "error" in state:
        error = state["error"] or {}
        error_name = str(error.get("Error", ""))
        cause_type, message = _parse_cause(error.get("Cause", ""))
        http = re.match(r"HTTP (\d{3})\b", message)
        stage = "finalize" if status.get("outcome") == "succeeded" else "check_status"
        return FailureRecord(
            stage=stage,
            reason=_reason_for_error(cause_type or error_name),
            message=message,
            error_type=cause_type or error_name,
            http_status=int(http.group(1)) if http else None,
            state=status.get("state"),
            **common,
        )
    if status.get("outcome") == "failed":
        state_code = int(status["state"])
        return FailureRecord(
            stage="poll",
            reason="task_failed",
            message=f"the task failed with state {state_code}: {contract.state_meaning(state_code)}"
            + _server_said(status.get("message"), contract.state_meaning(state_code)),
            error_type="TaskFailed",
            state=state_code,
            http_status=contract.HTTP_OK,
            **common,
        )
    if "timeout" in state:
        poll = state.get("poll", {})
        return FailureRecord(
            stage="poll",
            reason="poll_timeout",
            message=f"the task was still pending (state {status.get('state')}, progress "
            f"{status.get('progress')}) after polling for {poll.get('elapsed')} s",
            error_type="PollTimeout",
            state=status.get("state"),
            details={"elapsed_seconds": poll.get("elapsed")},
            **common,
        )
    return FailureRecord(
        stage="unknown", reason="unexpected_error", message="failure branch reached without a cause", **common
    )
