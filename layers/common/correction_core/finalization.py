"""Copies a finished task's result into the destination bucket.

Idempotent: the destination key is a function of the source key and the result's real format,
so a retried Finalize writes the same bytes to the same key. A stale failure record of the same
object (an earlier attempt) is removed once the result is in place.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from . import contract
from .completion_events import StageTimes, announce_result, source_uploaded_at
from .errors import DestinationWriteFailed, ResultUnavailable
from .failures import clear_failure_record
from .objects import ObjectRef, is_superseded, remove_other_results, result_key
from .observability import MetricUnit, logger, metrics
from .result_fetch import DownloadPolicy, SpooledResult, fetch_result_to_file
from .services import Services
from .source_conversion import result_metadata


def _fetch_result(services: Services, task_id: str) -> SpooledResult:
    """The result, from the URL CheckStatus kept (no API request) or by asking the API."""
    policy = download_policy(services)
    kept = services.result_refs.recall(task_id) if services.result_refs is not None else None
    if kept:
        try:
            return fetch_result_to_file(kept, policy, transport=services.transport)
        except ResultUnavailable as unavailable:
            # Expired or refused: the API may hand out a fresh link; ask once before giving up.
            logger.info("kept result URL unusable; asking the API", extra={"why": unavailable.reason})
    status = services.api.get_task(task_id)
    if not status.is_done or not status.image:
        raise ResultUnavailable(
            f"task {task_id} reported done but now has state {status.state} and "
            f"{'no' if not status.image else 'an'} image",
            state=status.state,
        )
    return fetch_result_to_file(status.image, policy, transport=services.transport)


#: Finalize's work after its last call: storing a result of up to 67 MB in S3 (a second or two
#: inside AWS), the completion event and the return. Its calls end this long before the function.
AFTER_CALLS_SECONDS = 10.0


def download_policy(services: Services) -> DownloadPolicy:
    """How to download the result; its total deadline ends before the invocation does.

    A read may overrun the deadline by one read timeout (the deadline is checked between
    chunks), so socket timeouts are capped too and one of them is kept back. Built per
    download: a second one gets the time left.
    """
    settings = services.settings
    policy = DownloadPolicy(
        allowed_hosts=settings.result_hosts,
        allow_http=settings.allow_http_results,
        max_bytes=settings.max_result_bytes,
    )
    left = services.time_left()
    if left is not None:
        # A third of the time for one socket operation, the rest for the whole download.
        step = max(0.0, left / 3)
        t = policy.timeout
        timeout = httpx.Timeout(
            connect=min(t.connect or step, step),
            read=min(t.read or step, step),
            write=min(t.write or step, step),
            pool=min(t.pool or step, step),
        )
        total = max(0.0, min(policy.total_timeout, left - (timeout.read or 0.0)))
        policy = replace(policy, timeout=timeout, total_timeout=total)
    return policy


def finalize_task(services: Services, execution_input: dict[str, Any]) -> dict[str, Any]:
    ref = ObjectRef.from_dict(execution_input["object"])
    task = execution_input["task"]
    task_id = task["task_id"]
    logger.append_keys(object_key=ref.key, task_id=task_id)

    # The task was seen done by the poll just before this invocation: the "finished" moment.
    finished = time.time()
    if is_superseded(services.s3, ref):
        # A newer upload of the same key is on its way; it alone decides what the key shows.
        logger.info("superseded by a newer upload; result not stored")
        return _superseded()
    fetched = _fetch_result(services, task_id)
    if is_superseded(services.s3, ref):
        # Asked again after the download, which can take seconds: a newer upload that arrived
        # meanwhile decides what the key shows (review: storing this result, then cleaning up,
        # removed the newer upload's failure record; removing it again after storing could take
        # the newer upload's own result, stored under the same key).
        fetched.file.close()
        logger.info("superseded by a newer upload during the download; result not stored")
        return _superseded()
    key = result_key(ref, services.settings, fetched.image_format)
    metadata = {
        **source_metadata(ref),
        "task-id": task_id,
        "enhancement-type": str(task.get("enhancement_type", "")),
        "attempt": str(ref.attempt),
        **result_metadata(task.get("sent") or {}),  # the original format, and any conversion
    }
    try:
        # Streamed from the spooled download; large results go up as a multipart upload.
        services.s3.upload_fileobj(
            fetched.file,
            services.settings.destination_bucket,
            key,
            ExtraArgs={
                "ContentType": fetched.content_type,
                "Metadata": metadata,
            },
        )
    except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
        raise DestinationWriteFailed(
            f"could not write s3://{services.settings.destination_bucket}/{key}: {exc}"
        ) from exc
    finally:
        fetched.file.close()
    try:
        # Older outcomes go; not a newer upload's that arrived during the upload (its record).
        if not is_superseded(services.s3, ref):
            remove_other_results(services.s3, services.settings, ref, keep=key)
            clear_failure_record(services.s3, services.settings, ref)
    except (ClientError, BotoCoreError) as exc:
        # The result is stored: the upload has its outcome, announced below. Failing here sent
        # it down the failure branch, which wrote a record beside the result (review).
        logger.warning("could not remove an older outcome", extra={"error": str(exc)})
        metrics.add_metric(name="OlderOutcomeKept", unit=MetricUnit.Count, value=1)

    written = time.time()
    submitted = float(execution_input["submitted_epoch"]) if execution_input.get("submitted_epoch") else None
    uploaded = source_uploaded_at(services.s3, ref)
    metrics.add_metric(name="Succeeded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="EndToEndLatency", unit=MetricUnit.Seconds, value=max(0.0, written - (submitted or written))
    )
    if uploaded is not None:
        # From the user's upload, queue and submit included: what the dashboard's percentiles show.
        metrics.add_metric(
            name="UploadToResultLatency", unit=MetricUnit.Seconds, value=max(0.0, written - uploaded)
        )
    logger.info(
        "result stored", extra={"result_key": key, "format": fetched.image_format, "bytes": fetched.size}
    )
    # After the result is stored; never raises, so a lost event cannot fail (or repeat) the image.
    announce_result(
        services.completion_events,
        ref,
        result_bucket=services.settings.destination_bucket,
        result_key=key,
        image_format=fetched.image_format,
        content_type=fetched.content_type,
        size=fetched.size,
        task_id=task_id,
        enhancement_type=task.get("enhancement_type"),
        times=StageTimes(uploaded=uploaded, submitted=submitted, finished=finished, written=written),
    )
    return {
        "result_bucket": services.settings.destination_bucket,
        "result_key": key,
        "format": fetched.image_format,
        "bytes": fetched.size,
        "credits": contract.CREDITS_PER_TASK,
    }


# S3 allows 2 KB of user metadata in all; the rest of ours takes about 250 bytes.
MAX_SOURCE_KEY_METADATA = 1500


def source_metadata(ref: ObjectRef) -> dict[str, str]:
    """Metadata naming the source. S3 metadata must be ASCII: the key is always percent-encoded
    (so ``%C3%A9`` and ``é`` stay distinct), and left out, with only its SHA-256, when too long."""
    encoded = quote(ref.key, safe="/")
    metadata = {
        "source-bucket": ref.bucket,
        "source-version": ref.version_id or "",
        "source-key-sha256": hashlib.sha256(ref.key.encode()).hexdigest(),
    }
    if len(encoded) <= MAX_SOURCE_KEY_METADATA:
        metadata["source-key"] = encoded
    return metadata


def _superseded() -> dict[str, Any]:
    """Finalize's answer for an upload a newer one replaced: nothing stored."""
    return {"result_bucket": None, "result_key": None, "format": None, "bytes": 0, "superseded": True}
