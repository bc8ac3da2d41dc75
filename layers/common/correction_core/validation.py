"""Checks an uploaded object against the API's limits before a task is paid for.

Reads only the object's metadata (HEAD) and a few kilobytes (ranged GETs of its head and
tail), never the whole object, and never writes to it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from . import contract, imageheader
from .errors import InvalidInput
from .objects import ObjectRef

HEAD_BYTES = 64 * 1024
# A JPEG's frame header can sit behind megabytes of metadata (portrait photos carry depth maps
# and extended XMP as 64 KB APPn segments). Those are skipped unread; each further ranged GET
# starts where the next segment does and reads a window four times the last, up to this.
MAX_HEADER_WINDOW = 8 * 1024 * 1024
TAIL_BYTES = 1024
# When the tail has no end marker the file is walked once, streamed in chunks of this size.
WALK_CHUNK_BYTES = 1024 * 1024
# With downscaling on, how large a source may be before it is refused anyway (it is read whole
# into the submit function's memory): a 200 MP phone JPEG is 30-90 MB.
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
    #: Over the API's size or resolution limits, and downscaling is on (the default).
    needs_downscale: bool = False
    #: Carries a colour profile that is not sRGB (Display P3, Adobe RGB, CMYK...).
    wide_gamut: bool = False

    @property
    def conversion_reasons(self) -> tuple[str, ...]:
        """Why a converted copy is sent instead of the source (empty: the source as it is)."""
        reasons = []
        if self.image_format in imageheader.CONVERTED_FORMATS:
            reasons.append("format")
        if self.needs_downscale:
            reasons.append("size")
        if self.wide_gamut:
            reasons.append("colour")
        return tuple(reasons)

    def summary(self) -> dict[str, Any]:
        return {
            "format": self.image_format,
            "width": self.width,
            "height": self.height,
            "size": self.size,
            "downscale": self.needs_downscale,
            "convert": list(self.conversion_reasons),
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
    # HEIC/AVIF are always converted, but by the same size rules: with downscaling off, what
    # is over the API's limits is refused as before (a 48 MP HEIC is over 4096 px).
    may_shrink = allow_downscale
    if oversize and (not may_shrink or size > MAX_DOWNSCALE_SOURCE_BYTES):
        limit = MAX_DOWNSCALE_SOURCE_BYTES if may_shrink else max_bytes
        raise InvalidInput(
            f"the object is {size} bytes; "
            + (
                f"sources are converted up to {limit} bytes"
                if may_shrink
                else f"the API accepts at most {limit} bytes"
            ),
            code="file_too_large",
            size=size,
            limit=limit,
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
    # Downscaling an over-size strip shrinks its short side too: what is sent must still pass.
    sent_scale = min(1.0, contract.MAX_DIMENSION / max(width, height)) if may_shrink else 1.0
    if min(width, height) * sent_scale < contract.MIN_DIMENSION:
        raise InvalidInput(
            f"the image is {width}x{height} pixels; each side must be at least "
            f"{contract.MIN_DIMENSION} pixels",
            code="resolution_too_small",
            width=width,
            height=height,
        )
    too_many_pixels = width > contract.MAX_DIMENSION or height > contract.MAX_DIMENSION
    if too_many_pixels and not may_shrink:
        raise InvalidInput(
            f"the image is {width}x{height} pixels; the API accepts at most "
            f"{contract.MAX_DIMENSION}x{contract.MAX_DIMENSION}",
            code="resolution_too_large",
            width=width,
            height=height,
        )
    # JPEG decodes at reduced scale; other formats decode whole, so they have a lower limit.
    # (Imported here: the converter's module is not needed at Submit's cold start.)
    from .source_conversion import MAX_FULL_DECODE_PIXELS, MAX_JPEG_SOURCE_PIXELS

    convert_limit = MAX_JPEG_SOURCE_PIXELS if fmt == "jpeg" else MAX_FULL_DECODE_PIXELS
    if (too_many_pixels or fmt in imageheader.CONVERTED_FORMATS) and width * height > convert_limit:
        raise InvalidInput(
            f"the image is {width}x{height} pixels; {fmt.upper()} photos are converted or fitted "
            f"within the API's {contract.MAX_DIMENSION}x{contract.MAX_DIMENSION} up to "
            f"{convert_limit // 1_000_000} MP",
            code="too_large_to_downscale",
            width=width,
            height=height,
        )
    tail = first[-TAIL_BYTES:] if size <= len(first) else _ranged(s3, ref, f"bytes=-{TAIL_BYTES}")
    if not imageheader.looks_complete(tail, fmt) and not _ends_inside(s3, ref, first, fmt, size):
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
        wide_gamut=_wide_gamut(first, fmt),
    )


def _wide_gamut(first: bytes, fmt: str) -> bool:
    """Whether the profile in the first bytes read is not sRGB (then the colours are converted).

    A profile beyond those bytes (behind more than 64 KB of metadata) is not looked for: the
    photo is then sent as it is, as every photo was before (docs/colour.md).
    """
    profile = imageheader.embedded_icc_profile(first, fmt)
    if profile is None:
        return False
    # Imported here: only photos that carry a profile need it, not every cold start.
    from . import colour_profiles

    return not colour_profiles.is_srgb(profile)


def _ends_inside(s3: Any, ref: ObjectRef, first: bytes, fmt: str, size: int) -> bool:
    """Whether the primary image ends before the file does (trailing data), not cut short.

    Only asked when the tail has no end marker, which is rare: motion photos (an MP4 after the
    JPEG), vendor trailers, padding. The object is streamed once in chunks; only its structure
    is followed, nothing is decoded or kept.
    """
    finder = imageheader.ImageEndFinder(fmt)
    try:
        if size <= len(first):
            return finder.feed(first)
        body = s3.get_object(Bucket=ref.bucket, Key=ref.key, **_version_args(ref))["Body"]
        try:
            for chunk in body.iter_chunks(WALK_CHUNK_BYTES):
                if finder.feed(chunk):
                    return True
        finally:
            body.close()
    except imageheader.CorruptHeader as exc:
        raise InvalidInput(f"the {fmt.upper()} file is corrupt: {exc}", code="corrupt_header") from exc
    return False


def _dimensions(s3: Any, ref: ObjectRef, first: bytes, fmt: str, size: int) -> tuple[int, int]:
    if fmt == "tiff":
        return _tiff_dimensions(s3, ref, first, size)
    if fmt == "jpeg":
        return _jpeg_dimensions(s3, ref, first, size)
    try:
        return imageheader.read_dimensions(first, fmt)
    except imageheader.CorruptHeader as exc:
        raise InvalidInput(f"the {fmt.upper()} header is corrupt: {exc}", code="corrupt_header") from exc
    except imageheader.HeaderTooShort as exc:
        # Every other format states its size in its first 30 bytes.
        raise InvalidInput(f"the {fmt.upper()} header is incomplete", code="corrupt_header") from exc


def _jpeg_dimensions(s3: Any, ref: ObjectRef, first: bytes, size: int) -> tuple[int, int]:
    """Walk the segments to the frame header, reading on only where the walk needs bytes."""
    offset, data, window = 0, first, len(first)
    while True:
        try:
            return imageheader.jpeg_dimensions(data, offset)
        except imageheader.CorruptHeader as exc:
            raise InvalidInput(f"the JPEG header is corrupt: {exc}", code="corrupt_header") from exc
        except imageheader.HeaderTooShort as exc:
            # The walk wants bytes past those read; when they already reach the file's end there
            # are none (a JPEG cut inside a segment's marker, length or frame header): reading
            # again from where the walk stopped would return the same bytes forever.
            read_to_end = offset + len(data) >= size
            offset = exc.resume_at if exc.resume_at is not None else offset + len(data)
            if offset >= size or read_to_end:
                raise InvalidInput(
                    "the JPEG ends before its frame header (no dimensions)", code="corrupt_header"
                ) from exc
            window = min(max(window * 4, HEAD_BYTES), MAX_HEADER_WINDOW)
            data = _ranged(s3, ref, f"bytes={offset}-{min(size, offset + window) - 1}")


def _tiff_dimensions(s3: Any, ref: ObjectRef, first: bytes, size: int) -> tuple[int, int]:
    """Classic TIFF or BigTIFF: the first directory is read where it lies (scanners write it
    after the pixels), with a second read if it is longer than the first window."""
    big = imageheader.tiff_is_big(first)
    try:
        offset = imageheader.tiff_first_directory(first)
    except imageheader.CorruptHeader as exc:
        raise InvalidInput(f"the TIFF header is corrupt: {exc}", code="corrupt_header") from exc
    except struct.error as exc:
        raise InvalidInput("the TIFF header is incomplete", code="corrupt_header") from exc
    if offset < 8 or offset >= size:
        raise InvalidInput("the TIFF directory lies outside the file", code="corrupt_header")
    directory = first[offset:]
    # At most two more reads: a window at the directory, then the whole directory if longer.
    for _ in range(3):
        try:
            return imageheader.tiff_dimensions_in_directory(directory, first[:2], big=big)
        except imageheader.CorruptHeader as exc:
            raise InvalidInput(f"the TIFF directory is corrupt: {exc}", code="corrupt_header") from exc
        except imageheader.HeaderTooShort as exc:
            want = HEAD_BYTES
            if len(directory) >= (8 if big else 2):
                want = max(want, imageheader.tiff_directory_bytes(directory, first[:2], big=big))
            if len(directory) >= want or offset + len(directory) >= size:
                raise InvalidInput(
                    "the TIFF directory runs past the end of the file", code="corrupt_header"
                ) from exc
            directory = _ranged(s3, ref, f"bytes={offset}-{min(size, offset + want) - 1}")
    raise InvalidInput("the TIFF directory cannot be read", code="corrupt_header")
