"""ICC colour profiles read and written as bytes: is a profile sRGB, and a Display P3 profile.

Submit must tell a wide-gamut photo (an iPhone's Display P3, a camera's Adobe RGB) from an
sRGB one using only the few kilobytes of header it reads, without Pillow or LittleCMS: a
profile is sRGB when its colorants (the D50-adapted XYZ of its red, green and blue) are
sRGB's, whatever its name says. Building a profile from primaries covers what no library
ships here (LittleCMS can, Pillow's ImageCms cannot): Display P3 for HEIC files that state
their colour with an ``nclx`` box instead of an embedded profile, and for test material.
Reference: ICC.1:2001-04 (profile version 2.1), sections 6 and 6.5.
"""

from __future__ import annotations

import struct
from typing import Final

# Chromaticities (x, y) of the primaries and white point.
SRGB_PRIMARIES: Final = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060))
DISPLAY_P3_PRIMARIES: Final = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
D65: Final = (0.3127, 0.3290)
# The profile connection space's white (ICC: D50 as an s15Fixed16 XYZ).
D50_XYZ: Final = (0.9642, 1.0, 0.8249)

# Bradford cone response matrix, for adapting colorants from their white to D50 (ICC annex E).
_BRADFORD: Final = (
    (0.8951, 0.2664, -0.1614),
    (-0.7502, 1.7135, 0.0367),
    (0.0389, -0.0685, 1.0296),
)
# How far a colorant may differ from sRGB's and still be sRGB: sRGB profiles in the wild
# (IEC 61966-2.1, Android's and Apple's compact ones) agree to 0.001; Display P3 differs by 0.08.
_SRGB_TOLERANCE: Final = 0.003


def _mat_mul(a, b):
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)) for i in range(3))


def _mat_vec(a, v):
    return tuple(sum(a[i][k] * v[k] for k in range(3)) for i in range(3))


def _inverse(m):
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (
        ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det),
    )


def _xyz(xy: tuple[float, float]) -> tuple[float, float, float]:
    x, y = xy
    return (x / y, 1.0, (1 - x - y) / y)


def rgb_to_xyz_matrix(primaries, white=D65) -> tuple[tuple[float, ...], ...]:
    """Linear RGB → XYZ (white's Y = 1) from chromaticities: SMPTE RP 177's derivation."""
    columns = [_xyz(p) for p in primaries]
    p = tuple(tuple(columns[j][i] for j in range(3)) for i in range(3))
    scale = _mat_vec(_inverse(p), _xyz(white))
    return tuple(tuple(p[i][j] * scale[j] for j in range(3)) for i in range(3))


def d50_colorants(primaries, white=D65) -> tuple[tuple[float, float, float], ...]:
    """The rXYZ, gXYZ, bXYZ a v2 profile stores: the primaries adapted to D50 with Bradford."""
    source = _mat_vec(_BRADFORD, _xyz(white))
    target = _mat_vec(_BRADFORD, D50_XYZ)
    gain = ((target[0] / source[0], 0, 0), (0, target[1] / source[1], 0), (0, 0, target[2] / source[2]))
    adapt = _mat_mul(_inverse(_BRADFORD), _mat_mul(gain, _BRADFORD))
    m = _mat_mul(adapt, rgb_to_xyz_matrix(primaries, white))
    return tuple((m[0][j], m[1][j], m[2][j]) for j in range(3))


def _tags(profile: bytes) -> dict[bytes, bytes]:
    if len(profile) < 132:
        raise ValueError("an ICC profile is at least 132 bytes")
    (count,) = struct.unpack(">I", profile[128:132])
    tags = {}
    for n in range(min(count, 256)):
        entry = profile[132 + 12 * n : 144 + 12 * n]
        if len(entry) < 12:
            raise ValueError("ICC tag table cut short")
        signature, offset, size = struct.unpack(">4sII", entry)
        tags[signature] = profile[offset : offset + size]
    return tags


def _colorant(tag: bytes) -> tuple[float, float, float]:
    if len(tag) < 20 or tag[:4] != b"XYZ ":
        raise ValueError("colorant tag is not an XYZType")
    x, y, z = struct.unpack(">3i", tag[8:20])
    return x / 65536, y / 65536, z / 65536


