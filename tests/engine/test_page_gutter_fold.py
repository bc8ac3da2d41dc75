"""A letter's fold crease is no book's gutter (issue 8, hostile review of the gutter cut).

A letter folded in three and opened flat on a desk, its lower edge out of the frame: the one fold
crease in view runs straight from the sheet's left edge to its right edge, between the body text
and a signature. It is as thin and as dark as a notebook's gutter and the signature under it is
too short to count as a rival line, so page_gutter took it for the gutter of an open book and the
page was cut there, the signature dropped (corner IoU 0.76 at every turn; 0.996 before the gutter
cut). A tear-off perforation did the same. The sheet is flat: nothing curves down into the
crease, so the paper beside it is as bright as the paper farther off. An open book's page does
curve into its gutter, and is still cut there (the real notebook of test_page_outlines_real too).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.geometry import quad_iou
from correction_engine.imaging.page_detection import find_page_quad

H, W = 960, 1280
INK = (42, 42, 48)
# The letter: top edge and both sides on a grey desk, the lower edge below the frame.
SHEET = np.array([[330.0, 70.0], [990.0, 84.0], [1004.0, H - 1.0], [318.0, H - 1.0]])
# The fold, a third of the letter's height above its (unseen) lower edge.
FOLD = ((322, 742), (1002, 754))
# The book: both pages on a dark desk, the facing page on the left cut by the frame; the page
# photographed runs from the gutter (its left side) to its outer edge.
SPREAD = np.array([[0.0, 123.0], [1100.0, 110.0], [1110.0, 860.0], [0.0, 869.0]])
PAGE = np.array([[262.0, 120.0], [1100.0, 110.0], [1110.0, 860.0], [268.0, 866.0]])


def _words(img: np.ndarray, rng: np.random.Generator, rows: range, x0: int, x1: int, height: int) -> None:
    """Lines of word-like blocks from x0 to about x1 (a ragged right end)."""
    for y in rows:
        x, stop = x0, x1 - int(rng.integers(0, 160))
        while x < stop:
            word = int(rng.integers(24, 90))
            cv2.rectangle(img, (x, y), (min(x + word, stop), y + height), INK, -1)
            x += word + 12


def _paper(corners: np.ndarray, desk: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A frame of ``desk`` colour and the mask of the paper ``corners`` outline on it."""
    img = np.full((H, W, 3), desk, np.float32)
    paper = np.zeros((H, W), np.uint8)
    cv2.fillConvexPoly(paper, np.round(corners).astype(np.int32), 1)
    return img, paper


def _finished(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img += rng.normal(0.0, 1.5, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _folded_letter(perforated: bool = False) -> np.ndarray:
    rng = np.random.default_rng(11)
    img, paper = _paper(SHEET, (176, 172, 163))
    img[paper > 0] = (238, 237, 233)
    _words(img, rng, range(150, 500, 26), 390, 930, 10)
    # Below the fold: a handwritten signature and the typed name under it, nothing else.
    cv2.putText(
        img, "A. Novak", (660, 850), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.5, (35, 35, 95), 2, cv2.LINE_AA
    )
    cv2.putText(img, "Anna Novak, Editor", (650, 900), cv2.FONT_HERSHEY_SIMPLEX, 0.7, INK, 2, cv2.LINE_AA)
    crease = np.zeros((H, W), np.uint8)
    cv2.line(crease, *FOLD, 1, 2)
    if perforated:  # a tear-off line: 6 px dashes, 4 px gaps
        ys, xs = np.nonzero(crease)
        crease[ys, xs] = (np.hypot(xs - FOLD[0][0], ys - FOLD[0][1]) % 10 < 6).astype(np.uint8)
    img[(crease > 0) & (paper > 0)] -= 26  # a pressed fold: a thin dark line, flat paper around it
    return _finished(img, rng)


def _open_book(shading: float) -> np.ndarray:
    """The book, its pages darkened by up to ``shading`` grey levels towards the gutter (falling
    off over 40 px each side: the pages curve down into it), the gutter's crease 30 levels dark."""
    rng = np.random.default_rng(5)
    img, paper = _paper(SPREAD, (70, 62, 55))
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    (x0, y0), (x1, y1) = PAGE[0], PAGE[3]
    dist = np.abs((y1 - y0) * xs - (x1 - x0) * ys + x1 * y0 - y1 * x0) / np.hypot(x1 - x0, y1 - y0)
    shade = shading * np.clip(1.0 - dist / 40.0, 0.0, None) ** 2
    img[paper > 0] = np.array((236, 234, 228), np.float32) - shade[paper > 0][:, None]
    _words(img, rng, range(170, 820, 40), -40, 360, 8)  # the facing page's lines, cut by the frame
    _words(img, rng, range(170, 820, 40), 330, 1040, 8)
    crease = np.zeros((H, W), np.uint8)
    cv2.line(crease, (262, 120), (268, 866), 1, 2)
    img[(crease > 0) & (paper > 0)] -= 30
    return _finished(img, rng)


def _found_at_turn(image: np.ndarray, truth: np.ndarray, k: int) -> tuple[str, float]:
    """The detector's name and its corners' IoU with ``truth``, both turned ``k`` quarters
    clockwise."""
    for _ in range(k):
        truth = np.stack([image.shape[0] - 1 - truth[:, 1], truth[:, 0]], axis=1)
        image = np.ascontiguousarray(np.rot90(image, -1))
    found = find_page_quad(image)
    assert found is not None
    return found.detector, quad_iou(found.quad, truth)


@pytest.mark.parametrize("perforated", [False, True], ids=["fold", "perforation"])
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_a_letters_fold_crease_does_not_cut_the_page(k: int, perforated: bool) -> None:
    detector, iou = _found_at_turn(_folded_letter(perforated), SHEET, k)
    assert iou >= 0.97, (detector, iou)
    assert "gutter" not in detector


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_an_open_books_page_shaded_into_its_gutter_is_cut_there(k: int) -> None:
    # 12 levels at full size leave a valley 9 levels deep on the analysis copy.
    detector, iou = _found_at_turn(_open_book(12.0), PAGE, k)
    assert iou >= 0.97, (detector, iou)
    assert detector.endswith("to gutter")
