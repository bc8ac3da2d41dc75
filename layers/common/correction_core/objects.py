"""Which object an event is about, and where its result and failure record go.

S3 event notifications carry keys URL-encoded with ``+`` for spaces (so do S3 events routed
through EventBridge); every key is decoded here, once, before anything else sees it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent

from .settings import Settings

# Result extension per sniffed format: the key says what the bytes are.
EXTENSION_BY_FORMAT = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp"}

_EXECUTION_NAME_MAX = 80


@dataclass(frozen=True)
class ObjectRef:
    """One version of one uploaded object: the unit of work and of idempotency."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    sequencer: str | None = None
    #: 0 for the upload itself; n for the n-th redrive of it (a deliberate new, paid attempt).
    attempt: int = 0

    @property
    def identity(self) -> str:
        """What makes two events "the same work": bucket, key, version (or content tag), attempt.

        Unversioned buckets have no version id; the ETag then separates a re-upload of new
        content (new work) from a redelivered event (same work).
        """
        parts: list[str | int] = [self.bucket, self.key, self.version_id or "", (self.etag or "").strip('"')]
        if self.attempt:
            parts.append(self.attempt)
        return json.dumps(parts)

    def execution_name(self) -> str:
        """A deterministic Step Functions execution name (≤ 80 chars of [A-Za-z0-9-_])."""
        digest = hashlib.sha256(self.identity.encode()).hexdigest()[:32]
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", self.key.rsplit("/", 1)[-1])[:40].strip("-") or "object"
        return f"{stem}-{digest}"[:_EXECUTION_NAME_MAX]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObjectRef:
        return cls(
            bucket=data["bucket"],
            key=data["key"],
            version_id=data.get("version_id"),
            etag=data.get("etag"),
            size=data.get("size"),
            sequencer=data.get("sequencer"),
            attempt=int(data.get("attempt") or 0),
        )


#: ``source`` of the messages the operator tools (redrive, backfill) put on the intake queue.
REPROCESS_SOURCE = "photo-correction.operator"


def reprocess_message(ref: ObjectRef, *, reason: str) -> dict[str, Any]:
    """An intake message asking to process ``ref`` (keys in it are not URL-encoded)."""
    return {"source": REPROCESS_SOURCE, "reason": reason, "object": ref.to_dict()}


class NotAnUploadEvent(ValueError):
    """The message is not an S3 object-created notification (e.g. ``s3:TestEvent``)."""


def refs_from_notification(body: Mapping[str, Any]) -> Iterator[ObjectRef]:
    """Yield the objects of an S3 notification, a ``s3:TestEvent``, or an EventBridge event.

    Raises NotAnUploadEvent for messages that describe no upload (S3 sends a test event when
    notifications are configured; it must be consumed, not retried).
    """
    if body.get("Event") == "s3:TestEvent":
        raise NotAnUploadEvent("s3:TestEvent")
    if body.get("source") == REPROCESS_SOURCE:
        yield ObjectRef.from_dict(body["object"])
        return
    if body.get("source") == "aws.s3" and "detail" in body:
        event = S3EventBridgeNotificationEvent(dict(body))
        if event.detail_type != "Object Created":
            raise NotAnUploadEvent(f"EventBridge {event.detail_type!r}")
        detail_object = event.detail.object
        yield ObjectRef(
            bucket=event.detail.bucket.name,
            key=detail_object.key,  # the data class has already URL-decoded it
            version_id=detail_object.get("version-id"),
            etag=detail_object.get("etag"),
            size=detail_object.get("size"),
            sequencer=detail_object.get("sequencer"),
        )
        return
    if not isinstance(body.get("Records"), list):
        raise NotAnUploadEvent("no Records")
    for record in S3Event(dict(body)).records:
        if not record.event_name.startswith("ObjectCreated:"):
            continue
        obj = record.s3.get_object
        yield ObjectRef(
            bucket=record.s3.bucket.name,
            key=unquote_plus(obj.key),
            # Optional in practice (emulators and some producers omit them): never KeyError.
            version_id=obj.get("versionId"),
            etag=obj.get("eTag"),
            size=obj.get("size"),
            sequencer=obj.get("sequencer"),
        )


def skip_reason(ref: ObjectRef, settings: Settings) -> str | None:
    """Why this object must not be processed at all, or None.

    Skipped objects are not failures: they are not uploads of photos (folder markers) or not
    ours to process (outside the source prefix, or our own output if the buckets were shared).
    """
    if ref.key.endswith("/"):
        return "folder marker"
    if settings.source_prefix and not ref.key.startswith(settings.source_prefix):
        return f"outside source prefix {settings.source_prefix!r}"
    if ref.bucket == settings.destination_bucket:
        return "object is in the destination bucket (would recurse)"
    return None


