"""Page outlines whose side the frame cut: a side found just inside the border, moved onto it.

A page that runs past the frame (a receipt laid against the edge of a scan, a page cut by the
photo) has no edge of its own on that side, and its region found by brightness often stops a
few pixels short of the border: the paper is shaded there (crumpled, curled, the scanner's rim),
so the side lies inside the frame across plain paper and the scorer, finding no edge under it,
rejects the outline. If nothing steps between such a side and the border, the page reaches the
border there, and the outline with that side on the border is offered too (the scorer counts a
side on the border as supported, so the band check is what keeps a page's real edge near the
border from being pushed out).
"""

from __future__ import annotations

import numpy as np

from .geometry import is_convex
from .page_regions import NEAR_BORDER, clamp_to_frame, crossings, line_through
from .page_scoring import _sample

# A line along the band is an edge when this share of it steps (the scorer's weakest side of an
# accepted outline is about this well supported).
EDGE_SHARE = 0.5
# Brightness is compared this many pixels apart along each line across the band (the scorer's
# step is measured across 6 pixels, +-3 about a side).
STEP_SPAN = 6


def _border_line(a: np.ndarray, b: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """The frame's border line (homogeneous, index coordinates) that side a-b runs along, or
    None when it runs along none."""
    h, w = size
    mx, my = NEAR_BORDER * w + 1, NEAR_BORDER * h + 1
    if a[0] < mx and b[0] < mx:
        return np.array([1.0, 0.0, 0.0])
    if a[0] > w - 1 - mx and b[0] > w - 1 - mx:
        return np.array([1.0, 0.0, -(w - 1.0)])
    if a[1] < my and b[1] < my:
        return np.array([0.0, 1.0, 0.0])
    if a[1] > h - 1 - my and b[1] > h - 1 - my:
        return np.array([0.0, 1.0, -(h - 1.0)])
    return None


def _band_is_plain(
    gray: np.ndarray, a: np.ndarray, b: np.ndarray, border: np.ndarray, contrast: float
) -> bool:
    """Whether no line parallel to the ``border``, from it to a little inside side a-b, is an
    edge by the scorer's measure: brightness stepping by more than ``contrast``, the same way,
    along at least EDGE_SHARE of the side. (Crumpled or curled paper shades in patches; an edge
    runs along.)"""
    size = gray.shape[:2]
    t = (np.arange(40) + 0.5) / 40 * 0.8 + 0.1
    base = a[None, :] + t[:, None] * (b - a)[None, :]
    normal = border[:2]
    dist = base @ normal + border[2]  # signed distance of each point to the border
    # From the border inward, past the side by as far again as the side may lie from the border:
    # a region that leaked onto a light surface puts its side beyond the page's real edge, which
    # then lies a little inside the side, and the page does not reach the border.
    reach = NEAR_BORDER * (size[1] if border[0] else size[0])
    depth = int(np.ceil(np.abs(dist).max() + reach)) + STEP_SPAN
    steps = np.arange(depth + 1, dtype=np.float64)
    inward = np.sign(np.median(dist)) * normal
    start = base - dist[:, None] * normal[None, :]
    pts = (start[:, None, :] + steps[None, :, None] * inward[None, None, :]).astype(np.float32)
    vals = _sample(gray, pts)
    step = vals[:, STEP_SPAN:] - vals[:, :-STEP_SPAN]  # (position along the side, depth)
    sign = np.sign(np.median(step, axis=0, keepdims=True))
    edge = (np.abs(step) > contrast) & (np.sign(step) == sign)
    return bool(edge.mean(axis=0).max() < EDGE_SHARE)


def border_variants(gray: np.ndarray, quad: np.ndarray, contrast: float) -> list[np.ndarray]:
    """``quad`` with each side that runs just inside the frame's border, across a plain band,
    moved onto the border (one variant with all such sides moved); none when there is none."""
    size = gray.shape[:2]
    lines = [line_through(quad[i], quad[(i + 1) % 4]) for i in range(4)]
    moved = 0
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        border = _border_line(a, b, size)
        if border is None or max(abs(a @ border[:2] + border[2]), abs(b @ border[:2] + border[2])) <= 1.0:
            continue  # along no border, or on it already
        if _band_is_plain(gray, a, b, border, contrast):
            lines[i] = border
            moved += 1
    if not moved:
        return []
    corners = crossings(lines)
    if corners is None or not is_convex(corners):
        return []
    return [clamp_to_frame(corners, size)]
