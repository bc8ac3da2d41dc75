"""Issue 8: an outline reaching the frame's border must hold most of the photo's text.

The scorer supports a side on the frame's border all along (a page cut by the frame runs on
out of it), so a bright, bare patch of the backing that reaches the border outlined as well as
a page: on a held-out photo of a white receipt on a white sheet, the sheet's bright corner was
cropped with all of the receipt's print outside it (IoU 0.05, a wrong crop, and nothing to read
the page's turn from). Where no page is found, the whole frame, never a wrong crop."""

from __future__ import annotations

import numpy as np
import pytest

from correction_engine.imaging.geometry import quad_iou
from correction_engine.imaging.page_detection import _holds_most_text, find_page_quad

from .real_document_photos import turned_document


def _printed_rows(shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """Ink (bool) of short printed words in rows within ``box`` (x0, y0, x1, y1)."""
    ink = np.zeros(shape, bool)
    x0, y0, x1, y1 = box
    for y in range(y0, y1, 14):
        for x in range(x0, x1, 22):
            ink[y : y + 6, x : x + 14] = True
    return ink


def test_an_outline_on_the_border_without_the_text_is_no_page() -> None:
    ink = _printed_rows((400, 300), (120, 150, 280, 380))
    bare_corner = np.array([[0, 0], [200, 0], [120, 100], [0, 100]], float)
    assert not _holds_most_text(ink, bare_corner)


def test_a_page_cut_by_the_frame_holds_its_text() -> None:
    ink = _printed_rows((400, 300), (20, 150, 280, 380))
    cut_page = np.array([[0, 120], [300, 120], [300, 400], [0, 400]], float)
    assert _holds_most_text(ink, cut_page)
    # A closed outline is its own evidence (every side seen), whatever lies outside it.
    closed = np.array([[10, 10], [100, 10], [100, 100], [10, 100]], float)
    assert _holds_most_text(ink, closed)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_a_bright_bare_corner_of_the_backing_is_not_taken_for_the_receipt(k: int) -> None:
    image, truth = turned_document("receipt-springai-cuenta-white-sheet-shadow", k)
    found = find_page_quad(image)
    # The receipt itself is not found yet (white on white, see test_page_faint_shade); what
    # is found must be it, or nothing (the whole frame).
    assert found is None or quad_iou(found.quad, truth) >= 0.9, found.detector
