"""A hand holding the product (stage 1 of the product path, find): not part of the product.

A product photographed in a hand (a carton held up in a shop, a gadget between two fingers)
comes out of the learned model as one salient object, hand included. The hand is told apart
by two independent kinds of evidence: its colour is skin's (a narrow band of chroma that
holds across skin tones and most lighting; Chai & Ngan, "Face segmentation using skin-colour
map", IEEE TCSVT 1999), and it enters the frame from outside (an arm always reaches the
frame's edge; a skin-coloured part of a product seldom both touches the frame and joins the
rest of the product only there). Pure functions on working-resolution arrays.
"""

from __future__ import annotations

import cv2
import numpy as np

from correction_engine.imaging.mask_ops import border_ring, keep_main_components

__all__ = ["held_in_a_hand", "skin_colour", "without_holding_hand"]

# Chroma band of skin in YCrCb (Chai & Ngan's map, its lower red and upper blue limits moved
# inwards so that a white or grey surface with a faint warm tint falls outside), and the
# darkest luma at which chroma is still meaningful.
CR_RANGE = (138.0, 180.0)
CB_RANGE = (85.0, 122.0)
MIN_LUMA = 50.0
# Skin's red difference exceeds its blue difference by a margin that a white or grey
# backdrop under warm light (a tint of a few units each way) does not reach.
MIN_CR_MINUS_CB = 24.0
# A hand, as :func:`without_holding_hand` documents its parameters: its share of the mask, its
# run along the frame's edge, the edge band, and its entry against the product's width.
HAND_MIN_SHARE = 0.04
HAND_EDGE_SHARE = 0.02
HAND_EDGE_BAND = 0.03
HAND_MAX_ENTRY = 0.85
# A hand taken out of the mask already lies this share of the mask's longer side from it.
HAND_BESIDE = 0.02


def _skin_chroma(rgb: np.ndarray) -> np.ndarray:
    """Bool map of pixels of RGB uint8 ``rgb`` within skin's luma and chroma band."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    # The limits are whole numbers, so comparing the uint8 channels is exact; the difference
    # saturates at 0, below the margin, where it would be negative.
    band = cv2.inRange(ycc, (MIN_LUMA, CR_RANGE[0], CB_RANGE[0]), (255.0, CR_RANGE[1], CB_RANGE[1])) > 0
    return band & (cv2.subtract(ycc[..., 1], ycc[..., 2]) >= MIN_CR_MINUS_CB)


def skin_colour(small: np.ndarray) -> np.ndarray:
    """Bool map of pixels of RGB uint8 ``small`` whose colour is skin's (lightly smoothed first,
    as the border model does, so sensor noise does not break a hand into specks) both as
    taken and after a grey-world balance."""
    blurred = cv2.GaussianBlur(small, (0, 0), 1.0)
    # Skin's chroma is defined under neutral light; under a warm cast (shop lighting) white
    # cartons and paper read as skin, and the grey-world balance (the frame's mean is grey)
    # removes that cast. But the frame's mean is also a coloured backdrop's colour: on teal
    # or blue the balance turns a white or grey carton pink. So a pixel is skin only when it
    # reads as skin both as taken and balanced: the balance can take a pixel out, never put
    # one in.
    means = blurred.reshape(-1, 3).astype(np.float32).mean(axis=0) + 1e-3
    # The balance as one table per channel (uint8 in, uint8 out): the same values as scaling
    # the whole frame in floating point, without a float copy of it.
    levels = np.arange(256, dtype=np.float32)[:, None] * (means.mean() / means)
    table = np.clip(levels, 0, 255).astype(np.uint8).reshape(1, 256, 3)
    return _skin_chroma(blurred) & _skin_chroma(cv2.LUT(blurred, table))


def _enters_as_a_limb(region: np.ndarray, mask: np.ndarray, band: int, max_entry: float) -> bool:
    """True when ``region`` enters the frame as an arm does. Across the frame's edge (the side
    it touches most, within ``band`` pixels) it runs along less than ``max_entry`` x either
    the extent, along that side, of the rest of ``mask`` (an arm enters narrower than the
    product its hand holds), or its own extent while the rest reaches more than ``band``
    pixels farther from that side than it does (a wrist is narrower than the fist it ends
    in, and a small product held in the fist, a lipstick, a pen, a bottle upright, narrower
    than the wrist, sticks out of it). The skin-toned body of a product cut by the frame (a
    kraft box, a wooden board, a peach tube) crosses it along the product's whole width,
    and its label or cap, the rest of the mask, lies within that width; where the body
    narrows towards the frame (a rounded end cut off), its label lies within its length."""
    # The rest leaves out the region's rim (a pixel or two of skin blended with the backdrop,
    # which goes with the hand): a rim that misses skin's band would give the rest the
    # region's own outline and width.
    rim = cv2.dilate(region.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
    rest = mask & ~rim
    # Each side of the frame in turn brought to the bottom (top, bottom, left, right): rows
    # then run away from it, columns along it.
    sides = [(np.rot90(region, k), np.rot90(rest, k)) for k in (2, 0, 1, 3)]
    crossings = [int(np.count_nonzero(r[-band:].any(axis=0))) for r, _ in sides]
    entry = max(crossings)
    turned, other = sides[crossings.index(entry)]
    if entry < max_entry * np.count_nonzero(other.any(axis=0)):
        return True
    # The first row holding each is the farthest it reaches from the side.
    reach, other_rows = turned.any(axis=1), other.any(axis=1)
    beyond = other_rows.any() and int(np.argmax(other_rows)) + band < int(np.argmax(reach))
    return bool(beyond and entry < max_entry * np.count_nonzero(turned.any(axis=0)))


def _limbs(
    skin: np.ndarray,
    mask: np.ndarray,
    min_share: float,
    edge_share: float,
    edge_band: float,
    max_entry: float,
    beside: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The connected parts of ``skin`` (uint8) that are limbs reaching in to hold the product of
    ``mask``: at least ``min_share`` of the mask's area, on the frame's edge along at least
    ``edge_share`` of its shorter side, touching ``beside`` when given, and entering the frame
    as a limb against the product and themselves (:func:`_enters_as_a_limb`). Returns the
    labels, their stats and a bool per label."""
    h, w = mask.shape
    area = np.count_nonzero(mask)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(skin, connectivity=8)
    # The frame's edge as the border model's ring: the mask of an arm may stop a few pixels
    # short of the frame (the graph cut's band, a dark sleeve).
    bw = max(2, int(round(edge_band * min(h, w))))
    on_edge = np.bincount(labels[border_ring(h, w, bw)], minlength=n)
    touching = np.bincount(labels[beside], minlength=n) if beside is not None else np.ones(n, int)
    hand = np.zeros(n, bool)
    for i in range(1, n):
        if (
            stats[i, cv2.CC_STAT_AREA] >= min_share * area
            and on_edge[i] >= edge_share * min(h, w) * bw
            and touching[i] > 0
        ):
            region = labels == i
            hand[i] = _enters_as_a_limb(region, mask | region, bw, max_entry)
    return labels, stats, hand


