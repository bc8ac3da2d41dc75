"""Image format and size from the first and last bytes of a file, without decoding it.

The submit function reads a few kilobytes with ranged GETs to refuse, before paying for a task,
what the API would refuse anyway: unsupported formats, over-size resolutions (including
decompression bombs whose header claims 100,000 × 100,000 pixels) and truncated files. Only
what is certainly invalid is refused: metadata before a JPEG's frame is skipped, not read, and
data after an image's end (motion photos, trailers, padding) is told apart from a cut by
following the file's structure, as decoders do.
"""

from __future__ import annotations

import re
import struct
import zlib

# Formats we can identify; the value says whether the contract accepts them.
ACCEPTED_FORMATS = {"jpeg": True, "png": True, "bmp": True, "webp": True, "tiff": True, "sgi": True}
REJECTED_FORMATS = {
    "gif": "GIF",
    "pdf": "PDF",
    "svg": "SVG",
    "psd": "PSD",
    "jpeg2000": "JPEG 2000",
    "ico": "ICO",
    "compress": "Unix compress (.Z) stream",
}
# Formats phones write that the API does not take: Submit converts them before the task is
# created (correction_core.source_conversion); the engine, like the vendor, refuses them.
CONVERTED_FORMATS = {"heif": "HEIC/HEIF", "avif": "AVIF"}
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
_AVIF_BRANDS = (b"avif", b"avis")

CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "sgi": "image/sgi",
    "heif": "image/heic",
    "avif": "image/avif",
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
    if head[4:8] == b"ftyp" and head[8:12] in _AVIF_BRANDS:
        return "avif"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        # mif1 is the generic brand both use: the compatible brands say which codec it is.
        box_end = min(len(head), int.from_bytes(head[:4], "big"))
        compatible = {head[i : i + 4] for i in range(16, box_end - 3, 4)}
        if head[8:12] == b"mif1" and compatible & set(_AVIF_BRANDS) and not compatible & {b"heic", b"heix"}:
            return "avif"
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
    """The bytes given end before the dimensions: read more and try again.

    ``resume_at`` is the file offset to read on from, when it is not simply the end of the
    bytes given: a JPEG's metadata segments can be skipped unread, so the next read may start
    megabytes further on (depth maps and extended XMP of portrait photos sit before the frame).
    """

    def __init__(self, message: str, *, resume_at: int | None = None) -> None:
        super().__init__(message)
        self.resume_at = resume_at


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
    return _checked(fmt, width, height)


def _checked(fmt: str, width: int, height: int) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        raise CorruptHeader(f"{fmt} header claims {width}x{height}")
    return width, height


def _png(head: bytes) -> tuple[int, int]:
    if head[12:16] != b"IHDR":
        if len(head) < 16:
            raise IndexError
        raise CorruptHeader("PNG without IHDR first")
    return struct.unpack(">II", head[16:24])


# Markers without a length field: SOI, TEM, RST0-7 (EOI ends the search and is handled apart).
_JPEG_STANDALONE = {0xD8, 0x01, *range(0xD0, 0xD8)}


def jpeg_dimensions(data: bytes, offset: int = 0) -> tuple[int, int]:
    """(width, height) from a JPEG's frame header, walking its segments from ``offset``.

    ``data`` holds the file's bytes from ``offset``, which is 0 or a ``resume_at`` an earlier
    call raised. Segments are skipped by their length, so their bytes need not be read. Bytes
    that are not a marker between segments are skipped the way libjpeg and Pillow do (with a
    warning, not an error), so only a file that ends, or starts its scan, before any frame
    header is corrupt.
    """
    pos = 2 if offset == 0 else 0
    end = len(data)
    while True:
        # Junk before a marker, then fill bytes (FF FF ...) before its code.
        junk = data.find(b"\xff", pos)
        if junk < 0:
            raise HeaderTooShort("JPEG segment chain continues", resume_at=offset + end)
        pos = junk
        while pos + 1 < end and data[pos + 1] == 0xFF:
            pos += 1
        if pos + 1 >= end:
            raise HeaderTooShort("JPEG marker cut", resume_at=offset + pos)
        marker = data[pos + 1]
        if marker == 0x00:  # a stuffed FF is not a marker: keep looking
            pos += 2
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker == 0xD9:
            raise CorruptHeader("JPEG ends before its frame header")
        if marker == 0xDA:
            raise CorruptHeader("JPEG scan data before any frame header")
        if marker in _JPEG_SOF:
            if pos + 9 > end:
                raise HeaderTooShort("JPEG frame header cut", resume_at=offset + pos)
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            # Height 0 (set later by a DNL marker) is legal but libjpeg, so Pillow and OpenCV, refuse it.
            return _checked("jpeg", width, height)
        if pos + 4 > end:
            raise HeaderTooShort("JPEG segment length cut", resume_at=offset + pos)
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            raise CorruptHeader(f"JPEG segment FF{marker:02X} at byte {offset + pos} has length {length}")
        pos += 2 + length
        if pos > end:
            raise HeaderTooShort("JPEG segment continues past the bytes read", resume_at=offset + pos)


