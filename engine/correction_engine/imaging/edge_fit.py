"""A straight side of a product's outline refitted to the photo's own edge beside it.

A mask's outline is rough to a few pixels (the model's probability ramp, a label the mask
stops short of, a bump where a hand or a shadow joins), while the photo's edge between a
carton and the wall behind it is sharp to a pixel, or at least straight where the photo is
blurred. So each long side read from the outline is searched again on the photo: among the
lines within a few degrees and a few pixels of the outline's, the one along which the
gradient across it is strongest, summed over the side's whole length. Only the gradient's
component across the side counts (a label's edges running across it do not pull it). Where
no such line stands out (a soft or textured side), the outline's own fit stays. Used by
:func:`correction_engine.imaging.outline_sides.sides_tilt`.
"""

from __future__ import annotations

import cv2
import numpy as np

# How far (a share of the frame's longer side) the photo's edge may lie from the outline's
# side: the real set's masks stood up to 8 px inside a carton's edge on the 512 px working copy.
REACH = 0.016
# How far (degrees) the photo's edge may turn from the outline's side, and the search's steps.
# The real set's masks leaned up to ~3 degrees off their carton's edge; on its photos 3 and 4
# read alike (5 gained one turned copy on one half only), and every degree more lets the
# search's far corners reach further off the side (half its length x sin of this).
SEARCH_ANGLE = 4.0
COARSE_STEP = 0.5
FINE_STEP = 0.1
OFFSET_STEP = 0.5
# At the side's ends the refitted line may lie at most this many x reach off the outline's: a
# straight background edge touching the side (a box behind a carton) runs within the search
# over most of its length, 3 degrees off it, and is stronger than a pale carton's edge. At 1.0
# the real set's mask errors of a full reach lose their refit (a bottle turned by 3 degrees
# either way, read 0.1-0.2 off with it, 0.6-0.7 without).
END_REACH = 1.5
# Scores within this share of the peak are equal to it (a pixel-sharp edge sampled on the
# same pixels by neighbouring angles: a flat top).
TIE = 1e-4
# Every second outline point along the side is sampled (they are about a pixel apart).
SAMPLE_EVERY = 2
# How far beyond a box the photo is read so that the blur (sigma 1: a 9-tap kernel) and
# Sobel's 3 taps see the same pixels as on the whole frame.
_PAD = 6
# The edge's mean gradient across the side must stand out of the noise: at least this many
# times the quietest lines' within reach (a plain wall, a flat label; on sensor noise alone, or
# a coarse texture, the best line's mean stood 1.1-1.25 x them, whatever the noise's size) ...
MIN_CONTRAST = 2.0
# ... the quietest lines being this percentile of the lines within reach at the edge's angle.
# Not the median: a carton's outer edge often has a parallel fold a few pixels inside (its
# narrow side panel seen obliquely), and on a soft photo the two ramps lift most lines within
# reach (pi-food-tropicana-01's left side: the edge 17 grey levels, the median line 12, the
# quietest tenth 5; kept on the mask, the pair read 1.6 degrees off, refitted 1.2). On the
# real set's tilt cases (photos taken tilted; level photos turned by all ten angles, replicated
# and cut) the odd half gained 2 (that carton; a bottle's cut copy at +8, 3.7 -> 0.8 off) and
# 8 readings of another bottle moved by up to 0.6 degree, 6 of them nearer; the even half was
# unchanged. Percentiles 0-20 read alike; 25 lost the carton.
QUIET_QUANTILE = 10.0
# A quiet tenth exists between the stripes of any periodic pattern (ribs, slats, a striped
# backdrop, ruled print) of period >= 3 px, so its best stripe would pass as an edge and turn a
# level product by the pattern's angle (review of session 11: a level box in front of fine
# stripes 3.5 degrees off was turned 3.6). An edge, with a fold beside it, peaks at most
# MAX_LIKE_PEAKS times across the offsets at PEAK_SHARE of the best line; stripes peak 4-6.
PEAK_SHARE = 0.6
MAX_LIKE_PEAKS = 2
# ... and at least this much in grey levels per pixel (Sobel of a 1-sigma blurred copy; noise
# of sigma 3 / 8 grey levels gave a best line of 0.65 / 1.7). The real set read alike with
# 1.5-3 x and 0-4 grey levels: both guard plain, noisy sides, not its cartons.
MIN_STRENGTH = 2.0


