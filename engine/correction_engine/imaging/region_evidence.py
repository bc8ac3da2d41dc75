"""Per-region decisions between the product path's two answers (stage 1, find).

The border model (colour against the backdrop) and the learned model (u2netp) each miss in
their own way; where they disagree, or where both could be wrong together, each region is
decided by evidence of another kind - the image's edges along each candidate outline, or
the physics of a cast shadow - rather than by trusting one model for the whole photo.
Pure functions on working-resolution arrays; :mod:`~correction_engine.imaging.foreground`
calls them from its one place that chooses the method.
"""

from __future__ import annotations

import cv2
import numpy as np

from correction_engine.imaging.background_model import BorderModel, darkened_backdrop
from correction_engine.imaging.mask_ops import keep_main_components

__all__ = ["backdrop_given_back", "edge_strength", "settle_by_edges"]


def backdrop_given_back(
    mask: np.ndarray,
    sal: np.ndarray,
    border: BorderModel,
    small: np.ndarray,
    *,
    model_level: float = 0.5,
    region_level: float = 0.25,
    min_share: float = 0.002,
) -> np.ndarray:
    """``mask`` without the regions that both models call backdrop.

    Per region, two independent kinds of evidence: the colour says backdrop (explained by
    the border model, or the smooth backdrop surface dimmed - a cast shadow at any depth, a
    loop's inside in the product's shade), and the learned model says not object (its
    probability under ``model_level`` at every pixel, under ``region_level`` on the
    region's median). Either alone is not enough: a dark part of the product is a dimmed
    backdrop colour too (the model calls it object), and the model misses thin or
    backdrop-coloured parts (the colour calls them product).
    """
    pre = mask & (sal < model_level)
    if not pre.any():
        return mask
    # Only the region the rule can act on is examined (a few ms less at any photo size); the
    # padding covers the blur's reach, so the answer is the same as on the whole frame.
    y0, y1, x0, x1 = _padded_box(pre, _PAD)
    cand = pre[y0:y1, x0:x1] & (border.score[y0:y1, x0:x1] <= 1.0)
    rest = pre[y0:y1, x0:x1] & ~cand
    # The same light smoothing as the border model's, so noise does not read as a hue change.
    rgb = cv2.GaussianBlur(small[y0:y1, x0:x1], (0, 0), 1.0).astype(np.float32)
    cand[rest] = darkened_backdrop(rgb[rest], border.backdrop[y0:y1, x0:x1][rest])
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cand.astype(np.uint8), connectivity=8)
    crop_sal = sal[y0:y1, x0:x1]
    drop = np.zeros(n, bool)
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < min_share * mask.size:
            continue
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        region = labels[y : y + bh, x : x + bw] == i
        drop[i] = float(np.median(crop_sal[y : y + bh, x : x + bw][region])) < region_level
    if not drop.any():
        return mask
    out = mask.copy()
    out[y0:y1, x0:x1] &= ~drop[labels]
    return keep_main_components(out) if out.any() else mask


# Reach of the 3-sigma Gaussian (sigma 1) plus the 3x3 Sobel, with a pixel to spare: crops
# padded by this much give the same values inside as the whole frame.
_PAD = 5


def _padded_box(mask: np.ndarray, pad: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of ``mask``'s bounding box grown by ``pad``, clipped to the frame."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return (
        max(0, ys.min() - pad),
        min(h, ys.max() + pad + 1),
        max(0, xs.min() - pad),
        min(w, xs.max() + pad + 1),
    )


def edge_strength(small: np.ndarray) -> np.ndarray:
    """Colour gradient magnitude of a working copy (largest Sobel response over R, G, B)."""
    rgb = cv2.GaussianBlur(small, (0, 0), 1.0).astype(np.float32)
    gx = cv2.Sobel(rgb, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(rgb, cv2.CV_32F, 0, 1, ksize=3)
    return np.sqrt(gx * gx + gy * gy).max(axis=2)


def settle_by_edges(
    mask: np.ndarray,
    model: np.ndarray,
    sal: np.ndarray,
    small: np.ndarray,
    *,
    min_area: int,
    sure_level: float,
    ratio: float = 0.5,
) -> np.ndarray:
    """Where ``mask`` (the border model's outline) and ``model`` (u2netp's object) disagree,
    decide per region by the image's own edges.

    A region the model calls object and the mask does not lies between two candidate
    outlines: the mask's (its seam with the mask) and the model's (its rim on the outside).
    A real outline is an edge in the image; when the seam is much weaker than the rim
    (under ``ratio`` of it) the mask cut through a surface the backdrop's palette happened
    to explain (the pale side of a carton), and the region is the product's - provided the
    model is sure of the region itself (median probability ``sal`` at least ``sure_level``):
    a backdrop object touching the product has a strong rim of its own, and there the model
    hesitates. Regions under ``min_area`` are the two outlines' ordinary jitter.
    """
    k3 = np.ones((3, 3), np.uint8)
    gain = model & ~mask
    n, labels, stats, _ = cv2.connectedComponentsWithStats(gain.astype(np.uint8), connectivity=8)
    out = mask.copy()
    h, w = mask.shape
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < min_area:
            continue
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        x0, y0 = max(0, x - 2), max(0, y - 2)
        x1, y1 = min(w, x + bw + 2), min(h, y + bh + 2)
        region = labels[y0:y1, x0:x1] == i
        if float(np.median(sal[y0:y1, x0:x1][region])) < sure_level:
            continue
        grown = cv2.dilate(region.astype(np.uint8), k3).astype(bool) & ~region
        seam = grown & mask[y0:y1, x0:x1]
        rim = grown & ~model[y0:y1, x0:x1] & ~mask[y0:y1, x0:x1]
        if not seam.any() or not rim.any():
            continue
        # Gradients of the region's neighbourhood only, padded so they equal the whole frame's.
        py0, px0 = max(0, y0 - _PAD), max(0, x0 - _PAD)
        g = edge_strength(small[py0 : min(h, y1 + _PAD), px0 : min(w, x1 + _PAD)])
        g = g[y0 - py0 : y0 - py0 + (y1 - y0), x0 - px0 : x0 - px0 + (x1 - x0)]
        if float(g[seam].mean()) < ratio * float(g[rim].mean()):
            out[y0:y1, x0:x1] |= region
    return out
