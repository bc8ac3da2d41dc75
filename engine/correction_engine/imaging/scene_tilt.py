"""The scene's own evidence of a camera's roll, apart from the product's outline.

The scene's long straight lines (shelves, table edges, door frames: :func:`lines_tilt`) and
its strong gradients, which also see structure too short or broken for a line
(:func:`gradient_tilt`), each give a dominant direction modulo 90 degrees with how clearly it
stands out. :func:`correction_engine.imaging.straighten.estimate_tilt` decides how far they
confirm or replace the outline's cues.
"""

from __future__ import annotations

import cv2
import numpy as np

# Scene lines (Hough segments of the whole working copy: table edges, shelves, walls, door
# frames, the product's own sides) speak only when one direction, modulo 90 degrees, holds
# this share of all their length, their total length along it is at least this many
# frame perimeters' halves. Alone (without the outline agreeing) they must also hold both a
# near-horizontal and a near-vertical family (a table edge receding in perspective is one
# oblique family, not a frame of reference).
LINES_MIN_SHARE = 0.5
LINES_MIN_LENGTH = 0.4
# ... unless one family alone holds this share (a shelf or tiled wall seen square-on).
LINES_ALONE_SHARE = 0.8
# The frame's strong gradients (:func:`gradient_tilt`) speak when their orientation histogram,
# folded to 90 degrees, holds this many times a uniform share within +-GRADIENT_WINDOW of its
# peak (a round product on a plain backdrop has no peak: measured 1.8-2.4 on such photos,
# 3-10 on scenes with shelves, tables or a box). They only confirm a weak outline cue; the two
# agreeing straighten a tilt of at least GRADIENT_MIN_TILT (on level real photos the peak sat
# up to 2.3 degrees off: a cloth's weave, a table seen in perspective).
GRADIENT_MIN_PEAK = 3.0
GRADIENT_WINDOW = 1.5
GRADIENT_MIN_TILT = 2.0


def fold(angle: float) -> float:
    """A line direction in degrees folded into (-45, 45]: an upright product's axes are 90 apart."""
    a = (angle + 45.0) % 90.0 - 45.0
    return 45.0 if a == -45.0 else a


def fold_array(a: np.ndarray) -> np.ndarray:
    """:func:`fold` for an array of directions (without its -45 -> 45 tie-break)."""
    return (a + 45.0) % 90.0 - 45.0


