"""The canonical pose's analysis copy made without turning the full-size photo (document.posed_copy)
is the copy of the turned photo, pixel for pixel, at every quarter turn and any parity of sides."""

from __future__ import annotations

import numpy as np
import pytest

from correction_engine.imaging.document import posed_copy
from correction_engine.imaging.geometry import downscale
from correction_engine.imaging.page_detection import turned


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    # Noise over a gradient: every 2x2 block rounds differently, so an average that did not turn
    # with the picture would show.
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 160, w)[None, :, None] + np.linspace(0, 60, h)[:, None, None]
    return np.clip(ramp + rng.integers(0, 96, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    "shape",
    [
        (330, 430),  # even: halved before the turn, then a bilinear last step
        (436, 330),  # even, then odd (165) after one halving: the second halving after the turn
        (331, 430),  # an odd side: every step after the turn
        (660, 860),  # two halvings before the turn
    ],
)
@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_posed_copy_is_the_turned_photos_copy(shape: tuple[int, int], turns: int) -> None:
    image = _photo(*shape, seed=turns)
    expected, expected_scale = downscale(turned(image, turns), 100)
    copy, scale = posed_copy(image, turns, 100)
    assert copy.shape == expected.shape
    assert np.array_equal(copy, expected)
    assert scale == expected_scale