def without_holding_hand(
    mask: np.ndarray,
    small: np.ndarray,
    *,
    min_share: float = HAND_MIN_SHARE,
    max_share: float = 0.75,
    edge_share: float = HAND_EDGE_SHARE,
    keep_share: float = 0.6,
    edge_band: float = HAND_EDGE_BAND,
    max_entry: float = HAND_MAX_ENTRY,
    skin: np.ndarray | None = None,
) -> np.ndarray:
    """``mask`` without a hand that holds the product; ``mask`` itself when none is found.

    A hand is a skin-coloured region of the mask (opened, so a few skin-toned pixels of a
    print do not count) that reaches the frame's edge along at least ``edge_share`` of the
    frame's shorter side and covers between ``min_share`` and ``max_share`` of the mask: more
    is a skin-coloured product (a wooden chair, a leather bag), not a hand on one. And it
    enters the frame as a limb: narrower there than ``max_entry`` x the rest of the mask, or
    than itself farther in (a wrist narrower than the fist; :func:`_enters_as_a_limb`).
    ``skin``: :func:`skin_colour` of ``small`` when the caller has it already.
    """
    area = np.count_nonzero(mask)
    if area == 0:
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    colour = skin_colour(small) if skin is None else skin
    opened = cv2.morphologyEx((colour & mask).astype(np.uint8), cv2.MORPH_OPEN, k)
    labels, stats, hand = _limbs(opened, mask, min_share, edge_share, edge_band, max_entry)
    if not hand.any():
        return mask
    total = sum(stats[i, cv2.CC_STAT_AREA] for i in np.flatnonzero(hand))
    if total > max_share * area:
        return mask
    # The hand's rim (a pixel or two of blended skin and backdrop) goes with it.
    region = cv2.dilate(hand[labels].astype(np.uint8), k) > 0
    out = mask & ~region
    if not out.any():
        return mask
    # The product is the main pieces left (fingers across it may cut off a corner). When
    # they hold much less than the mask without the hand, the "hand" cut the product itself
    # apart: a skin-toned print across a product cut by the frame, not fingers holding it.
    kept = keep_main_components(out)
    if np.count_nonzero(kept) < keep_share * np.count_nonzero(out):
        return mask
    return kept


def held_in_a_hand(mask: np.ndarray, small: np.ndarray, skin: np.ndarray | None = None) -> bool:
    """True when a hand holds the product of ``mask`` in ``small`` (RGB uint8, working copy):
    a skin-coloured region inside the mask or beside it (within :data:`HAND_BESIDE` x the
    mask's longer side; :func:`without_holding_hand` may have taken it out already) that
    reaches in from the frame's edge as a limb, as :func:`without_holding_hand` judges it.
    ``skin``: :func:`skin_colour` of ``small`` when the caller has it already."""
    if not mask.any():
        return False
    ys, xs = np.nonzero(mask)
    r = max(1, int(round(HAND_BESIDE * (max(int(np.ptp(xs)), int(np.ptp(ys))) + 1))))
    near = cv2.dilate(
        mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    )
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    colour = skin_colour(small) if skin is None else skin
    opened = cv2.morphologyEx(colour.astype(np.uint8), cv2.MORPH_OPEN, k)
    limbs = _limbs(opened, mask, HAND_MIN_SHARE, HAND_EDGE_SHARE, HAND_EDGE_BAND, HAND_MAX_ENTRY, near > 0)
    return bool(limbs[2].any())