def relative_key(ref: ObjectRef, settings: Settings) -> str:
    """The key below the source prefix: what the result and failure record are named after."""
    if settings.source_prefix and ref.key.startswith(settings.source_prefix):
        return ref.key[len(settings.source_prefix) :]
    return ref.key


S3_MAX_KEY_BYTES = 1024


#: The ending of a shortened name: "~" and 32 hex digits (128 bits) of the full source key's
#: SHA-256, so two sources cannot be made to share it by searching for a collision.
_DIGEST_HEX = 32
_SHORTENED_ENDING = re.compile(rf"~[0-9a-f]{{{_DIGEST_HEX}}}\Z")


def _fit_key(prefix: str, name: str, suffix: str, full_key: str) -> str:
    """``prefix + name + suffix``, shortened to S3's 1,024-byte key limit when it would not fit.

    A shortened name keeps its first bytes (whole characters) and ends in ``~`` and a digest of
    the full source key, so it stays unique and readable; the record or metadata carries the
    full key. A name that already ends like a shortened one is shortened too, even when it
    fits: otherwise an upload could be named after another object's shortened result and own
    it. Every other name (all ordinary ones) is kept as it is.
    """
    key = f"{prefix}{name}{suffix}"
    if len(key.encode()) <= S3_MAX_KEY_BYTES and not _SHORTENED_ENDING.search(name):
        return key
    digest = "~" + hashlib.sha256(full_key.encode()).hexdigest()[:_DIGEST_HEX]
    room = S3_MAX_KEY_BYTES - len(f"{prefix}{digest}{suffix}".encode())
    kept = name.encode()[: max(0, room)].decode(errors="ignore")
    return f"{prefix}{kept}{digest}{suffix}"


def result_key(ref: ObjectRef, settings: Settings, image_format: str) -> str:
    """Destination key: the whole relative name, then the extension of the result's real format.

    ``photo.jpg`` gives ``photo.jpg.jpg``, ``photo.png`` gives ``photo.png.jpg``, ``photo``
    gives ``photo.jpg``. Nothing of the source name is dropped, so no two source objects can
    share a result key (the source name is the key minus the prefix and the known extension):
    dropping the source's extension made ``photo``, ``photo.jpg`` and ``photo.png`` overwrite
    one another. The result area (destination prefix) and the failure area never overlap
    (settings refuse it), so no source name can place a result among the failure records.
    """
    rel = relative_key(ref, settings)
    return _fit_key(settings.destination_prefix, rel, EXTENSION_BY_FORMAT[image_format], ref.key)


def failure_key(ref: ObjectRef, settings: Settings) -> str:
    """One failure record per source object; a later failure of the same object replaces it."""
    return _fit_key(settings.failure_prefix, relative_key(ref, settings), ".json", ref.key)


def result_keys(ref: ObjectRef, settings: Settings) -> dict[str, str]:
    """Every key a result of ``ref`` may have, by format: one per result format."""
    return {image_format: result_key(ref, settings, image_format) for image_format in EXTENSION_BY_FORMAT}


def remove_other_results(s3: Any, settings: Settings, ref: ObjectRef, keep: str) -> None:
    """Remove the key's results other than ``keep``, the one the key's newest upload just
    stored: a result of another format is an older upload's, which a result of the same format
    would have overwritten (review: v1 as type 0 left results/x.jpg.jpg beside v2's type 4
    results/x.jpg.png). A result is one of a few keys (one per format): deleted by name.

    A newer upload's failure record leaves an older upload's result in place: it is a correct
    result of the older photo (docs/reliability.md, "Re-uploads")."""
    for key in result_keys(ref, settings).values():
        if key != keep:
            s3.delete_object(Bucket=settings.destination_bucket, Key=key)


def is_superseded(s3: Any, ref: ObjectRef) -> bool:
    """Whether a newer upload has replaced this one under the same key.

    A superseded upload writes no outcome: the newer upload's own run does, so the key never
    shows both a result and a failure record, nor an older result over a newer one. A source
    that is gone (or unreadable) is not superseded: its outcome is still written.
    """
    try:
        head = s3.head_object(Bucket=ref.bucket, Key=ref.key)
    except Exception:  # NotFound, AccessDenied: nothing newer is known
        return False
    current_version = head.get("VersionId")
    if ref.version_id and current_version and current_version != "null":
        return current_version != ref.version_id
    if ref.etag:
        return head.get("ETag", "").strip('"') != ref.etag.strip('"')
    return False
