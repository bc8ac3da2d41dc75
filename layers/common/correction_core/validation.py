"""Checks an uploaded object against the API's limits before a task is paid for.

Reads only the object's metadata (HEAD) and a few kilobytes (ranged GETs of its head and
tail), never the whole object, and never writes to it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Mapping

from botocore.exceptions import ClientError

from . import contract, imageheader
from .errors import InvalidInput
from .objects import ObjectRef

HEAD_BYTES = 64 * 1024
# A JPEG's frame header can sit behind a large EXIF block (embedded previews); read on up to this.
MAX_HEADER_BYTES = 1024 * 1024
TAIL_BYTES = 1024
# With downscaling on, how large a source may be before it is refused anyway (it is read whole).
MAX_DOWNSCALE_SOURCE_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class InspectedObject:
    ref: ObjectRef
    size: int
    image_format: str
    width: int
    height: int
    content_type: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: Over the API's size or resolution limits, and the user asked for downscaling.
    needs_downscale: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "format": self.image_format,
            "width": self.width,
            "height": self.height,
            "size": self.size,
            "downscale": self.needs_downscale,
        }


class SourceGone(Exception):
    """The object (or this version of it) no longer exists, or was replaced by newer content."""


def _version_args(ref: ObjectRef) -> dict[str, str]:
    return {"VersionId": ref.version_id} if ref.version_id else {}


def _ranged(s3: Any, ref: ObjectRef, byte_range: str) -> bytes:
    response = s3.get_object(Bucket=ref.bucket, Key=ref.key, Range=byte_range, **_version_args(ref))
    return response["Body"].read()


def inspect_object(
    s3: Any, ref: ObjectRef, *, max_bytes: int = contract.MAX_UPLOAD_BYTES, allow_downscale: bool = False
) -> InspectedObject:
    """HEAD and sniff the object. Raises InvalidInput (with a code) or SourceGone.

    With ``allow_downscale`` an object over the size or resolution limits is not refused but
    marked ``needs_downscale`` (format, header and completeness are still checked).
    """
    try:
        head = s3.head_object(Bucket=ref.bucket, Key=ref.key, **_version_args(ref))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchVersion", "403"):
            raise SourceGone(f"s3://{ref.bucket}/{ref.key} is gone") from exc
        raise
    if ref.etag and not ref.version_id and head.get("ETag", "").strip('"') != ref.etag.strip('"'):
        # Unversioned bucket and the key now holds other bytes: that upload has its own event.
        raise SourceGone(f"s3://{ref.bucket}/{ref.key} was replaced since this event")
    size = int(head["ContentLength"])
    if size == 0:
        raise InvalidInput("the object is empty (0 bytes)", code="empty_object", size=0)
    oversize = size > max_bytes
    if oversize and (not allow_downscale or size > MAX_DOWNSCALE_SOURCE_BYTES):
        raise InvalidInput(
            f"the object is {size} bytes; the API accepts at most {max_bytes} bytes",
            code="file_too_large",
            size=size,
            limit=max_bytes,
        )
    first = _ranged(s3, ref, f"bytes=0-{min(size, HEAD_BYTES) - 1}")
    fmt = imageheader.sniff_format(first)
    if fmt is None:
        raise InvalidInput(
            "the object is not an image in a format the API accepts (unrecognised bytes)",
            code="unrecognised_format",
        )
    if fmt in imageheader.REJECTED_FORMATS:
        raise InvalidInput(
            f"{imageheader.REJECTED_FORMATS[fmt]} is not a format the API accepts "
            f"({', '.join(contract.SUPPORTED_FORMATS)})",
            code="unsupported_format",
            format=fmt,
        )
    width, height = _dimensions(s3, ref, first, fmt, size)
    too_many_pixels = width > contract.MAX_DIMENSION or height > contract.MAX_DIMENSION
    if too_many_pixels and not allow_downscale:
        raise InvalidInput(
            f"the image is {width}x{height} pixels; the API accepts at most "
            f"{contract.MAX_DIMENSION}x{contract.MAX_DIMENSION}",
            code="resolution_too_large",
            width=width,
            height=height,
        )
    tail = first[-TAIL_BYTES:] if size <= len(first) else _ranged(s3, ref, f"bytes=-{TAIL_BYTES}")
    if not imageheader.looks_complete(tail, fmt) and not _carries_video(s3, ref, first, fmt, size):
        raise InvalidInput(
            f"the {fmt.upper()} file is truncated (no end marker)", code="truncated_image", format=fmt
        )
    return InspectedObject(
        ref=ref,
        size=size,
        image_format=fmt,
        width=width,
        height=height,
        content_type=imageheader.CONTENT_TYPES[fmt],
        metadata=head.get("Metadata", {}),
        needs_downscale=oversize or too_many_pixels,
    )


def _carries_video(s3: Any, ref: ObjectRef, first: bytes, fmt: str, size: int) -> bool:
    """A JPEG whose end marker is followed by a video (motion photo) is whole, not truncated.

    Only asked when the tail has no end marker, which is rare; the whole object (at most the
    upload limit) is then read once to find where the JPEG ends.
    """
    if fmt != "jpeg":
        return False
    data = first if size <= len(first) else _ranged(s3, ref, f"bytes=0-{size - 1}")
    return imageheader.has_appended_video(data)


def _dimensions(s3: Any, ref: ObjectRef, first: bytes, fmt: str, size: int) -> tuple[int, int]:
    if fmt == "tiff" and first[2:4] in (b"*\x00", b"\x00*"):
        # Scanners (libtiff) write the directory after the pixels: read it where it is.
        offset = imageheader.tiff_first_directory(first)
        if offset + 2 > len(first):
            if offset + 2 > size:
                raise InvalidInput("the TIFF directory lies past the end of the file", code="corrupt_header")
            directory = _ranged(s3, ref, f"bytes={offset}-{min(size, offset + HEAD_BYTES) - 1}")
            try:
                return imageheader.tiff_dimensions_in_directory(directory, first[:2])
            except (imageheader.CorruptHeader, struct.error, IndexError) as exc:
                raise InvalidInput("the TIFF directory is corrupt", code="corrupt_header") from exc
    data = first
    while True:
        try:
            return imageheader.read_dimensions(data, fmt)
        except imageheader.CorruptHeader as exc:
            raise InvalidInput(f"the {fmt.upper()} header is corrupt: {exc}", code="corrupt_header") from exc
        except imageheader.HeaderTooShort as exc:
            if len(data) >= min(size, MAX_HEADER_BYTES):
                raise InvalidInput(
                    f"the {fmt.upper()} header is incomplete or corrupt", code="corrupt_header"
                ) from exc
            end = min(size, MAX_HEADER_BYTES, len(data) * 4) - 1
            data = data + _ranged(s3, ref, f"bytes={len(data)}-{end}")
