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
        (b"\0\0\0\x1cftypavif" + b"\0" * 20, "heif"),
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