class ImageEdges:
    """The working copy, whose gradients are computed only in the boxes that the sides'
    searches read (two boxes along a product's sides, a fraction of the frame)."""

    def __init__(self, image: np.ndarray) -> None:
        self._image = image

    @property
    def shape(self) -> tuple[int, int]:
        return int(self._image.shape[0]), int(self._image.shape[1])

    def across(self, normal: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The gradient's size along ``normal`` (across a side perpendicular to it) in ``box``
        (x0, y0, x1, y1), float32, in grey levels per pixel of the photo after a light blur
        (the sensor's noise): the largest over the channels (a red carton on a grey wall
        differs in hue as much as in brightness). Computed on the box grown by the blur's and
        Sobel's reach, so it equals the whole frame's gradients cut to the box."""
        h, w = self.shape
        x0, y0, x1, y1 = box
        px0, py0 = max(0, x0 - _PAD), max(0, y0 - _PAD)
        px1, py1 = min(w, x1 + _PAD), min(h, y1 + _PAD)
        img = cv2.GaussianBlur(self._image[py0:py1, px0:px1].astype(np.float32), (0, 0), 1.0)
        if img.ndim == 2:
            img = img[..., None]
        # Sobel's 3x3 kernel sums to 8x the slope.
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3) / 8.0
        gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3) / 8.0
        if gx.ndim == 2:
            gx, gy = gx[..., None], gy[..., None]
        cut = (slice(y0 - py0, y1 - py0), slice(x0 - px0, x1 - px0))
        g = gx[cut] * np.float32(normal[0]) + gy[cut] * np.float32(normal[1])
        return np.ascontiguousarray(np.abs(g).max(axis=-1))


def _line_scores(
    across: np.ndarray, centre: np.ndarray, along: np.ndarray, angles: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Mean gradient across each candidate line (angles x offsets): the line through
    ``centre`` (in ``across``'s pixels) turned to each angle (radians, on the image's axes)
    and shifted along its normal by each offset, sampled at the positions ``along`` it.
    One map of the gradient across the outline's side serves every angle: within the few
    degrees searched the normal barely turns (cos 4 degrees = 0.998)."""
    scores = np.empty((len(angles), len(offsets)))
    for i, a in enumerate(angles):
        u = np.array([np.cos(a), np.sin(a)])
        n = np.array([-u[1], u[0]])
        xs = (centre[0] + along[None, :] * u[0] + offsets[:, None] * n[0]).astype(np.float32)
        ys = (centre[1] + along[None, :] * u[1] + offsets[:, None] * n[1]).astype(np.float32)
        sampled = cv2.remap(across, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        scores[i] = sampled.mean(axis=1)
    return scores


def _top_middle(values: np.ndarray, steps: np.ndarray, step: float) -> float:
    """The position (in ``steps``' units) of the peak of ``values``: the middle of its top
    where neighbours tie with it (a sharp edge is sampled on the same pixels over a few tenths
    of a degree, and the first of the tie would follow the fitted line's direction), else the
    parabola through the peak and its neighbours."""
    k = int(values.argmax())
    top = np.flatnonzero(values >= values[k] - TIE * abs(values[k]))
    lo, hi = int(top.min()), int(top.max())
    if hi > lo and np.all(np.diff(top) == 1):
        return float(steps[lo] + steps[hi]) / 2.0
    return float(steps[k]) + _parabola(values, k) * step


def _parabola(values: np.ndarray, k: int) -> float:
    """Sub-step position of the peak at ``k`` from the parabola through it and its neighbours."""
    if k <= 0 or k >= len(values) - 1:
        return 0.0
    a, b, c = values[k - 1], values[k], values[k + 1]
    denom = a - 2 * b + c
    return float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5)) if denom < 0 else 0.0


