"""Score and refine a page outline proposed in a downscaled, text-free copy of a photo.

Each proposal is scored by how much of its outline lies on a brightness step; the chosen one is
refined to sub-pixel accuracy by fitting a line to the gradient peaks along each side. Text ink
beyond a side tells a shadow's edge across the page from the page's own edge.
"""

from __future__ import annotations

import cv2
import numpy as np

from .page_regions import crossings, fitted_line, line_through

# Brightness step (grey levels) across a side for a sample to count as supported: at most this,
# at least the minimum, in between four noise deviations of the photo (see edge_contrast).
EDGE_CONTRAST = 14.0
MIN_EDGE_CONTRAST = 6.0
# Points sampled along each side of an outline to score it.
SUPPORT_SAMPLES = 40
# Text ink across a side on more than this share of it (outside_ink): the side cuts through
# the page's print (a shadow's edge, a fold, a row of text), it is not the page's edge.
TEXT_SPILL = 0.04


def text_ink(image: np.ndarray, gray_closed: np.ndarray) -> np.ndarray:
    """Where ``image`` (the same size as ``gray_closed``) has small dark strokes: the black-hat,
    what the closing removed."""
    raw = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    return cv2.subtract(gray_closed, raw) > 30


def outside_ink(ink: np.ndarray, quad: np.ndarray) -> float:
    """The largest share, over the sides, of text ink in the bands on both sides of a side (the
    lesser of the band just outside and the band just inside). A side with text running across
    it cuts through the page (a shadow edge, a fold); it is not the page's edge. Text on one
    side only is a page's tight margin (a receipt) or print on the desk beyond it, not a cut."""
    offsets = np.arange(4.0, 21.0, 4.0)  # positive: out of the quad
    pts = np.concatenate([side_samples(quad, 40, offsets)[0], side_samples(quad, 40, -offsets)[0]], axis=2)
    vals = sample(ink.astype(np.uint8), pts).reshape(4, 40, 2, len(offsets))
    per_side = vals.mean(axis=(1, 3))  # (side, outside/inside)
    return float(per_side.min(axis=1).max())


_TO_NORMAL = np.array([1.0, -1.0])


