"""Turns what phones write into what the API takes: one pure function from bytes to bytes.

A source is converted before its task is created when the API would refuse it or spoil it:
HEIC/HEIF and AVIF (formats it does not take), photos over 4096 px or 20 MB (up to 200 MP),
and wide-gamut photos (Display P3, Adobe RGB: the vendor does not say it honours profiles, and
an ignored profile makes colours dull). The copy is upright (EXIF orientation applied), sRGB
(converted with LittleCMS, and tagged so), JPEG at quality 92 or PNG where there is alpha, and
keeps the capture metadata (EXIF without its orientation, which no longer applies). It is sent
as the request's ``image_file``, so no working copy is ever stored.

Memory stays bounded: a JPEG is decoded at 1/2, 1/4 or 1/8 scale when that still leaves at
least 3/4 of the API's side (``Image.draft``), so a 200 MP photo costs what a 13 MP one does.
Other formats decode whole, hence their lower pixel limit. Pillow (and pillow-heif) are
imported here only, so functions that never convert do not pay for them at cold start.
Figures: docs/benchmarks/big-photos.md (bench/big_photos.py).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from . import colour_profiles, contract, imageheader
from .errors import InvalidInput

#: The largest JPEG source, in pixels: 200 MP phones (Samsung, Xiaomi) write 16320 × 12240.
MAX_JPEG_SOURCE_PIXELS = 200_000_000
#: Other formats decode whole: a HEIC peaks at about 15 MB per MP (bench/big_photos.py: 350 MB
#: at 24 MP), so 50 MP (an iPhone's 48 MP, 8064 x 6048, with room) is about 740 MB, within
#: Submit's 1024 MB (docs/benchmarks/big-photos.md states the rule).
MAX_FULL_DECODE_PIXELS = 50_000_000
#: The reduced JPEG decode may leave the long side this much under the API's side (3072 px of
#: 4096): the difference from a full decode is invisible after the API's own processing, the
#: memory saved is 4x (a 108 MP photo decodes at 1/4 instead of 1/2 scale).
DRAFT_SIDE_FRACTION = 0.75
JPEG_QUALITIES = (92, 85, 75, 60)
_MAX_SHRINKS = 6
_ORIENTATION_TAG = 0x0112
_PILLOW_FORMATS = {
    "jpeg": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "tiff": "TIFF",
    "bmp": "BMP",
    "sgi": "SGI",
    "heif": "HEIF",
    "avif": "AVIF",
}


@dataclass(frozen=True)
class Converted:
    data: bytes
    content_type: str
    filename_suffix: str
    source_format: str
    original_size: tuple[int, int]
    size: tuple[int, int]
    #: What was done to the colour: "sRGB" (already), "converted from <profile>", "untagged".
    colour: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> dict[str, Any]:
        return {
            "source_format": self.source_format,
            "from": list(self.original_size),
            "to": list(self.size),
            "bytes": len(self.data),
            "colour": self.colour,
        }


def _register_plugins() -> None:
    """pillow-heif adds HEIC/HEIF to Pillow; Pillow 11.2+ reads AVIF itself."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover - a base dependency; refuse clearly if absent
        return
    register_heif_opener()


