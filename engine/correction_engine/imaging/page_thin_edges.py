"""A sheet on a backing of its own tone: sides seen only as the thin dark line along its edge.

A receipt or a note lying on white paper (a notebook page, a printout) differs from it by a grey
level or two, so along a side where the light falls evenly there is no step to score. What still
shows is a thin dark line: the sheet's own shadow on the backing, or the rim of an edge curling
down, a pixel or two wide at the analysis size. The scorer reads a text-free copy of the photo
(page_proposals.closed_small), whose closing erases every dark mark narrower than its kernel,
so the line goes with the print. When no outline is supported on that copy, each proposal is
scored again with such a line in the un-closed copy, close along its side, counted as support
too (page_scoring.side_support's other kinds of support are kept as they are).

Thin dark lines alone make no page: a printed table's rules and a ruled page's lines are thin
lines on one sheet, with no step anywhere. A sheet lying on a backing steps off it somewhere
(a darker desk past one end, a shadow along one side): here at least STEPPING_SIDES of its sides
must be seen steps, supported without the lines and not on the frame's border (a band of a scan
filling the frame, between two columns of print, has two sides on the border and two on the
columns' edges, which read as thin lines).
"""

from __future__ import annotations

import numpy as np

from .page_scoring import SUPPORT_SAMPLES, outside_ink, sample, side_samples, side_support, support_score

# How far (pixels, at the analysis size) the line may lie either side of a proposed side: a hand-
# laid sheet's edge is straight to within a pixel or two there, and a side found by the Hough
# transform (0.5 degree bins) drifts by about as much over a page's length.
LINE_REACH = 2
# Across the line, its darkness is measured against points this far either side (the scorer's
# own span across a side: page_scoring.side_support samples at -3, 0 and 3).
LINE_SPAN = 3
# Sides that must be supported without the lines (steps or wide lines, not the frame's border),
# and the share of their samples that must be: page_faint's bar for a consistent faint side.
STEPPING_SIDES = 2
STEP_SHARE = 0.8
# Text running across a side at most this much (page_scoring.outside_ink): the bar page_detection
# sets for every outline it keeps; above it the side cuts through print, not along a sheet's edge.
SPILL_LIMIT = 0.04


def thin_line_support(raw: np.ndarray, quad: np.ndarray, contrast: float) -> np.ndarray:
    """Which of SUPPORT_SAMPLES points along each side of ``quad`` (4, n bool) have, within
    LINE_REACH across the side, a point of ``raw`` (the un-closed grey copy) darker by more than
    ``contrast`` than each of the points LINE_SPAN either side of it: a thin dark line along the
    side. Points whose samples leave the frame are no support."""
    offsets = np.arange(-LINE_REACH - LINE_SPAN, LINE_REACH + LINE_SPAN + 1, dtype=np.float64)
    pts, _ = side_samples(quad, SUPPORT_SAMPLES, offsets)
    h, w = raw.shape
    x, y = pts[..., 0], pts[..., 1]
    in_frame = ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).all(axis=-1)
    vals = sample(raw, pts)
    span = 2 * LINE_SPAN
    # How much darker each point from -LINE_REACH to LINE_REACH is than the darker of its two
    # neighbours: darker than both, a line; darker than one only, a step (not this support).
    centre = vals[..., LINE_SPAN:-LINE_SPAN]
    darker = np.minimum(vals[..., :-span], vals[..., span:]) - centre
    return np.asarray(in_frame & (darker.max(axis=-1) > contrast))


def thin_edged(
    gray: np.ndarray,
    raw: np.ndarray,
    scored: list[tuple[float, float, np.ndarray, str]],
    contrast: float,
    min_score: float,
    ink: np.ndarray | None = None,
) -> tuple[float, np.ndarray, str] | None:
    """The best of the ``scored`` proposals (score, area, quad, name) scored again on ``gray``
    (the text-free copy) with thin dark lines in ``raw`` (the un-closed copy, the same size) as
    support too, when it reaches ``min_score``, no side lies on the frame's border and at least
    STEPPING_SIDES of its sides step on ``gray`` alone; as (score, quad, name), or None. Given
    the text-ink map ``ink`` (page_scoring.text_ink), an outline with print running across a
    side (outside_ink above SPILL_LIMIT) is refused: where a larger photo's dense print outlasts
    the closing, a text block "steps" and its letters pass for thin lines."""
    best: tuple[float, np.ndarray, str] | None = None
    for _, _, quad, name in scored:
        support, border = side_support(gray, quad, contrast)
        # Every side seen (the caller prefers such an outline to one with sides on the border),
        # STEPPING_SIDES of them steps.
        if border.any() or int(np.count_nonzero(support.mean(axis=1) >= STEP_SHARE)) < STEPPING_SIDES:
            continue
        if ink is not None and outside_ink(ink, quad) > SPILL_LIMIT:
            continue
        score = support_score(support | thin_line_support(raw, quad, contrast), border)
        if score >= min_score and (best is None or score > best[0]):
            best = (score, quad, name)
    return best
