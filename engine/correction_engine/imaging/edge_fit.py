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
SEARCH_ANGLE = 4.0
COARSE_STEP = 0.5
FINE_STEP = 0.1
OFFSET_STEP = 0.5
# Every second outline point along the side is sampled (they are about a pixel apart).
SAMPLE_EVERY = 2
# The edge's mean gradient across the side must stand out of the noise: at least this many
# times the median line's within reach (a plain wall, a flat label) ...
MIN_CONTRAST = 2.0
# ... and at least this much in grey levels per pixel (Sobel of a 1-sigma blurred copy).
MIN_STRENGTH = 2.0


class ImageEdges:
    """The working copy's gradients, computed on first use (most outlines are read before
    any side needs them) and then kept for the photo."""

    def __init__(self, image: np.ndarray) -> None:
        self._image = image
        self._grads: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def of(cls, image: np.ndarray) -> ImageEdges:
        """The edges of ``image`` (RGB or grey uint8)."""
        return cls(image)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self._image.shape[0]), int(self._image.shape[1])

    def gradients(self) -> tuple[np.ndarray, np.ndarray]:
        """(gx, gy), H x W x C float32, of the photo after a light blur (the sensor's noise),
        in grey levels per pixel."""
        if self._grads is None:
            img = cv2.GaussianBlur(self._image.astype(np.float32), (0, 0), 1.0)
            if img.ndim == 2:
                img = img[..., None]
            # Sobel's 3x3 kernel sums to 8x the slope.
            gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3) / 8.0
            gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3) / 8.0
            if gx.ndim == 2:
                gx, gy = gx[..., None], gy[..., None]
            self._grads = (gx, gy)
        return self._grads

    def across(self, normal: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The gradient's size along ``normal`` (across a side perpendicular to it) in ``box``
        (x0, y0, x1, y1), float32: the largest over the channels (a red carton on a grey wall
        differs in hue as much as in brightness)."""
        gx, gy = self.gradients()
        x0, y0, x1, y1 = box
        g = gx[y0:y1, x0:x1] * np.float32(normal[0]) + gy[y0:y1, x0:x1] * np.float32(normal[1])
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
    (a side broken by a thumb is two runs of one line).
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
    offsets = np.arange(-reach, reach + 1e-6, OFFSET_STEP)
    # The gradient across the side, in the box the search can reach.
    margin = reach + float(np.abs(s).max()) * np.sin(np.radians(SEARCH_ANGLE)) + 2.0
    x0 = max(0, int(np.floor(points[:, 0].min() - margin)))
    y0 = max(0, int(np.floor(points[:, 1].min() - margin)))
    x1 = min(w, int(np.ceil(points[:, 0].max() + margin)) + 1)
    y1 = min(h, int(np.ceil(points[:, 1].max() + margin)) + 1)
    across = edges.across(np.array([-vy, vx], np.float64), (x0, y0, x1, y1))
    local = centre - np.array([x0, y0], np.float64)
    # Coarse angles first, then fine ones around the best.
    coarse = np.radians(np.arange(-SEARCH_ANGLE, SEARCH_ANGLE + 1e-6, COARSE_STEP))
    scores = _line_scores(across, local, along, base + coarse, offsets)
    i, _ = np.unravel_index(int(scores.argmax()), scores.shape)
    fine = coarse[i] + np.radians(np.arange(-COARSE_STEP, COARSE_STEP + 1e-6, FINE_STEP))
    scores = _line_scores(across, local, along, base + fine, offsets)
    i, j = np.unravel_index(int(scores.argmax()), scores.shape)
    best = float(scores[i, j])
    # The strongest line must be an edge: strong in grey levels per pixel, well above the
    # typical line beside it (a plain wall, a flat label), and inside the search (a peak
    # at its end is the slope of an edge further away).
    if j in (0, len(offsets) - 1) or best < MIN_STRENGTH or best < MIN_CONTRAST * float(np.median(scores[i])):
        return None
    angle = base + fine[i] + _parabola(scores[:, j], int(i)) * np.radians(FINE_STEP)
    offset = offsets[j] + _parabola(scores[i], int(j)) * OFFSET_STEP
    u = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-u[1], u[0]])
    return u, centre + offset * n
