"""The text block of a page: the box around its print, the seed the faint outline grows from.

Print comes in lines and paragraphs, dense clusters of strokes, and its box is turned as the
page's lines run; dirt, a punched hole or a strip of shadow along the frame is no part of it,
nor a few long straight strokes (a floor's grout, a table's rim) beyond the page.
"""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import quad_mask

# Ink spread beyond this share at either end of each axis is dirt or print on the backing, not
# the text block.
INK_TAIL = 0.5  # percent
# Marks this close to the frame's border (a share of its long side) are no text of the page.
BORDER_BAND = 0.02
# Ink within the long side over this of other ink is one cluster (a line's spacing at most).
MERGE_DIVISOR = 40
# A cluster with less than this share of all the ink is a speck or a hole, not text.
MIN_CLUSTER_SHARE = 0.03
# Ink on a straight run at least this many merge distances long (two line spacings: no printed
# character is) is a straight stroke.
STROKE_LENGTH = 2
# Angles the straight runs are sought at (degrees apart): a run two pixels thick fits a line
# at most a little over a degree off its own over two line spacings (32 px at the analysis size).
STROKE_ANGLES = 2.0


def _smallest_box(pts: np.ndarray, degrees: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """(angle in radians, unit axes as rows, low and high ends) of the smallest box over
    ``degrees`` around ``pts``, ink tails trimmed."""
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    axes = np.stack([np.stack([c, s], axis=1), np.stack([-s, c], axis=1)], axis=1)  # (angles, 2, 2)
    k = int(len(pts) * INK_TAIL / 100)
    # One angle at a time in float32: all at once in float64, (angles, 2, points) and its two
    # partitioned copies, took 300 MB and 1.5 s on a photo of texture (ink on 70 % of the copy).
    pts32 = pts.T.astype(np.float32)
    area = np.empty(len(axes))
    for i, axes_i in enumerate(axes):
        lo, hi = _ink_ends(axes_i.astype(np.float32) @ pts32, k)
        area[i] = np.prod(hi - lo)
    # Float32 moves a projection by 1e-4 px at most, an area by far less than this share (or
    # this hundredth of a pixel, where ink on one line has none): the box is chosen among the
    # angles this near the least area, measured again in float64 as before (the first of equal
    # ones), so the result does not depend on the precision.
    best: tuple[float, int, np.ndarray, np.ndarray] | None = None
    for j in np.flatnonzero(area <= area.min() * (1 + 1e-3) + 1e-2):
        lo, hi = _ink_ends(axes[j] @ pts.T, k)
        size = float(np.prod(hi - lo))
        if best is None or size < best[0]:
            best = (size, int(j), lo, hi)
    assert best is not None  # the least area itself is always near
    _, chosen, lo, hi = best
    return float(t[chosen]), axes[chosen], lo, hi


def _ink_ends(proj: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) ends of the projections ``proj`` (2, points) along each of their two axes,
    ``k`` points trimmed at either end."""
    ends = np.partition(proj, (k, proj.shape[1] - 1 - k), axis=1)
    return ends[:, k], ends[:, proj.shape[1] - 1 - k]


def marks(ink: np.ndarray) -> np.ndarray:
    """The ``ink`` that may be print: dark strips along the frame (a scanner's rim, a shadow at
    the border) are narrower than the closing and show as ink, so marks within BORDER_BAND of
    the frame are left out."""
    h, w = ink.shape
    band = int(np.ceil(BORDER_BAND * max(h, w)))
    inner = np.zeros_like(ink, dtype=bool)
    inner[band : h - band, band : w - band] = ink[band : h - band, band : w - band]
    return inner


def text_marks(ink: np.ndarray) -> np.ndarray:
    """The ``ink`` that is text (bool): marks (see :func:`marks`) in clusters of at least
    MIN_CLUSTER_SHARE of them, but for clusters of straight strokes. Text comes in lines and
    paragraphs, dense clusters of strokes; a hole punched in the backing or a speck of dirt
    stands alone. Clusters: ink merged over a line's spacing.

    Text is many small marks; a floor's grout, a foot's or a keyboard's edge or a table's rim
    beyond the page is a few long straight strokes, and such a cluster, a few percent of the
    ink, stretched the text block off the page and turned it (issue 8: a receipt on a white
    sheet on a tiled floor, two such clusters of 3-4 % each, the block 6 degrees off). So a
    cluster is text only if its marks but its straight strokes would make one. A stroke within
    text (an underline, a heading's rule, a table's rule) shares its cluster with the text's
    many marks and stays; a rule that stands alone is closed away from the copy the outline is
    sought on."""
    h, w = ink.shape
    printed = marks(ink)
    merge = max(3, int(round(max(h, w) / MERGE_DIVISOR)) | 1)
    blobs = cv2.dilate(printed.astype(np.uint8), np.ones((merge, merge), np.uint8))
    n_blobs, blob_of = cv2.connectedComponents(blobs, connectivity=8)
    per_blob = np.bincount(blob_of[printed], minlength=n_blobs)
    least = MIN_CLUSTER_SHARE * printed.sum()
    text = printed & (per_blob[blob_of] >= least)
    # Its straight strokes left out, a cluster must still hold a text cluster's worth of marks.
    # Strokes lie on the longer marks (see _longer_marks), so only a cluster whose longer
    # marks outweigh its margin over that worth is looked at for them (a page's body text has
    # a few rules at most: the 90 openings on a whole copy took 20-70 ms).
    longer = _longer_marks(text, int(round(STROKE_LENGTH * merge)))
    per_blob_longer = np.bincount(blob_of[longer], minlength=n_blobs)
    doubtful = per_blob - per_blob_longer < least
    strokes = _straight_strokes(longer & doubtful[blob_of], merge)
    per_blob_marks = np.bincount(blob_of[text & ~strokes], minlength=n_blobs)
    return np.asarray(text & (per_blob_marks[blob_of] >= least))


def _longer_marks(ink: np.ndarray, length: int) -> np.ndarray:
    """The marks (8-connected) of ``ink`` (bool) that may hold a straight run ``length`` long:
    a run lies within one mark, and a mark whose box is shorter than the length over the square
    root of two holds none."""
    n, label, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    sides = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    longer = sides * np.sqrt(2) >= length
    longer[0] = False
    return np.asarray(longer[label])


def _straight_strokes(ink: np.ndarray, merge: int) -> np.ndarray:
    """The pixels of ``ink`` (bool) on straight runs of at least STROKE_LENGTH merge distances
    (``merge`` pixels): what an opening by a line that long keeps, at one of the angles
    STROKE_ANGLES apart. Crossing strokes (a floor's grid of grout) are still strokes; no
    printed character holds such a run."""
    length = int(round(STROKE_LENGTH * merge))
    found = np.zeros(ink.shape, bool)
    ys, xs = np.nonzero(ink)
    if not len(xs):
        return found
    # The openings run on the box around the ink only, with room for the kernel.
    pad = length // 2 + 1
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    marks8 = cv2.copyMakeBorder(
        ink[y0:y1, x0:x1].astype(np.uint8), pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0
    )
    kept = np.zeros_like(marks8)
    for angle in np.arange(0.0, 180.0, STROKE_ANGLES):
        kept |= cv2.morphologyEx(marks8, cv2.MORPH_OPEN, _line_kernel(length, float(angle)))
    found[y0:y1, x0:x1] = kept[pad:-pad, pad:-pad] > 0
    return found


def _line_kernel(length: int, degrees: float) -> np.ndarray:
    """A one-pixel line ``length`` long at ``degrees`` as a structuring element."""
    half = length // 2
    t = np.radians(degrees)
    dx, dy = half * np.cos(t), half * np.sin(t)
    kernel = np.zeros((2 * half + 1, 2 * half + 1), np.uint8)
    cv2.line(kernel, (round(half - dx), round(half - dy)), (round(half + dx), round(half + dy)), 1, 1)
    return kernel


def text_block(text: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The text block as (centre, unit axes 2x2 (rows), half-extents along them) around the
    ``text`` (see :func:`text_marks`), or None when there is too little of it. Its direction is
    that of the smallest rectangle around it."""
    ys, xs = np.nonzero(text)
    if len(xs) < 50:
        return None
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    # All of it: a subsample taken in raster order would change with the photo's turn.
    # The direction whose box, ink tails trimmed, is smallest (the smallest rectangle around all
    # the ink follows a stray mark on the backing). Modulo a quarter turn: a box is a box.
    # Coarsely, then finely about the best.
    best = _smallest_box(pts, np.arange(-45.0, 45.0, 3.0))
    best = _smallest_box(pts, np.degrees(best[0]) + np.arange(-2.5, 2.6, 0.5))
    _, axes, lo, hi = best
    centre = ((lo + hi) / 2) @ axes
    return centre, axes, (hi - lo) / 2


# The share of the page's text an outline closed by the frame's border may leave outside: the
# tails the text block trims (INK_TAIL at either end of both its axes).
MAX_TEXT_LEFT_OUT = 4 * INK_TAIL / 100


def holds_text(text: np.ndarray, quad: np.ndarray) -> bool:
    """Whether ``quad``, an outline with sides on the frame's border, holds the page's text
    (``text``, see text_marks) but for MAX_TEXT_LEFT_OUT of it.

    Such an outline is what a page cut by the frame looks like, and also a page filling the
    frame with a pale band printed along its edges (a letterhead's sidebar, a form's footer):
    the white part steps onto the band as a page onto its backing, and the band runs on to the
    frame as a backing does. The page holds all of its text; where clusters of text lie beyond
    a side that steps, that side is print on the page, and the page runs on past it. (A closed
    outline, every side stepping, is its own evidence: a shadow along its edge reads as text
    outside it, 4-8 % of it on the committed receipts on wood and on a table.)"""
    left_out = np.count_nonzero(text & ~quad_mask(text.shape, quad))
    return bool(left_out <= MAX_TEXT_LEFT_OUT * max(int(np.count_nonzero(text)), 1))
