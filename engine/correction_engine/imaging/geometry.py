"""Quadrilateral geometry for documents: corner ordering, the SmartDoc quad Jaccard index, and
rectifying a quad to a flat rectangle with its true aspect ratio."""

from __future__ import annotations

import cv2
import numpy as np


def order_quad(points: np.ndarray) -> np.ndarray:
    """Order four (x, y) points TL, TR, BR, BL in image coordinates (y down), clockwise on screen.

    Sorting by angle around the centroid works for any convex quad, including ones turned
    near 45 degrees where the usual x+y / x-y trick picks the same point twice.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise on screen because y points down
    start = int(np.argmin(pts.sum(axis=1)))  # the top-left-most point
    return np.roll(pts, -start, axis=0)


def quad_area(quad: np.ndarray) -> float:
    q = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    x, y = q[:, 0], q[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def quad_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard index of two convex quadrilaterals: area(a ∩ b) / area(a ∪ b).

    The measure of the ICDAR 2015 SmartDoc challenge (Burie et al., "ICDAR2015 competition on
    smartphone document capture and OCR"), computed on the polygons, independent of corner order.
    """
    pa = order_quad(a).astype(np.float32)
    pb = order_quad(b).astype(np.float32)
    inter, _ = cv2.intersectConvexConvex(pa, pb)
    union = quad_area(pa) + quad_area(pb) - inter
    return float(inter / union) if union > 0 else 0.0


def cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross(a, b)`` of two 3-vectors, the same products and differences, without
    np.cross's axis handling: 3 us a call instead of 33, and page detection takes a few hundred
    (homogeneous lines through points, their crossings)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def is_convex(quad: np.ndarray) -> bool:
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    cross = []
    for i in range(4):
        d1 = q[(i + 1) % 4] - q[i]
        d2 = q[(i + 2) % 4] - q[(i + 1) % 4]
        cross.append(d1[0] * d2[1] - d1[1] * d2[0])
    cross = np.array(cross)
    return bool(np.all(cross > 0) or np.all(cross < 0))


def quad_mask(shape: tuple[int, ...], quad: np.ndarray) -> np.ndarray:
    """Bool map of the pixels of a frame of ``shape`` (rows, columns) inside convex ``quad``."""
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, np.round(quad).astype(np.int32), 255)
    return mask > 0


# The interior angles a photographed sheet can show. A rectangle seen by a 50-80 degree camera
# tilted up to 45 degrees off its normal, anywhere in the frame, shows corners of 42-143 degrees
# (simulated over page aspects 1-4 and all turns); the 90 truth outlines of the real photos span
# 60-127. An outline with a corner far outside that, 30 or 150, is no page but a sliver between
# crossing lines (a table's edge and a knife, issue 8).
MIN_CORNER_ANGLE = 30.0


