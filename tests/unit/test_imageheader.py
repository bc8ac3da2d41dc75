"""Format sniffing and header dimensions against images Pillow writes with known sizes."""

import io
import struct
import zlib

import pytest
from PIL import Image

from correction_core import imageheader


def encode(fmt: str, size=(321, 123), **kwargs) -> bytes:
    buffer = io.BytesIO()
    mode = "RGB" if fmt not in ("SGI",) else "RGB"
    Image.new(mode, size, (200, 30, 40)).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("pil_format", "kwargs", "name"),
    [
        ("JPEG", {}, "jpeg"),
        ("JPEG", {"progressive": True}, "jpeg"),
        ("PNG", {}, "png"),
        ("WEBP", {"lossless": True}, "webp"),
        ("WEBP", {"quality": 80}, "webp"),
        ("TIFF", {}, "tiff"),
        ("TIFF", {"compression": "tiff_lzw"}, "tiff"),
        ("BMP", {}, "bmp"),
        ("SGI", {}, "sgi"),
    ],
)
def test_dimensions_of_every_accepted_format(pil_format, kwargs, name):
    data = encode(pil_format, (321, 123), **kwargs)
    assert imageheader.sniff_format(data) == name
    assert imageheader.read_dimensions(data, name) == (321, 123)
    assert imageheader.looks_complete(data[-1024:], name)


def test_jpeg_frame_header_behind_a_large_exif_block_needs_more_bytes():
    exif = Image.Exif()
    exif[0x010E] = "x" * 60000  # ImageDescription: pushes SOF past the first 4 KB
    data = encode("JPEG", (640, 480), exif=exif.tobytes())
    with pytest.raises(imageheader.HeaderTooShort):
        imageheader.read_dimensions(data[:4096], "jpeg")
    assert imageheader.read_dimensions(data, "jpeg") == (640, 480)


def test_png_bomb_header_reports_its_claimed_size():
    # A valid signature and IHDR claiming 100,000 x 100,000: never decoded, only read.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    data = b"\x89PNG\r\n\x1a\n" + chunk
    assert imageheader.read_dimensions(data, "png") == (100_000, 100_000)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GIF89a" + b"\0" * 20, "gif"),
        (b"\0\0\0\x18ftypheic" + b"\0" * 20, "heif"),
        (b"\0\0\0\x1cftypavif" + b"\0" * 20, "avif"),
        (b"%PDF-1.7\n", "pdf"),
        (b"hello, this is text\n", None),
        (b"", None),
    ],
)
def test_sniff_rejected_and_unknown(data, expected):
    assert imageheader.sniff_format(data) == expected


def test_truncated_jpeg_and_png_are_detected_by_their_trailer():
    jpeg = encode("JPEG", (200, 200))
    png = encode("PNG", (200, 200))
    assert not imageheader.looks_complete(jpeg[: len(jpeg) // 2][-1024:], "jpeg")
    assert not imageheader.looks_complete(png[:-20][-1024:], "png")


def test_corrupt_headers_raise_corrupt_not_crash():
    with pytest.raises(imageheader.CorruptHeader):
        imageheader.read_dimensions(b"\xff\xd8\xff\xd9" + b"\0" * 10, "jpeg")
    with pytest.raises(imageheader.CorruptHeader):
        imageheader.read_dimensions(b"\x89PNG\r\n\x1a\n\0\0\0\x0dXXXX" + b"\0" * 20, "png")


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def test_jpeg_walk_skips_metadata_it_has_not_read_and_resumes_where_the_next_segment_starts():
    metadata = b"".join(_segment(0xE1, bytes([i]) * 65000) for i in range(10))  # 650 KB
    data = encode("JPEG", (640, 480))
    data = data[:2] + metadata + data[2:]
    with pytest.raises(imageheader.HeaderTooShort) as info:
        imageheader.read_dimensions(data[:4096], "jpeg")
    # The first segment's end, not the end of what was read: its bytes need never be fetched.
    assert info.value.resume_at == 2 + 65004
    offset = info.value.resume_at
    while True:
        try:
            size = imageheader.jpeg_dimensions(data[offset : offset + 100], offset)
            break
        except imageheader.HeaderTooShort as exc:
            assert exc.resume_at > offset
            offset = exc.resume_at
    assert size == (640, 480)


def test_bigtiff_dimensions_from_its_64_bit_directory():
    buffer = io.BytesIO()
    Image.new("RGB", (321, 123)).save(buffer, format="TIFF", big_tiff=True)
    data = buffer.getvalue()
    assert data[2:4] == b"+\x00"
    assert imageheader.sniff_format(data) == "tiff"
    assert imageheader.read_dimensions(data, "tiff") == (321, 123)


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
@pytest.mark.parametrize(
    ("fmt", "image", "trailer"),
    [
        ("jpeg", encode("JPEG", (300, 200), progressive=True), b"\x00\x11" * 3000),
        ("jpeg", encode("JPEG", (300, 200), restart_marker_blocks=2), b"MotionPhoto_Data" + b"\x77" * 5000),
        ("png", encode("PNG", (300, 200)), b"\xff" * 5000),
    ],
)
def test_end_finder_locates_the_image_end_whatever_the_chunking(fmt, image, trailer, chunk):
    data = image + trailer
    finder = imageheader.ImageEndFinder(fmt)
    for start in range(0, len(data), chunk):
        if finder.feed(data[start : start + chunk]):
            break
    assert finder.end == len(image)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_end_finder_reports_no_end_for_a_cut_file(fmt):
    data = encode("JPEG" if fmt == "jpeg" else "PNG", (300, 200))
    finder = imageheader.ImageEndFinder(fmt)
    assert not finder.feed(data[: len(data) - 30])
    assert finder.end is None
