"""Product photos (enhancement types 3 and 4): find the product, straighten it, crop it.

The mask comes from :mod:`correction_engine.imaging.foreground` on a working copy; the tilt
is measured on that mask and only corrected when the outline gives clear evidence (a
rectangle, or long straight edges agreeing on one small angle); the crop is one affine
warp (or a plain slice when upright) applied once at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from correction_engine.imaging.cutout import cutout_with_alpha, placement_alpha
from correction_engine.imaging.foreground import ForegroundEstimate, estimate_foreground

# Straightening is for a product photographed slightly askew; larger angles are more
# likely a deliberate composition (a bottle lying diagonally), which we leave alone.
DEFAULT_MAX_TILT = 15.0
# Below this the rotation's resampling blur costs more than the tilt it removes.
DEFAULT_MIN_TILT = 0.5
# Straight edges of a non-rectangular outline (a bottle's sides) are shorter and noisier
# evidence than a whole rectangle, so they must show a larger tilt before we act on it.
EDGE_MIN_TILT = 2.0
DEFAULT_MARGIN = 0.03


@dataclass(frozen=True)
class ProductPlacement:
    """Where the product is and how to cut it out of the input.

    ``angle``: degrees the product is tilted, counter-clockwise on screen positive; the
    output is rotated by ``-angle`` (0.0 when left alone). ``evidence``: "rectangle",
    "edges" or "none". ``product_box`` and ``crop_box``: ``(x0, y0, x1, y1)``
    end-exclusive in the straightened frame (which equals the input frame when ``angle``
    is 0), without and with the margin; ``crop_box`` may reach past the image when the
    straightened product sits near an edge (warp fills by replication). ``to_input``: 2x3
    affine mapping output pixel coordinates to input coordinates (for
    ``cv2.WARP_INVERSE_MAP``). ``foreground``: the working-resolution estimate.
    """

    angle: float
    evidence: str
    product_box: tuple[int, int, int, int]
    crop_box: tuple[int, int, int, int]
    to_input: np.ndarray
    foreground: ForegroundEstimate

    @property
    def size(self) -> tuple[int, int]:
        """Output (height, width)."""
        x0, y0, x1, y1 = self.crop_box
        return (y1 - y0, x1 - x0)


def _fold(angle: float) -> float:
    """Fold a line direction in degrees into (-45, 45]: a rectangle's sides are 90 apart."""
    a = (angle + 45.0) % 90.0 - 45.0
    return 45.0 if a == -45.0 else a


def _edge_angle(dx: float, dy: float) -> float:
    # Screen y grows downwards; -dy makes counter-clockwise on screen positive.
    return _fold(np.degrees(np.arctan2(-dy, dx)))


def estimate_tilt(mask: np.ndarray, *, max_tilt: float = DEFAULT_MAX_TILT, min_tilt: float = DEFAULT_MIN_TILT,
                  rectangularity: float = 0.9, edge_share: float = 0.5,
                  agreement: float = 1.0) -> tuple[float, str]:
    """Tilt of the product outline in degrees (counter-clockwise positive) and its evidence.

    Method: the minimum-area bounding rectangle of the largest outline (rotating
    calipers, Toussaint 1983, as ``cv2.minAreaRect``); if the outline fills at least
    ``rectangularity`` of it, the product is a rectangle and the rectangle's angle is the
    tilt. Otherwise the outline is simplified (Douglas-Peucker) and each segment votes
    with its length for its direction modulo 90 degrees; when the winning direction
    (+-``agreement`` degrees) holds ``edge_share`` of the perimeter, its length-weighted
    mean angle is the tilt. Tilts beyond ``max_tilt`` or under ``min_tilt`` return 0.0.
    """
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return 0.0, "none"
    contour = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(contour)
    if area < 64:
        return 0.0, "none"
    (_, _), (rw, rh), _ = rect = cv2.minAreaRect(contour)
    angle, evidence = 0.0, "none"
    if rw * rh > 0 and area / (rw * rh) >= rectangularity:
        pts = cv2.boxPoints(rect)
        # The longer side is the better-measured direction.
        e1, e2 = pts[1] - pts[0], pts[2] - pts[1]
        e = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
        angle, evidence = _edge_angle(float(e[0]), float(e[1])), "rectangle"
    else:
        perimeter = cv2.arcLength(contour, True)
        poly = cv2.approxPolyDP(contour, 0.01 * perimeter, True).reshape(-1, 2).astype(np.float64)
        seg = np.roll(poly, -1, axis=0) - poly
        lengths = np.hypot(seg[:, 0], seg[:, 1])
        angles = np.array([_edge_angle(dx, dy) for dx, dy in seg])
        # Only segments long enough to measure a direction (5 % of the perimeter) vote.
        long_enough = lengths >= 0.05 * perimeter
        if long_enough.any():
            best_a, best_w = 0.0, 0.0
            for a in angles[long_enough]:
                diff = np.abs(_fold_array(angles - a))
                sel = long_enough & (diff <= agreement)
                wsum = lengths[sel].sum()
                if wsum > best_w:
                    best_w = wsum
                    best_a = a + float(np.sum(_fold_array(angles[sel] - a) * lengths[sel]) / wsum)
            if best_w >= edge_share * perimeter:
                angle, evidence = _fold(best_a), "edges"
    if evidence == "none" or abs(angle) > max_tilt:
        return 0.0, "none"
    if abs(angle) < (max(min_tilt, EDGE_MIN_TILT) if evidence == "edges" else min_tilt):
        return 0.0, evidence
    return float(angle), evidence


