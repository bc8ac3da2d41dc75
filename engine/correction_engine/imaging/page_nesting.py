"""Choosing between page outlines that lie one inside the other.

Two well-supported outlines nested in each other are either a document on something larger (a
receipt on a grey card, a page on a laptop or a book) or one sheet whose printed content draws
outlines of its own (a chessboard, a table, a framed picture). The tell is the ring between them:
printed content sits on the sheet's own paper, so the ring has parts as white as the inner
outline's inside (and a shadow across a page has the page's text running on through it); a
backing, a desk or a device has neither. The rule looks only at what lies inside the two
outlines, so turning the photo does not change the choice.
"""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import quad_mask
from .page_regions import MAX_OUTSIDE, along_border

# Grey levels by which the ring's brightest tenth must stay below the inner outline's typical
# brightness for the ring to count as a different, darker thing (not the same paper).
PAPER_MARGIN = 25.0
# An outline counts as inside another when it is this much smaller and all its corners lie
# within a few pixels of the other's inside.
NESTED_AREA_RATIO = 0.85
# Printed content outlines lie well inside their sheet's margins; an outline around ``best`` that
# is barely larger is more likely the page overshooting onto a light surface.
PRINTED_AREA_RATIO = 0.7
INSIDE_TOLERANCE = 0.015  # share of the frame's long side: a border side is found a few px in
# Text continues across the ring (a hard shadow across a page: the lit part is an outline too)
# when the ring holds at least this share of the inner outline's density of text ink. Measured:
# shadowed synthetic pages 0.29-0.86 (the shadow dims its ink, and it runs over blank margins
# too); the grey backing cards of the real receipt scans 0.001-0.033.
RING_INK_SHARE = 0.15
# How much less supported than ``best`` a larger outline around it may be and still be taken
# as the sheet: in general, and when ``best`` is that outline cut by one straight line (they
# share three sides off the frame's border: a full-bleed band printed across a cover or page,
# where the sheet's own sides, worn or rounded over the band, score less than the print's
# sharp boundary). The spill rule of page_detection allows the same 0.2 for a shadow's edge.
OUTER_MARGIN = 0.1
CUT_OUTER_MARGIN = 0.2
# A side of one outline lies on a side of another when both its ends are within this share of
# the frame's long side of that side's line.
SHARED_SIDE_TOLERANCE = 0.01

Candidate = tuple[float, float, np.ndarray, str]  # (score, area, quad, detector name)


def contains(outer: np.ndarray, inner: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether every corner of ``inner`` lies inside ``outer`` (within INSIDE_TOLERANCE of the
    long side of a frame of ``size``: both may run along the frame's border, found a few
    pixels apart)."""
    contour = outer.reshape(-1, 1, 2).astype(np.float32)
    tolerance = INSIDE_TOLERANCE * max(size)
    return all(cv2.pointPolygonTest(contour, (float(x), float(y)), True) >= -tolerance for x, y in inner)


def same_paper(white: np.ndarray, ink: np.ndarray, outer: np.ndarray, inner: np.ndarray) -> bool:
    """Whether the ring between ``outer`` and ``inner`` is the same sheet as the inside of
    ``inner``: it holds parts as white (its 90th percentile within PAPER_MARGIN of the inner
    median; printed outlines on one sheet), or text runs on through it (a shadow across a page),
    rather than a darker, text-free backing or desk."""
    inside = quad_mask(white.shape, inner)
    ring = quad_mask(white.shape, outer) & ~inside
    if not ring.any() or not inside.any():
        return True
    if float(np.percentile(white[ring], 90)) >= float(np.median(white[inside])) - PAPER_MARGIN:
        return True
    return float(ink[ring].mean()) >= RING_INK_SHARE * float(ink[inside].mean())


def shared_sides(outer: np.ndarray, inner: np.ndarray, size: tuple[int, int]) -> int:
    """How many of ``inner``'s sides lie on a side of ``outer`` (both its ends within
    SHARED_SIDE_TOLERANCE of the frame's long side from that side's line), counting none that
    runs along the border of a frame of ``size`` (two outlines cut by the frame share it for
    nothing: a receipt and its backing card in a scan's corner)."""
    tolerance = SHARED_SIDE_TOLERANCE * max(size)
    shared = 0
    for i in range(4):
        a, b = inner[i], inner[(i + 1) % 4]
        if along_border(a, b, size, MAX_OUTSIDE):
            continue
        for j in range(4):
            p, q = outer[j], outer[(j + 1) % 4]
            d = (q - p) / (np.linalg.norm(q - p) + 1e-12)
            normal = np.array([d[1], -d[0]])
            if max(abs(float((a - p) @ normal)), abs(float((b - p) @ normal))) <= tolerance:
                shared += 1
                break
    return shared


def choose_nested(
    white: np.ndarray, ink: np.ndarray, best: Candidate, scored: list[Candidate], min_score: float
) -> Candidate:
    """``best``, or the outline nested with it that is the document (``white`` the whiteness
    and ``ink`` the text-ink mask of the photo the outlines were found in): a smaller one inside it
    whose surroundings within it are a darker backing (the document on it), else a larger one
    around it, nearly as well supported (OUTER_MARGIN; CUT_OUTER_MARGIN when ``best`` is it cut
    by one line, see shared_sides), whose ring is the same paper (the sheet whose printed
    content ``best`` outlined)."""
    supported = [sc for sc in scored if sc[0] >= min_score and sc[2] is not best[2]]
    inner = [
        sc
        for sc in supported
        if sc[1] < NESTED_AREA_RATIO * best[1]
        and contains(best[2], sc[2], white.shape[:2])
        and not same_paper(white, ink, best[2], sc[2])
    ]
    if inner:
        return max(inner, key=lambda sc: sc[0])
    size = white.shape[:2]
    outer = [
        sc
        for sc in supported
        if best[1] < PRINTED_AREA_RATIO * sc[1]
        and sc[0] >= best[0] - (CUT_OUTER_MARGIN if shared_sides(sc[2], best[2], size) >= 3 else OUTER_MARGIN)
        and contains(sc[2], best[2], white.shape[:2])
        and same_paper(white, ink, sc[2], best[2])
    ]
    if outer:
        return max(outer, key=lambda sc: sc[0])
    return best
