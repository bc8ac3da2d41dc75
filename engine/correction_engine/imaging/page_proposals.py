"""Propose quadrilaterals that may be a photographed page's outline.

Several detectors (edge contours, brightness and whiteness segmentation, Hough lines) propose
quadrilaterals on a downscaled, text-free copy of the photo; the scorer (page_scoring) and the
search (page_detection) choose among them.
"""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import cross3, downscale, is_convex, order_quad, quad_area
from .page_regions import clamp_to_frame, corners_outside, fit_quad_to_outline
from .page_scoring import EDGE_CONTRAST, median_u8, score_quad

# A proposal whose corner lies a little farther out (a side found slightly off, crossing the
# border) is held to that limit and scored there; one far outside is no page in this photo.
MAX_PROPOSAL_OUTSIDE = 0.05
# The wider opening of the brightest tone's region: strips up to about 2 % of the long side go.
PROTRUSION_DIVISOR = 45
# Canny's gradient (3x3 Sobel, after the 5x5 Gaussian every proposer blurs with) peaks at this
# many times the height of a straight brightness step: a step of d grey levels reads 2.5 d.
SOBEL_GAIN = 2.5


def closed_small(image: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """A ``long_side`` copy with dark text erased by a morphological closing, and its scale."""
    small, scale = downscale(image, long_side)
    k = max(3, int(round(max(small.shape[:2]) / 110)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    return cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel), scale


def grey_and_white(small: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grey, whiteness (the least channel) and neutral whiteness (the least channel less the
    spread between channels: white paper is bright and colourless, a light wood or tan desk as
    bright in grey is not colourless)."""
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    r, g, b = cv2.split(small)
    white = cv2.min(cv2.min(r, g), b)  # numpy's min over the channel axis is ten times slower
    spread = cv2.subtract(cv2.max(cv2.max(r, g), b), white)
    neutral = cv2.subtract(white, spread)
    return gray, white, neutral


def text_free_gray(image: np.ndarray, long_side: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Downscale and erase dark text with a morphological closing, so only the page's outline and
    large shapes stay; returns (grey, whiteness = min over channels, scale from full to small)."""
    small, scale = closed_small(image, long_side)
    gray, white, _ = grey_and_white(small)
    return gray, white, scale


def disc(size: int) -> np.ndarray:
    """A round structuring element ``size`` pixels across (odd) that a quarter turn leaves as it
    is. OpenCV's elliptic element is not: its 5 x 5 has full rows but single-pixel columns at the
    ends, so a region opened with it, turned, was not the turned region opened."""
    r = (size - 1) / 2
    y, x = np.ogrid[-r : r + 1, -r : r + 1]
    return (x * x + y * y <= (r + 0.5) ** 2).astype(np.uint8)


def _canonical_start(hull: np.ndarray) -> np.ndarray:
    """``hull`` (N x 1 x 2) starting at its point farthest from its centroid. The polygon
    simplification splits a closed outline first at its start point, and a contour starts at the
    raster scan's first pixel, which moves with the photo's turn: the same region turned by a
    quarter was simplified to different corners. The farthest point turns with the region."""
    pts = hull.reshape(-1, 2).astype(np.float64)
    far = np.linalg.norm(pts - pts.mean(axis=0), axis=1)
    return np.roll(hull, -int(np.argmax(far)), axis=0)


def _quads_from_contours(contours, min_area: float, size: tuple[int, int]) -> list[np.ndarray]:
    """Each of the largest contours' hull simplified to four corners, and those sides fitted by
    lines to the contour (see page_regions): both are offered, the scorer picks."""
    quads = []
    for c in sorted(contours, key=cv2.contourArea, reverse=True)[:8]:
        hull = cv2.convexHull(c)
        if cv2.contourArea(hull) < min_area:
            break
        hull = _canonical_start(hull)
        peri = cv2.arcLength(hull, True)
        # The smallest simplification that leaves four corners.
        for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
            approx = cv2.approxPolyDP(hull, eps * peri, True)
            if len(approx) <= 4:
                break
        if len(approx) == 4:
            quad = order_quad(approx.reshape(4, 2))
            quads.append(quad)
            fitted = fit_quad_to_outline(c, quad, size)
            if fitted is not None:
                quads.append(fitted)
    return quads


def propose_by_edges(gray: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Canny edges closed into contours, each contour's hull simplified to four corners."""
    blur = cv2.GaussianBlur(gray, (5, 5), 0)
    edges = cv2.Canny(blur, *median_thresholds(median_u8(blur)))
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    # Every outline point, not only segment ends: the side fit weighs points along the sides.
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return _quads_from_contours(contours, min_area, gray.shape[:2])


def propose_by_brightness(
    channel: np.ndarray, min_area: float, openings: tuple[int, ...] = (120,)
) -> list[np.ndarray]:
    """Otsu segmentation of a bright, text-free page from its background (Otsu 1979), the
    region opened by an ellipse of the long side over each of ``openings``."""
    blur = cv2.GaussianBlur(channel, (5, 5), 0)
    _, mask = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    quads = []
    # Opening cuts thin bridges between the page and bright clutter touching it.
    for divisor in openings:
        k = max(3, int(round(max(channel.shape) / divisor)) | 1)
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, disc(k))
        contours, _ = cv2.findContours(opened, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        quads += _quads_from_contours(contours, min_area, channel.shape[:2])
    return quads


def propose_by_brightest(channel: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Otsu again among the pixels above the first Otsu threshold: the brightest of three tones,
    for paper lying on a lighter backing on a dark ground (a receipt on grey card in a scanner
    whose lid was open), where one threshold puts paper and backing together."""
    blur = cv2.GaussianBlur(channel, (5, 5), 0)
    first, _ = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    upper = blur[blur > first]
    if upper.size < min_area:
        return []
    second, _ = cv2.threshold(upper.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Opened a second time, wider: the backing's lit rim (a card's edge catching the scanner's
    # light) has the paper's tone, joins its region as a strip, and through the region's convex
    # hull pulls a corner out along it. (Not on the one-threshold regions: there a wider opening
    # also cuts a page's region loose from the frame's border less cleanly, tried.)
    # blur > second, as 0 / 255 (OpenCV compares a uint8 image with the threshold's floor: the
    # same pixels for any threshold), without an int64 temporary the photo's size.
    _, mask = cv2.threshold(blur, second, 255, cv2.THRESH_BINARY)
    return propose_by_brightness(mask, min_area, (120, PROTRUSION_DIVISOR))


def _within_budget(sides: list[list[np.ndarray]], budget: int) -> list[list[np.ndarray]]:
    """Each side's lines (strongest first) cut, weakest first from the longest list, until the
    quads they combine into number at most ``budget``. The budget is what costs (every quad is
    scored), not the lines per side: where one side has only two distinct lines (a card's
    bottom edge against a plain hand), the others may offer more than their four strongest. A
    held card's QR code drew four lines stronger than the card's own blurred edge on one side."""
    kept = [list(lines) for lines in sides]
    while int(np.prod([len(lines) for lines in kept])) > budget:
        longest = max(range(4), key=lambda i: (len(kept[i]), -i))
        kept[longest].pop()
    return kept


def _meet(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Where the homogeneous lines ``a`` and ``b`` cross; None when they are (nearly) parallel."""
    p = cross3(a, b)
    return None if abs(p[2]) < 1e-9 else p[:2] / p[2]


def median_thresholds(median: float, sensitivity: float = 1.0) -> tuple[float, float]:
    """Canny's (low, high) thresholds for a blurred grey copy of median brightness ``median``:
    a bright photo's edges are steeper in grey levels, so its thresholds are higher."""
    return max(10.0, 0.4 * median * sensitivity), max(30.0, 1.0 * median * sensitivity)


def step_thresholds(gray: np.ndarray, contrast: float, sensitivity: float) -> tuple[float, float] | None:
    """Canny's (low, high) thresholds set by the photo's noise rather than its brightness: an
    edge seeded by a step of twice the scorer's bar (``contrast``, four noise deviations, see
    page_scoring.edge_contrast) and traced on along steps of the bar itself; None when these
    are no lower than median_thresholds at ``sensitivity`` (they would see nothing new).

    Issue 8: on a bright, clean photo the median-based thresholds ask for steps of 20-50 grey
    levels, and a page lit from one side, its far half as dark as the table and its sides
    stepping by 8-25 levels, left no line at all, though every side steps by more than the
    noise allows (book-pagedewarp-thesis-a: median 131, contrast 6)."""
    low, high = SOBEL_GAIN * contrast, 2 * SOBEL_GAIN * contrast
    floor_low, floor_high = median_thresholds(median_u8(cv2.GaussianBlur(gray, (5, 5), 0)), sensitivity)
    if high >= floor_high:
        return None
    return min(low, floor_low), high


def propose_by_lines(
    gray: np.ndarray,
    min_area: float,
    per_side: int = 4,
    contrast: float = EDGE_CONTRAST,
    sensitivity: float = 1.0,
    thresholds: tuple[float, float] | None = None,
) -> list[np.ndarray]:
    """Hough lines (the standard transform, Duda & Hart 1972) on the edge map, for pages whose
    outline contour is broken or merged with a shadow or clutter: the strongest few distinct lines
    on each of the four sides are combined (``per_side`` ** 4 quads at most, see _within_budget),
    and every resulting quad is scored so the outline, not the longest straight shadow edge, wins.

    The standard transform votes with every edge pixel on a line, so a page edge broken into
    pieces by clutter still adds up, and it has no random sampling whose outcome depends on the
    order pixels are visited in (the probabilistic transform's does, so turning the photo by a
    quarter changed which lines it found).

    The edge map's hysteresis thresholds scale with the photo's median brightness times
    ``sensitivity``, unless ``thresholds`` (low, high) are given (see step_thresholds)."""
    blur = cv2.GaussianBlur(gray, (5, 5), 0)
    low, high = thresholds or median_thresholds(median_u8(blur), sensitivity)
    edges = cv2.Canny(blur, low, high)
    h, w = gray.shape
    min_len = 0.12 * min(h, w)
    found = cv2.HoughLines(edges, 1, np.pi / 360, threshold=int(min_len))
    found = np.zeros((0, 1, 2), np.float32) if found is None else found
    # Strongest first (OpenCV sorts by votes); a page needs no more than its few best.
    rho, theta = found[:60, 0, 0].astype(np.float64), found[:60, 0, 1].astype(np.float64)
    hough = np.stack([np.cos(theta), np.sin(theta), -rho], axis=1)  # a x + b y + c = 0, unit normal
    # The frame's own edges are not offered as sides: a quad on them is supported by the border
    # rule alone and would outscore the page's real, weaker edges (tried; it did).
    borders = np.zeros((0, 3))
    lines_all = np.concatenate([hough, borders])
    if len(lines_all) < 4:
        return []
    is_border = np.arange(len(lines_all)) >= len(hough)
    ang = (np.degrees(np.arctan2(lines_all[:, 1], lines_all[:, 0])) + 90.0) % 180  # the line's direction
    diff = np.abs(ang - ang[0])
    near_main = np.minimum(diff, 180 - diff) < 45
    centre = np.array([w / 2, h / 2, 1.0])
    sides: list[list[np.ndarray]] = []
    for fam in (near_main, ~near_main):
        if not fam.any():
            return []  # all lines one way: no side crosses them (and no mean angle to take)
        own = fam & ~is_border
        ref = own if own.any() else fam
        # Axial mean (doubled angles): 178 and 3 degrees are one direction, not 90.
        rad = np.radians(2 * ang[ref])
        normal_angle = 0.5 * np.arctan2(np.sin(rad).mean(), np.cos(rad).mean()) + np.pi / 2
        normal = np.array([np.cos(normal_angle), np.sin(normal_angle)])
        # Where the ray from the centre along the family's normal meets each line.
        denom = lines_all[:, :2] @ normal
        ok = fam & (np.abs(denom) > 1e-6)
        t = np.where(ok, -(lines_all @ centre) / np.where(ok, denom, 1.0), 0.0)
        for side in (ok & (t < 0), ok & (t >= 0)):
            chosen: list[np.ndarray] = []
            chosen_t: list[float] = []
            for i in np.flatnonzero(side & ~is_border)[:]:
                if len(chosen) == 2 * per_side:
                    break
                if all(abs(t[i] - c) > 4 for c in chosen_t):
                    chosen.append(lines_all[i])
                    chosen_t.append(t[i])
            for i in np.flatnonzero(side & is_border):
                if all(abs(t[i] - c) > 4 for c in chosen_t):
                    chosen.append(lines_all[i])
                    chosen_t.append(t[i])
            if not chosen:
                return []
            sides.append(chosen)
    sides = _within_budget(sides, per_side**4)
    # Where each line of the first family meets each of the second (None: parallel), once, not
    # per combination.
    first, second = sides[0] + sides[1], sides[2] + sides[3]
    meets = [[_meet(a, b) for b in second] for a in first]
    n0, n2 = len(sides[0]), len(sides[2])
    quads = []
    for i0 in range(n0):
        for i1 in range(n0, len(first)):
            for j0 in range(n2):
                for j1 in range(n2, len(second)):
                    corners = [meets[i][j] for i in (i0, i1) for j in (j0, j1)]
                    if any(c is None for c in corners):
                        continue
                    # Before ordering the corners (it does not change how far out they lie):
                    # most combinations of lines put a corner far off the frame.
                    if corners_outside(np.array(corners), (h, w)) > MAX_PROPOSAL_OUTSIDE:
                        continue
                    quad = order_quad(np.array(corners))
                    quad = clamp_to_frame(quad, (h, w))
                    if quad_area(quad) >= min_area and is_convex(quad):
                        quads.append(quad)
    quads.sort(key=lambda q: score_quad(gray, q, contrast), reverse=True)
    return quads[:6]
