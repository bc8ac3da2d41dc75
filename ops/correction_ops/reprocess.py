"""Redrive and backfill: put objects back on the intake queue, safely.

Both go through the normal path (submit validates, creates the task once, starts the execution
once), so they cannot bypass a check or pay twice for the same work:

* **redrive** re-runs the objects named by failure records, as attempt n+1 of each (a new,
  paid task: that is the point). Running it twice before the first run finishes sends the same
  attempt number again, which the submit function's idempotency turns into nothing.
* **backfill** processes objects already in the source bucket that have no outcome yet (neither
  a result nor a failure record). "A result" is a key the naming rule gives that very object
  (``objects.result_key``, one per possible format), so a sibling that differs only by its
  extension never counts as done. Running it twice sends only what still has no outcome, and
  objects in flight are deduplicated by the same idempotency records.

Both stream: messages leave in batches of 10 as the listing finds them, and backfill decides
"already has an outcome" by merging sorted listings (``correction_ops.outcomes``), so memory
stays bounded whatever the buckets hold and a run that stops has sent what it had found.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from correction_core.objects import ObjectRef, reprocess_message

from .outcomes import list_keys, with_outcomes
from .targets import StackTargets

SQS_BATCH = 10
#: SQS keeps a message at most 14 days (the template sets the maximum), then deletes it unread:
#: not to the dead-letter queue, gone. A backlog must drain well within that.
QUEUE_RETENTION_SECONDS = 14 * 24 * 3600
#: Requests per image when every execution polls each second: 1 create + 3 polls for tasks of
#: 2-5 s (docs/scale.md). The allowance drains ApiQps / this many images per second.
REQUESTS_PER_IMAGE_AT_EVERY_POLL = 4
#: How long pacing waits before looking at the queue again.
PACE_POLL_SECONDS = 60.0


def default_max_queued(api_qps: int) -> int | None:
    """The most messages a paced send leaves in the intake queue: what the allowance drains in
    half the queue's retention (a week), so nothing waits there long enough to expire. None
    without an allowance (ApiQps 0): the pipeline cannot know the engine's capacity."""
    if api_qps <= 0:
        return None
    return api_qps * (QUEUE_RETENTION_SECONDS // 2) // REQUESTS_PER_IMAGE_AT_EVERY_POLL


#: How many sent keys a Summary keeps: a sample to show, not a second copy of the whole run.
SENT_KEYS_SAMPLE = 100


@dataclass
class Summary:
    considered: int = 0
    sent: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    #: The first SENT_KEYS_SAMPLE keys sent (or, in a dry run, that would be): ``sent`` counts all.
    sent_keys: list[str] = field(default_factory=list)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def note_sent(self, key: str) -> None:
        if len(self.sent_keys) < SENT_KEYS_SAMPLE:
            self.sent_keys.append(key)


def _queue_depth(sqs: Any, queue_url: str) -> int:
    """Messages waiting or being worked on (both still count against their retention)."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _send(
    sqs: Any,
    queue_url: str,
    messages: Iterable[dict[str, Any]],
    *,
    max_queued: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send in batches of 10; with ``max_queued``, wait before a batch until the queue has room."""
    batch: list[dict[str, Any]] = []
    sent = 0

    def flush() -> None:
        nonlocal sent
        if not batch:
            return
        while max_queued is not None:
            depth = _queue_depth(sqs, queue_url)
            # An empty queue always takes a batch, or a limit under 10 would never send.
            if depth == 0 or depth + len(batch) <= max_queued:
                break
            sleep(PACE_POLL_SECONDS)
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": json.dumps(m)} for i, m in enumerate(batch)],
        )
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused {len(response['Failed'])} messages: {response['Failed'][:3]}")
        sent += len(batch)
        batch.clear()

    for message in messages:
        batch.append(message)
        if len(batch) == SQS_BATCH:
            flush()
    flush()
    return sent


