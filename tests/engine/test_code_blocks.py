"""Codes on a page (code_blocks): dense print is not a code."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.code_blocks import code_blocks
from correction_engine.synth.documents import random_text


def dense_print(seed: int, cap_px: int, font: int) -> np.ndarray:
    """A page of bold print set with tight leading (lines 1.3 letter heights apart), as a
    contract or a small-print leaflet is: dark over most of any window, like a code."""
    rng = np.random.default_rng(seed)
    page = np.full((850, 1100), 235, np.uint8)
    scale = cv2.getFontScaleFromHeight(font, cap_px, 2)
    for y in range(40, 810, round(1.3 * cap_px)):
        cv2.putText(page, random_text(rng, 40), (40, y), font, scale, 25, 2, cv2.LINE_AA)
    page[:, 1060:] = 235
    return page


CASES = [(9, cv2.FONT_HERSHEY_SIMPLEX), (9, cv2.FONT_HERSHEY_DUPLEX), (11, cv2.FONT_HERSHEY_DUPLEX)]


@pytest.mark.parametrize(("cap_px", "font"), CASES)
def test_dense_bold_print_is_no_code(cap_px, font):
    # Its lines vary across the lines only (row profile CV 0.4-0.45, columns 0.07-0.08); read
    # as a code, 92-94 % of the page was painted out.
    assert not code_blocks(dense_print(0, cap_px, font))[0].any()


TERMS = "Terms and conditions apply. The quick brown fox jumps over the lazy dog 0123456789 "


def terms_page(font: int) -> np.ndarray:
    """Bold 11 px print, lines 14 px apart, each line the same sentence five letters on: its
    denser stretches (the digits) drift across the page in a diagonal band."""
    page = np.full((850, 1100), 235, np.uint8)
    scale = cv2.getFontScaleFromHeight(font, 11, 2)
    for i, y in enumerate(range(40, 810, 14)):
        cv2.putText(page, (TERMS * 6)[i * 5 :][:400], (40, y), font, scale, 25, 2, cv2.LINE_AA)
    page[:, 1060:] = 235
    return page


@pytest.mark.parametrize("turn", range(4))
def test_print_whose_density_drifts_is_no_code_at_the_coarser_scale(turn):
    # The finer scale sees its lines; the coarser scale's patch follows the diagonal band and
    # varies both ways (CVs 0.42 and 0.29): it was taken for a code over 99 % of the page.
    page = np.ascontiguousarray(np.rot90(terms_page(cv2.FONT_HERSHEY_DUPLEX), turn))
    assert not code_blocks(page)[0].any()


def test_a_photo_of_dense_bold_print_comes_out_upright_at_every_turn():
    """Type 0 end to end (review F2): the page above on a desk, photographed at four turns."""
    from correction_engine.imaging.document import crop_and_orient

    page = terms_page(cv2.FONT_HERSHEY_SIMPLEX)
    photo = np.full((1200, 1500, 3), (80, 65, 55), np.uint8)
    photo[175:1025, 200:1300] = page[..., None]
    truth = page.astype(np.float32).ravel()
    for k in range(4):
        out = crop_and_orient(np.ascontiguousarray(np.rot90(photo, -k)))
        grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        # Upright when it matches the page better than any quarter turn of it does.
        match = [
            np.corrcoef(cv2.resize(np.rot90(grey, r), page.shape[::-1]).astype(np.float32).ravel(), truth)[
                0, 1
            ]
            for r in range(4)
        ]
        assert int(np.argmax(match)) == 0, (k, match)