def convert_for_api(
    data: bytes,
    source_format: str,
    *,
    max_side: int = contract.MAX_DIMENSION,
    max_bytes: int = contract.MAX_UPLOAD_BYTES,
    max_jpeg_pixels: int = MAX_JPEG_SOURCE_PIXELS,
    max_full_pixels: int = MAX_FULL_DECODE_PIXELS,
) -> Converted:
    """The bytes to send for a source that needs converting. Raises InvalidInput with a code."""
    from PIL import Image, ImageOps

    _register_plugins()
    limit = max_jpeg_pixels if source_format == "jpeg" else max_full_pixels
    # Pillow's own bomb guard would refuse a 200 MP JPEG before we could decode it reduced;
    # our limit is checked below from the header, before any pixel is decoded.
    Image.MAX_IMAGE_PIXELS = max(limit, Image.MAX_IMAGE_PIXELS or 0)
    pillow_format = _PILLOW_FORMATS.get(source_format)
    if pillow_format is None:
        raise InvalidInput(f"{source_format} sources are not converted", code="unsupported_format")
    notes: list[str] = []
    bomb = imageheader.scan_bomb(data) if source_format == "jpeg" else None
    if bomb is not None:
        raise InvalidInput(bomb, code="corrupt_image")
    try:
        with Image.open(io.BytesIO(data), formats=[pillow_format]) as opened:
            original = opened.size
            if original[0] * original[1] > limit:
                raise InvalidInput(
                    f"the image is {original[0]}x{original[1]}; {source_format.upper()} sources are "
                    f"converted up to {limit // 1_000_000} MP",
                    code="too_large_to_downscale",
                    width=original[0],
                    height=original[1],
                )
            if min(original) < contract.MIN_DIMENSION:
                raise InvalidInput(
                    f"the image is {original[0]}x{original[1]} pixels; each side must be at least "
                    f"{contract.MIN_DIMENSION} pixels",
                    code="resolution_too_small",
                )
            if source_format == "jpeg":
                _refuse_progressive_over_memory(opened)
                fitted = _fit(original, max_side)
                want = (
                    max(1, int(fitted[0] * DRAFT_SIDE_FRACTION)),
                    max(1, int(fitted[1] * DRAFT_SIDE_FRACTION)),
                )
                opened.draft(opened.mode if opened.mode in ("L", "CMYK") else "RGB", want)
            icc = opened.info.get("icc_profile")
            nclx = opened.info.get("nclx_profile")
            exif = opened.getexif()
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except InvalidInput:
        raise
    except Image.DecompressionBombError as exc:
        raise InvalidInput(
            f"the image is too large to convert: {exc}", code="too_large_to_downscale"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(
            f"the {source_format.upper()} image cannot be decoded: {exc}", code="corrupt_image"
        ) from exc

    image, colour = _to_srgb(image, icc, nclx, notes)
    has_alpha = image.mode == "RGBA"
    exif_bytes = _capture_metadata(exif, notes, into_jpeg=not has_alpha)
    srgb_icc = _srgb_profile_bytes()
    if has_alpha:
        ladder = [("PNG", ".png", {"compress_level": 6}), ("WEBP", ".webp", {"quality": 90})]
    else:
        ladder = [
            ("JPEG", ".jpg", {"quality": q, "subsampling": 0 if q >= 92 else 2}) for q in JPEG_QUALITIES
        ]
    side = max_side
    for _ in range(_MAX_SHRINKS):
        if max(image.size) > side:
            image = _resize(image, side)
        for fmt, suffix, kwargs in ladder:
            encoded = _encode(image, fmt, exif=exif_bytes, icc_profile=srgb_icc, **kwargs)
            if len(encoded) <= max_bytes:
                return Converted(
                    encoded,
                    f"image/{fmt.lower()}",
                    suffix,
                    source_format,
                    original,
                    image.size,
                    colour,
                    tuple(notes),
                )
        side = int(side * 0.75)  # noise-like content: fewer pixels too
    raise InvalidInput(
        "the image does not fit the API's limits even after downscaling", code="file_too_large"
    )


# A progressive JPEG is held whole as DCT coefficients (2 bytes each) while it decodes, however
# small the draft asked for: a 200 MP 4:4:4 one peaked at 1.27 GB in Submit's 1 GB (review; a
# 4:2:0 one at 686 MB, a baseline one at 215 MB).
MAX_PROGRESSIVE_COEFFICIENT_BYTES = 640_000_000


def _refuse_progressive_over_memory(opened) -> None:
    if not (opened.info.get("progressive") or opened.info.get("progression")):
        return
    layers = getattr(opened, "layer", None) or [("", 1, 1, 0)] * len(opened.getbands())
    h_max = max(h for _, h, _, _ in layers)
    v_max = max(v for _, _, v, _ in layers)
    width, height = opened.size
    blocks = sum(-(-width * h // (8 * h_max)) * -(-height * v // (8 * v_max)) for _, h, v, _ in layers)
    if blocks * 64 * 2 > MAX_PROGRESSIVE_COEFFICIENT_BYTES:
        raise InvalidInput(
            f"the image is a {width}x{height} progressive JPEG, which needs "
            f"{blocks * 128 // 1_000_000} MB to decode; progressive JPEGs are converted up to "
            f"{MAX_PROGRESSIVE_COEFFICIENT_BYTES // 1_000_000} MB (save it as a baseline JPEG or HEIC)",
            code="too_large_to_downscale",
            width=width,
            height=height,
        )


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _resize(image, side: int):
    from PIL import Image

    # reducing_gap: box-reduce by whole factors first, then Lanczos the rest (Pillow's fast path).
    return image.resize(_fit(image.size, side), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _srgb_profile_bytes() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _to_srgb(image, icc: bytes | None, nclx: dict | None, notes: list[str]):
    """RGB or RGBA pixels meaning sRGB, and what was done to get there."""
    from PIL import ImageCms

    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    out_mode = "RGBA" if has_alpha else "RGB"
    if icc is None and nclx:
        # HEIC/AVIF may state their gamut as nclx primaries instead of a profile.
        primaries = colour_profiles.NCLX_PRIMARIES.get(int(nclx.get("color_primaries", 1)), None)
        if primaries is not None:
            icc = colour_profiles.matrix_profile("nclx primaries", primaries)
        elif int(nclx.get("color_primaries", 1)) not in (1, 2):  # 2: unspecified
            notes.append(f"nclx primaries {nclx.get('color_primaries')} not converted; treated as sRGB")
    if icc is None:
        return image.convert(out_mode), "untagged"
    if colour_profiles.is_srgb(icc) and image.mode != "CMYK":
        return image.convert(out_mode), "sRGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        name = ImageCms.getProfileDescription(source).strip() or "an embedded profile"
        working = image
        if image.mode not in ("RGB", "RGBA", "CMYK", "L"):
            working = image.convert(out_mode)
        converted = ImageCms.profileToProfile(
            working,
            source,
            ImageCms.createProfile("sRGB"),
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            outputMode=out_mode if working.mode != "L" else "RGB",
        )
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        # Never silently: the result says the colours were taken as sRGB, and why.
        notes.append(f"embedded profile unusable ({exc}); treated as sRGB")
        return image.convert(out_mode), "profile unusable, taken as sRGB"
    if converted is None:  # only with inPlace=True, which is not asked for
        raise RuntimeError("ImageCms returned no image")
    return converted.convert(out_mode), f"converted from {name}"


# A JPEG carries EXIF in one APP1 segment: 64 KB less its length field (Pillow's EXIF bytes
# start with "Exif\0\0" already).
MAX_JPEG_EXIF_BYTES = 65_535 - 2


def _capture_metadata(exif, notes: list[str], *, into_jpeg: bool) -> bytes | None:
    """The EXIF to keep: all of it but the orientation, which the pixels now carry; none when it
    is too long for a JPEG (review: a PNG or HEIC with 70 KB of EXIF failed the encode, outside
    any refusal, and the upload ended with no outcome), which the notes say."""
    if not exif:
        return None
    if _ORIENTATION_TAG in exif:
        del exif[_ORIENTATION_TAG]
    data = exif.tobytes()
    if into_jpeg and len(data) > MAX_JPEG_EXIF_BYTES:
        notes.append(f"EXIF of {len(data)} bytes not kept: over a JPEG's {MAX_JPEG_EXIF_BYTES}-byte segment")
        return None
    return data


def _encode(image, fmt: str, *, exif: bytes | None, icc_profile: bytes, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    extra = {"icc_profile": icc_profile}
    if exif:
        extra["exif"] = exif
    image.save(buffer, format=fmt, **extra, **kwargs)
    return buffer.getvalue()


def result_metadata(sent: dict[str, Any]) -> dict[str, str]:
    """What a result's S3 metadata says about what was sent: the original format, and whether
    (and why) a converted copy went instead of the source. ASCII and short (S3 allows 2 KB)."""
    if not sent:
        return {}
    metadata = {"source-format": str(sent.get("source_format", ""))}
    if sent.get("converted"):
        metadata["converted"] = ",".join(sent["converted"])
        metadata["converted-colour"] = str(sent.get("colour", "")).encode("ascii", "replace").decode()[:120]
    return metadata
