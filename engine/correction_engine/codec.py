"""Bytes in, pixels out, and back: the engine's only door between files and arrays.

Decoding sniffs the format from magic bytes (never from a name), keeps Pillow's
decompression-bomb guard on, honours EXIF orientation and always yields RGB uint8 HxWx3 in
sRGB: an embedded colour profile that is not sRGB (Display P3, Adobe RGB, CMYK) is converted
with LittleCMS, never dropped, so the operations and the untagged results mean what the
photographer saw (docs/colour.md). A profile LittleCMS cannot read is logged, and its pixels
are taken as sRGB.
Encoding writes JPEG for RGB results and PNG for RGBA ones (background removal), and never
returns more bytes than the pipeline accepts (``contract.MAX_RESULT_BYTES``).
Speed and memory per task are the engine's cost (docs/benchmarks/engine-speed.md): the common
phone photo (colour JPEG, upright, sRGB or untagged) is decoded by OpenCV straight into the
array (Pillow's pixels, bit for bit), and results are written by OpenCV (JPEGs byte for byte
as Pillow wrote them).

Formats the contract lists and how each is read:

========  =============================================================================
jpg jpeg  JPEG (JFIF/Exif, baseline or progressive, greyscale, CMYK) via Pillow.
jfif      Same file format as JPEG; sniffed by the ``FF D8 FF`` signature.
png       PNG (any colour type; 16-bit greyscale is scaled, not clipped).
bmp       Windows BMP (``BM`` signature).
bitmap    Not a format of its own: "bitmap" is the long name of BMP, read as above.
webp      WebP (lossy, lossless, alpha; first frame of an animation).
tiff tif  TIFF and BigTIFF incl. LZW, Deflate, PackBits and JPEG compression (Pillow's
          libtiff binding); first page of a multi-page file.
lzw       Read as LZW-*compressed TIFF*, which is what image tools mean by it. A bare
          Unix ``compress`` stream (``1F 9D``) holds no image header, so it is rejected.
rgb       SGI image file (``.rgb``/``.sgi``, ``01 DA`` signature) via Pillow's SGI reader.
raw       Camera raws built on TIFF (DNG and most vendor raws) are read by the TIFF reader
          when their first image is one Pillow can decode; headerless raw pixel dumps carry
          no size or layout and other raws need a raw developer, so they are rejected.
========  =============================================================================

Everything else (HEIC/AVIF, GIF, PDF, JPEG 2000, PSD, SVG, ...) and any corrupt or truncated
file raises :class:`InvalidImageError`; over-size images raise :class:`ImageTooLargeError`.
Both carry the contract's task state the server reports.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps

from correction_core import colour_profiles, contract, imageheader

log = logging.getLogger(__name__)

JPEG_QUALITY = 92
# PNG results (type-4 cut-outs): libpng through OpenCV, zlib level 1, the Up filter on every
# row. Pillow tries all five filters on every row and, at level 6, spent most of a cut-out task
# in the encoder; this is 7-14 times faster for files 26-35 % larger, and zlib still falls back
# to stored blocks on noise, so the worst case stays within contract.png_size_bound.
# Figures: docs/benchmarks/png-encode.md (bench/png_encode.py).
PNG_COMPRESS_LEVEL = 1
_PNG_PARAMS = [
    cv2.IMWRITE_PNG_COMPRESSION,
    PNG_COMPRESS_LEVEL,
    cv2.IMWRITE_PNG_FILTER,
    cv2.IMWRITE_PNG_FILTER_UP,
]

# Formats we sniff and the Pillow plugin that must read them (Image.open(formats=...)), so a
# file claiming one format can never be parsed by another plugin.
_PILLOW_FORMAT = {
    "jpeg": "JPEG",
    "png": "PNG",
    "bmp": "BMP",
    "webp": "WEBP",
    "tiff": "TIFF",
    "sgi": "SGI",
}


class CodecError(Exception):
    """Base of the codec's errors; ``state`` is the contract task state to report."""

    state: int = contract.STATE_INVALID_IMAGE


class InvalidImageError(CodecError):
    """Not an image we read: unsupported format, corrupt or truncated data (state -7)."""


class UnsupportedFormatError(InvalidImageError):
    """A recognisable file whose format the engine does not read (HEIC, GIF, PDF, ...)."""


class ResultTooLargeError(CodecError):
    """An encoded result over what the pipeline downloads (state -1: the task failed, not the input).

    Unreachable for results within ``contract.MAX_DIMENSION``, whose worst case the cap covers;
    kept so an operation that ever outgrows the limit fails here, not after the client paid.
    """

    state = contract.STATE_FAILED


class ImageTooLargeError(CodecError):
    """Over the contract's resolution limit, or over Pillow's decompression-bomb guard.

    The contract has no state of its own for resolution; like the vendor's "invalid image"
    wording covers format and limit problems, we report -7.
    """


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    content_type: str
    extension: str


