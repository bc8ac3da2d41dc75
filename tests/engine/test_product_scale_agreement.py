"""The same photo at 0.3 MP and at 12 MP should give the same product mask (issue 9).

Open defect, recorded with a strict xfail (it fails the run when the defect is fixed, so the
record is updated then; the real photos' record is
``test_real_products.test_the_mask_is_the_same_at_0_3_and_12_megapixels``). Every decision
runs on a copy of fixed size, but the two inputs do not reach it as the same picture: the area resampling to the working size keeps detail the
working grid cannot hold and folds it back (aliasing) as a pattern that depends on the input's
own pixel grid, and u2netp reacts to that pattern (pa-bottle-05's two sizes agree at 0.894).
Band-limiting u2netp's copy (Gaussian, sigma 0.5 working pixels, before the shrink) made this
test and pa-bottle-05 pass and fixed pa-bottle-10 and pa-food-08 too, but moved the native
mask of 8 of 110 photos by more than 0.005 (pc-electronics-05 0.70 -> 0.47): not adopted.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.foreground import DEFAULT_WORK_LONG_SIDE, working_copy


def fine_scene(long_side: int) -> np.ndarray:
    """A product-like scene drawn analytically: a dark disc on a pale backdrop with fine
    stripes, 1.5 working pixels a period (finer than the working grid holds; a 640 px copy
    cannot hold them either, 1.9 px a period, so both copies fold them back, differently)."""
    h, w = (3 * long_side) // 4, long_side
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = (x + 0.5) / w, (y + 0.5) / w  # in units of the long side: the same scene at any size
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * u * DEFAULT_WORK_LONG_SIDE / 1.5)
    disc = (u - 0.5) ** 2 + (v - 0.375) ** 2 < 0.2**2
    grey = np.where(disc, 60.0 + 40.0 * stripes, 200.0 + 40.0 * stripes)
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


@pytest.mark.xfail(
    strict=True, raises=AssertionError, reason="open: the working copy aliases (3.6 levels apart)"
)
def test_working_copy_does_not_depend_on_the_input_size() -> None:
    """Detail finer than the working grid should not fold back as a pattern that changes with
    the input's size: the copies of one scene at 4000 px and area-averaged to 640 px (as a
    0.3 MP copy is made) should agree (3.6 levels apart on average today; 0.9 band-limited)."""
    big = fine_scene(4000)
    small = cv2.resize(big, (640, 480), interpolation=cv2.INTER_AREA)
    a, _ = working_copy(small)
    b, _ = working_copy(big)
    assert a.shape == b.shape
    assert float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32)))) < 1.5
