"""Completion events: one EventBridge event per outcome, so the rest of a user's system hears when
a photo is done without polling the destination bucket.

``Photo Corrected`` follows a stored result, ``Photo Correction Failed`` a stored failure record
(schemas/ holds both). The outcome is always written first; publishing is best effort after it:
bounded retries, then a metric and a log line, never an exception into the caller, because an
image that was corrected must not be reported as failed (or retried, and paid again) for want
of a notification. EventBridge delivers at least once, and a retried Lambda may publish twice:
``outcome_id`` is the same for every copy of one outcome, so consumers can drop duplicates.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from .failures import FailureRecord
from .objects import ObjectRef
from .observability import MetricUnit, logger, metrics

#: The events' ``source``. Not ``aws.*`` (reserved); rules match on it (docs/events.md).
EVENT_SOURCE = "photo-correction"
DETAIL_TYPE_CORRECTED = "Photo Corrected"
DETAIL_TYPE_FAILED = "Photo Correction Failed"
DETAIL_TYPES = (DETAIL_TYPE_CORRECTED, DETAIL_TYPE_FAILED)
#: Bumped when a field changes meaning or goes away (adding a field does not bump it).
DETAIL_VERSION = 1

#: A failure message is for humans; the record holds it whole. Keeps every event far below
#: EventBridge's 256 KB entry limit even with 1,024-byte keys.
MAX_MESSAGE_CHARS = 1000

#: Errors that another attempt a moment later cannot fix (permissions, a missing bus, a bad entry).
PERMANENT_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "ValidationException",
        "ResourceNotFoundException",
        "NotAuthorizedForSourceException",
        "NotAuthorizedForDetailTypeException",
        "MalformedDetail",
        "InvalidArgument",
    }
)


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def to_epoch(iso: str | None) -> float | None:
    """An ISO-8601 moment (a record's, the execution input's) as Unix seconds; None if unreadable."""
    if not iso:
        return None
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _between(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, end - start), 3)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def outcome_id(ref: ObjectRef, detail_type: str) -> str:
    """The same for every copy of one outcome's event (a retried Lambda, a redelivery), different
    for another upload, another redrive attempt, or the other outcome."""
    return hashlib.sha256(f"{ref.identity}|{detail_type}".encode()).hexdigest()[:32]


def _source(ref: ObjectRef) -> dict[str, Any]:
    return {
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        "etag": ref.etag,
        "size": ref.size,
    }


@dataclass(frozen=True)
class StageTimes:
    """When each stage of one image ended (Unix seconds); None where it could not be known."""

    uploaded: float | None  # the source object's LastModified
    submitted: float | None  # the task was created
    finished: float | None  # the pipeline saw the task done (Finalize began)
    written: float  # the result was stored

    def to_detail(self) -> dict[str, Any]:
        return {
            "uploaded_at": _iso(self.uploaded),
            "submitted_at": _iso(self.submitted),
            "finished_at": _iso(self.finished),
            "written_at": _iso(self.written),
            "queued_seconds": _between(self.uploaded, self.submitted),
            "processing_seconds": _between(self.submitted, self.finished),
            "writing_seconds": _between(self.finished, self.written),
            "total_seconds": _between(self.uploaded, self.written),
        }


class WrittenResult(TypedDict):
    """What Finalize knows about one stored result: the keyword arguments that
    ``corrected_detail`` and ``announce_result`` share, named once so the two cannot drift."""

    result_bucket: str
    result_key: str
    image_format: str
    content_type: str
    size: int
    task_id: str
    enhancement_type: int | str | None
    times: StageTimes
    result_version_id: NotRequired[str | None]


def corrected_detail(ref: ObjectRef, **result: Unpack[WrittenResult]) -> dict[str, Any]:
    return {
        "detail_version": DETAIL_VERSION,
        "outcome_id": outcome_id(ref, DETAIL_TYPE_CORRECTED),
        "source": _source(ref),
        "result": {
            "bucket": result["result_bucket"],
            "key": result["result_key"],
            "version_id": result.get("result_version_id"),
            "format": result["image_format"],
            "content_type": result["content_type"],
            "size": result["size"],
        },
        "enhancement_type": _int_or_none(result["enhancement_type"]),
        "task_id": result["task_id"],
        "attempt": ref.attempt,
        "timings": result["times"].to_detail(),
    }


def failed_detail(
    ref: ObjectRef, record: FailureRecord, *, record_bucket: str, record_key: str
) -> dict[str, Any]:
    return {
        "detail_version": DETAIL_VERSION,
        "outcome_id": outcome_id(ref, DETAIL_TYPE_FAILED),
        "source": _source(ref),
        "failure_record": {"bucket": record_bucket, "key": record_key},
        "reason": record.reason,
        "stage": record.stage,
        "code": record.code,
        "message": record.message[:MAX_MESSAGE_CHARS],
        "state": record.state,
        "task_id": record.task_id,
        "enhancement_type": _int_or_none(record.enhancement_type),
        "attempt": ref.attempt,
        "submitted_at": record.submitted_at,
        "failed_at": record.failed_at,
        "execution": record.execution,
    }


@dataclass
class EventPublisher:
    """Puts one event on one bus: a few quick attempts, then gives up and counts it.

    The client should have botocore's own retries off (see ``Services.completion_events``), so
    the bound here is the whole bound: ``attempts`` x the client's timeouts + the short backoffs.
    """

    client: Any  # boto3 EventBridge client
    bus_name: str
    attempts: int = 3
    base_delay: float = 0.1
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=random.random)

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> bool:
        """True once EventBridge accepted the event; False (logged and counted) otherwise. Never raises."""
        entry = {
            "Source": EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, sort_keys=True, default=str),
            "EventBusName": self.bus_name,
        }
        why = ""
        for attempt in range(1, self.attempts + 1):
            permanent = False
            try:
                response = self.client.put_events(Entries=[entry])
                failed = response.get("FailedEntryCount", 0)
                if not failed:
                    metrics.add_metric(name="CompletionEventsPublished", unit=MetricUnit.Count, value=1)
                    return True
                result = (response.get("Entries") or [{}])[0]
                code = str(result.get("ErrorCode", ""))
                why = f"{code}: {result.get('ErrorMessage', '')}"
                permanent = code in PERMANENT_ERRORS
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                why = f"{code}: {exc}"
                permanent = code in PERMANENT_ERRORS
            except BotoCoreError as exc:  # could not talk: timeouts, connection errors
                why = f"{type(exc).__name__}: {exc}"
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}"
            if permanent or attempt == self.attempts:
                break
            self.sleep(self.base_delay * (2 ** (attempt - 1)) * (0.5 + self.jitter()))
        metrics.add_metric(name="CompletionEventsFailed", unit=MetricUnit.Count, value=1)
        logger.error(
            "completion event not published",
            extra={"detail_type": detail_type, "outcome_id": detail.get("outcome_id"), "why": why[:500]},
        )
        return False


def source_uploaded_at(s3: Any, ref: ObjectRef) -> float | None:
    """The upload's LastModified, when the current object is still this upload (else None)."""
    try:
        head = s3.head_object(Bucket=ref.bucket, Key=ref.key)
    except Exception:
        return None
    current = head.get("VersionId")
    if ref.version_id and current and current != "null" and current != ref.version_id:
        return None
    modified = head.get("LastModified")
    return modified.timestamp() if isinstance(modified, datetime) else None


def announce_result(
    publisher: EventPublisher | None, ref: ObjectRef, **result: Unpack[WrittenResult]
) -> bool:
    if publisher is None:
        return False
    detail = corrected_detail(ref, **result)
    return publisher.publish(DETAIL_TYPE_CORRECTED, detail)


def announce_failure(
    publisher: EventPublisher | None,
    ref: ObjectRef,
    record: FailureRecord,
    *,
    record_bucket: str,
    record_key: str,
) -> bool:
    if publisher is None:
        return False
    detail = failed_detail(ref, record, record_bucket=record_bucket, record_key=record_key)
    return publisher.publish(DETAIL_TYPE_FAILED, detail)