def _current_ref(s3: Any, bucket: str, key: str, version_id: str | None = None) -> ObjectRef | None:
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
    except s3.exceptions.ClientError:
        return None
    return ObjectRef(
        bucket=bucket,
        key=key,
        version_id=head.get("VersionId") if head.get("VersionId") not in (None, "null") else None,
        etag=head.get("ETag", "").strip('"'),
        size=head.get("ContentLength"),
    )


def _deliver(
    sqs: Any,
    queue_url: str,
    messages: Iterator[dict[str, Any]],
    *,
    dry_run: bool,
    max_queued: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send (or, dry, only count) messages as the listing produces them: a batch leaves as soon
    as it is full, so a run that stops half-way has sent what it had found."""
    if dry_run:
        return sum(1 for _ in messages)
    return _send(sqs, queue_url, messages, max_queued=max_queued, sleep=sleep)


def redrive(
    s3: Any,
    sqs: Any,
    targets: StackTargets,
    *,
    key_prefix: str = "",
    reasons: set[str] | None = None,
    dry_run: bool = False,
    on_item: Callable[[str, str], None] | None = None,
) -> Summary:
    """Send every failed object (optionally only some reasons / a key prefix) back for another attempt."""
    summary = Summary()

    def messages() -> Iterator[dict[str, Any]]:
        for key in list_keys(s3, targets.destination_bucket, targets.failure_prefix + key_prefix):
            if not key.endswith(".json"):
                continue
            summary.considered += 1
            try:
                record = json.loads(s3.get_object(Bucket=targets.destination_bucket, Key=key)["Body"].read())
            except ValueError:  # not JSON (or not UTF-8): not one of our records
                record = None
            source = record.get("source") if isinstance(record, dict) else None
            if not isinstance(source, dict) or not source.get("key"):
                summary.skip("not a failure record")
                continue
            if reasons and record.get("reason") not in reasons:
                summary.skip(f"reason {record.get('reason')} not selected")
                continue
            ref = _current_ref(s3, source.get("bucket", ""), source.get("key", ""), source.get("version_id"))
            if ref is None:
                summary.skip("source object gone")
                continue
            attempt = int(source.get("attempt") or 0) + 1
            ref = ObjectRef(**{**ref.to_dict(), "attempt": attempt})
            summary.note_sent(ref.key)
            if on_item:
                on_item(ref.key, f"attempt {attempt}")
            yield reprocess_message(ref, reason="redrive")

    summary.sent = _deliver(sqs, targets.intake_queue_url, messages(), dry_run=dry_run)
    return summary


def backfill(
    s3: Any,
    sqs: Any,
    targets: StackTargets,
    *,
    key_prefix: str = "",
    dry_run: bool = False,
    on_item: Callable[[str, str], None] | None = None,
    max_queued: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Summary:
    """Send every object under the source prefix (+ key_prefix) that has no outcome yet; with
    ``max_queued``, paced so the intake queue never holds more (see ``default_max_queued``).

    Memory stays bounded whatever the bucket holds: the source and outcome listings are merged
    a page at a time (see correction_ops.outcomes) and messages leave in batches as they are found."""
    summary = Summary()

    def uploads() -> Iterator[str]:
        for key in list_keys(s3, targets.source_bucket, targets.source_prefix + key_prefix):
            summary.considered += 1
            if key.endswith("/"):
                summary.skip("folder marker")
                continue
            yield key

    def messages() -> Iterator[dict[str, Any]]:
        for key, found in with_outcomes(s3, targets, key_prefix, uploads()):
            if "result" in found:
                summary.skip("already has a result")
                continue
            if "failure" in found:
                summary.skip("already has a failure record (use redrive)")
                continue
            ref = _current_ref(s3, targets.source_bucket, key)
            if ref is None:
                summary.skip("source object gone")
                continue
            summary.note_sent(key)
            if on_item:
                on_item(key, "sent")
            yield reprocess_message(ref, reason="backfill")

    summary.sent = _deliver(
        sqs, targets.intake_queue_url, messages(), dry_run=dry_run, max_queued=max_queued, sleep=sleep
    )
    return summary
