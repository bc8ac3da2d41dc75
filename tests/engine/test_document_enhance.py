"""Type 1, text enhancement, on flat pages under a hard cast shadow with known clean truth."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from correction_engine.imaging.text_enhance import enhance_text
from correction_engine.synth.documents import character_error_rate, make_shadowed_page


@pytest.fixture(scope="module")
def shadowed():
    return [make_shadowed_page(4000 + i) for i in range(4)]


def _regions(sample):
    """Paper far from any ink, split into in-shadow and lit; and ink cores."""
    grey = cv2.cvtColor(sample.page, cv2.COLOR_RGB2GRAY)
    paper = cv2.erode((grey > 200).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    ink = grey < 90
    dark, lit = sample.shadow < 0.6, sample.shadow > 0.85
    return paper, ink, dark, lit


def test_output_is_full_resolution_uint8_rgb(shadowed):
    for sample in shadowed[:2]:
        out = enhance_text(sample.image)
        assert out.shape == sample.image.shape and out.dtype == np.uint8


def test_shadow_boundary_is_flattened(shadowed):
    for sample in shadowed:
        out = cv2.cvtColor(enhance_text(sample.image), cv2.COLOR_RGB2GRAY).astype(float)
        raw = cv2.cvtColor(sample.image, cv2.COLOR_RGB2GRAY).astype(float)
        paper, _, dark, lit = _regions(sample)
        across = paper & (dark | lit)
        # Paper luminance across the shadow edge: spread before, and after, measured.
        assert raw[across].std() > 40
        assert out[across].std() < 4, out[across].std()
        assert abs(out[paper & dark].mean() - out[paper & lit].mean()) < 3


def test_text_stays_dark_in_and_out_of_the_shadow(shadowed):
    for sample in shadowed:
        out = cv2.cvtColor(enhance_text(sample.image), cv2.COLOR_RGB2GRAY).astype(float)
        _, ink, dark, lit = _regions(sample)
        assert out[ink & dark].mean() < 70 and out[ink & lit].mean() < 70


def test_coloured_ink_keeps_its_colour(shadowed):
    sample = shadowed[0]
    out = enhance_text(sample.image)
    page = sample.page.astype(int)
    # The heading is the page's only coloured ink.
    chroma = page.max(axis=2) - page.min(axis=2)
    heading = chroma > 80
    assert heading.sum() > 200
    hue_in = cv2.cvtColor(sample.page[heading][None], cv2.COLOR_RGB2HSV_FULL)[0, :, 0].astype(int)
    hsv_out = cv2.cvtColor(out[heading][None], cv2.COLOR_RGB2HSV_FULL)[0]
    assert np.median(hsv_out[:, 1]) > 100  # still saturated
    assert abs(int(np.median(hsv_out[:, 0])) - int(np.median(hue_in))) < 20


def test_a_page_with_no_ink_stays_white():
    blank = np.full((400, 300, 3), 200, np.uint8)
    blank[:, 150:] = 120  # a shadow over half of it
    out = enhance_text(blank)
    assert out.min() > 240


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs the tesseract binary")
def test_ocr_error_rate_after_enhancement(shadowed, monkeypatch):
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")  # tesseract's threads only fight on 2 cores
    raw, enhanced = [], []
    for sample in shadowed[:2]:
        raw.append(character_error_rate(sample.text, pytesseract.image_to_string(sample.image, config="--psm 6")))
        out = enhance_text(sample.image)
        enhanced.append(character_error_rate(sample.text, pytesseract.image_to_string(out, config="--psm 6")))
    assert np.mean(enhanced) <= 0.025, enhanced
    assert np.mean(raw) > 4 * np.mean(enhanced), (raw, enhanced)
