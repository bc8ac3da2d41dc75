"""A page cut by a cast shadow with no text to show it runs on: the shadow's edge told by where it
goes past the page.

A hard shadow across a page (the photographer's own, outdoors) is a straight brightness step,
and the lit part of the page is an outline of strong steps all round: it scores as a page. With
text on the page, text beyond that side gives the shadow away (page_detection's spill rule); a
page of large printed shapes or none has no such text. But a shadow falls on whatever lies
under it: its edge runs on past the page's corners onto the backing and the surface around,
stepping the same way there; a page's own edge ends at its corners. So a side whose step runs
on past both its corners is a shadow's edge; the page's own side lies beyond it, the first
straight step out of the shadowed paper, parallel to the page's opposite side within a few
degrees. (The step past the corners is not held to the page's ratio of light: a person's
shadow bends, and 3 px either side of a side's line that is no longer on the shadow's edge
measured a tenth of the page's log step on the committed photo.)
"""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import is_convex, quad_area
from .page_regions import line_through
from .page_scoring import sample

# Beyond each corner, the side's line is followed for this share of the side's length, starting
# this many pixels past the corner (the page's rim and the corner's rounding).
REACH = 0.3
PAST_CORNER = 6.0
# Across a line, brightness is compared this many pixels either side of it.
HALF_SPAN = 3.0
# Offsets (pixels, across the line) at which a side's run past a corner is looked for.
DRIFT = (-4.0, -2.0, 0.0, 2.0, 4.0)
# A side (or its run past a corner) steps when this share of its samples steps its way by more
# than the photo's edge contrast.
MIN_STEPPING = 0.5
# A found side of the page steps consistently along this share of its length.
MIN_SIDE = 0.8
# Before looking for the page's side, the walk leaves the shadow's edge: the first offset where
# the moved side steps along less than this share of itself.
LEFT_EDGE = 0.3
# Tilts tried for the page's side about the direction of the opposite side (degrees): a page's
# opposite sides are parallel but for perspective; the shadow's edge need not be.
TILTS = np.radians(np.arange(-6.0, 6.01, 1.0))
SAMPLES = 40


