"""The three public document operations, types 0, 1 and 2, as the server calls them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging import document
from correction_engine.synth.documents import make_page_photo


@pytest.fixture(scope="module")
def photo():
    return make_page_photo(77, rotation=90, shadow=True)


def test_type2_is_type0_then_type1(photo):
    expected = document.enhance_text(document.crop_and_orient(photo.image))
    np.testing.assert_array_equal(document.crop_orient_enhance(photo.image), expected)


def test_type2_output_is_the_upright_page_enhanced(photo):
    out = document.crop_orient_enhance(photo.image)
    h, w = photo.page.shape[:2]
    assert out.shape[1] / out.shape[0] == pytest.approx(w / h, rel=0.03)
    grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    # Enhanced: most of the page is pure white paper, the text near black.
    assert np.mean(grey >= 250) > 0.7
    assert np.percentile(grey, 1) < 60


def test_type1_keeps_the_size_of_any_image_without_small_print():
    # Noise has no letter-shaped marks, so nothing asks for enlargement: odd sizes pass through
    # unchanged (small print is enlarged; tests/engine/test_document_enhance.py covers that).
    rng = np.random.default_rng(0)
    for shape in [(37, 53, 3), (480, 640, 3), (641, 479, 3)]:
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        assert document.enhance_text(img).shape == shape


def test_operations_do_not_modify_their_input(photo):
    before = photo.image.copy()
    document.crop_and_orient(photo.image)
    document.enhance_text(photo.image)
    np.testing.assert_array_equal(photo.image, before)


def test_type1_rejects_a_greyscale_array():
    with pytest.raises(ValueError):
        document.enhance_text(np.zeros((10, 10), np.uint8))
