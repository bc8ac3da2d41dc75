"""The model's closer look at the product's neighbourhood (imaging/closer_look.py) and the crop
that covers what it adds. The model is a stand-in that reads the object off the image itself
(red channel = probability), so the true extent of the "object" is known exactly."""

from __future__ import annotations

import numpy as np

from correction_engine.imaging.closer_look import closer_look
from correction_engine.imaging.foreground import ForegroundEstimate
from correction_engine.imaging.product import place_product


def red_is_object(crop: np.ndarray) -> np.ndarray:
    return crop[..., 0].astype(np.float32) / 255.0


def scene(h: int = 240, w: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """A carton whose mask stopped short of its top: the object spans rows 94-179, the mask
    rows 100-179 (columns 80-159 both)."""
    small = np.zeros((h, w, 3), np.uint8)
    small[94:180, 80:160, 0] = 255
    mask = np.zeros((h, w), bool)
    mask[100:180, 80:160] = True
    return small, mask


def test_the_part_of_the_object_beyond_the_mask_is_added():
    small, mask = scene()
    region = closer_look(small, mask, red_is_object)
    assert region is not None
    expected = np.zeros_like(mask)
    expected[94:100, 80:160] = True
    # Nothing outside the object's missed strip; all of it but the corners the opening rounds.
    assert not (region & ~expected).any()
    assert region[94:100, 82:158].all()


def test_strokes_and_objects_apart_from_the_mask_are_not_added():
    # A tall carton, all of it in the mask (the view reaches 20 px around it): beside it a
    # one-pixel joint joined to its side by a one-pixel bridge, and another object.
    small = np.zeros((400, 300, 3), np.uint8)
    mask = np.zeros((400, 300), bool)
    small[100:300, 80:160, 0] = 255
    mask[100:300, 80:160] = True
    small[100:300, 170, 0] = 255
    small[200, 160:170, 0] = 255
    small[150:180, 166:178, 0] = 255
    assert closer_look(small, mask, red_is_object) is None
    # The same pieces, thick and touching the carton, are added: the test can tell.
    small[100:300, 160:175, 0] = 255
    assert closer_look(small, mask, red_is_object) is not None


def test_nothing_is_looked_at_without_a_mask():
    small, mask = scene()
    assert closer_look(small, np.zeros_like(mask), red_is_object) is None


def estimate(mask: np.ndarray) -> ForegroundEstimate:
    return ForegroundEstimate(
        mask=mask,
        alpha=mask.astype(np.float32),
        distance=np.zeros(mask.shape, np.float32),
        scale_xy=(0.5, 0.5),
        method="test",
    )


def test_the_crop_covers_the_closer_look_in_input_pixels():
    small, mask = scene()
    est = estimate(mask)
    region = closer_look(small, mask, red_is_object)
    without = place_product((480, 480), est)
    with_it = place_product((480, 480), est, closer=region)
    # The object's top is working row 94, input row 188; the margin alone (3 % of the 160 px
    # product) reaches row 195.
    assert without.crop_box[1] > 188
    assert with_it.crop_box[1] <= 188
    assert with_it.crop_box[3] == without.crop_box[3]
