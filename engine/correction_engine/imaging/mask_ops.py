"""Operations on product masks at working resolution: one solid object (holes filled, small
pieces dropped, pieces split by a backdrop-coloured band bridged), its sub-pixel coverage, and
the way back to full resolution by interpolation (never by pixel replication, which would make
the answer depend on the photo's size)."""

from __future__ import annotations

import cv2
import numpy as np


def border_ring(h: int, w: int, width: int) -> np.ndarray:
    """The frame's outer band of ``width`` pixels (the backdrop sample of the border model)."""
    ring = np.zeros((h, w), bool)
    ring[:width] = ring[-width:] = True
    ring[:, :width] = ring[:, -width:] = True
    return ring


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill enclosed background regions (flood fill of the outside from the border)."""
    m = mask.astype(np.uint8)
    h, w = m.shape
    padded = np.zeros((h + 2, w + 2), np.uint8)
    padded[1:-1, 1:-1] = m
    ff = padded.copy()
    cv2.floodFill(ff, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 1)
    return (padded[1:-1, 1:-1] | (1 - ff[1:-1, 1:-1])).astype(bool)


def keep_main_components(mask: np.ndarray, min_fraction: float = 0.25) -> np.ndarray:
    """Keep the largest component and any at least ``min_fraction`` of its area."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.astype(bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= min_fraction * areas.max()) + 1
    return np.isin(labels, keep)


def bridge_pieces(mask: np.ndarray, reach: float = 0.6, max_pieces: int = 4) -> np.ndarray:
    """Join pieces of one product split by a backdrop-coloured band (a white label on a
    white sweep): pixels a closing of two pieces adds that neither piece's own closing does.

    The closing diameter is ``reach`` x the square root of the pieces' total area, so
    only gaps narrow against the product are bridged; concave outlines are untouched
    because each piece's own closing is subtracted. Only the ``max_pieces`` largest are
    considered.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    order = np.argsort(stats[1:, cv2.CC_STAT_AREA])[::-1][:max_pieces] + 1
    d = reach * np.sqrt(stats[order, cv2.CC_STAT_AREA].sum())
    # Large elliptic closings are slow; the bridge is interior, so it is computed on a
    # grid ``f`` times coarser, inside the pieces' padded bounding box only.
    f = max(1, int(d // 12))
    x0 = max(0, int(min(stats[i, cv2.CC_STAT_LEFT] for i in order) - d))
    y0 = max(0, int(min(stats[i, cv2.CC_STAT_TOP] for i in order) - d))
    right = max(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] for i in order)
    bottom = max(stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT] for i in order)
    x1 = min(mask.shape[1], int(right + d))
    y1 = min(mask.shape[0], int(bottom + d))
    sub = labels[y0:y1, x0:x1]
    small = (max(1, (x1 - x0) // f), max(1, (y1 - y0) // f))
    kd = int(d / f) | 1
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kd, kd))

    def piece(sel: np.ndarray) -> np.ndarray:
        return cv2.resize(sel.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST)

    closed = {i: cv2.morphologyEx(piece(sub == i), cv2.MORPH_CLOSE, k) for i in order}
    bridge = np.zeros(small[::-1], np.uint8)
    for ai, a in enumerate(order):
        for b in order[ai + 1 :]:
            pair = cv2.morphologyEx(piece((sub == a) | (sub == b)), cv2.MORPH_CLOSE, k)
            bridge |= pair & ~(closed[a] | closed[b])
    out = mask.copy()
    # Interpolated, not nearest: a coarse cell resized by replication leaves a rectangular
    # patch of table wherever it grazes the bridge.
    back = cv2.resize(bridge.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR) >= 0.5
    out[y0:y1, x0:x1] |= back
    return out


def coverage(mask: np.ndarray, distance: np.ndarray, band: int = 3) -> np.ndarray:
    """Sub-pixel coverage near the outline: distance relative to the product's own.

    A boundary pixel mixes product and backdrop, and its colour distance to the backdrop
    grows about linearly with the product fraction. Dividing by the distance of nearby
    inner product pixels (a normalised box average, i.e. normalised convolution) gives
    that fraction; away from the outline the binary mask is kept. Thresholding this at 0.5
    places the outline at half contrast instead of wherever the detection threshold fell.
    Only where the colour agrees with the mask (``distance > 1`` inside, ``<= 1`` outside):
    elsewhere the mask was decided by other evidence and stays binary.
    """
    m8 = mask.astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    inner = cv2.erode(m8, k).astype(np.float32)
    near = cv2.dilate(m8, k).astype(bool) & ~cv2.erode(m8, k).astype(bool)
    size = (4 * band + 1, 4 * band + 1)
    num = cv2.boxFilter(distance.astype(np.float32) * inner, -1, size, normalize=False)
    den = cv2.boxFilter(inner, -1, size, normalize=False)
    ref = np.where(den > 0, num / np.maximum(den, 1e-6), 0.0)
    alpha = mask.astype(np.float32)
    # Only where the colour agrees with the mask: a pixel of the mask that the colour calls
    # backdrop (distance under the threshold, 1.0) or one left out that it calls product was
    # decided by other evidence (the learned model, the graph cut), and the ratio to the
    # product's distance would undo that decision along the outline.
    agrees = mask == (distance > 1.0)
    ok = near & (ref > 0) & agrees
    alpha[ok] = np.clip(distance[ok] / ref[ok], 0.0, 1.0)
    return alpha


def upscale_alpha(alpha: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Float coverage resized bilinearly to ``shape`` = (h, w)."""
    h, w = shape
    return cv2.resize(alpha.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def upscale_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask resized to ``shape`` = (h, w) by bilinear interpolation thresholded at 0.5.

    Interpolating the 0/1 field (rather than nearest neighbour) puts the boundary at
    sub-pixel positions between working pixels instead of staircasing.
    """
    h, w = shape
    m = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return m >= 0.5
