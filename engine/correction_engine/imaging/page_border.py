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
from .page_regions import NEAR_BORDER, border_line, clamp_to_frame, crossings, line_through
from .page_scoring import one_way_steps, sample, side_points

# A line along the band is an edge when this share of it steps (the scorer's weakest side of an
# accepted outline is about this well supported).
EDGE_SHARE = 0.5
# Brightness is compared this many pixels apart along each line across the band (the scorer's
# step is measured across 6 pixels, +-3 about a side).
STEP_SPAN = 6
# A side whose middle lies closer than this (pixels) to the border, on either side of it, runs
# on the border already: it may cross it (the 1 % clamp leaves corners just outside), and then
# it has no side of the border to look inward from.
ON_BORDER = 1.0


def _band_is_plain(
    gray: np.ndarray, base: np.ndarray, dist: np.ndarray, border: np.ndarray, contrast: float
) -> bool:
    """Whether no line parallel to the ``border``, from it to a little inside the side through
    the points ``base`` (at signed distances ``dist`` from the border, mostly inside), is an
    edge by the scorer's measure (one_way_steps) along at least EDGE_SHARE of the side.
    (Crumpled or curled paper shades in patches; an edge runs along.)"""
    size = gray.shape[:2]
    normal = border[:2]
    # From the border inward, past the side by as far again as the side may lie from the border:
    # a region that leaked onto a light surface puts its side beyond the page's real edge, which
    # then lies a little inside the side, and the page does not reach the border.
    reach = NEAR_BORDER * (size[1] if border[0] else size[0])
    depth = int(np.ceil(np.abs(dist).max() + reach)) + STEP_SPAN
    steps = np.arange(depth + 1, dtype=np.float64)
    inward = np.sign(np.median(dist)) * normal
    start = base - dist[:, None] * normal[None, :]
    pts = (start[:, None, :] + steps[None, :, None] * inward[None, None, :]).astype(np.float32)
    vals = sample(gray, pts)
    step = vals[:, STEP_SPAN:] - vals[:, :-STEP_SPAN]  # (position along the side, depth)
    edge = one_way_steps(step, contrast, axis=0)
    return bool(edge.mean(axis=0).max() < EDGE_SHARE)


def border_variants(gray: np.ndarray, quad: np.ndarray, contrast: float) -> list[np.ndarray]:
    """``quad`` with each side that runs just inside the frame's border, across a plain band,
    moved onto the border (one variant with all such sides moved); none when there is none."""
    size = gray.shape[:2]
    lines = [line_through(quad[i], quad[(i + 1) % 4]) for i in range(4)]
    moved = 0
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        border = border_line(a, b, size, NEAR_BORDER)
        if border is None:
            continue
        base = side_points(a, b, 40)
        dist = base @ border[:2] + border[2]  # signed distance of each point to the border
        if abs(float(np.median(dist))) < ON_BORDER:
            continue  # on the border already, or across it
        if max(abs(a @ border[:2] + border[2]), abs(b @ border[:2] + border[2])) <= 1.0:
            continue  # on it already
        if _band_is_plain(gray, base, dist, border, contrast):
            lines[i] = border
            moved += 1
    if not moved:
        return []
    corners = crossings(lines)
    if corners is None or not is_convex(corners):
        return []
    return [clamp_to_frame(corners, size)]
