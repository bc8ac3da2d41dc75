"""How far a product is tilted in the photo, measured on its outline, with the evidence used.

Real outlines are rarely clean rectangles: a box photographed from above is a perspective
quadrilateral, a bottle's sides converge. Each kind of evidence is tried in turn, from the
most to the least exact, and each says how sure it is; the scene's long straight lines (shelves,
table edges, door frames: :func:`lines_tilt`) confirm or replace a weak outline cue. Without
clear evidence the answer is "no tilt" (a product left as photographed is better than one
turned by a guess).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Beyond this a tilt is more likely a deliberate composition (a bottle lying diagonally);
# 30 degrees is the goal, with room for a measurement's error.
DEFAULT_MAX_TILT = 33.0
# Below this the tilt is left alone: a level photo must never be turned by a misreading of
# 1 degree, and a product within 1.5 degrees of level already looks level.
DEFAULT_MIN_TILT = 1.5
# A symmetry axis or straight edges of an outline that is not a quadrilateral are weaker
# evidence (real masks read 2 degrees off on level photos), so they must show more tilt.
EDGE_MIN_TILT = 3.0
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
# Lines and the outline agreeing within this many degrees count as one answer (their mean).
LINES_AGREE = 4.0
# The frame's strong gradients (:func:`gradient_tilt`) speak when their orientation histogram,
# folded to 90 degrees, holds this many times a uniform share within +-GRADIENT_WINDOW of its
# peak (a round product on a plain backdrop has no peak: measured 1.8-2.4 on such photos,
# 3-10 on scenes with shelves, tables or a box). They only confirm a weak outline cue; the two
# agreeing straighten a tilt of at least GRADIENT_MIN_TILT (on level real photos the peak sat
# up to 2.3 degrees off: a cloth's weave, a table seen in perspective).
GRADIENT_MIN_PEAK = 3.0
GRADIENT_WINDOW = 1.5
GRADIENT_MIN_TILT = 2.0


@dataclass(frozen=True)
class Tilt:
    """``angle``: the product's tilt in degrees, counter-clockwise on screen positive (undo it
    by turning the content clockwise by ``angle``); 0.0 when left alone. ``measured``: what
    the evidence said before the thresholds. ``evidence``: "rectangle", "quad", "axis",
    ("axis+gradients", "edges+gradients" when the frame's gradients agreed),
    "edges" ("axis+lines", "edges+lines" when the scene's lines agreed), "lines" or "none".
    ``confidence`` in [0, 1]."""

    angle: float
    measured: float
    evidence: str
    confidence: float


NO_TILT = Tilt(0.0, 0.0, "none", 0.0)


def fold(angle: float) -> float:
    """A line direction in degrees folded into (-45, 45]: an upright product's axes are 90 apart."""
    a = (angle + 45.0) % 90.0 - 45.0
    return 45.0 if a == -45.0 else a


def _fold_array(a: np.ndarray) -> np.ndarray:
    return (a + 45.0) % 90.0 - 45.0


def _direction(dx: float, dy: float) -> float:
    # Screen y grows downwards; -dy makes counter-clockwise on screen positive.
    return fold(float(np.degrees(np.arctan2(-dy, dx))))


def _largest_contour(mask: np.ndarray) -> np.ndarray | None:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    return contour if cv2.contourArea(contour) >= 64 else None


def rectangle_tilt(contour: np.ndarray, rectangularity: float = 0.9) -> tuple[float, float] | None:
    """Angle of the minimum-area rectangle (rotating calipers, as ``cv2.minAreaRect``) when
    the outline fills at least ``rectangularity`` of it; (angle, fill) or None."""
    area = cv2.contourArea(contour)
    rect = cv2.minAreaRect(contour)
    rw, rh = rect[1]
    if rw * rh <= 0 or area / (rw * rh) < rectangularity:
        return None
    pts = cv2.boxPoints(rect)
    e1, e2 = pts[1] - pts[0], pts[2] - pts[1]
    e = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2  # the longer side is better measured
    return _direction(float(e[0]), float(e[1])), float(area / (rw * rh))


def quad_tilt(
    contour: np.ndarray, fill: float = 0.95, max_spread: float = 8.0, max_skew: float = 10.0
) -> tuple[float, float] | None:
    """Tilt of an outline that is a perspective quadrilateral (a box or a book seen obliquely).

    The outline is simplified (Douglas-Peucker) to four corners that must cover it (areas
    within ``fill``). Perspective makes one pair of opposite sides converge symmetrically
    about the true direction, so each pair's mean direction is an estimate; the pair whose
    two sides agree better (spread at most ``max_spread`` degrees) is used. Returns (angle,
    confidence) or None.
    """
    area = cv2.contourArea(contour)
    perimeter = cv2.arcLength(contour, True)
    quad = None
    for eps in (0.01, 0.02, 0.03, 0.04):
        poly = cv2.approxPolyDP(contour, eps * perimeter, True)
        if len(poly) == 4:
            quad = poly.reshape(4, 2).astype(np.float64)
            break
        if len(poly) < 4:
            break
    if quad is None or not cv2.isContourConvex(quad.astype(np.float32)):
        return None
    qa = cv2.contourArea(quad.astype(np.float32))
    if qa <= 0 or min(area, qa) / max(area, qa) < fill:
        return None
    sides = np.roll(quad, -1, axis=0) - quad
    dirs = np.array([_direction(dx, dy) for dx, dy in sides])
    best = None
    means = []
    for pair in ((0, 2), (1, 3)):
        a, b = dirs[pair[0]], dirs[pair[1]]
        spread = abs(_fold_array(np.array([a - b]))[0])
        mean = fold(b + _fold_array(np.array([a - b]))[0] / 2.0)
        means.append(mean)
        if best is None or spread < best[1]:
            best = (mean, spread)
    # A box's two pairs of sides stay roughly perpendicular under moderate perspective; a
    # quadrilateral whose pairs are far from it is some other shape.
    if best[1] > max_spread or abs(_fold_array(np.array([means[0] - means[1]]))[0]) > max_skew:
        return None
    return best[0], float(1.0 - best[1] / (2 * max_spread))


def axis_tilt(
    mask: np.ndarray, min_elongation: float = 2.0, min_symmetry: float = 0.95
) -> tuple[float, float] | None:
    """Tilt of an elongated, mirror-symmetric outline (a bottle, a vase, a tube) from its axis.

    The principal axis of the mask's second moments is its symmetry axis when there is one;
    the reflection of the mask about that axis must overlap the mask by ``min_symmetry``
    (IoU), which rejects asymmetric shapes (a shoe's long axis follows no upright). The
    second moments' eigenvalue ratio must reach ``min_elongation``. Returns (angle, symmetry).
    """
    ys, xs = np.nonzero(mask)
    if xs.size < 64:
        return None
    cx, cy = xs.mean(), ys.mean()
    dx, dy = xs - cx, ys - cy
    cov = np.cov(np.stack([dx, dy]))
    evals, evecs = np.linalg.eigh(cov)
    if evals[0] <= 0 or evals[1] / evals[0] < min_elongation:
        return None
    vx, vy = evecs[:, 1]
    angle = _direction(vx, vy)
    # Reflect every pixel about the axis through the centroid and count how many land on the mask.
    ux, uy = vx / np.hypot(vx, vy), vy / np.hypot(vx, vy)
    along = dx * ux + dy * uy
    rx = np.rint(cx + 2 * along * ux - dx).astype(int)
    ry = np.rint(cy + 2 * along * uy - dy).astype(int)
    h, w = mask.shape
    ok = (rx >= 0) & (rx < w) & (ry >= 0) & (ry < h)
    hit = np.count_nonzero(mask[ry[ok], rx[ok]])
    symmetry = hit / float(2 * xs.size - hit)
    if symmetry < min_symmetry:
        return None
    return angle, float(symmetry)


def edges_tilt(contour: np.ndarray, edge_share: float = 0.6, agreement: float = 1.0) -> float | None:
    """Long straight edges agreeing on one direction modulo 90 degrees: each simplified
    segment of at least 5 % of the perimeter votes with its length; the winning direction
    (+-``agreement``) must hold ``edge_share`` of the perimeter."""
    perimeter = cv2.arcLength(contour, True)
    poly = cv2.approxPolyDP(contour, 0.01 * perimeter, True).reshape(-1, 2).astype(np.float64)
    seg = np.roll(poly, -1, axis=0) - poly
    lengths = np.hypot(seg[:, 0], seg[:, 1])
    angles = np.array([_direction(dx, dy) for dx, dy in seg])
    long_enough = lengths >= 0.05 * perimeter
    best_a, best_w = 0.0, 0.0
    for a in angles[long_enough]:
        diff = _fold_array(angles - a)
        sel = long_enough & (np.abs(diff) <= agreement)
        wsum = lengths[sel].sum()
        if wsum > best_w:
            best_w, best_a = wsum, a + float(np.sum(diff[sel] * lengths[sel]) / wsum)
    if best_w < edge_share * perimeter:
        return None
    return fold(best_a)


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
    ang = _fold_array(raw)
    best_a, best_w, best_sel = 0.0, 0.0, np.zeros(len(segs), bool)
    for a in ang:
        d = _fold_array(ang - a)
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
    gx = cv2.Scharr(g, cv2.CV_32F, 1, 0) / 4.0
    gy = cv2.Scharr(g, cv2.CV_32F, 0, 1) / 4.0
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
    return _fold_array(raw), weight[keep], vertical


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
    d = _fold_array(ang - centre)
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


def _around(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``mask`` on a grid of ``shape`` (h, w), grown by 3 % of the frame (its outline's ramp)."""
    h, w = shape[:2]
    m = mask.astype(np.uint8)
    if m.shape != (h, w):
        m = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST)
    r = max(2, int(round(0.03 * max(h, w))))
    return cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


def estimate_tilt(
    mask: np.ndarray,
    *,
    max_tilt: float = DEFAULT_MAX_TILT,
    min_tilt: float = DEFAULT_MIN_TILT,
    image: np.ndarray | None = None,
) -> Tilt:
    """The product's tilt from its mask (bool, any resolution; the outline's shape matters).

    Evidence in order: a perspective quadrilateral or rectangle (:func:`quad_tilt`), a
    rectangle by its minimum-area box (:func:`rectangle_tilt`), a symmetric elongated outline (:func:`axis_tilt`), long straight
    edges (:func:`edges_tilt`). The first that applies decides; with the working copy
    ``image`` (RGB or grey), the scene's lines (:func:`lines_tilt`) are averaged with an
    axis or edges answer when they agree, and replace it (or no answer) when they disagree
    and are strong on their own; a rectangle or quadrilateral outline is never overruled.
    Without lines, the scene's gradients (:func:`gradient_tilt`, the product left out) that
    agree with an axis or edges answer are averaged with it. Tilts beyond ``max_tilt`` are
    left alone (``evidence`` still says what was seen), and so are tilts under ``min_tilt``
    (``EDGE_MIN_TILT`` for an axis or mere edges alone, ``GRADIENT_MIN_TILT`` with gradients).
    """
    contour = _largest_contour(mask)
    if contour is None:
        return NO_TILT
    found = None
    # A true rectangle is measured best by its minimum-area box; a trapezoid can fill that box
    # well enough to pass a looser test while the box leans along a converging side, so the
    # perspective quadrilateral comes before the looser rectangle test.
    rect = rectangle_tilt(contour, rectangularity=0.97)
    if rect is not None:
        found = (rect[0], "rectangle", rect[1])
    if found is None:
        quad = quad_tilt(contour)
        if quad is not None:
            found = (quad[0], "quad", quad[1])
    if found is None:
        rect = rectangle_tilt(contour)
        if rect is not None:
            found = (rect[0], "rectangle", rect[1])
    if found is None:
        main = np.zeros(mask.shape, np.uint8)
        cv2.drawContours(main, [contour], -1, 1, thickness=-1)
        axis = axis_tilt(main.astype(bool))
        if axis is not None:
            found = (axis[0], "axis", axis[1])
    if found is None:
        edges = edges_tilt(contour)
        if edges is not None:
            found = (edges, "edges", 0.5)
    # The product's own box outline (rectangle, quadrilateral) is the most exact evidence
    # there is (a tenth of a degree): lines would only blur it, and where they disagree the
    # product is held tilted in a level scene. So the lines (~25 ms) are only looked for
    # when the outline is weaker.
    if image is not None and (found is None or found[1] in ("axis", "edges")):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        lines = lines_tilt(grey)
        if lines is not None:
            if found is not None and abs(fold(found[0] - lines[0])) <= LINES_AGREE:
                # A weak outline cue and the scene agree: each has its own bias (a bottle's
                # taper, a table edge's perspective), so the mean is the better estimate.
                found = (fold(lines[0] + fold(found[0] - lines[0]) / 2.0), found[1] + "+lines", 1.0)
            elif lines[2] or lines[1] >= LINES_ALONE_SHARE:
                # A weak outline cue (or none) that the scene contradicts gives way to it.
                found = (lines[0], "lines", lines[1])
        if found is not None and found[1] in ("axis", "edges"):
            # Still no scene lines: the scene's strong gradients, which also see structure too
            # short or broken for a line, confirm a weak outline cue (their mean), so that two
            # independent cues agreeing may straighten a smaller tilt. The product and its
            # outline's ramp do not vote (its sides already spoke through the outline). Never
            # alone: on the real set's photos without an outline cue the dominant gradient
            # direction was a room or table in perspective as often as the camera's roll
            # (wrong turns of 5-30 degrees); requiring both edge families to agree still
            # turned a 36-degree bottle the wrong way and gained one case in 80 otherwise.
            grads = gradient_tilt(grey, exclude=_around(mask, grey.shape))
            if (
                grads is not None
                and grads[1] >= GRADIENT_MIN_PEAK
                and abs(fold(found[0] - grads[0])) <= LINES_AGREE
            ):
                found = (fold(grads[0] + fold(found[0] - grads[0]) / 2.0), found[1] + "+gradients", 1.0)
    if found is None:
        return NO_TILT
    angle, evidence, confidence = found
    if evidence in ("edges", "axis"):
        threshold = max(min_tilt, EDGE_MIN_TILT)
    elif evidence.endswith("gradients"):
        # Two independent weak cues that agree.
        threshold = max(min_tilt, GRADIENT_MIN_TILT)
    else:
        threshold = min_tilt
    if abs(angle) > max_tilt or abs(angle) < threshold:
        return Tilt(0.0, float(angle), evidence, float(confidence))
    return Tilt(float(angle), float(angle), evidence, float(confidence))
