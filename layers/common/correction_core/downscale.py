"""Re-encodes an over-size photo within the API's limits (only when the user enabled it).

Oversized means over 4096 px on a side or over 20 MB; the result fits 4096 × 4096 and 20 MB,
upright (EXIF orientation applied, since the tag is dropped), JPEG unless the image has
transparency (then PNG, or WebP with alpha if PNG is still too big). Pillow is imported here
only, so the functions that never downscale do not pay for it at cold start.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from . import contract
from .errors import InvalidInput

# A decoded frame must fit the submit function's memory; 40 MP of RGB is 120 MB.
MAX_SOURCE_PIXELS = 40_000_000
_JPEG_QUALITIES = (92, 85, 75, 60)
_MAX_SHRINKS = 6


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
    max_pixels: int = MAX_SOURCE_PIXELS,
) -> Fitted:
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's bomb guard: refuse before decoding
    try:
        with Image.open(io.BytesIO(data)) as opened:
            original = opened.size
            if original[0] * original[1] > max_pixels:
                raise InvalidInput(
                    f"the image is {original[0]}x{original[1]}; too large to downscale safely "
                    f"(limit {max_pixels // 1_000_000} MP)",
                    code="too_large_to_downscale",
                    width=original[0],
                    height=original[1],
                )
            # JPEG can decode straight at 1/2, 1/4 or 1/8 scale: far less memory and time.
            opened.draft("RGB", (max_side, max_side))
            image = ImageOps.exif_transpose(opened)
            image.load()
    except Image.DecompressionBombError as exc:
        raise InvalidInput(
            f"the image is too large to downscale safely (limit {max_pixels // 1_000_000} MP)",
            code="too_large_to_downscale",
        ) from exc
    except (OSError, SyntaxError) as exc:
        raise InvalidInput(f"the image cannot be decoded for downscaling: {exc}", code="corrupt_image") from exc
    has_alpha = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    if has_alpha:
        ladder = [("PNG", ".png", {"optimize": True}), ("WEBP", ".webp", {"quality": 90})]
    else:
        ladder = [("JPEG", ".jpg", {"quality": q, "optimize": True}) for q in _JPEG_QUALITIES]
    side = max_side
    # Photos fit at full size on the first rung; noise-like content may need fewer pixels too.
    for _ in range(_MAX_SHRINKS):
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        for fmt, suffix, kwargs in ladder:
            encoded = _encode(image, fmt, **kwargs)
            if len(encoded) <= max_bytes:
                return Fitted(encoded, f"image/{fmt.lower()}", suffix, original, image.size)
        side = int(side * 0.75)
    raise InvalidInput("the image does not fit the API's limits even after downscaling", code="file_too_large")


def _encode(image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()
