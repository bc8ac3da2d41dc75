"""Page outlines and the frame's border: quads held near the frame, sides that run along its
border, and quadrilaterals fitted to a region's outline by lines, not by its corner points.

A region found by brightness or edges (a page, a receipt, a card) rarely has four sharp corners:
they are rounded, torn, curled, hidden under a finger, or cut off by the frame. Simplifying the
outline to four of its own points (approxPolyDP) then puts a corner where the rounding or the cut
happens to leave a vertex, and a side runs a few pixels off the page's edge along its whole
length; the edge scorer, which samples a few pixels either side of each side, rejects it. A line
fitted through all the outline points along each side's middle is where the edge is, and the
corners are where those lines cross, wherever the corners themselves went.
"""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import cross3, is_convex, order_quad

# A page may run past the frame, but its corners are placed no farther outside than this share
# of the side: beyond it nothing in the photo supports where the corner is.
MAX_OUTSIDE = 0.01
# Points of a side are those between these shares of its length (rounded or torn corners bend
# away from the sides' lines near the ends) and within BAND of its length from it.
SIDE_SPAN = (0.12, 0.88)
BAND = 0.06
# Fewer outline points than this along a side: nothing to fit, the side stays as it was.
MIN_POINTS = 8
# A side is put on the frame's border only when the simplified side already runs along it: both
# its ends within this share of the frame's side from the same border. (A region that leaks
# along the border past the page's own edge would otherwise get a border side, which the scorer
# counts as supported all along.)
NEAR_BORDER = 0.03
# At most this many sides on the border: a region bounded by the frame on three sides and a
# brightness step on the fourth is more often the frame cut by a shadow than a page.
MAX_BORDER_SIDES = 2
# A fitted corner farther than this share of the quad's mean side from the simplified corner is
# a fit gone astray (too few points, one side bent), not a better corner.
MAX_MOVE = 0.25


def line_through(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The homogeneous line through points p and q."""
    return cross3(np.array([p[0], p[1], 1.0]), np.array([q[0], q[1], 1.0]))


def fitted_line(points: np.ndarray) -> np.ndarray:
    """The homogeneous line through ``points`` (N x 2), robust to a few strays (Huber)."""
    vx, vy, x0, y0 = cv2.fitLine(points.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    return line_through(np.array([x0, y0]), np.array([x0 + vx, y0 + vy]))


def crossings(lines: list[np.ndarray]) -> np.ndarray | None:
    """Corner i where side line i-1 meets side line i, for four side lines in order; None when
    two neighbours are parallel."""
    corners = []
    for i in range(4):
        p = cross3(lines[(i - 1) % 4], lines[i])
        if abs(p[2]) < 1e-12:
            return None
        corners.append(p[:2] / p[2])
    return np.array(corners)


def border_line(a: np.ndarray, b: np.ndarray, size: tuple[int, int], share: float) -> np.ndarray | None:
    """The border of a frame of ``size`` = (h, w) that the segment a-b runs along, as a
    homogeneous line in index coordinates (x = 0, x = w - 1, y = 0 or y = h - 1, checked in that
    order): both ends within ``share`` of the frame's side (and a pixel) from it; None when
    there is none."""
    h, w = size
    mx, my = share * w + 1, share * h + 1
    if a[0] < mx and b[0] < mx:
        return np.array([1.0, 0.0, 0.0])
    if a[0] > w - 1 - mx and b[0] > w - 1 - mx:
        return np.array([1.0, 0.0, -(w - 1.0)])
    if a[1] < my and b[1] < my:
        return np.array([0.0, 1.0, 0.0])
    if a[1] > h - 1 - my and b[1] > h - 1 - my:
        return np.array([0.0, 1.0, -(h - 1.0)])
    return None


def along_border(a: np.ndarray, b: np.ndarray, size: tuple[int, int], share: float) -> bool:
    """Whether the segment a-b runs along one of the borders of a frame of ``size`` = (h, w)
    (see border_line)."""
    return border_line(a, b, size, share) is not None


def border_sides(quad: np.ndarray, size: tuple[int, int]) -> int:
    """How many of ``quad``'s sides run along the frame's border (within MAX_OUTSIDE)."""
    return sum(along_border(quad[i], quad[(i + 1) % 4], size, MAX_OUTSIDE) for i in range(4))


def clamp_to_frame(quad: np.ndarray, size: tuple[int, int], limit: float = MAX_OUTSIDE) -> np.ndarray:
    """``quad`` with every corner held within ``limit`` of the side outside the frame."""
    h, w = size
    q = np.array(quad, dtype=np.float64)
    q[:, 0] = np.clip(q[:, 0], -limit * w, (1 + limit) * w)
    q[:, 1] = np.clip(q[:, 1], -limit * h, (1 + limit) * h)
    return q


def corners_outside(quad: np.ndarray, size: tuple[int, int]) -> float:
    """How far the farthest corner lies beyond the frame of ``size`` = (h, w), as a share of
    that axis's side (0 when all are inside)."""
    h, w = size
    q = np.asarray(quad, dtype=np.float64)
    # Python floats of the extremes: the same values (negating and subtracting a constant keep
    # the order), without four NumPy reductions per call (it runs for every candidate quad).
    (x0, y0), (x1, y1) = q.min(axis=0).tolist(), q.max(axis=0).tolist()
    return float(max(0.0, -x0 / w, (x1 - w) / w, -y0 / h, (y1 - h) / h))


def fit_quad_to_outline(outline: np.ndarray, quad: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """``quad`` (a four-point simplification of ``outline``, TL, TR, BR, BL) with each side moved
    onto the line through the outline's points along it, in a frame of ``size`` = (h, w); None
    when no such quad exists.

    A side that runs along the frame's border (most of its points are on the border and the
    simplified side lies near it: the page is cut by the frame) is fitted to those border points,
    so it lies on the border; any other side is fitted to its own points off the border (a corner
    cut by the frame), or kept where it is when it has too few.
    """
    h, w = size
    pts = np.asarray(outline, dtype=np.float64).reshape(-1, 2)
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    on_border = (pts[:, 0] <= 1) | (pts[:, 0] >= w - 2) | (pts[:, 1] <= 1) | (pts[:, 1] >= h - 2)
    lines = []
    on_frame = 0  # sides put on the frame's border
    for i in range(4):
        a, b = q[i], q[(i + 1) % 4]
        length = float(np.linalg.norm(b - a))
        if length < 1e-6:
            return None
        d = (b - a) / length
        rel = pts - a
        t = rel @ d / length
        dist = rel @ np.array([d[1], -d[0]])
        mine = (t > SIDE_SPAN[0]) & (t < SIDE_SPAN[1]) & (np.abs(dist) < BAND * length)
        own = mine & ~on_border
        use = own
        if own.sum() < (mine & on_border).sum() and along_border(a, b, size, NEAR_BORDER):
            use = mine & on_border
            on_frame += 1
        lines.append(line_through(a, b) if use.sum() < MIN_POINTS else fitted_line(pts[use]))
    fitted = crossings(lines)
    if on_frame > MAX_BORDER_SIDES or fitted is None:
        return None
    mean_side = float(np.mean([np.linalg.norm(q[(i + 1) % 4] - q[i]) for i in range(4)]))
    if np.max(np.linalg.norm(fitted - q, axis=1)) > MAX_MOVE * mean_side or not is_convex(fitted):
        return None
    return order_quad(fitted)
