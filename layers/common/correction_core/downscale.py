"""Fits an over-size photo within the API's limits: the older entry point, kept for its callers.

Oversized means over 4096 px on a side or over 20 MB. The work is
:func:`correction_core.source_conversion.convert_for_api`, which also converts formats and
colour; this names the common case and keeps the result's older shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import contract, imageheader
from .errors import InvalidInput
from .source_conversion import convert_for_api


@dataclass(frozen=True)
class Fitted:
    data: bytes
    content_type: str
    filename_suffix: str
    original_size: tuple[int, int]
    size: tuple[int, int]


def fit_within_limits(
    data: bytes,
    *,
    max_side: int = contract.MAX_DIMENSION,
    max_bytes: int = contract.MAX_UPLOAD_BYTES,
    max_pixels: int | None = None,
) -> Fitted:
    fmt = imageheader.sniff_format(data[:64])
    if fmt is None:
        raise InvalidInput(
            "the image cannot be decoded for downscaling: unrecognised bytes", code="corrupt_image"
        )
    limits = {}
    if max_pixels is not None:
        limits = {"max_jpeg_pixels": max_pixels, "max_full_pixels": max_pixels}
    converted = convert_for_api(data, fmt, max_side=max_side, max_bytes=max_bytes, **limits)
    return Fitted(
        converted.data,
        converted.content_type,
        converted.filename_suffix,
        converted.original_size,
        converted.size,
    )
