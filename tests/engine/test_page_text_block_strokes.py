"""Issue 8: straight strokes beyond a page (a tiled floor's grout, a table's rim) are not its text.

The faint outline (page_faint) grows from the text block, the box around the clusters of
print. Grout lines on a floor past the sheet a receipt lies on make clusters of a few percent
of the ink too; they stretched the block off the receipt and the walk out from it never met
the receipt's sides: the white sheet was taken for the page (IoU 0.35). Text is many small
marks; grout is a few long straight strokes, crossing or not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.document import locate_page
from correction_engine.imaging.geometry import quad_iou
from correction_engine.imaging.page_text_block import text_block, text_marks


def receipt_on_sheet(seed: int, grout_tilt: float | None, fall: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A receipt 10 levels darker than the white sheet it lies on, the sheet running off the
    frame on three sides, a floor beyond its fourth: tiled, with dark grout turned by
    ``grout_tilt`` degrees, unless None. The light falls to ``fall`` of itself towards the floor
    over half the frame. (photo, the receipt's corners)"""
    rng = np.random.default_rng(seed)
    h, w = 1000, 600
    img = np.empty((h, w, 3), np.float32)
    img[:] = (150, 148, 145)
    if grout_tilt is not None:
        grout = np.zeros((h, w), np.uint8)
        for y in (60, 150):
            cv2.line(grout, (-200, y), (w + 200, y), 1, 4)
        for x in range(-100, w + 200, 170):
            cv2.line(grout, (x, -50), (x + 10, 260), 1, 4)
        grout = cv2.warpAffine(grout, cv2.getRotationMatrix2D((w / 2, 100), grout_tilt, 1.0), (w, h))
        img[grout > 0] = (90, 88, 86)
    img[200:, :] = 236
    corners = np.array([[150, 300], [450, 300], [450, 860], [150, 860]], np.float64)
    img[300:861, 150:451] = 226
    for y in range(340, 820, 22):
        for x in np.arange(180, 410 - rng.integers(0, 80), 11.0):
            cv2.rectangle(img, (int(x), y), (int(x) + 7, y + 9), (40, 40, 40), -1)
    img *= (fall + (1 - fall) * np.clip((np.arange(h) - 150) / 500.0, 0, 1))[:, None, None]
    img += rng.normal(0, 1.5, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), corners


@pytest.mark.parametrize(("seed", "tilt"), [(1, 4.0), (2, -3.0), (3, 0.0)])
def test_a_receipt_on_a_sheet_beside_a_tiled_floor_is_found_not_the_sheet(seed, tilt):
    # Before: the grout's clusters joined the text block, the sheet was taken (0.351 at each).
    photo, corners = receipt_on_sheet(seed, tilt)
    quad, found, _ = locate_page(photo)
    assert found is not None
    assert quad_iou(quad, corners) >= 0.95, (found.detector, quad_iou(quad, corners))


def _ink_with(extra: str) -> tuple[np.ndarray, np.ndarray]:
    """An ink map (bool, 640 x 480) with twelve rows of small marks, and ``extra``: "grid" a
    grid of thin straight lines far below the text, "underline" a rule under one of its rows,
    "cursive" a line of joined handwriting (one long wavy mark) below it. (ink, the text's own
    marks)"""
    ink = np.zeros((640, 480), np.uint8)
    for y in range(100, 364, 22):
        for x in range(100, 380, 11):
            cv2.rectangle(ink, (x, y), (x + 6, y + 8), 1, -1)
    text = ink.copy()
    if extra == "grid":
        for y in (520, 590):
            cv2.line(ink, (30, y), (450, y + 8), 1, 2)
        for x in (60, 200, 340):
            cv2.line(ink, (x, 480), (x + 6, 620), 1, 2)
    elif extra == "underline":
        cv2.line(ink, (100, 200), (380, 200), 1, 2)
        text = ink.copy()
    else:
        x = np.arange(100, 380)
        wave = np.stack([x, 420 + np.round(6 * np.sin(x / 4.0))], axis=1).astype(np.int32)
        cv2.polylines(ink, [wave], False, 1, 2)
        text = ink.copy()
    return ink > 0, text > 0


def test_a_grid_of_straight_strokes_is_no_text_and_leaves_the_block_alone():
    ink, text = _ink_with("grid")
    assert not (text_marks(ink) & ~text).any()
    block = text_block(text_marks(ink))
    assert block is not None
    centre, _, half = block
    # The text spans y 100-350 (centre 225): the grid had pulled the block down to y 620.
    assert abs(centre[1] - 225) < 4 and half.max() < 145, (centre, half)


@pytest.mark.parametrize("extra", ["underline", "cursive"])
def test_a_rule_within_the_text_and_joined_handwriting_stay_text(extra):
    # Text is told from grout by straight runs left alone: an underline shares its cluster with
    # the text's many marks, and joined handwriting is long but not straight.
    ink, text = _ink_with(extra)
    assert np.array_equal(text_marks(ink), text)