def side_samples(quad: np.ndarray, n: int, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample grid across each side: (4, n, len(offsets), 2) points and the sides' unit normals,
    pointing out of the quad (clockwise order on screen puts the outside on the left)."""
    # All four sides at once: scoring calls this hundreds of times per photo, and a loop over
    # the sides cost more in NumPy's per-call overhead than the arithmetic (the same operations
    # element by element, so the same numbers).
    a = np.asarray(quad)
    b = np.concatenate([a[1:], a[:1]])
    d = b - a
    length = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1])  # np.linalg.norm of each side's d
    d = d / (length + 1e-12)[:, None]
    normals = d[:, ::-1] * _TO_NORMAL  # (dy, -dx)
    base = _along_middle(a, b, n)
    pts = base[:, :, None, :] + offsets[None, None, :, None] * normals[:, None, None, :]
    return pts.astype(np.float32), normals


def side_points(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """``n`` points (n x 2) evenly along the middle 80 % of side a-b: clear of the corners, which
    are rounded, torn or cut on a real page."""
    return _along_middle(a[None, :], b[None, :], n)[0]


def _along_middle(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """side_points for several sides a[k]-b[k] (k x 2 each): k x n x 2."""
    t = (np.arange(n) + 0.5) / n * 0.8 + 0.1
    return a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]


def sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``img`` at the points ``pts`` (..., 2: x, y), bilinear, the border repeated beyond the
    frame; float32 of ``pts``'s shape without its last axis."""
    flat = pts.reshape(-1, 1, 2)
    out = cv2.remap(img, flat[..., 0], flat[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(pts.shape[:-1]).astype(np.float32)


def edge_contrast(gray: np.ndarray) -> float:
    """The brightness step a side's sample needs to count as on an edge: four noise deviations
    of ``gray`` (MAD of its difference to a 3x3 median), between MIN_EDGE_CONTRAST and
    EDGE_CONTRAST. A clean, low-contrast photo (a tan page on a tan desk) has real steps well
    under the fixed EDGE_CONTRAST; a grainy one needs the full margin."""
    resid = cv2.absdiff(gray, cv2.medianBlur(gray, 3))
    sigma = 1.4826 * median_u8(resid)
    return float(np.clip(4.0 * sigma, MIN_EDGE_CONTRAST, EDGE_CONTRAST))


def median_u8(image: np.ndarray) -> float:
    """``float(np.median(image))`` of a uint8 array, from its histogram: the same value (the
    middle level, or the mean of the two middle levels) in a fifth of the time of a partition
    of every pixel."""
    if image.size < 2**24:  # calcHist counts in float32, exact below 2**24; 4x bincount's speed
        counts = cv2.calcHist([image], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    else:
        counts = np.bincount(image.ravel(), minlength=256)
    cum = np.cumsum(counts)
    n = image.size
    lo = int(np.searchsorted(cum, (n - 1) // 2, side="right"))
    hi = int(np.searchsorted(cum, n // 2, side="right"))
    return (lo + hi) / 2


def _median_sign(values: np.ndarray, axis: int) -> np.ndarray:
    """``np.sign(np.median(values, axis, keepdims=True))`` for finite values: the middle one or
    the mean of the middle two of a sort, which on a few dozen values costs a tenth of
    np.median's generic path."""
    ordered = np.sort(values, axis=axis)
    n = ordered.shape[axis]
    lo = np.take(ordered, [(n - 1) // 2], axis=axis)
    hi = np.take(ordered, [n // 2], axis=axis)
    return np.sign((lo + hi) / 2)


def one_way_steps(
    step: np.ndarray, contrast: float, axis: int, counted: np.ndarray | None = None
) -> np.ndarray:
    """Where the brightness ``step`` across a line exceeds ``contrast`` in the direction most of
    that line steps (the sign of the median along ``axis``, over the ``counted`` samples, the
    others taken as 0), or in either direction when the median is 0. Texture steps both ways at
    random; an edge steps one way all along."""
    sign = _median_sign(step if counted is None else np.where(counted, step, 0.0), axis)
    return (np.abs(step) > contrast) & ((np.sign(step) == sign) | (sign == 0))


def score_quad(gray: np.ndarray, quad: np.ndarray, contrast: float = EDGE_CONTRAST) -> float:
    """Share of the outline on an edge (side_support): half the mean over the four sides, half
    the weakest side, so a quad needs all four sides on real edges."""
    return support_score(*side_support(gray, quad, contrast))


def side_support(
    gray: np.ndarray, quad: np.ndarray, contrast: float = EDGE_CONTRAST
) -> tuple[np.ndarray, np.ndarray]:
    """Which of SUPPORT_SAMPLES points along each side of ``quad`` lie on an edge of ``gray``,
    (4, n) bool, and which sides lie along the frame's border, (4,) bool.

    A sample is on an edge when the brightness steps across the side by more than ``contrast``
    in the direction most of that side steps (texture steps both ways at random, a page's edge
    one way), or when the side runs on a thin line darker or brighter than both its neighbours
    (a notebook's gutter, a fold, a page's rim on a background of its own brightness). Samples
    off the frame are no support, except along a side that lies on the frame's border (within
    1 % of the side), where the page runs past the frame and there is no outside to compare with.
    """
    offsets = np.array([-3.0, 0.0, 3.0])
    pts, _ = side_samples(quad, SUPPORT_SAMPLES, offsets)
    vals = sample(gray, pts)
    h, w = gray.shape
    x, y = pts[..., 0], pts[..., 1]
    in_frame = ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).all(axis=-1)
    step = vals[..., 2] - vals[..., 0]
    ridge = vals[..., 1] - 0.5 * (vals[..., 0] + vals[..., 2])
    stepped = one_way_steps(step, contrast, axis=1, counted=in_frame)
    lined = np.abs(ridge) > contrast
    # The side's own point no more than 1 % of the frame's side beyond the border, and its
    # outside sample on the frame's last pixels or past them: the side lies along the border.
    cx, cy = x[..., 1], y[..., 1]
    mx, my = 0.01 * w + 1, 0.01 * h + 1
    ox, oy = x[..., 2], y[..., 2]
    near = (cx > -mx) & (cx < w - 1 + mx) & (cy > -my) & (cy < h - 1 + my)
    off = (ox < 2) | (ox > w - 3) | (oy < 2) | (oy > h - 3)
    along_border = near & off
    support = (in_frame & (stepped | lined)) | along_border
    return support, along_border.mean(axis=1) > 0.5


def support_score(support: np.ndarray, border: np.ndarray) -> float:
    """score_quad's figure from side_support's (4, n) ``support`` and (4,) ``border``."""
    per_side = support.mean(axis=1)
    # Three sides on the border leave one side of evidence: unless that side is on an edge all
    # along (a receipt against three edges of a scan), it is the frame cut by a line (a shadow,
    # a fold, a vignette), not a page.
    if border.sum() >= 3 and (border.all() or per_side[~border].min() < 0.9):
        return 0.0
    return float(0.5 * per_side.mean() + 0.5 * per_side.min())


def refine_quad(
    gray: np.ndarray, quad: np.ndarray, radius: float, smooth: np.ndarray | None = None
) -> np.ndarray:
    """Sub-pixel corners: along each side, the gradient peak across it (parabolic interpolation),
    a robust (Huber) line through the peaks, and corners where neighbouring lines cross."""
    step = 0.5
    offsets = np.arange(-radius, radius + step, step)
    n = 60
    pts, normals = side_samples(quad, n, offsets)
    if smooth is None:  # callers refining many quads on one image pass it blurred once
        smooth = cv2.GaussianBlur(gray, (0, 0), 1.0)
    vals = sample(smooth, pts)
    # The peaks of all four sides at once (per-side calls cost more in overhead than work).
    deriv = np.abs(np.diff(vals, axis=2))  # (side, sample, offset)
    j = np.argmax(deriv, axis=2)[..., None]
    strength = np.take_along_axis(deriv, j, axis=2)[..., 0]
    jj = np.clip(j, 1, deriv.shape[2] - 2)
    left, c, r = (np.take_along_axis(deriv, jj + k, axis=2)[..., 0] for k in (-1, 0, 1))
    jj = jj[..., 0]
    denom = left - 2 * c + r
    safe = np.where(np.abs(denom) > 1e-6, denom, 1.0)
    frac = np.where(np.abs(denom) > 1e-6, 0.5 * (left - r) / safe, 0.0)
    pos = offsets[0] + (jj + 0.5 + np.clip(frac, -0.5, 0.5)) * step
    ordered = np.sort(strength, axis=1)
    median = (ordered[:, (n - 1) // 2] + ordered[:, n // 2]) / 2  # np.median of each side's
    lines = []
    for i in range(4):
        keep = strength[i] > max(0.3 * median[i], 1.0)
        if keep.sum() < 6:
            # No edge to fit along this side (it runs on the frame's border, or across a blank
            # stretch): keep it where it is and still refine the others.
            lines.append(line_through(quad[i], quad[(i + 1) % 4]))
            continue
        base = pts[i, :, 0, :] + radius * normals[i][None, :]  # the side itself (offset 0)
        lines.append(fitted_line(base[keep] + pos[i, keep, None] * normals[i][None, :]))
    refined = crossings(lines)
    if refined is None:
        return quad
    if np.max(np.linalg.norm(refined - quad, axis=1)) > 3 * radius:
        return quad
    return refined