def corner_angles(quad: np.ndarray) -> np.ndarray:
    """The interior angle, in degrees, at each of ``quad``'s four corners (in its order)."""
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    to_prev = np.roll(q, 1, axis=0) - q
    to_next = np.roll(q, -1, axis=0) - q
    norms = np.linalg.norm(to_prev, axis=1) * np.linalg.norm(to_next, axis=1)
    cos = np.einsum("ij,ij->i", to_prev, to_next) / np.maximum(norms, 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def plausible_page(quad: np.ndarray) -> bool:
    """Whether ``quad`` (convex, in order) can be a sheet's outline seen in perspective: no
    corner sharper than MIN_CORNER_ANGLE nor blunter than its supplement."""
    angles = corner_angles(quad)
    return bool(np.all(angles >= MIN_CORNER_ANGLE) and np.all(angles <= 180.0 - MIN_CORNER_ANGLE))


def rectified_aspect(quad: np.ndarray, image_size: tuple[int, int]) -> float:
    """Width/height of the real rectangle seen as ``quad`` (TL, TR, BR, BL) in a pinhole photo.

    Zhang & He, "Whiteboard scanning and image enhancement", Digital Signal Processing 17 (2007):
    recovers the focal length from the quad's vanishing geometry, assuming square pixels and the
    principal point at the image centre. Falls back to the ratio of mean side lengths when the
    view is fronto-parallel (no focal length to recover) or the estimate is not real.
    """
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    tl, tr, br, bl = q
    width_mean = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height_mean = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    fallback = width_mean / max(height_mean, 1e-9)
    h, w = image_size
    u0, v0 = w / 2.0, h / 2.0
    m1, m2, m3, m4 = (np.array([p[0], p[1], 1.0]) for p in (tl, tr, bl, br))
    k2 = np.dot(cross3(m1, m4), m3) / np.dot(cross3(m2, m4), m3)
    k3 = np.dot(cross3(m1, m4), m2) / np.dot(cross3(m3, m4), m2)
    n2 = k2 * m2 - m1
    n3 = k3 * m3 - m1
    if abs(n2[2]) < 1e-9 or abs(n3[2]) < 1e-9:
        return fallback
    f2 = -(
        (n2[0] * n3[0] - (n2[0] * n3[2] + n2[2] * n3[0]) * u0 + n2[2] * n3[2] * u0 * u0)
        + (n2[1] * n3[1] - (n2[1] * n3[2] + n2[2] * n3[1]) * v0 + n2[2] * n3[2] * v0 * v0)
    ) / (n2[2] * n3[2])
    if not np.isfinite(f2) or f2 <= 0:
        return fallback
    f = np.sqrt(f2)
    a_inv = np.linalg.inv(np.array([[f, 0, u0], [0, f, v0], [0, 0, 1.0]]))
    num = n2 @ a_inv.T @ a_inv @ n2
    den = n3 @ a_inv.T @ a_inv @ n3
    ratio = float(np.sqrt(num / den)) if den > 0 and num > 0 else fallback
    # A wildly different answer from the side lengths means a degenerate (near-affine) solve.
    if not (0.5 * fallback < ratio < 2.0 * fallback):
        return fallback
    return ratio


def output_size(quad: np.ndarray, image_size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of the rectified page: the longer visible sides, reshaped to the true aspect."""
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    tl, tr, br, bl = q
    width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    aspect = rectified_aspect(q, image_size)
    # Keep the area the page occupies in the photo; only the shape changes.
    area = width * height
    out_h = np.sqrt(area / aspect)
    out_w = out_h * aspect
    return max(1, int(round(out_w))), max(1, int(round(out_h)))


# Last step of ``downscale`` at or above this factor: bilinear instead of area averaging.
LINEAR_FINAL_FACTOR = 0.75


def downscale(image: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """Area-average ``image`` down to about ``long_side`` pixels on its long side; returns the copy
    and its scale. Halvings first: OpenCV's area resize has a fast path for a factor of two and
    is several times slower for other factors.

    The remaining step is bilinear when it shrinks by no more than a quarter: there a pixel's
    area and bilinear weights cover about the same input, and OpenCV's general area resize
    costs four to five times as much (2000 -> 1600 px, 3 channels: 19.5 ms against 4.3 ms on
    one core, the largest single resize of a type-0 task; docs/benchmarks/engine-speed.md).
    Stronger last steps keep area averaging, whose box filter is what stops aliasing there."""
    h, w = image.shape[:2]
    small = image
    while max(small.shape[:2]) >= 2 * long_side:
        # A thin strip's short side stops at 1 px (0 is an OpenCV assertion, not an image).
        half = (max(1, small.shape[1] // 2), max(1, small.shape[0] // 2))
        small = cv2.resize(small, half, interpolation=cv2.INTER_AREA)
    if max(small.shape[:2]) > long_side:
        s = long_side / max(small.shape[:2])
        size = (max(1, round(small.shape[1] * s)), max(1, round(small.shape[0] * s)))
        interpolation = cv2.INTER_LINEAR if s >= LINEAR_FINAL_FACTOR else cv2.INTER_AREA
        small = cv2.resize(small, size, interpolation=interpolation)
    return small, small.shape[1] / w


def warp_quad(
    image: np.ndarray,
    quad: np.ndarray,
    size: tuple[int, int],
    *,
    interpolation: int = cv2.INTER_LINEAR,
) -> np.ndarray:
    """Perspective-warp the region ``quad`` (its first corner becomes the output's TL, the rest
    clockwise) onto a ``size`` = (width, height) rectangle."""
    w, h = size
    src = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    hom = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(image, hom, (w, h), flags=interpolation, borderMode=cv2.BORDER_REPLICATE)


# Element types OpenCV's transpose and flip take; anything else (bool, int64) turns in NumPy.
_CV_TURN_DTYPES = frozenset(
    map(np.dtype, (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32, np.float64))
)
_CV_TURN_CODES = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}


def quarter_turn(image: np.ndarray, k: int) -> np.ndarray:
    """``np.rot90(image, k)`` (counter-clockwise quarter turns) as a new contiguous array.

    A quarter-turned view made contiguous walks the source down its columns, a cache miss per
    pixel: ~70 ms for a 7 MP RGB crop, where OpenCV's blocked transpose takes ~11 ms for the
    same pixels (docs/benchmarks/engine-speed.md).
    """
    k %= 4
    if k == 0:
        return np.array(image, copy=True, order="C")
    # (An HxWx1 array would come back from OpenCV as HxW.)
    shape_ok = image.ndim == 2 or (image.ndim == 3 and 2 <= image.shape[2] <= 4)
    if shape_ok and image.dtype in _CV_TURN_DTYPES:
        return cv2.rotate(image, _CV_TURN_CODES[k])
    return np.ascontiguousarray(np.rot90(image, k))
