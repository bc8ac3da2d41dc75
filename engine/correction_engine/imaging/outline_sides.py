"""Tilt from a pair of long, nearly parallel straight sides of a product's outline.

A carton held in a hand, a can or a book photographed tilted: the hand, a shelf or the
frame breaks the outline, so it is no rectangle or quadrilateral and has no mirror symmetry,
but two of its sides stay straight. Each straight run of the outline is refitted by least
squares at the working grid's full detail (a fraction of a degree over a few hundred
pixels); runs of one side broken by an occluder are merged; with the photo, the pair found
is refitted to the photo's own edges beside it. Also the weaker cue of many long straight
runs agreeing on one direction (:func:`edges_tilt`). Used by
:func:`correction_engine.imaging.straighten.estimate_tilt`.
"""

from __future__ import annotations

import cv2
import numpy as np

from correction_engine.imaging.edge_fit import ImageEdges, refit_side
from correction_engine.imaging.scene_tilt import fold, fold_array

# The Douglas-Peucker tolerance (a share of the perimeter) that splits the outline into
# straight runs: the one the quadrilateral and edges cues start from
# (:mod:`~correction_engine.imaging.straighten`), so the three read the same sides.
RUN_EPS = 0.01


def _segment_runs(
    contour: np.ndarray, eps: float, frame: tuple[int, int] | None
) -> list[tuple[tuple[float, float, np.ndarray], np.ndarray]]:
    """The outline's straight runs (Douglas-Peucker at ``eps`` x the perimeter), each refitted
    by least squares to its own contour points away from the corners (a run's end vertices
    sit on a rounded corner and skew the chord): ((direction, length, centre), the points it
    was fitted to) each. With the ``frame``'s size (h, w), runs lying along the frame's border
    are left out: where the frame cuts the product, the outline follows the frame, whose edge
    is no side of the product (paired with a real side, it pulls the tilt towards level)."""
    perimeter = cv2.arcLength(contour, True)
    poly = cv2.approxPolyDP(contour, eps * perimeter, True)
    fits: list[tuple[tuple[float, float, np.ndarray], np.ndarray]] = []
    for run in _runs(contour, poly):
        if len(run) < 8:
            continue
        if frame is not None:
            # A run may turn from the product's side onto the frame's border (the corner
            # where the frame cuts it is rounded off by the simplification): only its
            # points off the border are the product's.
            run = run[~_on_border(run, frame)]
            if len(run) < 8:
                continue
        trim = len(run) // 10
        inner = run[trim : len(run) - trim].astype(np.float32)
        vx, vy, cx, cy = cv2.fitLine(inner, cv2.DIST_L2, 0, 0.01, 0.01).ravel()
        along = (run - [cx, cy]) @ np.array([vx, vy], float)
        length = float(along.max() - along.min())
        fit = (float(np.degrees(np.arctan2(-vy, vx))), length, np.array([cx, cy], float))
        fits.append((fit, inner.astype(np.float64)))
    return fits


def polygon_runs(contour: np.ndarray, poly: np.ndarray) -> list[tuple[float, float]]:
    """Each side of ``poly`` (a simplification of ``contour`` whose vertices are contour
    points, in order) refitted by least squares to the contour points it stands for, a tenth
    trimmed at each end (the corners are rounded): (direction in degrees modulo 180,
    counter-clockwise on screen; the points' RMS distance from the fitted line over the side's length). The
    second says how straight the outline really runs there: a box's side is straight to the
    mask's jitter, a skirt's hem or a bundle of objects bows away from the chord."""
    runs = []
    for run in _runs(contour, poly):
        trim = len(run) // 10
        inner = run[trim : len(run) - trim]
        chord = run[-1] - run[0]
        length = float(np.hypot(*chord))
        if len(inner) < 2 or length <= 0:
            runs.append((float(np.degrees(np.arctan2(-chord[1], chord[0]))), 1.0))
            continue
        vx, vy, cx, cy = cv2.fitLine(inner.astype(np.float32), cv2.DIST_L2, 0, 0.01, 0.01).ravel()
        across = (inner - [cx, cy]) @ np.array([-vy, vx], float)
        runs.append((float(np.degrees(np.arctan2(-vy, vx))), float(np.sqrt(np.mean(across**2))) / length))
    return runs