def colour_space(profile: bytes) -> str:
    """The profile's data colour space signature, e.g. ``RGB``, ``GRAY``, ``CMYK``."""
    return profile[16:20].decode("ascii", "replace").strip()


def is_srgb(profile: bytes) -> bool:
    """Whether pixels tagged with this profile mean what untagged (sRGB) pixels mean.

    True for RGB matrix profiles with sRGB's colorants, and for grey profiles (a grey has no
    gamut to lose). False for wide gamuts, CMYK, LUT-only profiles and anything unreadable:
    those are converted, which costs a re-encode but never a wrong colour.
    """
    try:
        space = colour_space(profile)
        if space == "GRAY":
            return True
        if space != "RGB":
            return False
        tags = _tags(profile)
        found = [_colorant(tags[name]) for name in (b"rXYZ", b"gXYZ", b"bXYZ")]
    except (ValueError, KeyError, struct.error):
        return False
    expected = d50_colorants(SRGB_PRIMARIES)
    return all(abs(a - b) <= _SRGB_TOLERANCE for got, want in zip(found, expected) for a, b in zip(got, want))


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _srgb_curve(samples: int = 1024) -> list[int]:
    """The sRGB transfer function (IEC 61966-2.1), which Display P3 shares, as a v2 table."""
    out = []
    for n in range(samples):
        v = n / (samples - 1)
        linear = v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
        out.append(min(65535, round(linear * 65535)))
    return out


def matrix_profile(description: str, primaries, white=D65) -> bytes:
    """A version 2.1 RGB display profile (matrix and sRGB-shaped curves) for these primaries."""
    ascii_text = description.encode("ascii") + b"\x00"
    desc = b"desc\x00\x00\x00\x00" + struct.pack(">I", len(ascii_text)) + ascii_text
    desc += b"\x00" * 8 + b"\x00\x00" + b"\x00" + b"\x00" * 67  # no Unicode or ScriptCode text
    cprt = b"text\x00\x00\x00\x00" + b"No copyright, use freely\x00"
    wtpt = b"XYZ \x00\x00\x00\x00" + b"".join(_s15(v) for v in D50_XYZ)
    curve = _srgb_curve()
    trc = b"curv\x00\x00\x00\x00" + struct.pack(">I", len(curve)) + struct.pack(f">{len(curve)}H", *curve)
    colorants = d50_colorants(primaries, white)
    tags = [(b"desc", desc), (b"cprt", cprt), (b"wtpt", wtpt)]
    tags += [
        (name, b"XYZ \x00\x00\x00\x00" + b"".join(_s15(v) for v in xyz))
        for name, xyz in zip((b"rXYZ", b"gXYZ", b"bXYZ"), colorants)
    ]
    table, body = b"", b""
    offset = 128 + 4 + 12 * (len(tags) + 3)
    for name, data in tags:
        table += struct.pack(">4sII", name, offset + len(body), len(data))
        body += data + b"\x00" * (-len(data) % 4)
    trc_at = offset + len(body)
    for name in (b"rTRC", b"gTRC", b"bTRC"):  # one curve, shared by the three tags
        table += struct.pack(">4sII", name, trc_at, len(trc))
    body += trc + b"\x00" * (-len(trc) % 4)
    tag_block = struct.pack(">I", len(tags) + 3) + table + body
    size = 128 + len(tag_block)
    header = struct.pack(">I4sI4s4s4s", size, b"\x00\x00\x00\x00", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header += b"\x00" * 12 + b"acsp" + b"\x00" * 4 + b"\x00" * 4 + b"\x00" * 8 + b"\x00" * 8
    header += struct.pack(">I", 0) + b"".join(_s15(v) for v in D50_XYZ) + b"\x00" * 4 + b"\x00" * 16
    header += b"\x00" * (128 - len(header))
    return header + tag_block


def display_p3_profile() -> bytes:
    """Display P3 (DCI-P3 primaries, D65 white, sRGB's curve): what iPhones tag their photos with."""
    return matrix_profile("Display P3 (built from its primaries)", DISPLAY_P3_PRIMARIES)


# nclx colour_primaries codes (ITU-T H.273 table 2) whose gamut we can rebuild as a profile.
NCLX_PRIMARIES: Final = {1: None, 12: DISPLAY_P3_PRIMARIES}  # 1 = BT.709 = sRGB: nothing to do
