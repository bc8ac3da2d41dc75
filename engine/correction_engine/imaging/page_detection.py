"""Find a photographed page's four corners.

Several detectors propose quadrilaterals on a downscaled, text-free copy of the photo; each
proposal is scored by how much of its outline lies on a brightness step; the best one is refined
to sub-pixel accuracy by fitting a line to the gradient peaks along each side.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import downscale, is_convex, order_quad, quad_area
from .page_nesting import choose_nested
from .page_regions import (
    border_sides,
    clamp_to_frame,
    corners_outside,
    crossings,
    fit_quad_to_outline,
    fitted_line,
    line_through,
)

# A found page must cover at least this share of the frame: business cards and short receipts
# are photographed down to about 5 % of it; smaller bright shapes are more likely a label or a
# window than the document being photographed.
MIN_AREA_FRACTION = 0.045
# Below this score no proposal is trusted and the caller keeps the whole frame.
MIN_SCORE = 0.6
# Brightness step (grey levels) across a side for a sample to count as supported: at most this,
# at least the minimum, in between four noise deviations of the photo (see edge_contrast).
EDGE_CONTRAST = 14.0
MIN_EDGE_CONTRAST = 6.0
# The preference, between equally supported outlines, for one whose side is a seen edge over one
# whose side runs on the frame's border (per side; the larger-area preference is 0.05 at most).
BORDER_SIDE_COST = 0.02
# The lines proposer's edge thresholds, a second time, times this (see find_page_quad).
FAINT_SENSITIVITY = 0.5
# A proposal whose corner lies a little farther out (a side found slightly off, crossing the
# border) is held to that limit and scored there; one far outside is no page in this photo.
MAX_PROPOSAL_OUTSIDE = 0.05


@dataclass(frozen=True)
class PageQuad:
    """A page outline in the coordinates of the image it was searched in."""

    quad: np.ndarray  # 4x2 float, TL, TR, BR, BL in image coordinates
    score: float  # share of the outline on a brightness step, 0..1
    detector: str


def _closed_small(image: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """A ``long_side`` copy with dark text erased by a morphological closing, and its scale."""
    small, scale = downscale(image, long_side)
    k = max(3, int(round(max(small.shape[:2]) / 110)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    return cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel), scale


def _grey_and_white(small: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    small, scale = _closed_small(image, long_side)
    gray, white, _ = _grey_and_white(small)
    return gray, white, scale


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
    pts = np.concatenate([_side_samples(quad, 40, offsets)[0], _side_samples(quad, 40, -offsets)[0]], axis=2)
    vals = _sample(ink.astype(np.uint8), pts).reshape(4, 40, 2, len(offsets))
    per_side = vals.mean(axis=(1, 3))  # (side, outside/inside)
    return float(per_side.min(axis=1).max())


def _quads_from_contours(contours, min_area: float, size: tuple[int, int]) -> list[np.ndarray]:
    """Each of the largest contours' hull simplified to four corners, and those sides fitted by
    lines to the contour (see page_regions): both are offered, the scorer picks."""
    quads = []
    for c in sorted(contours, key=cv2.contourArea, reverse=True)[:8]:
        hull = cv2.convexHull(c)
        if cv2.contourArea(hull) < min_area:
            break
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
    med = float(np.median(blur))
    edges = cv2.Canny(blur, max(10, 0.4 * med), max(30, 1.0 * med))
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    # Every outline point, not only segment ends: the side fit weighs points along the sides.
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return _quads_from_contours(contours, min_area, gray.shape[:2])


def propose_by_brightness(channel: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Otsu segmentation of a bright, text-free page from its background (Otsu 1979)."""
    blur = cv2.GaussianBlur(channel, (5, 5), 0)
    _, mask = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Opening cuts thin bridges between the page and bright clutter touching it.
    k = max(3, int(round(max(channel.shape) / 120)) | 1)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return _quads_from_contours(contours, min_area, channel.shape[:2])


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
    return propose_by_brightness(np.where(blur > second, 255, 0).astype(np.uint8), min_area)