def _streak_share(grey: np.ndarray, seg: np.ndarray, step: int = 5, tol: float = 0.75) -> float:
    """Share of a segment along which the image is constant on both sides of it.

    A frame corner filled by replicating the border (a photo turned on a grown canvas) is
    made of perfectly straight, perfectly uniform streaks; a real edge varies along its
    length by at least the sensor's noise. Such streaks are not evidence of the scene.
    """
    x0, y0, x1, y1 = seg
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    if n <= step:
        return 0.0
    length = float(np.hypot(x1 - x0, y1 - y0))
    nx, ny = -(y1 - y0) / length, (x1 - x0) / length
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    flat = np.ones(n - step, bool)
    for side in (1.5, -1.5):
        mx = (xs + side * nx).astype(np.float32).reshape(1, -1)
        my = (ys + side * ny).astype(np.float32).reshape(1, -1)
        v = cv2.remap(grey, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()
        flat &= np.abs(v[step:] - v[:-step]) < tol
    return float(flat.mean())


def lines_tilt(grey: np.ndarray, window: float = 1.0) -> tuple[float, float, bool] | None:
    """The scene's dominant direction modulo 90 degrees from long straight segments of a
    greyscale working copy; (angle, share of line length, both a near-horizontal and a
    near-vertical family along it) or None when the lines do not clearly agree (see
    ``LINES_MIN_SHARE`` and ``LINES_MIN_LENGTH``)."""
    h, w = grey.shape
    g = cv2.GaussianBlur(grey, (0, 0), 1.0)
    med = float(np.median(g))
    edges = cv2.Canny(g, max(10.0, 0.33 * med), max(30.0, 0.66 * med))
    min_len = max(20, int(0.12 * min(h, w)))
    found = cv2.HoughLinesP(
        edges, 1, np.pi / 720, threshold=max(20, min_len // 2), minLineLength=min_len, maxLineGap=3
    )
    if found is None:
        return None
    grey_f = grey.astype(np.float32)
    segs = np.array([s for s in found.reshape(-1, 4).astype(np.float64) if _streak_share(grey_f, s) < 0.5])
    if len(segs) == 0:
        return None
    dx, dy = segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1]
    length = np.hypot(dx, dy)
    raw = np.degrees(np.arctan2(-dy, dx))
    ang = fold_array(raw)
    best_a, best_w, best_sel = 0.0, 0.0, np.zeros(len(segs), bool)
    for a in ang:
        d = fold_array(ang - a)
        sel = np.abs(d) <= window
        wsum = float(length[sel].sum())
        if wsum > best_w:
            best_a, best_w, best_sel = a + float(np.sum(d[sel] * length[sel]) / wsum), wsum, sel
    share = best_w / float(length.sum())
    # Both families: a segment is near-horizontal when its direction (modulo 180) is within
    # 45 degrees of the horizontal.
    horizontal = np.abs((raw + 90.0) % 180.0 - 90.0) <= 45.0
    both = bool((best_sel & horizontal).any() and (best_sel & ~horizontal).any())
    if share < LINES_MIN_SHARE or best_w < LINES_MIN_LENGTH * (h + w):
        return None
    return fold(best_a), share, both


def _unchanging_along(
    grey: np.ndarray, ys: np.ndarray, xs: np.ndarray, tx: np.ndarray, ty: np.ndarray
) -> np.ndarray:
    """True where the image stays constant (within a grey level) 4 and 8 pixels along the
    edge direction (tx, ty) on either side: the streaks of a corner filled by replicating the
    border, and the seam where they meet the photo, which point along the turn's angle and
    are no evidence of the scene (a real edge varies along its length by the sensor's noise)."""
    n = xs.size
    cols = 4096  # cv2.remap takes maps under 32767 pixels a side
    rows = -(-n // cols)
    pad = rows * cols - n
    v0 = grey[ys, xs]
    same = np.zeros(n, bool)
    for side in (1.0, -1.0):
        flat = np.ones(n, bool)
        for k in (4.0, 8.0):
            mx = np.pad((xs + side * k * tx).astype(np.float32), (0, pad)).reshape(rows, cols)
            my = np.pad((ys + side * k * ty).astype(np.float32), (0, pad)).reshape(rows, cols)
            v = cv2.remap(grey, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()[:n]
            flat &= np.abs(v - v0) < 0.6
        same |= flat
    return same


def gradient_votes(
    grey: np.ndarray, share: float = 0.2, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The frame's strongest ``share`` of gradients as votes: (edge direction folded into
    (-45, 45], magnitude, True where the edge is nearer vertical than horizontal), or None
    (too few edges). Pixels in ``exclude`` (bool, same grid) and replicated-border streaks
    (:func:`_unchanging_along`) do not vote."""
    g = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), 1.0)
    # Scharr's kernel: its direction is true to a fraction of a degree at every angle
    # (the 3x3 Sobel's is up to a degree off between the axes and the diagonals).
    gx = np.asarray(cv2.Scharr(g, cv2.CV_32F, 1, 0) / 4.0, np.float32)
    gy = np.asarray(cv2.Scharr(g, cv2.CV_32F, 0, 1) / 4.0, np.float32)
    mag = cv2.magnitude(gx, gy)
    # An absolute floor as well: the sensor's noise on a plain backdrop is no edge.
    sel = mag > max(float(np.percentile(mag, 100.0 * (1.0 - share))), 8.0)
    if exclude is not None:
        sel &= ~exclude
    ys, xs = np.nonzero(sel)
    if xs.size < 200:
        return None
    gxs, gys, weight = gx[ys, xs], gy[ys, xs], mag[ys, xs]
    keep = ~_unchanging_along(grey.astype(np.float32), ys, xs, -gys / weight, gxs / weight)
    if np.count_nonzero(keep) < 200:
        return None
    # The edge runs perpendicular to the gradient: the same direction modulo 90 degrees.
    raw = np.degrees(np.arctan2(-gys[keep], gxs[keep]))
    vertical = np.abs((raw + 90.0) % 180.0 - 90.0) <= 45.0  # gradient near-horizontal
    return fold_array(raw), weight[keep], vertical


def gradient_peak(ang: np.ndarray, weight: np.ndarray) -> tuple[float, float] | None:
    """Peak of the magnitude-weighted histogram of folded directions: (angle, the share within
    +-``GRADIENT_WINDOW`` over a uniform spread's), or None without votes."""
    if ang.size < 100:
        return None
    bin_deg = 0.5
    nb = int(round(90.0 / bin_deg))
    k = int(round(GRADIENT_WINDOW / bin_deg))
    hist, _ = np.histogram(ang, bins=nb, range=(-45.0, 45.0), weights=weight)
    circular = np.concatenate([hist[-k:], hist, hist[:k]])
    window = np.convolve(circular, np.ones(2 * k + 1), mode="valid")
    peak = int(np.argmax(window))
    ratio = float(window[peak] / hist.sum() / ((2 * k + 1) / nb))
    centre = -45.0 + (peak + 0.5) * bin_deg
    d = fold_array(ang - centre)
    near = np.abs(d) <= GRADIENT_WINDOW
    return fold(centre + float(np.sum(d[near] * weight[near]) / np.sum(weight[near]))), ratio


def gradient_tilt(
    grey: np.ndarray, share: float = 0.2, exclude: np.ndarray | None = None
) -> tuple[float, float] | None:
    """The frame's dominant edge direction modulo 90 degrees from its strongest gradients.

    Man-made scenes and most products are built of vertical and horizontal structure, much of
    it too short or broken for :func:`lines_tilt` (tiles, text, shelf labels, a box's print).
    The strongest ``share`` of gradients vote for their edge direction, folded into (-45, 45]
    and weighted by magnitude; the histogram's peak (+-``GRADIENT_WINDOW``) against a uniform
    spread is the evidence. Returns (angle, peak ratio) or None (too few edges).
    """
    votes = gradient_votes(grey, share, exclude)
    return None if votes is None else gradient_peak(votes[0], votes[1])