# A progressive JPEG is decoded once per scan over the whole frame, however little a scan holds:
# a 16-byte scan repeated thousands of times costs ~2 ms each at 16 MP (review: 259 KB held a
# worker 18.6 s). Encoders write 10 or so (libjpeg's and mozjpeg's scripts); 100 is generous.
MAX_JPEG_SCANS = 100


def jpeg_scans(data: bytes) -> int:
    """How many scans (start-of-scan segments) the main image of a whole JPEG holds, walking its
    segments to its end-of-image marker: what follows that (a phone's motion-photo video, which
    holds the two bytes of the marker every 50 KB or so; review) and what metadata segments carry
    (an EXIF thumbnail's own scans) is not counted. A walk that loses its way stops counting."""
    pos, scans, size = 2, 0, len(data)
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
        elif marker == 0xD9:  # end of image
            break
        elif marker in _JPEG_STANDALONE:
            pos += 2
        elif marker == 0xDA:
            scans += 1
            # Past the scan's header, its entropy-coded data holds FF only as FF 00 or a restart
            # marker: the next other marker ends it.
            found = _NEXT_MARKER.search(data, pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big"))
            if found is None:
                break
            pos = found.start()
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return scans


_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def scan_bomb(data: bytes) -> str | None:
    """Why a whole JPEG must not be decoded (over MAX_JPEG_SCANS scans), or None; one walk."""
    scans = jpeg_scans(data)
    if scans > MAX_JPEG_SCANS:
        return f"the JPEG holds {scans} scans; at most {MAX_JPEG_SCANS} are decoded"
    return None


def _jpeg(head: bytes) -> tuple[int, int]:
    return jpeg_dimensions(head, 0)


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


def tiff_is_big(head: bytes) -> bool:
    """BigTIFF (version 43, 64-bit offsets) rather than classic TIFF (version 42)."""
    return head[2:4] in (b"+\x00", b"\x00+")


def tiff_first_directory(head: bytes) -> int:
    """Byte offset of the first directory (libtiff writes it after the pixels), classic or BigTIFF."""
    endian = "<" if head[:2] == b"II" else ">"
    if tiff_is_big(head):
        offset_size, reserved = struct.unpack(endian + "HH", head[4:8])
        if offset_size != 8 or reserved != 0:
            raise CorruptHeader(f"BigTIFF header announces {offset_size}-byte offsets")
        return struct.unpack(endian + "Q", head[8:16])[0]
    return struct.unpack(endian + "I", head[4:8])[0]


def tiff_dimensions_in_directory(
    directory: bytes, endian_marker: bytes, *, big: bool = False
) -> tuple[int, int]:
    """(width, height) from a TIFF directory read on its own, starting at its entry count."""
    endian = "<" if endian_marker == b"II" else ">"
    try:
        width, height = _tiff_entries(directory, 0, endian, big)
    except (struct.error, IndexError):
        raise HeaderTooShort(f"TIFF directory needs more than {len(directory)} bytes") from None
    return _checked("tiff", width, height)


def tiff_directory_bytes(directory_head: bytes, endian_marker: bytes, *, big: bool = False) -> int:
    """How many bytes the directory starting with ``directory_head`` spans (count and entries)."""
    endian = "<" if endian_marker == b"II" else ">"
    if big:
        return 8 + 20 * struct.unpack(endian + "Q", directory_head[:8])[0]
    return 2 + 12 * struct.unpack(endian + "H", directory_head[:2])[0]


def _tiff(head: bytes) -> tuple[int, int]:
    endian = "<" if head[:2] == b"II" else ">"
    return _tiff_entries(head, tiff_first_directory(head), endian, tiff_is_big(head))


# Entry layout per variant: (count format, count size, entry size, value offset in an entry).
_TIFF_LAYOUT = {False: ("H", 2, 12, 8), True: ("Q", 8, 20, 12)}
# Field types that can hold ImageWidth/ImageLength inline: SHORT, LONG, LONG8 (BigTIFF).
_TIFF_INT_TYPES = {3: "H", 4: "I", 16: "Q"}


def _tiff_entries(head: bytes, ifd: int, endian: str, big: bool = False) -> tuple[int, int]:
    count_format, count_size, entry_size, value_at = _TIFF_LAYOUT[big]
    (count,) = struct.unpack(endian + count_format, head[ifd : ifd + count_size])
    found: dict[int, int] = {}
    for i in range(count):
        start = ifd + count_size + entry_size * i
        entry = head[start : start + entry_size]
        tag, typ = struct.unpack(endian + "HH", entry[:4])
        if tag in (256, 257) and typ in _TIFF_INT_TYPES:
            code = _TIFF_INT_TYPES[typ]
            found[tag] = struct.unpack(endian + code, entry[value_at : value_at + struct.calcsize(code)])[0]
            if len(found) == 2:
                break
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


def _heif(head: bytes) -> tuple[int, int]:
    """The largest ``ispe`` (image spatial extents) property of the ``meta`` box.

    HEIC and AVIF describe each item (the primary image, its grid tiles, thumbnails, depth
    maps) with an ispe; the primary picture is the largest. Phones write ``meta`` first, in
    the first few kilobytes. Rotation (``irot``) does not matter here: the limits are square.
    """
    best = (0, 0)
    at = head.find(b"ispe")
    while at >= 0:
        if at + 16 > len(head):
            break
        width, height = struct.unpack(">II", head[at + 8 : at + 16])  # after version and flags
        if width * height > best[0] * best[1]:
            best = (width, height)
        at = head.find(b"ispe", at + 4)
    if best == (0, 0):
        if len(head) < 4096:
            raise IndexError
        raise CorruptHeader("no image extents (ispe) in the first bytes")
    return best


_DIMENSION_READERS = {
    "png": _png,
    "jpeg": _jpeg,
    "webp": _webp,
    "tiff": _tiff,
    "bmp": _bmp,
    "sgi": _sgi,
    "heif": _heif,
    "avif": _heif,
}


def embedded_icc_profile(head: bytes, fmt: str) -> bytes | None:
    """The ICC profile a JPEG or PNG carries before its pixels, if it lies within ``head``.

    JPEG: APP2 ``ICC_PROFILE`` segments (a profile over 64 KB is split; the first piece holds
    the header and tag table, all :func:`colour_profiles.is_srgb` reads). PNG: the ``iCCP``
    chunk, zlib-compressed. None when there is none, or it lies beyond the bytes given.
    """
    try:
        if fmt == "jpeg":
            return _jpeg_icc(head)
        if fmt == "png":
            return _png_icc(head)
    except (struct.error, IndexError, ValueError, zlib.error):
        return None  # a malformed profile is the decoder's business, not a reason to refuse
    return None


def _jpeg_icc(head: bytes) -> bytes | None:
    pos, pieces = 2, []
    while pos + 4 <= len(head) and head[pos] == 0xFF:
        marker = head[pos + 1]
        if marker in _JPEG_SOF or marker == 0xDA:
            break
        (length,) = struct.unpack(">H", head[pos + 2 : pos + 4])
        body = head[pos + 4 : pos + 2 + length]
        if marker == 0xE2 and body.startswith(b"ICC_PROFILE\x00"):
            pieces.append(body[14:])
        pos += 2 + length
    return b"".join(pieces) or None


def _png_icc(head: bytes) -> bytes | None:
    pos = 8
    while pos + 8 <= len(head):
        length, kind = struct.unpack(">I4s", head[pos : pos + 8])
        if kind in (b"IDAT", b"IEND"):
            return None
        if kind == b"iCCP":
            data = head[pos + 8 : pos + 8 + length]
            name_end = data.index(b"\x00")
            # Only the start is needed; a profile cut by the head read still has its tag table.
            return zlib.decompressobj().decompress(data[name_end + 2 :], 1 << 20)
        pos += 12 + length
    return None


def looks_complete(tail: bytes, fmt: str) -> bool:
    """Whether the file's last bytes carry its format's end marker: the cheap first check.

    JPEG ends with EOI (FF D9), PNG with an IEND chunk. Other formats have no trailer worth
    checking; for them a truncated file is left to the decoder (the API answers state -7).
    False is not proof of truncation: phones and editors append data after the image (motion
    photo videos, vendor trailers, padding), so the caller then walks the file with
    :class:`ImageEndFinder` to tell trailing data from a cut.
    """
    if fmt == "jpeg":
        return b"\xff\xd9" in tail
    if fmt == "png":
        return b"IEND" in tail[-16:]
    return True


class ImageEndFinder:
    """Finds where a JPEG's or PNG's primary image ends, fed the file in chunks of any size.

    JPEG: segments are skipped by length; entropy-coded data is scanned for the next marker
    (FF followed by anything but 00, RST0-7 or more fill bytes), across every scan of a
    progressive file, until EOI. PNG: chunks are skipped by length until IEND. ``end`` is then
    the offset just past the image; what follows is trailing data decoders ignore. Memory stays
    at one chunk: skipped bytes are counted, not kept.
    """

    def __init__(self, fmt: str) -> None:
        if fmt not in ("jpeg", "png"):
            raise ValueError(f"no end finder for {fmt}")
        self._fmt = fmt
        self._buffer = b""
        self._base = 0  # file offset of self._buffer[0]
        self._skip = 0  # bytes still to skip before parsing resumes
        self._started = False
        self.end: int | None = None

    def feed(self, chunk: bytes) -> bool:
        """Consume the next bytes of the file; True once the end has been found."""
        if self.end is not None:
            return True
        if self._skip:
            dropped = min(self._skip, len(chunk))
            self._skip -= dropped
            self._base += dropped
            chunk = chunk[dropped:]
        self._buffer += chunk
        consumed = self._parse_png() if self._fmt == "png" else self._parse_jpeg()
        self._base += consumed
        self._buffer = self._buffer[consumed:]
        return self.end is not None

    def _skip_to(self, target: int) -> int:
        """Jump to buffer position ``target``; returns how much of the buffer is consumed."""
        if target > len(self._buffer):
            self._skip = target - len(self._buffer)  # dropped from the next chunks as they come
            return len(self._buffer)
        return target

    def _parse_png(self) -> int:
        data = self._buffer
        pos = 0
        if not self._started:
            if len(data) < 8:
                return 0
            if data[:8] != b"\x89PNG\r\n\x1a\n":
                raise CorruptHeader("PNG signature missing")
            self._started = True
            pos = 8
        while len(data) - pos >= 8:
            length, kind = struct.unpack(">I4s", data[pos : pos + 8])
            if kind == b"IEND":
                self.end = self._base + pos + 12
                return pos
            if length > 0x7FFFFFFF:
                raise CorruptHeader(f"PNG chunk length {length} over the format's limit")
            after = pos + 12 + length  # length, type, data, CRC
            if after > len(data):
                return self._skip_to(after)
            pos = after
        return pos

    def _parse_jpeg(self) -> int:
        data = self._buffer
        pos = 0
        if not self._started:
            if len(data) < 2:
                return 0
            if data[:2] != b"\xff\xd8":
                raise CorruptHeader("JPEG SOI missing")
            self._started = True
            pos = 2
        end = len(data)
        while True:
            marker_at = data.find(b"\xff", pos)
            if marker_at < 0:
                return end  # entropy data or junk: nothing to keep
            pos = marker_at
            while pos + 1 < end and data[pos + 1] == 0xFF:
                pos += 1
            if pos + 1 >= end:
                return pos  # keep the FF: its code comes in the next chunk
            code = data[pos + 1]
            if code == 0x00 or 0xD0 <= code <= 0xD7 or code in (0xD8, 0x01):
                pos += 2
                continue
            if code == 0xD9:
                self.end = self._base + pos + 2
                return pos
            # Any other marker opens a segment with a length (SOS too: its entropy data follows
            # the header and is scanned by this same loop, FF 00 and RSTn passing over).
            if pos + 4 > end:
                return pos
            (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            after = pos + 2 + length
            if after > end:
                return self._skip_to(after)
            pos = after