def propose_by_lines(
    gray: np.ndarray,
    min_area: float,
    per_side: int = 4,
    contrast: float = EDGE_CONTRAST,
    sensitivity: float = 1.0,
) -> list[np.ndarray]:
    """Hough lines (the standard transform, Duda & Hart 1972) on the edge map, for pages whose
    outline contour is broken or merged with a shadow or clutter: the strongest few distinct lines
    on each of the four sides are combined, and every resulting quad is scored so the outline,
    not the longest straight shadow edge, wins.

    The standard transform votes with every edge pixel on a line, so a page edge broken into
    pieces by clutter still adds up, and it has no random sampling whose outcome depends on the
    order pixels are visited in (the probabilistic transform's does, so turning the photo by a
    quarter changed which lines it found)."""
    blur = cv2.GaussianBlur(gray, (5, 5), 0)
    med = float(np.median(blur))
    edges = cv2.Canny(blur, max(10, 0.4 * med * sensitivity), max(30, 1.0 * med * sensitivity))
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
                if len(chosen) == per_side:
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
    quads = []
    for a0 in sides[0]:
        for a1 in sides[1]:
            for b0 in sides[2]:
                for b1 in sides[3]:
                    corners = []
                    for a in (a0, a1):
                        for b in (b0, b1):
                            p = np.cross(a, b)
                            if abs(p[2]) < 1e-9:
                                break
                            corners.append(p[:2] / p[2])
                    if len(corners) != 4:
                        continue
                    quad = order_quad(np.array(corners))
                    if corners_outside(quad, (h, w)) > MAX_PROPOSAL_OUTSIDE:
                        continue
                    quad = clamp_to_frame(quad, (h, w))
                    if quad_area(quad) >= min_area and is_convex(quad):
                        quads.append(quad)
    quads.sort(key=lambda q: score_quad(gray, q, contrast), reverse=True)
    return quads[:6]