def _fold_array(a: np.ndarray) -> np.ndarray:
    return (a + 45.0) % 90.0 - 45.0


def _rotation(angle: float) -> np.ndarray:
    """2x2 matrix turning screen coordinates counter-clockwise (on screen) by ``angle``."""
    t = np.radians(angle)
    return np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])


def locate_product(image: np.ndarray, *, margin: float = DEFAULT_MARGIN, straighten: bool = True,
                   max_tilt: float = DEFAULT_MAX_TILT, min_tilt: float = DEFAULT_MIN_TILT,
                   foreground: ForegroundEstimate | None = None) -> ProductPlacement:
    """Find the product in an RGB uint8 image and plan its straightened, cropped output.

    ``margin`` is a fraction of the product box's longer side added on every side. A
    precomputed ``foreground`` estimate may be passed to avoid estimating it twice.
    """
    h, w = image.shape[:2]
    est = foreground if foreground is not None else estimate_foreground(image)
    sel = est.alpha >= 0.5
    if not sel.any():
        # Nothing found: the whole frame is the "product"; better than an empty result.
        box = (0, 0, w, h)
        return ProductPlacement(0.0, "none", box, box, np.array([[1.0, 0, 0], [0, 1.0, 0]]), est)
    angle, evidence = (estimate_tilt(sel, max_tilt=max_tilt, min_tilt=min_tilt) if straighten
                       else (0.0, "none"))

    # The outline at sub-pixel precision: the coverage's 0.5 level traced on a 4x finer
    # grid. Fine grid pixel u has its centre at working coordinate (u + 0.5) / 4 - 0.5,
    # and working pixel i covers full-resolution [i / s, (i + 1) / s).
    fine = 4
    hs, ws = est.alpha.shape
    up = cv2.resize(est.alpha, (ws * fine, hs * fine), interpolation=cv2.INTER_LINEAR) >= 0.5
    contours, _ = cv2.findContours(up.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float64)
    s = est.scale
    half = 0.5 / fine
    offsets = ((-half, -half), (half, -half), (-half, half), (half, half))
    corners = np.concatenate([(pts + 0.5) / fine - 0.5 + d for d in offsets])
    corners = (corners + 0.5) / s
    centre = np.array([w / 2.0, h / 2.0])
    rot = _rotation(angle)
    # Straightened frame: q = rot^T (p - c) + c (undo a counter-clockwise tilt).
    q = (corners - centre) @ rot + centre
    px0, py0 = np.floor(q.min(0)).astype(int)
    px1, py1 = np.ceil(q.max(0)).astype(int)
    m = int(round(margin * max(px1 - px0, py1 - py0)))
    x0, y0, x1, y1 = px0 - m, py0 - m, px1 + m, py1 + m
    if angle == 0.0:
        # Upright: crop inside the frame only (no invented pixels).
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        px0, py0, px1, py1 = max(0, px0), max(0, py0), min(w, px1), min(h, py1)
    # Output pixel q_out maps to input p = rot (q_out + origin - c) + c.
    to_input = np.zeros((2, 3))
    to_input[:, :2] = rot
    to_input[:, 2] = rot @ (np.array([x0, y0], float) - centre) + centre
    return ProductPlacement(angle=angle, evidence=evidence, product_box=(px0, py0, px1, py1),
                            crop_box=(x0, y0, x1, y1), to_input=to_input, foreground=est)


def apply_placement(image: np.ndarray, placement: ProductPlacement) -> np.ndarray:
    """Cut the planned output out of ``image`` (any channel count) at full resolution."""
    x0, y0, x1, y1 = placement.crop_box
    if placement.angle == 0.0:
        return np.ascontiguousarray(image[y0:y1, x0:x1])
    out_h, out_w = placement.size
    # One warp computes only the output pixels (bilinear), never the whole rotated frame.
    return cv2.warpAffine(image, placement.to_input, (out_w, out_h),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


def crop_and_straighten(image: np.ndarray) -> np.ndarray:
    """Enhancement type 3: the product, straightened when clearly tilted, cropped with a margin.

    Input and output are RGB uint8 HxWx3.
    """
    return apply_placement(image, locate_product(image))


def crop_straighten_cutout(image: np.ndarray) -> np.ndarray:
    """Enhancement type 4: type 3, then background removal; RGBA uint8 with soft edges.

    The mask found for the crop is reused (warped into the crop) rather than estimated
    again, and refined against the full-resolution crop (see
    :func:`correction_engine.imaging.cutout.placement_alpha`).
    """
    placement = locate_product(image)
    crop = apply_placement(image, placement)
    return cutout_with_alpha(crop, placement_alpha(crop, placement))