def refit_side(
    points: np.ndarray, edges: ImageEdges, reach: float | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """``points`` (N x 2 float x, y: the outline along one straight side) refitted to the
    photo's edge beside it: (unit direction (vx, vy), a point on the line), or None where no
    line near the outline's stands out (a soft or textured side keeps its outline's fit).

    The line is searched, not the points moved one by one: turned by up to ``SEARCH_ANGLE``
    degrees and shifted by up to ``reach`` pixels each way (default ``REACH`` of the frame's
    longer side), the line whose mean gradient across it, over the side's whole length, is
    strongest. Summed along the side, a blurred edge (a hand-held photo) stands out where
    each point's own peak is lost in the noise, and a bump of the mask or a short print
    mark beside the side weighs little. The line is sampled only where the outline runs
    (a side broken by a thumb is two runs of one line). A peak at the end of the search (in
    angle or offset), or a line whose ends stand more than ``END_REACH`` x reach off the
    outline's, is no reading of the side (None).
    """
    if len(points) < 8:
        return None
    h, w = edges.shape
    if reach is None:
        reach = max(3.0, REACH * max(h, w))
    vx, vy, cx, cy = cv2.fitLine(points.astype(np.float32), cv2.DIST_L2, 0, 0.01, 0.01).ravel()
    centre = np.array([cx, cy], np.float64)
    base = float(np.arctan2(vy, vx))
    s = (points - centre) @ np.array([vx, vy], np.float64)
    along = np.sort(s)[::SAMPLE_EVERY]
    # A symmetric grid: the outline's own line (offset 0) is one of the candidates.
    n_off = int(reach // OFFSET_STEP)
    offsets = np.arange(-n_off, n_off + 1) * OFFSET_STEP
    # The gradient across the side, in the box the search can reach.
    margin = reach + float(np.abs(s).max()) * np.sin(np.radians(SEARCH_ANGLE)) + 2.0
    x0 = max(0, int(np.floor(points[:, 0].min() - margin)))
    y0 = max(0, int(np.floor(points[:, 1].min() - margin)))
    x1 = min(w, int(np.ceil(points[:, 0].max() + margin)) + 1)
    y1 = min(h, int(np.ceil(points[:, 1].max() + margin)) + 1)
    across = edges.across(np.array([-vy, vx], np.float64), (x0, y0, x1, y1))
    local = centre - np.array([x0, y0], np.float64)
    # Coarse angles first, then fine ones around the best (within the search).
    n_coarse = int(round(SEARCH_ANGLE / COARSE_STEP))
    coarse = np.arange(-n_coarse, n_coarse + 1) * COARSE_STEP
    scores = _line_scores(across, local, along, base + np.radians(coarse), offsets)
    i, _ = np.unravel_index(int(scores.argmax()), scores.shape)
    n_fine = int(round(COARSE_STEP / FINE_STEP))
    fine = coarse[i] + np.arange(-n_fine, n_fine + 1) * FINE_STEP
    fine = fine[np.abs(fine) <= SEARCH_ANGLE + 1e-9]
    scores = _line_scores(across, local, along, base + np.radians(fine), offsets)
    i, j = np.unravel_index(int(scores.argmax()), scores.shape)
    best = float(scores[i, j])
    # The strongest line must be an edge: strong in grey levels per pixel, well above the
    # quietest lines beside it (a plain wall, a flat label), and inside the search, in offset
    # and in angle (a peak at either end is the slope of an edge further away or turned
    # further: no reading of it).
    at_end = j in (0, len(offsets) - 1) or abs(fine[i]) >= SEARCH_ANGLE - 1e-9
    quiet = float(np.percentile(scores[i], QUIET_QUANTILE))
    if (
        at_end
        or best < MIN_STRENGTH
        or best < MIN_CONTRAST * quiet
        or _like_peaks(scores[i]) > MAX_LIKE_PEAKS
    ):
        return None
    deg = _top_middle(scores[:, j], fine, FINE_STEP)
    offset = offsets[j] + _parabola(scores[i], int(j)) * OFFSET_STEP
    # At the side's ends the line may stand at most END_REACH x reach off the outline's: the
    # search's corners (reach + half the side x sin 4 degrees) reach a straight edge of the
    # background touching the side (a box behind a carton) that is no reading of it.
    shift = np.abs(offset + np.array([s.min(), s.max()]) * np.sin(np.radians(deg)))
    if float(shift.max()) > END_REACH * reach:
        return None
    angle = base + np.radians(deg)
    u = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-u[1], u[0]])
    return u, centre + offset * n


def _like_peaks(row: np.ndarray) -> int:
    """How many local maxima of ``row`` (one angle's line scores across the offsets) reach
    PEAK_SHARE of its best: 1-2 for an edge (a fold beside it), more for a periodic pattern."""
    mid = row[1:-1]
    peaks = (mid >= row[:-2]) & (mid > row[2:]) & (mid >= PEAK_SHARE * float(row.max()))
    return int(np.count_nonzero(peaks))
