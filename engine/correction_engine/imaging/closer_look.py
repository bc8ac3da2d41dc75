"""A second, closer look by the learned model at the product's neighbourhood (stage 1, find):
where the product may extend beyond its mask, for the crop to cover.

u2netp sees the whole frame at 320 x 320: a carton held up in a shop shares that view with
the shelves, and the model's map can stop short of its plain top or its far corner, as the
mask then does. Run again on the product's box and a little around it, the model sees the
product larger and as the main object of the view, and its object often reaches those
parts. What it adds touching the mask is where the product may be; the placement stage
covers it like the whole-frame map's "maybe" region. Pure function of working-resolution
arrays; the model is passed in (tests give a stand-in).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

__all__ = ["closer_look"]

# The view: the mask's box grown by this share of its longer side on every side. Measured on
# the real set's even half (crop held >= 99 %: 0.1 and 0.15 both 44 -> 46 of 51, 0.2 45,
# 0.25 44; at 0.15 a holding hand joined a carton's object and cost it 0.15 of tightness): a
# wider view gives the scene back its share of the model's attention.
CLOSER_PAD = 0.1
# The model's probability in that view that counts as object: a sure level, since the added
# region widens the crop (0.5 and 0.7 held the same photos of the even half; 0.5 framed a
# floor joint running off a toy's foot until the opening below took it out).
CLOSER_LEVEL = 0.7
# Thin strokes of that object (a floor joint or a cable of shadow running off a toy's foot)
# are no bulk of the product: opened away at this share of the mask's longer side.
CLOSER_OPEN = 0.01
# Pieces smaller than this share of the mask are specks, not a part of the product.
CLOSER_MIN_SHARE = 0.01
# A view whose sides both span at least this share of the frame's is the first look's view
# again (the model resizes either to the same 320 x 320 input, within this share): its map
# would be the first one, whose parts touching the mask the placement already covers at a
# lower level (MAYBE_LEVEL). No inference then (7 of the real set's 103 photos; no crop moved:
# every crop a closer look moves has a view under 0.9 of the frame along one side).
SAME_VIEW_SHARE = 0.95


def closer_look(
    small: np.ndarray, mask: np.ndarray, probability: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray | None:
    """Working-grid region (bool, outside ``mask``) where the learned model, run again on the
    product's neighbourhood of ``small`` (RGB uint8, the working copy), sees its object
    continue from the mask: its parts at :data:`CLOSER_LEVEL` that touch the mask, without
    thin strokes or specks. ``probability`` maps an RGB crop to a map of any size (resized
    here to the crop). None when it adds nothing, and without calling ``probability`` when
    the view is the whole frame (:data:`SAME_VIEW_SHARE`).
    """
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    h, w = mask.shape
    size = max(int(np.ptp(xs)), int(np.ptp(ys))) + 1
    pad = int(round(CLOSER_PAD * size))
    x0, y0 = max(0, int(xs.min()) - pad), max(0, int(ys.min()) - pad)
    x1, y1 = min(w, int(xs.max()) + pad + 1), min(h, int(ys.max()) + pad + 1)
    if x1 - x0 >= SAME_VIEW_SHARE * w and y1 - y0 >= SAME_VIEW_SHARE * h:
        return None
    prob = cv2.resize(probability(small[y0:y1, x0:x1]), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    sure = np.zeros((h, w), bool)
    sure[y0:y1, x0:x1] = prob >= CLOSER_LEVEL
    r = max(1, int(round(CLOSER_OPEN * size)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    # The opening would also thin the mask's own rim; only what lies outside it is judged.
    sure = (cv2.morphologyEx(sure.astype(np.uint8), cv2.MORPH_OPEN, kernel) > 0) | (sure & mask)
    n, labels = cv2.connectedComponents(sure.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[np.unique(labels[mask & sure])] = True
    keep[0] = False
    added = keep[labels] & ~mask
    if not added.any():
        return None
    # Specks: pieces of the added region (apart from one another once the mask is left out).
    m, parts, stats, _ = cv2.connectedComponentsWithStats(added.astype(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= CLOSER_MIN_SHARE * len(xs)
    big[0] = False
    region = big[parts]
    return region if region.any() else None
