"""Types 3 and 4 on the smallest inputs the contract accepts: the result must itself be an
image the contract accepts (each side at least MIN_DIMENSION), so it can be submitted again."""

from __future__ import annotations

import numpy as np
import pytest

from correction_core.contract import MIN_DIMENSION
from correction_engine.imaging.product import crop_and_straighten, crop_straighten_cutout


def _photo(kind: str, h: int, w: int) -> np.ndarray:
    image = np.zeros((h, w, 3), np.uint8)
    if kind == "halves":
        image[:, w // 2 :] = 255
    elif kind == "dot":
        image[h // 2 - 1 : h // 2 + 1, w // 2 - 1 : w // 2 + 1] = 255
    return image


# Regression (review, 2026-11-30): an 8x8 or 9x9 photo gave 2x2, 1x5 or 1x7 results (the crop
# hugs a product of a few pixels), under the contract's minimum.
@pytest.mark.parametrize("kind", ["black", "halves", "dot"])
@pytest.mark.parametrize("shape", [(8, 8), (9, 9), (8, 40), (40, 9)])
@pytest.mark.parametrize("operation", [crop_and_straighten, crop_straighten_cutout])
def test_the_result_of_a_tiny_photo_keeps_the_contract_minimum(kind, shape, operation):
    out = operation(_photo(kind, *shape))
    assert min(out.shape[:2]) >= MIN_DIMENSION, out.shape
