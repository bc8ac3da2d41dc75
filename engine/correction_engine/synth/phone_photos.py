"""What phones write, made to order: huge flat JPEGs without the memory, and P3-tagged charts.

``flat_jpeg`` writes a baseline JPEG of one colour at any size straight as bytes: every 8 × 8
block but the first of each restart interval codes "same as before, no detail", so a 200 MP
file is about 6 MB and is built in well under a second, with no pixel ever allocated (Pillow
would need 800 MB to encode one). ``p3_chart`` is a grid of flat colour patches whose values
are Display P3, tagged with a Display P3 profile, as an iPhone tags its photos; the truth of
each patch is known exactly, so colour after a round trip is a number (colour_difference).
"""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

from correction_core import colour_profiles

# One Huffman table serves every component: DC categories 0-11 as 4-bit codes, and the AC
# table holds only end-of-block (a 1-bit code), since no block has detail.
_DC_COUNTS = bytes([0, 0, 0, 12] + [0] * 12)
_DC_SYMBOLS = bytes(range(12))
_AC_COUNTS = bytes([1] + [0] * 15)
_AC_SYMBOLS = b"\x00"


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _dc_bits(diff: int) -> str:
    category = abs(diff).bit_length()
    code = format(category, "04b")
    if category == 0:
        return code
    value = diff if diff > 0 else diff + (1 << category) - 1
    return code + format(value, f"0{category}b")


def _ycbcr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb  # JFIF's full-range conversion
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return tuple(int(round(min(255.0, max(0.0, v)))) for v in (y, cb, cr))  # type: ignore[return-value]


def flat_jpeg(
    width: int,
    height: int,
    rgb: tuple[int, int, int] = (128, 128, 128),
    *,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
) -> bytes:
    """A ``width × height`` JPEG of one colour (4:4:4, quantisers 1), written without pixels."""
    mcus_across, mcus_down = -(-width // 8), -(-height // 8)
    # Each restart interval (one row of blocks) starts its DC prediction at 0 and ends on a byte.
    levels = _ycbcr(rgb)
    first = "".join(_dc_bits(8 * (level - 128)) + "0" for level in levels)
    rest = ("0000" + "0") * 3
    bits = first + rest * (mcus_across - 1)
    bits += "1" * (-len(bits) % 8)  # padding is 1s
    row = int(bits, 2).to_bytes(len(bits) // 8, "big").replace(b"\xff", b"\xff\x00")
    scan = io.BytesIO()
    for n in range(mcus_down):
        scan.write(row)
        if n != mcus_down - 1:
            scan.write(bytes([0xFF, 0xD0 + n % 8]))
    out = io.BytesIO()
    out.write(b"\xff\xd8")
    if exif:
        out.write(_segment(0xE1, b"Exif\x00\x00" + exif.removeprefix(b"Exif\x00\x00")))
    if icc_profile:
        out.write(_segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + icc_profile))
    out.write(_segment(0xDB, b"\x00" + b"\x01" * 64))
    components = b"".join(bytes([cid, 0x11, 0]) for cid in (1, 2, 3))
    out.write(_segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + components))
    out.write(_segment(0xC4, b"\x00" + _DC_COUNTS + _DC_SYMBOLS))
    out.write(_segment(0xC4, b"\x10" + _AC_COUNTS + _AC_SYMBOLS))
    out.write(_segment(0xDD, struct.pack(">H", mcus_across)))
    out.write(_segment(0xDA, b"\x03" + b"".join(bytes([cid, 0x00]) for cid in (1, 2, 3)) + b"\x00\x3f\x00"))
    out.write(scan.getvalue())
    out.write(b"\xff\xd9")
    return out.getvalue()


#: Display P3 values of the chart's patches: skin, sky, foliage, a saturated red and green
#: that sRGB cannot show, greys. In-gamut ones must come back exact; out-of-gamut ones clip.
P3_PATCHES: tuple[tuple[int, int, int], ...] = (
    (210, 160, 130),
    (120, 160, 210),
    (90, 140, 70),
    (200, 60, 50),
    (240, 200, 60),
    (60, 110, 170),
    (150, 150, 150),
    (230, 230, 225),
    (250, 40, 40),
    (60, 220, 80),
    (180, 90, 160),
    (40, 40, 45),
)


def p3_chart(patch: int = 64, columns: int = 4, *, margin: int = 0) -> np.ndarray:
    """The patches as an RGB uint8 grid (Display P3 values), ``patch`` pixels a side each."""
    rows = -(-len(P3_PATCHES) // columns)
    chart = np.full((rows * patch + 2 * margin, columns * patch + 2 * margin, 3), 255, np.uint8)
    for n, colour in enumerate(P3_PATCHES):
        r, c = divmod(n, columns)
        chart[
            margin + r * patch : margin + (r + 1) * patch, margin + c * patch : margin + (c + 1) * patch
        ] = colour
    return chart


def p3_tagged(pixels: np.ndarray, fmt: str = "JPEG", **kwargs) -> bytes:
    """Encode Display P3 pixel values with the Display P3 profile embedded (as phones do)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(
        buffer, format=fmt, icc_profile=colour_profiles.display_p3_profile(), **kwargs
    )
    return buffer.getvalue()
