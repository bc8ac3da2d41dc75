"""Tiny photos half black, half white: the page found must keep an area, and types 0 and 2 must
not crash on them (a refined quad collapsed to a line, and the output size divided 0 by 0)."""

from __future__ import annotations

import numpy as np
import pytest

from correction_engine.imaging.geometry import is_convex, quad_area
from correction_engine.imaging.page_detection import MIN_AREA_FRACTION, find_page_quad
from correction_engine.operations import run_enhancement


def two_tone(side: int, turn: int) -> np.ndarray:
    image = np.zeros((side, side, 3), np.uint8)
    image[:, side // 2 :] = 255
    return np.ascontiguousarray(np.rot90(image, turn))


@pytest.mark.parametrize("side", [12, 17, 24, 32])
@pytest.mark.parametrize("turn", range(4))
def test_the_page_found_on_a_tiny_two_tone_photo_keeps_an_area(side, turn):
    found = find_page_quad(two_tone(side, turn))
    if found is not None:
        assert is_convex(found.quad)
        assert quad_area(found.quad) >= MIN_AREA_FRACTION * side * side


@pytest.mark.parametrize("enhancement_type", [0, 2])
@pytest.mark.parametrize("side", [12, 24])
def test_document_types_return_an_image_for_a_tiny_two_tone_photo(enhancement_type, side):
    out = run_enhancement(two_tone(side, 0), enhancement_type)
    assert out.ndim == 3 and out.shape[2] == 3 and min(out.shape[:2]) >= 1