def _runs(contour: np.ndarray, poly: np.ndarray) -> list[np.ndarray]:
    """The contour's points (float x, y) between each vertex of ``poly`` and the next, both
    included, in the contour's order."""
    pts = contour.reshape(-1, 2).astype(np.float64)
    # approxPolyDP keeps a subset of the contour's own points: find their indices.
    idx = sorted(_vertex_indices(contour.reshape(-1, 2), poly.reshape(-1, 2)))
    runs = []
    for k, start in enumerate(idx):
        end = idx[(k + 1) % len(idx)]
        runs.append(pts[start : end + 1] if end > start else np.concatenate([pts[start:], pts[: end + 1]]))
    return runs


def _vertex_indices(points: np.ndarray, poly: np.ndarray) -> list[int]:
    """The positions in ``points`` (a closed contour) of ``poly``'s vertices, a subset of its
    points in the same cyclic order. A pixel may be visited twice (the outline runs up one
    side of a 1 px cable, string or hook and down the other): each vertex takes the first
    visit of its pixel after the previous vertex's, the walk starting at a vertex whose pixel
    is visited once, so no run jumps between the two visits across the product's corners."""
    visits: dict[tuple[int, int], list[int]] = {}
    for i, (x, y) in enumerate(points):
        visits.setdefault((int(x), int(y)), []).append(i)
    keys = [(int(x), int(y)) for x, y in poly]
    first = next((k for k, key in enumerate(keys) if len(visits[key]) == 1), 0)
    n = len(points)
    at = visits[keys[first]][0]
    found = [at]
    for key in keys[first + 1 :] + keys[:first]:
        # Steps forward to each visit, 1..n: the vertex's own previous visit comes last.
        steps = [(i - at - 1) % n for i in visits[key]]
        at = visits[key][int(np.argmin(steps))]
        found.append(at)
    return found


def _on_border(points: np.ndarray, frame: tuple[int, int]) -> np.ndarray:
    """Which of ``points`` (x, y) lie on the border of a frame of size (h, w), within a pixel."""
    h, w = frame
    x, y = points[:, 0], points[:, 1]
    return (x <= 1) | (x >= w - 2) | (y <= 1) | (y >= h - 2)


