"""The border model (background_model) on frames too narrow for its second, whole-frame fit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from correction_engine.imaging.background_model import border_model


def _two_tone(h: int, w: int, turn: int) -> np.ndarray:
    image = np.zeros((h, w, 3), np.uint8)
    image[:, w // 2 :] = 255
    return np.ascontiguousarray(np.rot90(image, turn))


# Regression (2026-11-30): a 300x8 photo half black, half white (its 512x14 working copy)
# left no pixel outside the dilated "clearly product" core, and the second surface fit took the
# median of no residuals ("Mean of empty slice") and fitted a backdrop to nothing.
@pytest.mark.parametrize("turn", range(4))
@pytest.mark.parametrize("shape", [(512, 14), (300, 8)])
def test_a_narrow_two_tone_frame_gets_a_backdrop_without_warnings(shape, turn):
    image = _two_tone(*shape, turn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = border_model(image)
    assert model.mask.shape == image.shape[:2]
    assert model.backdrop.shape == image.shape
    assert np.isfinite(model.backdrop).all()
    assert np.isfinite(model.score).all()
