"""Which way up a product is (type 3 "corrects orientation"): a quarter turn, or none.

Evidence: the product's base (an upright product rests on a flat, wide end; its other end
is narrower, and its two sides mirror each other). Label text was measured and is not used
(see :func:`estimate_upright_turn`). A photo is turned only when the evidence is clear and no
other evidence contradicts it: a wrong turn is far worse than none, so unsure means 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Base cue: the difference in contact width between the two ends of the product's long axis,
# and how much the two sides may differ (a product's left and right mirror each other).
# Measured on the committed real photos turned by 90/180/270 (tuned on one half, checked on
# the other): 0.45 / 0.2 / 1.1 turn 9 of 240 upright with no wrong turn; looser asymmetry
# (0.3) starts turning photos the wrong way.
BASE_MIN_ASYMMETRY = 0.45
BASE_MAX_SIDE_ASYMMETRY = 0.2
# The base-to-top axis must be the long one: objects stand on a short end and lie on a long
# side, so a base on a long side says nothing about which way is up.
BASE_MIN_ELONGATION = 1.1
# Ends are judged on the product's body: parts thinner than this share of its longer extent
# (cables, a hanger's hook, straps, stems) are opened away first: a thin part sticking out of
# one end made that end read as a narrow top on photos that have no upright (a chassis and
# garments laid flat, seen from above). At four quarter turns of the 93 committed photos this
# took away all 6 turns of photos without upright evidence and left photos with evidence at
# 3 of 186 turned copies upright, 1 wrong, as before. A bottle's neck (a third of its width)
# stays.
BASE_THIN_PART = 0.03


@dataclass(frozen=True)
class UprightTurn:
    """``turn_cw``: degrees clockwise (0, 90, 180, 270) that make the product upright.
    ``evidence``: "base" or "none". ``strength``: the winning cue's margin."""

    turn_cw: int
    evidence: str
    strength: float


NO_TURN = UprightTurn(0, "none", 0.0)


def straightened(
    image: np.ndarray,
    angle: float,
    interpolation: int = cv2.INTER_LINEAR,
    border: int = cv2.BORDER_CONSTANT,
) -> np.ndarray:
    """``image`` turned clockwise on screen by ``angle`` degrees (undoing a counter-clockwise
    tilt) on a canvas grown to hold all of it. The new corners are black (``BORDER_CONSTANT``),
    or, with ``cv2.BORDER_REPLICATE``, the nearest border as a camera turned by hand would
    have seen the backdrop continue."""
    if angle == 0.0:
        return image
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), -angle, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(h * s + w * c)), int(np.ceil(h * c + w * s))
    m[0, 2] += nw / 2.0 - w / 2.0
    m[1, 2] += nh / 2.0 - h / 2.0
    return cv2.warpAffine(image, m, (nw, nh), flags=interpolation, borderMode=border)


def contact_widths(mask: np.ndarray, band: float = 0.04) -> dict[str, float]:
    """For each side of the mask's bounding box, the share of that side the mask touches
    within a band of ``band`` x the box's extent: a flat base touches most of its side."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return {"top": 0.0, "bottom": 0.0, "left": 0.0, "right": 0.0}
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    box = mask[y0:y1, x0:x1]
    bh, bw = box.shape
    by, bx = max(1, int(round(band * bh))), max(1, int(round(band * bw)))
    return {
        "top": float(box[:by].any(axis=0).mean()),
        "bottom": float(box[-by:].any(axis=0).mean()),
        "left": float(box[:, :bx].any(axis=1).mean()),
        "right": float(box[:, -bx:].any(axis=1).mean()),
    }


def base_turn(mask: np.ndarray) -> tuple[int, float] | None:
    """The quarter turn (clockwise) that puts the product's base at the bottom, from the
    straightened mask alone; (turn, asymmetry) or None when the shape does not say."""
    ys, xs = np.nonzero(mask)
    if xs.size < 200:
        return None
    k = max(1, int(round(BASE_THIN_PART * max(np.ptp(ys), np.ptp(xs)))))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disc) > 0
    ys, xs = np.nonzero(mask)
    if xs.size < 200:
        return None
    height, width = np.ptp(ys) + 1, np.ptp(xs) + 1
    c = contact_widths(mask)
    vertical = c["bottom"] - c["top"]  # > 0: wide end at the bottom
    horizontal = c["right"] - c["left"]  # > 0: wide end on the right
    if (
        height >= BASE_MIN_ELONGATION * width
        and abs(vertical) >= BASE_MIN_ASYMMETRY
        and abs(horizontal) <= BASE_MAX_SIDE_ASYMMETRY
    ):
        return (0 if vertical > 0 else 180), abs(vertical)
    if (
        width >= BASE_MIN_ELONGATION * height
        and abs(horizontal) >= BASE_MIN_ASYMMETRY
        and abs(vertical) <= BASE_MAX_SIDE_ASYMMETRY
    ):
        # Base on the right: a quarter turn clockwise brings the right side to the bottom.
        return (90 if horizontal > 0 else 270), abs(horizontal)
    return None


def estimate_upright_turn(small: np.ndarray, mask: np.ndarray, angle: float = 0.0) -> UprightTurn:
    """The clockwise quarter turn that makes the product upright, from the working copy
    ``small`` (RGB), its product ``mask`` and the product's tilt ``angle`` (counter-clockwise
    degrees, undone first so the cues see the product level).

    The product's base decides; without a clear base the product is left as photographed.
    Printed text is not used: on the committed real photos at four quarter turns, the page
    classifier and the text-line cue read label print wrongly far too often to turn a photo
    (lines with the classifier on the drawn mask's crop: 58 right, 50 wrong; tiles whose four
    turned views agree, both print polarities: at most 2 photos turned with no wrong turn),
    because a label's print need not run with the product's upright (a can's brand up its
    side, embroidery) and stripes read as lines.
    """
    if not mask.any():
        return NO_TURN
    level_mask = straightened(mask.astype(np.uint8), angle, cv2.INTER_NEAREST) > 0
    # A product cut by the frame (or held in a hand that runs off it) has a straight edge
    # there that is no base.
    touches = mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
    base = None if touches else base_turn(level_mask)
    if base is not None:
        return UprightTurn(base[0], "base", base[1])
    return NO_TURN