def _ends(side: tuple[float, float, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The end points of a side (direction in degrees, counter-clockwise on screen; length;
    centre)."""
    a, length, centre = side
    t = np.radians(a)
    half = np.array([np.cos(t), -np.sin(t)]) * length / 2.0
    return centre - half, centre + half


def _merge(
    fits: list[tuple[float, float, np.ndarray]], max_angle: float, max_offset: float
) -> tuple[list[tuple[float, float, np.ndarray]], list[list[int]]]:
    """Runs of one straight edge broken by an occluder (a thumb across a carton's side) as
    one side: runs within ``max_angle`` degrees on one line (``max_offset`` pixels apart
    across it) are merged, their direction length-weighted, the side spanning the runs'
    end points projected on it (so its centre and length are the whole side's, and the
    band between two sides is where the product is). Returns the sides and, for each, the
    indices in ``fits`` of its runs."""
    merged: list[tuple[float, float, np.ndarray]] = []
    members: list[list[int]] = []
    # The outline seen on each merged side (its runs' summed lengths, not the span across
    # the occluder): what its direction's and centre line's weights are.
    seen: list[float] = []
    for index in sorted(range(len(fits)), key=lambda f: -fits[f][1]):
        a, length, centre = fits[index]
        for k, (b, lb, cb) in enumerate(merged):
            d = (a - b + 90.0) % 180.0 - 90.0
            t = np.radians(b)
            across = abs(float((centre - cb) @ np.array([np.sin(t), np.cos(t)])))
            if abs(d) <= max_angle and across <= max_offset:
                weight = seen[k]
                direction = b + d * length / (length + weight)
                u = np.radians(direction)
                along, normal = np.array([np.cos(u), -np.sin(u)]), np.array([np.sin(u), np.cos(u)])
                ends = np.array([*_ends((a, length, centre)), *_ends((b, lb, cb))])
                s = ends @ along
                offset = (length * float(centre @ normal) + weight * float(cb @ normal)) / (length + weight)
                span = float(s.max() - s.min())
                mid = (s.max() + s.min()) / 2.0
                merged[k] = (direction, span, along * mid + normal * offset)
                seen[k] += length
                members[k].append(index)
                break
        else:
            merged.append((a, length, centre))
            seen.append(length)
            members.append([index])
    return merged, members


def _on_edges(
    side: tuple[float, float, np.ndarray], points: np.ndarray, edges: ImageEdges
) -> tuple[float, float, np.ndarray] | None:
    """A merged side (direction, length, centre) refitted to the photo's own edge along its
    runs' ``points`` (:func:`~correction_engine.imaging.edge_fit.refit_side`); None where no
    edge stands out. Its length stays; its centre moves onto the new line."""
    refit = refit_side(points, edges)
    if refit is None:
        return None
    (vx, vy), on_line = refit
    u = np.array([vx, vy], float)
    centre = on_line + float((side[2] - on_line) @ u) * u
    return float(np.degrees(np.arctan2(-vy, vx))), side[1], centre


def _band_fill(
    inside: np.ndarray,
    origin: tuple[int, int],
    side_a: tuple[float, float, np.ndarray],
    side_b: tuple[float, float, np.ndarray],
) -> float:
    """Share of the quadrilateral spanned by two sides (direction, length, centre) that lies
    inside the outline (``inside``: the filled outline, cut to its box at ``origin``)."""
    ends = [_ends(side_a), _ends(side_b)]
    if float((ends[0][1] - ends[0][0]) @ (ends[1][1] - ends[1][0])) < 0:
        ends[1] = (ends[1][1], ends[1][0])
    quad = np.array([ends[0][0], ends[0][1], ends[1][1], ends[1][0]]) - np.asarray(origin, float)
    band = np.zeros(inside.shape, np.uint8)
    cv2.fillPoly(band, [np.round(quad).astype(np.int32)], 1)
    total = np.count_nonzero(band)
    return float(np.count_nonzero(band & inside)) / total if total else 0.0


def sides_tilt(
    contour: np.ndarray,
    frame: tuple[int, int] | None = None,
    min_length: float = 0.5,
    min_partner: float = 0.25,
    max_spread: float = 6.0,
    min_gap: float = 0.5,
    min_elongation: float = 1.75,
    min_fill: float = 0.9,
    edges: ImageEdges | None = None,
) -> tuple[float, float] | None:
    """Tilt from a pair of long, nearly parallel straight sides of the outline: a carton held
    in a hand (the hand or a shelf breaks the outline, so it is no quadrilateral, but two of
    its edges stay straight), a can, a book.

    Each side (:func:`_segment_runs`, collinear runs merged: :func:`_merge`) must be at least ``min_length``
    x the outline's longer extent (its minimum-area box), its partner ``min_partner`` x (the
    hand holding a carton hides part of one side), the two within ``max_spread`` degrees of each other
    (perspective makes opposite sides converge), and apart by at least ``min_gap`` x the
    box's shorter extent (two runs of one edge are not a pair), and the band between them
    must be the product (``min_fill`` of it inside the outline: two sides of different
    objects, a pair of boots, bound a gap). Only an elongated outline (box sides in a ratio
    of at least ``min_elongation``) qualifies: the sides of a chair or a sofa seen from above
    converge by the camera's pitch, not its roll, and a squat outline has no long sides to
    average it away. The longest such pair decides: its length-weighted mean direction.
    ``frame``: the size (h, w) of the frame the contour was found in; its border is no side.
    ``edges``: the photo's gradients on the contour's grid; the chosen pair is then read on
    the photo's own edges beside it (:func:`~correction_engine.imaging.edge_fit.refit_side`:
    a mask's outline is rough to a few pixels and often unevenly so).
    Returns (angle, the spread's confidence).
    """
    (_, _), (bw, bh), _ = cv2.minAreaRect(contour)
    major, minor = max(bw, bh), min(bw, bh)
    if minor <= 0 or major < min_elongation * minor:
        return None
    x, y, w, h = cv2.boundingRect(contour)
    inside = np.zeros((h, w), np.uint8)
    cv2.drawContours(inside, [contour], -1, 1, thickness=-1, offset=(-x, -y))
    runs = _segment_runs(contour, RUN_EPS, frame)
    merged, members = _merge([fit for fit, _ in runs], 3.0, 0.02 * major)
    keep = [k for k, f in enumerate(merged) if f[1] >= min_partner * major]
    fits = [merged[k] for k in keep]
    best = None
    for i in range(len(fits)):
        for j in range(i + 1, len(fits)):
            (a, la, ca), (b, lb, cb) = fits[i], fits[j]
            if max(la, lb) < min_length * major:
                continue
            d = (a - b + 90.0) % 180.0 - 90.0  # parallel, whichever way each run goes
            if abs(d) > max_spread:
                continue
            t = np.radians(a)
            normal = np.array([np.sin(t), np.cos(t)])  # screen coordinates, y down
            if abs(float((cb - ca) @ normal)) < min_gap * minor:
                continue
            if best is not None and la + lb <= best[0]:
                continue
            if _band_fill(inside, (x, y), (a, la, ca), (b, lb, cb)) < min_fill:
                continue
            best = (la + lb, i, j)
    if best is None:
        return None
    pair = [fits[best[1]], fits[best[2]]]
    if edges is not None:
        # The outline says which sides are the product's pair; the photo says where they
        # run: each is refitted to the photo's edge along all its runs (merged first: a
        # short run alone is read a few degrees off). Refitting never makes a pair (turned
        # by up to 4 degrees, a T-shirt's or a hat's sides would become parallel), and a
        # refit that leaves the pair further apart than max_spread is no better reading.
        # Both sides are read on the photo, or neither: one side refitted beside one read on
        # the mask mixes two readings with different errors (a tub's label-broken side kept
        # on the mask beside its refitted other side read 1.7 degrees off; the mask's pair 1.3).
        refits = [
            _on_edges(fits[k], np.concatenate([runs[r][1] for r in members[keep[k]]]), edges)
            for k in best[1:]
        ]
        refined = [r for r in refits if r is not None]
        if len(refined) == 2 and abs((refined[0][0] - refined[1][0] + 90.0) % 180.0 - 90.0) <= max_spread:
            pair = refined
    (a, la, _), (b, lb, _) = pair
    d = (a - b + 90.0) % 180.0 - 90.0
    return fold(b + d * la / (la + lb)), float(1.0 - abs(d) / (2 * max_spread))


def edges_tilt(contour: np.ndarray, edge_share: float = 0.6, agreement: float = 1.0) -> float | None:
    """Long straight edges agreeing on one direction modulo 90 degrees: each simplified
    segment of at least 5 % of the perimeter votes with its length; the winning direction
    (+-``agreement``) must hold ``edge_share`` of the perimeter."""
    perimeter = cv2.arcLength(contour, True)
    poly = cv2.approxPolyDP(contour, RUN_EPS * perimeter, True).reshape(-1, 2).astype(np.float64)
    seg = np.roll(poly, -1, axis=0) - poly
    lengths = np.hypot(seg[:, 0], seg[:, 1])
    # Screen y grows downwards; -dy makes counter-clockwise on screen positive.
    angles = np.array([fold(float(np.degrees(np.arctan2(-dy, dx)))) for dx, dy in seg])
    long_enough = lengths >= 0.05 * perimeter
    best_a, best_w = 0.0, 0.0
    for a in angles[long_enough]:
        diff = fold_array(angles - a)
        sel = long_enough & (np.abs(diff) <= agreement)
        wsum = lengths[sel].sum()
        if wsum > best_w:
            best_w, best_a = wsum, a + float(np.sum(diff[sel] * lengths[sel]) / wsum)
    if best_w < edge_share * perimeter:
        return None
    return fold(best_a)
