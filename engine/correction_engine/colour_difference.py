"""Colour difference as people see it: encoded RGB → CIE XYZ → CIELAB → CIEDE2000.

Used to measure colour after a round trip (docs/colour.md): the truth is what a colour-managed
viewer shows for the source's values and profile; the result is read the same way. Pure NumPy.
References: IEC 61966-2.1 (the sRGB curve, which Display P3 shares); CIE 15:2004 (XYZ → L*a*b*);
Sharma, Wu and Dalal, "The CIEDE2000 colour-difference formula: implementation notes,
supplementary test data, and mathematical observations", Color Res. Appl. 30 (2005), whose
test pairs tests/engine/test_colour_difference.py checks.
"""

from __future__ import annotations

import numpy as np

from correction_core.colour_profiles import D65, DISPLAY_P3_PRIMARIES, SRGB_PRIMARIES, rgb_to_xyz_matrix

PRIMARIES = {"srgb": SRGB_PRIMARIES, "display-p3": DISPLAY_P3_PRIMARIES}


def decode_transfer(encoded: np.ndarray) -> np.ndarray:
    """8-bit encoded values → linear light in 0..1 (the sRGB curve)."""
    v = np.asarray(encoded, dtype=np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def rgb_to_xyz(encoded: np.ndarray, space: str = "srgb") -> np.ndarray:
    """(..., 3) 8-bit RGB in ``space`` → XYZ relative to D65 (white Y = 1)."""
    matrix = np.array(rgb_to_xyz_matrix(PRIMARIES[space], D65))
    return decode_transfer(encoded) @ matrix.T


def xyz_to_lab(xyz: np.ndarray) -> np.ndarray:
    x, y = D65
    white = np.array([x / y, 1.0, (1 - x - y) / y])
    t = xyz / white
    delta = 6 / 29
    f = np.where(t > delta**3, np.cbrt(t), t / (3 * delta**2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1
    )


def rgb_to_lab(encoded: np.ndarray, space: str = "srgb") -> np.ndarray:
    return xyz_to_lab(rgb_to_xyz(encoded, space))


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """ΔE00 between two (..., 3) arrays of L*a*b* (k_L = k_C = k_H = 1)."""
    l1, a1, b1 = np.moveaxis(np.asarray(lab1, dtype=np.float64), -1, 0)
    l2, a2, b2 = np.moveaxis(np.asarray(lab2, dtype=np.float64), -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dlp = l2 - l1
    dcp = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dhp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    lbp = (l1 + l2) / 2
    cbp = (c1p + c2p) / 2
    hsum = h1p + h2p
    hbp = np.where(
        c1p * c2p == 0,
        hsum,
        np.where(
            np.abs(h1p - h2p) <= 180, hsum / 2, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2)
        ),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(hbp - 30))
        + 0.24 * np.cos(np.radians(2 * hbp))
        + 0.32 * np.cos(np.radians(3 * hbp + 6))
        - 0.20 * np.cos(np.radians(4 * hbp - 63))
    )
    d_theta = 30 * np.exp(-(((hbp - 275) / 25) ** 2))
    rc = 2 * np.sqrt(cbp**7 / (cbp**7 + 25.0**7))
    sl = 1 + 0.015 * (lbp - 50) ** 2 / np.sqrt(20 + (lbp - 50) ** 2)
    sc = 1 + 0.045 * cbp
    sh = 1 + 0.015 * cbp * t
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    return np.sqrt((dlp / sl) ** 2 + (dcp / sc) ** 2 + (dhp / sh) ** 2 + rt * (dcp / sc) * (dhp / sh))