def sniff_format(data: bytes) -> str | None:
    """The accepted format the magic bytes announce (``jpeg``, ``png``, ...), or None.

    One table for the pipeline and the engine: correction_core.imageheader.
    """
    kind = imageheader.sniff_format(bytes(data[:32]))
    return kind if kind in imageheader.ACCEPTED_FORMATS else None


def _describe_unsupported(data: bytes) -> str:
    kind = imageheader.sniff_format(bytes(data[:32])) or ""
    return imageheader.REJECTED_FORMATS.get(kind) or imageheader.CONVERTED_FORMATS.get(kind, "unrecognised")


def decode_image(data: bytes) -> np.ndarray:
    """Decode an encoded image to RGB uint8 HxWx3, upright per its EXIF orientation.

    Raises :class:`InvalidImageError` (unsupported, corrupt, truncated) or
    :class:`ImageTooLargeError` (over ``contract.MAX_DIMENSION`` on a side, or over
    ``Image.MAX_IMAGE_PIXELS``).
    """
    if not data:
        raise InvalidImageError("empty file")
    kind = sniff_format(data)
    if kind is None:
        raise UnsupportedFormatError(f"unsupported image format ({_describe_unsupported(data)})")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched Pillow to accept truncated files process-wide; we must not.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False in the engine")
    bomb = imageheader.scan_bomb(data) if kind == "jpeg" else None
    if bomb is not None:
        raise InvalidImageError(bomb)
    try:
        with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[kind]]) as img:
            _check_size(img.size)
            profile = img.info.get("icc_profile")
            direct = _decode_plain_jpeg(img, data, profile) if kind == "jpeg" else None
            if direct is not None:
                return direct
            img.load()
            return _to_rgb_array(_to_srgb(_upright(img), profile))
    except CodecError:
        raise
    except Image.DecompressionBombError as exc:  # > 2x MAX_IMAGE_PIXELS, raised by Pillow itself
        raise ImageTooLargeError(f"image too large: {exc}") from exc
    except MemoryError:
        raise
    except Exception as exc:
        # Pillow signals corrupt or truncated data with OSError, SyntaxError, ValueError,
        # EOFError, struct.error, IndexError... depending on the plugin: all mean "not readable".
        raise InvalidImageError(f"corrupt or truncated {kind} file: {exc}") from exc


_EXIF_ORIENTATION = 0x0112
_JPEG_END = b"\xff\xd9"
# Decoding to RGB order directly (no BGR copy to swap) needs OpenCV 4.10; older builds use Pillow.
_IMREAD_RGB: int | None = getattr(cv2, "IMREAD_COLOR_RGB", None)


def _decode_plain_jpeg(img: Image.Image, data: bytes, profile: bytes | None) -> np.ndarray | None:
    """The common phone photo (colour JPEG, upright, sRGB or untagged) decoded straight into
    an array by OpenCV; None when the file needs Pillow's path.

    Both libraries decode with libjpeg-turbo at its defaults, so the pixels are the same bit
    for bit (tests/engine/test_codec.py compares them), but Pillow holds the frame at four
    bytes a pixel and then packs it into a third copy: at 12 MP this path halves the decode
    time and lowers a type-0 worker's peak from ~263 to ~198 MB (docs/benchmarks/engine-speed.md).
    Only whole files take it: a truncated JPEG has no end-of-image marker (the entropy-coded
    data cannot contain one), goes to Pillow and is refused there, as before; OpenCV would
    fill the missing part with grey instead.
    """
    if img.mode != "RGB" or not data.rstrip(b"\0").endswith(_JPEG_END):
        return None
    if profile and not colour_profiles.is_srgb(profile):
        return None
    if img.getexif().get(_EXIF_ORIENTATION, 1) not in (1, None):
        return None
    if _IMREAD_RGB is None:
        return None
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), _IMREAD_RGB | cv2.IMREAD_IGNORE_ORIENTATION)
    if pixels is None or pixels.shape != (img.height, img.width, 3):
        return None  # let Pillow decode it, or say why it cannot
    return pixels


def _upright(img: Image.Image) -> Image.Image:
    """``img`` turned per its EXIF orientation; the same image when it is already upright.

    ``ImageOps.exif_transpose`` copies the whole frame even when there is nothing to turn
    (36 MB and ~40 ms for a 12 MP photo), and most photos are upright (tag 1 or no tag).
    """
    if img.getexif().get(_EXIF_ORIENTATION, 1) in (1, None):
        return img
    return ImageOps.exif_transpose(img)


def _check_size(size: tuple[int, int]) -> None:
    width, height = size
    # The bomb guard, treating the *warning* threshold as an error. Done here rather than with
    # a warnings filter because warnings filters are process-global and not thread-safe.
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise ImageTooLargeError(
            f"image has {width * height} pixels, over the decompression-bomb limit of {limit}"
        )
    if width > contract.MAX_DIMENSION or height > contract.MAX_DIMENSION:
        raise ImageTooLargeError(
            f"resolution {width}x{height} exceeds {contract.MAX_DIMENSION}x{contract.MAX_DIMENSION}"
        )
    if width <= 0 or height <= 0:
        raise InvalidImageError(f"image has no pixels ({width}x{height})")
    if width < contract.MIN_DIMENSION or height < contract.MIN_DIMENSION:
        # The pipeline refuses these before paying (validation, "resolution_too_small").
        raise InvalidImageError(
            f"resolution {width}x{height}: each side must be at least {contract.MIN_DIMENSION} pixels"
        )


_SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(img: Image.Image, profile: bytes | None) -> Image.Image:
    """The image's pixels in sRGB: converted from its embedded profile when that is not sRGB."""
    if not profile or colour_profiles.is_srgb(profile):
        return img
    if img.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return img  # palette and high-depth modes: no LittleCMS transform; their profiles are rare
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            img, source, _SRGB, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode=out_mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.warning("embedded colour profile unusable (%s); pixels taken as sRGB", exc)
        return img
    return img if converted is None else converted  # None only with inPlace=True


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _high_depth_to_rgb(img)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        # Transparent pixels become white: the operations expect paper, not black holes.
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        img = canvas.convert("RGB")
    elif mode != "RGB":
        img = img.convert("RGB")
    array = np.asarray(img, dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 3:  # pragma: no cover - Pillow guarantees RGB here
        raise InvalidImageError(f"decoded to unexpected shape {array.shape}")
    return np.ascontiguousarray(array)


def _high_depth_to_rgb(img: Image.Image) -> np.ndarray:
    values = np.asarray(img, dtype=np.float32)
    if img.mode.startswith("I;16"):
        scaled = values / 257.0
    else:
        finite = values[np.isfinite(values)]
        low = float(finite.min()) if finite.size else 0.0
        high = float(finite.max()) if finite.size else 0.0
        if low >= 0.0 and high <= 255.0:
            scaled = values
        elif high > low:
            scaled = (values - low) * (255.0 / (high - low))
        else:
            scaled = np.zeros_like(values)
    grey = np.clip(np.nan_to_num(scaled), 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(np.stack([grey, grey, grey], axis=-1))


def encode_image(
    pixels: np.ndarray,
    *,
    fmt: str | None = None,
    jpeg_quality: int = JPEG_QUALITY,
    max_bytes: int = contract.MAX_RESULT_BYTES,
) -> EncodedImage:
    """Encode an operation's result: JPEG for RGB/grey, PNG for RGBA (or when ``fmt='png'``).

    Raises :class:`ResultTooLargeError` rather than return more than ``max_bytes``.
    """
    encoded = _encode(pixels, fmt, jpeg_quality)
    if len(encoded.data) > max_bytes:
        raise ResultTooLargeError(
            f"encoded result is {len(encoded.data)} bytes, over the {max_bytes}-byte result limit"
        )
    return encoded


def _encode(pixels: np.ndarray, fmt: str | None, jpeg_quality: int) -> EncodedImage:
    if not isinstance(pixels, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(pixels).__name__}")
    if pixels.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels, got {pixels.dtype}")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))):
        raise TypeError(f"expected HxW, HxWx3 or HxWx4 pixels, got shape {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError("cannot encode an empty image")
    # No Pillow image unless Pillow encodes: Image.fromarray copies the frame at 4 bytes a pixel.
    pixels = np.ascontiguousarray(pixels)
    has_alpha = pixels.ndim == 3 and pixels.shape[2] == 4
    fmt = ("png" if has_alpha else "jpeg") if fmt is None else fmt.lower()
    if fmt in ("jpeg", "jpg"):
        if has_alpha:
            raise ValueError("JPEG cannot carry transparency; encode RGBA results as PNG")
        return EncodedImage(_encode_jpeg(pixels, jpeg_quality), "image/jpeg", "jpg")
    if fmt == "png":
        return EncodedImage(_encode_png(pixels), "image/png", "png")
    if fmt == "webp":
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="WEBP", quality=jpeg_quality)
        return EncodedImage(buffer.getvalue(), "image/webp", "webp")
    raise ValueError(f"unsupported output format {fmt!r}")


def _encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    """JPEG through OpenCV: the same bytes Pillow wrote (both drive libjpeg-turbo with its
    defaults: 4:2:0, standard tables scaled by ``quality``, no optimisation; the tests compare
    them), a third faster at 12 MP and without Pillow's four-bytes-a-pixel copy of the frame."""
    if pixels.ndim == 3:  # OpenCV's channel order is BGR
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - libjpeg fails only when it cannot allocate
        raise MemoryError("JPEG encoding failed")
    return data.tobytes()


def _encode_png(pixels: np.ndarray) -> bytes:
    if pixels.ndim == 3:  # OpenCV's channel order is BGR(A)
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", pixels, _PNG_PARAMS)
    if not ok:  # pragma: no cover - libpng fails only when it cannot allocate
        raise MemoryError("PNG encoding failed")
    return data.tobytes()
