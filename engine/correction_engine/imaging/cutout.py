"""Background removal: a soft alpha matte from a coarse product mask, and RGBA cut-outs.

The coarse mask (working resolution) is refined against the full-resolution image with a
fast guided filter, which makes the matte follow the image's own edges and gives the
partial alpha of anti-aliased and slightly blurred outlines; well inside and well outside
the outline the matte stays exactly 255 and 0.
"""

from __future__ import annotations

import cv2
import numpy as np

from correction_engine.imaging.foreground import ForegroundEstimate, estimate_foreground

# Resolution at which the guided filter's linear coefficients are computed (He & Sun's
# "fast" variant): the coefficients are smooth, so 1024 px is plenty, and the full-size
# work is one bilinear upsampling and one multiply-add.
DEFAULT_GUIDE_LONG_SIDE = 1024


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def refine_alpha(
    image: np.ndarray,
    coarse: np.ndarray,
    *,
    radius: int = 2,
    eps: float = 2e-3,
    band: int = 3,
    guide_long_side: int = DEFAULT_GUIDE_LONG_SIDE,
) -> np.ndarray:
    """Soft alpha (uint8 HxW) for RGB uint8 ``image`` from ``coarse`` coverage in [0, 1].

    Method: fast guided filter (He, Sun & Tang, "Guided Image Filtering", ECCV 2010 /
    TPAMI 2013; He & Sun, "Fast Guided Filter", arXiv:1505.00996, 2015) with the
    luminance as guide: the local linear model ``alpha = a * I + b`` is fitted at
    ``guide_long_side`` resolution with window ``radius`` and regulariser ``eps``, and
    applied to the full-resolution luminance. ``coarse`` may have any size; it is
    resampled to the fitting resolution. Outside a band of ``band`` fitting pixels around
    the 0.5 level the matte is forced to 0 or 255, so texture far from the outline cannot
    leak into it.
    """
    h, w = image.shape[:2]
    lw, lh, scale = _fit_size((h, w), guide_long_side)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        guide = cv2.resize(grey, (lw, lh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    else:
        guide = grey.astype(np.float32) / 255.0
    p = cv2.resize(coarse.astype(np.float32), (lw, lh), interpolation=cv2.INTER_LINEAR)

    mean_i = _box(guide, radius)
    mean_p = _box(p, radius)
    cov_ip = _box(guide * p, radius) - mean_i * mean_p
    var_i = _box(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    mean_a, mean_b = _box(a, radius), _box(b, radius)

    inside = p >= 0.5
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    sure_fg = cv2.erode(inside.astype(np.uint8), k)
    maybe = cv2.dilate(inside.astype(np.uint8), k)
    # Coefficients: in the sure regions a = 0 and b = 0 or 1, so one upsampled affine
    # field gives the whole matte without a separate full-size masking pass.
    mean_a = np.where(sure_fg > 0, 0.0, np.where(maybe > 0, mean_a, 0.0)).astype(np.float32)
    mean_b = np.where(sure_fg > 0, 1.0, np.where(maybe > 0, mean_b, 0.0)).astype(np.float32)
    if scale < 1.0:
        mean_a = cv2.resize(mean_a, (w, h), interpolation=cv2.INTER_LINEAR)
        mean_b = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)
    # alpha * 255 = a * grey + 255 * b  (grey in 0..255 saves a full-size division).
    q = cv2.multiply(mean_a, grey, dtype=cv2.CV_32F)
    q = cv2.scaleAdd(mean_b, 255.0, q)
    return np.clip(q + 0.5, 0, 255).astype(np.uint8)


def cutout_with_alpha(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGBA uint8 from RGB uint8 ``image`` and uint8 ``alpha`` of the same size."""
    return np.dstack([image, alpha])


def alpha_in_frame(
    frame: np.ndarray,
    est: ForegroundEstimate,
    to_input: np.ndarray,
    *,
    guide_long_side: int = DEFAULT_GUIDE_LONG_SIDE,
) -> np.ndarray:
    """Soft alpha (uint8) for ``frame``, an output whose pixels map to the input by the 2x3
    affine ``to_input`` (identity for the input itself, a placement's map for its crop).

    The working-resolution coverage is warped straight into the frame at the filter's
    fitting resolution (one small warp instead of estimating the mask again), then refined
    against the frame. With no product found the alpha is opaque: better the picture than
    an empty transparent one.
    """
    if not (est.alpha >= 0.5).any():
        return np.full(frame.shape[:2], 255, np.uint8)
    coarse = coarse_in_frame(est, to_input, frame.shape[:2], guide_long_side)
    return refine_alpha(frame, coarse, guide_long_side=guide_long_side)


def _fit_size(shape: tuple[int, int], guide_long_side: int) -> tuple[int, int, float]:
    h, w = shape
    s2 = min(1.0, guide_long_side / float(max(h, w)))
    return max(1, int(round(w * s2))), max(1, int(round(h * s2))), s2


def coarse_in_frame(
    est: ForegroundEstimate,
    to_input: np.ndarray,
    shape: tuple[int, int],
    guide_long_side: int = DEFAULT_GUIDE_LONG_SIDE,
) -> np.ndarray:
    """The working-resolution coverage resampled onto the guided filter's fitting grid of an
    output frame of ``shape`` (h, w) whose pixels map to the input by affine ``to_input``.

    Fitting pixel u -> output pixel q = (u + 0.5) / s2 - 0.5 -> input p = A q + t ->
    working pixel (p + 0.5) * s - 0.5; the three affines compose into one warp.
    """
    lw, lh, s2 = _fit_size(shape, guide_long_side)
    s = np.diag(est.scale_xy)
    a = to_input[:, :2]
    t = to_input[:, 2]
    lin = s @ a / s2
    off = s @ (a @ np.full(2, 0.5 / s2 - 0.5) + t + 0.5) - 0.5
    m = np.hstack([lin, off[:, None]])
    return cv2.warpAffine(
        est.alpha, m, (lw, lh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )


def remove_background(image: np.ndarray) -> np.ndarray:
    """Background removal on the whole frame: RGB uint8 HxWx3 in, RGBA uint8 HxWx4 out.

    The mask is :func:`~correction_engine.imaging.foreground.estimate_foreground`'s
    coverage, refined to a soft matte by :func:`refine_alpha`; colour is unchanged.
    """
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return cutout_with_alpha(image, alpha_in_frame(image, estimate_foreground(image), identity))