def _steps(gray: np.ndarray, pts: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """The brightness step across the line through ``pts`` (n x 2), from inside to outside
    along ``normal``."""
    out = sample(gray, (pts + HALF_SPAN * normal).astype(np.float32))
    return np.asarray(out - sample(gray, (pts - HALF_SPAN * normal).astype(np.float32)))


def _side_sign(gray: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """The steps out across side a -> b of a clockwise quad (its middle 80 %) and their usual
    sign (0 when there is none)."""
    along = a[None, :] + np.linspace(0.1, 0.9, SAMPLES)[:, None] * (b - a)[None, :]
    step = _steps(gray, along, _outward(a, b))
    return step, float(np.sign(np.median(step)))


def _in_frame(pts: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    m = HALF_SPAN + 1
    return np.asarray((pts[:, 0] > m) & (pts[:, 0] < w - 1 - m) & (pts[:, 1] > m) & (pts[:, 1] < h - 1 - m))


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v / (np.linalg.norm(v) + 1e-12))


def _outward(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The normal of side a -> b pointing out of a clockwise (TL, TR, BR, BL) quad."""
    d = _unit(b - a)
    return np.array([d[1], -d[0]])


def _stepping(step: np.ndarray, sign: float, contrast: float) -> np.ndarray:
    return np.asarray((np.sign(step) == sign) & (np.abs(step) > contrast))


def shadow_sides(gray: np.ndarray, quad: np.ndarray, contrast: float) -> list[int]:
    """The sides i (quad[i] -> quad[i + 1], ``quad`` clockwise from top-left) whose brightness
    step runs on past both corners, the same way: a shadow's edge."""
    found = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        d, nrm = _unit(b - a), _outward(a, b)
        length = float(np.linalg.norm(b - a))
        step, sign = _side_sign(gray, a, b)
        if sign == 0 or _stepping(step, sign, contrast).mean() < MIN_STEPPING:
            continue
        runs_on = True
        for end, direction in ((a, -d), (b, d)):
            s = np.linspace(PAST_CORNER, PAST_CORNER + REACH * length, SAMPLES // 2)
            pts = end[None, :] + s[:, None] * direction[None, :]
            seen = _in_frame(pts, gray.shape[:2])
            if seen.sum() < SAMPLES // 4:
                runs_on = False
                break
            # The shadow's edge need not stay on the side's line (it bends with whatever casts
            # it): it is looked for a few pixels either side of the line.
            share = max(
                _stepping(_steps(gray, pts[seen] + o * nrm, nrm), sign, contrast).mean() for o in DRIFT
            )
            if share < MIN_STEPPING:
                runs_on = False
                break
        if runs_on:
            found.append(i)
    return found


def _supports(
    gray: np.ndarray, starts: np.ndarray, ends: np.ndarray, contrast: float, sign: float
) -> np.ndarray:
    """For each segment starts[k] -> ends[k] (k x 2 each), the share of it stepping ``sign``'s
    way across it, out of the quad (0 for a segment not wholly in the frame): one look-up for
    all of them."""
    t = np.linspace(0.05, 0.95, SAMPLES)
    along = starts[:, None, :] + t[None, :, None] * (ends - starts)[:, None, :]  # (k, n, 2)
    d = ends - starts
    nrm = np.stack([d[:, 1], -d[:, 0]], axis=1) / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-12)
    outer = _grid_sample(gray, along + HALF_SPAN * nrm[:, None, :])
    inner = _grid_sample(gray, along - HALF_SPAN * nrm[:, None, :])
    share = _stepping(outer - inner, sign, contrast).mean(axis=1)
    seen = _in_frame(along.reshape(-1, 2), gray.shape[:2]).reshape(along.shape[:2]).all(axis=1)
    return np.asarray(np.where(seen, share, 0.0))


def _grid_sample(gray: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``gray`` at ``pts`` (k x n x 2), bilinear: a k x n map (remap's map rows stay under its
    limit of 32767, which a single column of every sample would pass)."""
    pts = pts.astype(np.float32)
    out = cv2.remap(gray, pts[..., 0], pts[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(out, np.float32)


def _meet(l1: np.ndarray, l2: np.ndarray) -> np.ndarray:
    """Where the homogeneous lines ``l1`` and ``l2`` (k x 3 each, or one of them 3) cross: k x 2,
    NaN for parallel lines."""
    p = np.cross(l1, l2)
    w = np.where(np.abs(p[..., 2]) < 1e-12, np.nan, p[..., 2])
    return np.asarray(p[..., :2] / w[..., None])


def beyond_shadow(gray: np.ndarray, quad: np.ndarray, side: int, contrast: float) -> np.ndarray | None:
    """``quad`` with its ``side`` (a shadow's edge, see shadow_sides) moved out to the page's own
    side: the nearest line beyond the shadow's edge, about parallel to the opposite side, that
    steps the shadow's way along MIN_SIDE of its length (the shadowed paper onto the shadowed
    surface). The neighbouring sides keep their lines. None when there is no such line within
    the page's other dimension."""
    i = side
    a, b = quad[i], quad[(i + 1) % 4]
    nrm = _outward(a, b)
    sign = _side_sign(gray, a, b)[1]
    depth = 0.5 * float(np.linalg.norm(quad[(i + 2) % 4] - b) + np.linalg.norm(quad[(i - 1) % 4] - a))
    offsets = np.arange(1.0, depth, 1.0)
    # Off the shadow's edge first: the side moved out until it no longer steps along its length.
    moved_out = _supports(gray, a + offsets[:, None] * nrm, b + offsets[:, None] * nrm, contrast, sign)
    left = np.flatnonzero(moved_out < LEFT_EDGE)
    if not len(left):
        return None
    opposite = _unit(quad[(i + 3) % 4] - quad[(i + 2) % 4])
    c, s = np.cos(TILTS), np.sin(TILTS)
    directions = np.stack([c * opposite[0] - s * opposite[1], s * opposite[0] + c * opposite[1]], axis=1)
    before = line_through(quad[(i - 1) % 4], quad[i])
    after = line_through(quad[(i + 1) % 4], quad[(i + 2) % 4])
    # Every offset past the edge at every tilt, in one look-up: (offsets, tilts) lines.
    points = 0.5 * (a + b) + offsets[left[0] :, None] * nrm  # (o, 2)
    ones = np.ones(points.shape[:1] + (1,))
    lines = np.cross(
        np.hstack([points, ones])[:, None, :],
        np.concatenate(
            [points[:, None, :] + directions[None, :, :], ones[:, None, :].repeat(len(TILTS), 1)], axis=2
        ),
    ).reshape(-1, 3)
    first, second = _meet(before, lines), _meet(lines, after)
    ok = np.isfinite(first).all(axis=1) & np.isfinite(second).all(axis=1)
    support = np.zeros(len(lines))
    support[ok] = _supports(gray, first[ok], second[ok], contrast, sign)
    per_offset = support.reshape(-1, len(TILTS))
    stepping = np.flatnonzero(per_offset.max(axis=1) >= MIN_SIDE)
    if not len(stepping):
        return None
    # The nearest offset that steps, at its best tilt.
    k = int(stepping[0] * len(TILTS) + np.argmax(per_offset[stepping[0]]))
    moved = quad.astype(np.float64).copy()
    moved[i], moved[(i + 1) % 4] = first[k], second[k]
    if not (is_convex(moved) and quad_area(moved) > quad_area(quad)):
        return None
    return moved if _crosses_paper(gray, quad, moved, i, contrast) else None


def _crosses_paper(gray: np.ndarray, quad: np.ndarray, moved: np.ndarray, side: int, contrast: float) -> bool:
    """Whether both neighbouring sides of ``side`` run on as edges, stepping their own way,
    along the stretch the move adds (old corner -> new corner). Beyond a shadow's edge the move
    crosses shadowed paper, and shadowed paper still stands off the shadowed surface; a page's
    own side on an edge of the surface that runs on past its corners (a table's far edge, a
    board joint) passes the same test as a shadow's edge, but the stretch beyond it is the floor
    or the next board, where the neighbouring sides' lines step nowhere."""
    i, j = side, (side + 1) % 4
    # Each stretch runs the way its side does (clockwise), so _supports' normal points outward.
    sides_from = np.array([quad[(i - 1) % 4], quad[j]], np.float64)
    sides_to = np.array([quad[i], quad[(j + 1) % 4]], np.float64)
    added_from = np.array([quad[i], moved[j]], np.float64)
    added_to = np.array([moved[i], quad[j]], np.float64)
    for k in range(2):
        sign = _side_sign(gray, sides_from[k], sides_to[k])[1]
        if sign == 0:
            return False
        share = _supports(gray, added_from[k : k + 1], added_to[k : k + 1], contrast, sign)
        if share[0] < MIN_STEPPING:
            return False
    return True