def _side_samples(quad: np.ndarray, n: int, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample grid across each side: (4, n, len(offsets), 2) points and the sides' unit normals,
    pointing out of the quad (clockwise order on screen puts the outside on the left)."""
    pts, normals = [], []
    t = (np.arange(n) + 0.5) / n * 0.8 + 0.1  # stay clear of the corners
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        d = b - a
        d = d / (np.linalg.norm(d) + 1e-12)
        nrm = np.array([d[1], -d[0]])
        base = a[None, :] + t[:, None] * (b - a)[None, :]
        pts.append(base[:, None, :] + offsets[None, :, None] * nrm[None, None, :])
        normals.append(nrm)
    return np.array(pts, np.float32), np.array(normals)


def _sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    flat = pts.reshape(-1, 1, 2)
    out = cv2.remap(img, flat[..., 0], flat[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(pts.shape[:-1]).astype(np.float32)


def edge_contrast(gray: np.ndarray) -> float:
    """The brightness step a side's sample needs to count as on an edge: four noise deviations
    of ``gray`` (MAD of its difference to a 3x3 median), between MIN_EDGE_CONTRAST and
    EDGE_CONTRAST. A clean, low-contrast photo (a tan page on a tan desk) has real steps well
    under the fixed EDGE_CONTRAST; a grainy one needs the full margin."""
    resid = gray.astype(np.int16) - cv2.medianBlur(gray, 3).astype(np.int16)
    sigma = 1.4826 * float(np.median(np.abs(resid)))
    return float(np.clip(4.0 * sigma, MIN_EDGE_CONTRAST, EDGE_CONTRAST))


def score_quad(gray: np.ndarray, quad: np.ndarray, contrast: float = EDGE_CONTRAST) -> float:
    """Share of the outline on an edge: half the mean over the four sides, half the weakest side,
    so a quad needs all four sides on real edges.

    A sample is on an edge when the brightness steps across the side by more than ``contrast``
    in the direction most of that side steps (texture steps both ways at random, a page's edge
    one way), or when the side runs on a thin line darker or brighter than both its neighbours
    (a notebook's gutter, a fold, a page's rim on a background of its own brightness). Samples
    off the frame are no support, except along a side that lies on the frame's border (within
    1 % of the side), where the page runs past the frame and there is no outside to compare with.
    """
    offsets = np.array([-3.0, 0.0, 3.0])
    pts, _ = _side_samples(quad, 40, offsets)
    vals = _sample(gray, pts)
    h, w = gray.shape
    x, y = pts[..., 0], pts[..., 1]
    in_frame = ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).all(axis=-1)
    step = vals[..., 2] - vals[..., 0]
    ridge = vals[..., 1] - 0.5 * (vals[..., 0] + vals[..., 2])
    sign = np.sign(np.median(np.where(in_frame, step, 0.0), axis=1, keepdims=True))
    stepped = (np.abs(step) > contrast) & ((np.sign(step) == sign) | (sign == 0))
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
    per_side = support.mean(axis=1)
    # Three sides on the border leave one side of evidence: unless that side is on an edge all
    # along (a receipt against three edges of a scan), it is the frame cut by a line (a shadow,
    # a fold, a vignette), not a page.
    border = along_border.mean(axis=1) > 0.5
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
    pts, normals = _side_samples(quad, n, offsets)
    if smooth is None:  # callers refining many quads on one image pass it blurred once
        smooth = cv2.GaussianBlur(gray, (0, 0), 1.0)
    vals = _sample(smooth, pts)
    lines = []
    for i in range(4):
        deriv = np.abs(np.diff(vals[i], axis=1))
        j = np.argmax(deriv, axis=1)
        strength = deriv[np.arange(n), j]
        jj = np.clip(j, 1, deriv.shape[1] - 2)
        left, c, r = deriv[np.arange(n), jj - 1], deriv[np.arange(n), jj], deriv[np.arange(n), jj + 1]
        denom = left - 2 * c + r
        safe = np.where(np.abs(denom) > 1e-6, denom, 1.0)
        frac = np.where(np.abs(denom) > 1e-6, 0.5 * (left - r) / safe, 0.0)
        pos = offsets[0] + (jj + 0.5 + np.clip(frac, -0.5, 0.5)) * step
        keep = strength > max(0.3 * np.median(strength), 1.0)
        if keep.sum() < 6:
            # No edge to fit along this side (it runs on the frame's border, or across a blank
            # stretch): keep it where it is and still refine the others.
            lines.append(line_through(quad[i], quad[(i + 1) % 4]))
            continue
        base = pts[i, :, 0, :] + radius * normals[i][None, :]  # the side itself (offset 0)
        lines.append(fitted_line(base[keep] + pos[keep, None] * normals[i][None, :]))
    refined = crossings(lines)
    if refined is None:
        return quad
    if np.max(np.linalg.norm(refined - quad, axis=1)) > 3 * radius:
        return quad
    return refined


def _snapped(
    gray: np.ndarray, smooth: np.ndarray, quad: np.ndarray, name: str, contrast: float
) -> tuple[float, float, np.ndarray, str]:
    """(score, area, quad, name) of ``quad`` or of it moved onto the gradient peaks along its
    sides, whichever scores better. A polygon simplified from a contour may put a side a few
    pixels off a slightly tilted edge, by where the contour happened to start; that depends on
    how the photo is turned, the snapped side does not."""
    h, w = gray.shape
    best = (score_quad(gray, quad, contrast), quad)
    snapped = clamp_to_frame(refine_quad(gray, quad, 3.0, smooth), (h, w))
    if is_convex(snapped):
        s = score_quad(gray, snapped, contrast)
        if s > best[0]:
            best = (s, snapped)
    return best[0], quad_area(best[1]), best[1], name


def _scored(
    gray: np.ndarray, proposals: list[tuple[np.ndarray, str]], contrast: float
) -> list[tuple[float, float, np.ndarray, str]]:
    """(score, area, quad, detector) of each plausible proposal, held within the frame's limit
    and snapped onto the edges along its sides where that scores better."""
    h, w = gray.shape
    kept = [
        (clamp_to_frame(quad, (h, w)), name)
        for quad, name in proposals
        if corners_outside(quad, (h, w)) <= MAX_PROPOSAL_OUTSIDE
    ]
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.0)
    return [
        _snapped(gray, smooth, quad, name, contrast)
        for quad, name in kept
        if is_convex(quad) and quad_area(quad) <= 0.97 * h * w
    ]


def find_page_quad(
    image: np.ndarray,
    *,
    detect_side: int = 640,
    refine_side: int = 1600,
    min_area_fraction: float = MIN_AREA_FRACTION,
    min_score: float = MIN_SCORE,
) -> PageQuad | None:
    """The page's corners in ``image`` coordinates, or None when no plausible page outline exists.

    Proposals come from edge contours, brightness and whiteness segmentation, and Hough lines,
    on a ``detect_side`` copy; the best-scoring one is refined on a ``refine_side`` copy.
    """
    closed, scale = _closed_small(image, detect_side)
    gray, white, neutral = _grey_and_white(closed)
    h, w = gray.shape
    min_area = min_area_fraction * h * w
    contrast = edge_contrast(gray)
    proposals: list[tuple[np.ndarray, str]] = []
    proposals += [(q, "edges") for q in propose_by_edges(gray, min_area)]
    proposals += [(q, "brightness") for q in propose_by_brightness(gray, min_area)]
    proposals += [(q, "whiteness") for q in propose_by_brightness(white, min_area)]
    proposals += [(q, "neutral") for q in propose_by_brightness(neutral, min_area)]
    proposals += [(q, "brightest") for q in propose_by_brightest(white, min_area)]
    proposals += [(q, "lines") for q in propose_by_lines(gray, min_area, contrast=contrast)]
    scored = _scored(gray, proposals, contrast)
    if not any(sc[0] >= min_score for sc in scored):
        # No outline on clear edges: look again with half the edge thresholds. They scale with
        # the photo's median brightness, so on a bright photo a low-contrast side (a receipt on
        # light wood, a whiteboard on a pale wall, a sticky note on carpet) leaves no edge and
        # its whole family of sides is empty. Only then: with clear edges present, the fainter
        # ones add outlines of whatever lies around the page (a clipboard, a box) to choose from.
        faint = propose_by_lines(gray, min_area, contrast=contrast, sensitivity=FAINT_SENSITIVITY)
        scored += _scored(gray, [(q, "faint lines") for q in faint], contrast)
    if not scored:
        return None
    # Between equally supported outlines prefer the larger, by a little, and the one with fewer
    # sides on the frame's border: the scorer counts a border side as supported all along, so a
    # region that leaks out to the border ties with the page's own, seen edges.
    best = max(
        scored,
        key=lambda sc: sc[0] + 0.05 * sc[1] / (h * w) - BORDER_SIDE_COST * border_sides(sc[2], (h, w)),
    )
    if best[0] < min_score:
        return None
    small_image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    ink = text_ink(small_image, gray)
    chosen = choose_nested(white, ink, best, scored, min_score)
    s, area, quad, name = chosen
    # A hard shadow across the page is an outline of brightness steps too, and may score best.
    # If text continues beyond a side of the winner, take instead a larger, nearly as well
    # supported outline with no text beyond it: the whole page. (Not after a document was
    # chosen inside a darker, text-free backing: marks on the backing are not the page's text.)
    spill = outside_ink(ink, quad) if chosen[1] >= best[1] else 0.0
    if spill > 0.04:
        wider = [
            sc
            for sc in scored
            if sc[1] > 1.1 * area and sc[0] >= max(min_score, s - 0.2) and outside_ink(ink, sc[2]) < spill / 2
        ]
        if wider:
            s, area, quad, name = max(wider, key=lambda sc: sc[0])
    ref_gray, _, ref_scale = text_free_gray(image, refine_side)
    quad_ref = quad * (ref_scale / scale)
    for radius in (6.0, 3.0):
        quad_ref = refine_quad(ref_gray, quad_ref, radius * max(1.0, ref_scale / scale) / 2)
    quad_full = order_quad(quad_ref / ref_scale)
    # Refinement may push a corner of a page cut by the frame farther out; hold it at the limit.
    return PageQuad(clamp_to_frame(quad_full, image.shape[:2]), s, name)
