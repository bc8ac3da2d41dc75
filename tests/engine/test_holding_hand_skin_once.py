"""The skin map is computed once per photo: the foreground stage keeps it in its estimate and
the placement's hand check reads it from there (imaging/holding_hand.py, ``skin=``)."""

from __future__ import annotations

import cv2
import numpy as np

from correction_engine.imaging.foreground import estimate_foreground
from correction_engine.imaging.holding_hand import held_in_a_hand, skin_colour, without_holding_hand

H, W = 384, 512
SKIN = (205, 150, 120)


def held_carton() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A white carton on grey and a hand's shape entering from the right edge: the image, the
    carton's mask and the hand's map (painted into the image by the caller or not)."""
    image = np.full((H, W, 3), 128, np.uint8)
    image[60:330, 150:330] = (235, 235, 230)
    mask = np.zeros((H, W), bool)
    mask[60:330, 150:330] = True
    hand = np.zeros((H, W), np.uint8)
    hand[230:300, 330:] = 1
    cv2.ellipse(hand, (330, 265), (55, 45), 0, 0, 360, 1, -1)
    return image, mask, hand > 0


def test_the_hand_checks_read_a_given_skin_map_instead_of_the_image():
    # The image holds no skin colour; the given map says where skin is: the checks follow it.
    image, mask, hand = held_carton()
    assert not held_in_a_hand(mask, image)
    assert held_in_a_hand(mask, image, hand)
    with_hand = mask | hand
    assert without_holding_hand(with_hand, image).sum() == with_hand.sum()
    assert without_holding_hand(with_hand, image, skin=hand).sum() < with_hand.sum()


def test_the_estimate_keeps_the_skin_map_of_its_working_copy():
    image, _, hand = held_carton()
    image[hand] = SKIN
    est = estimate_foreground(image, use_model=False)
    assert est.skin is not None and est.small is not None
    assert np.array_equal(est.skin, skin_colour(est.small))
    assert held_in_a_hand(est.mask, est.small, est.skin) == held_in_a_hand(est.mask, est.small)
