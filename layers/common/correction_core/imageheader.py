"""Image format and size from the first and last bytes of a file, without decoding it.

The submit function reads a few kilobytes with ranged GETs to refuse, before paying for a task,
what the API would refuse anyway: unsupported formats, over-size resolutions (including
decompression bombs whose header claims 100,000 × 100,000 pixels) and truncated files.
"""

from __future__ import annotations

import re
import struct

# Formats we can identify; the value says whether the contract accepts them.
ACCEPTED_FORMATS = {"jpeg": True, "png": True, "bmp": True, "webp": True, "tiff": True, "sgi": True}
REJECTED_FORMATS = {
    "gif": "GIF",
    "heif": "HEIC/HEIF/AVIF",
    "pdf": "PDF",
    "svg": "SVG",
    "psd": "PSD",
    "jpeg2000": "JPEG 2000",
    "ico": "ICO",
    "compress": "Unix compress (.Z) stream",
}
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis")

CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "sgi": "image/sgi",
}

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def sniff_format(head: bytes) -> str | None:
    """Name the format from its magic bytes, or None if unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic and BigTIFF
        return "tiff"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[:2] == b"\x01\xda":
        return "sgi"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "heif"
    if head.startswith(b"\x00\x00\x00\x0cjP  ") or head.startswith(b"\xff\x4f\xff\x51"):
        return "jpeg2000"
    if head.startswith(b"\x1f\x9d"):
        return "compress"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ico"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.lstrip()[:5].lower() in (b"<?xml", b"<svg "):
        return "svg"
    if head.startswith(b"8BPS"):
        return "psd"
    return None


class HeaderTooShort(ValueError):
    """The bytes given end before the dimensions: read more and try again."""


class CorruptHeader(ValueError):
    """The header is malformed: the file is not a valid image of its claimed format."""


def read_dimensions(head: bytes, fmt: str) -> tuple[int, int]:
    """(width, height) from the header. Raises HeaderTooShort or CorruptHeader."""
    try:
        reader = _DIMENSION_READERS[fmt]
    except KeyError:
        raise CorruptHeader(f"no dimension reader for {fmt}") from None
    try:
        width, height = reader(head)
    except (struct.error, IndexError):
        raise HeaderTooShort(f"{fmt} header needs more than {len(head)} bytes") from None
    if width <= 0 or height <= 0:
        raise CorruptHeader(f"{fmt} header claims {width}x{height}")
    return width, height


def _png(head: bytes) -> tuple[int, int]:
    if head[12:16] != b"IHDR":
        if len(head) < 16:
            raise IndexError
        raise CorruptHeader("PNG without IHDR first")
    return struct.unpack(">II", head[16:24])


def _jpeg(head: bytes) -> tuple[int, int]:
    pos = 2
    while True:
        # Skip fill bytes between markers.
        while head[pos] == 0xFF and head[pos + 1] == 0xFF:
            pos += 1
        if head[pos] != 0xFF:
            raise CorruptHeader(f"JPEG marker expected at byte {pos}")
        marker = head[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            raise CorruptHeader("JPEG ends before its frame header")
        (length,) = struct.unpack(">H", head[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", head[pos + 5 : pos + 9])
            return width, height
        if marker == 0xDA:
            raise CorruptHeader("JPEG scan data before any frame header")
        pos += 2 + length


def _webp(head: bytes) -> tuple[int, int]:
    chunk = head[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(head[24:27], "little")
        height = 1 + int.from_bytes(head[27:30], "little")
        if len(head) < 30:
            raise IndexError
        return width, height
    if chunk == b"VP8L":
        if len(head) < 25:
            raise IndexError
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if len(head) < 16:
        raise IndexError
    raise CorruptHeader(f"unknown WebP chunk {chunk!r}")


def tiff_first_directory(head: bytes) -> int:
    """Byte offset of a classic TIFF's first directory (libtiff writes it after the pixels)."""
    endian = "<" if head[:2] == b"II" else ">"
    return struct.unpack(endian + "I", head[4:8])[0]


def tiff_dimensions_in_directory(directory: bytes, endian_marker: bytes) -> tuple[int, int]:
    """(width, height) from a TIFF directory read on its own, starting at its entry count."""
    endian = "<" if endian_marker == b"II" else ">"
    return _tiff_entries(directory, 0, endian)


def _tiff(head: bytes) -> tuple[int, int]:
    endian = "<" if head[:2] == b"II" else ">"
    if head[2:4] in (b"+\x00", b"\x00+"):
        raise CorruptHeader("BigTIFF dimensions are left to the API")
    return _tiff_entries(head, tiff_first_directory(head), endian)


def _tiff_entries(head: bytes, ifd: int, endian: str) -> tuple[int, int]:
    (count,) = struct.unpack(endian + "H", head[ifd : ifd + 2])
    found: dict[int, int] = {}
    for i in range(count):
        entry = head[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        tag, typ = struct.unpack(endian + "HH", entry[:4])
        if tag in (256, 257):
            # SHORT (3) or LONG (4), value stored inline.
            value = struct.unpack(endian + ("H" if typ == 3 else "I"), entry[8:10] if typ == 3 else entry[8:12])[0]
            found[tag] = value
    if 256 not in found or 257 not in found:
        raise CorruptHeader("TIFF without ImageWidth/ImageLength in its first IFD")
    return found[256], found[257]


def _bmp(head: bytes) -> tuple[int, int]:
    (header_size,) = struct.unpack("<I", head[14:18])
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        return struct.unpack("<HH", head[18:22])
    width, height = struct.unpack("<ii", head[18:26])
    return width, abs(height)  # negative height means top-down rows


def _sgi(head: bytes) -> tuple[int, int]:
    return struct.unpack(">HH", head[6:10])


_DIMENSION_READERS = {"png": _png, "jpeg": _jpeg, "webp": _webp, "tiff": _tiff, "bmp": _bmp, "sgi": _sgi}


# A JPEG's end marker followed by an MP4 (Google motion photos), or by Samsung's block before it.
_APPENDED_VIDEO = re.compile(rb"\xff\xd9(?:MotionPhoto_Data)?.{4}ftyp", re.S)


def has_appended_video(data: bytes) -> bool:
    """Whether a JPEG carries a video after its end marker (a "motion photo")."""
    return _APPENDED_VIDEO.search(data) is not None


def looks_complete(tail: bytes, fmt: str) -> bool:
    """Whether the file's last bytes carry its format's end marker (catches truncation).

    JPEG ends with EOI (FF D9), PNG with an IEND chunk. Other formats have no trailer worth
    checking; for them a truncated file is left to the decoder (the API answers state -7).
    Some cameras append data after EOI, hence a search in the tail rather than an exact end.
    """
    if fmt == "jpeg":
        return b"\xff\xd9" in tail
    if fmt == "png":
        return b"IEND" in tail[-16:]
    return True
