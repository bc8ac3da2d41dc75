"""Issue 8, still open: a receipt on a white sheet under a falloff of light.

The faint walk (page_faint) keeps a line that steps off the paper, away from the paper's tone
read in the text block's middle. With the light falling off towards one end (a phone's or a
person's shadow), the receipt by that end is darker than its middle and the brighter sheet
beyond is nearer the middle's tone: the receipt's end does not count as a step off the paper,
and the walk goes on to the sheet's edge (IoU 0.85 at a tenth of falloff). Reading the tone by
each side instead fixed this scene but made the test vacuous near the block, and the walk then
stopped at a lit ramp inside a real receipt's edge (receipt-textractor-grocery-white-board 0.97
-> 0.67): not adopted."""

from __future__ import annotations

import pytest

from correction_engine.imaging.document import locate_page
from correction_engine.imaging.geometry import quad_iou

from .test_page_text_block_strokes import receipt_on_sheet


def test_a_receipt_on_a_sheet_in_even_light_is_found():
    photo, corners = receipt_on_sheet(1, None)
    quad, found, _ = locate_page(photo)
    assert found is not None and quad_iou(quad, corners) >= 0.95


@pytest.mark.xfail(strict=True, reason="the walk's tone is the block middle's (see the module)")
@pytest.mark.parametrize("fall", [0.9, 0.85])
def test_a_receipt_on_a_sheet_under_a_falloff_of_light_is_found(fall):
    photo, corners = receipt_on_sheet(1, None, fall)
    quad, found, _ = locate_page(photo)
    assert found is not None
    assert quad_iou(quad, corners) >= 0.95, (found.detector, quad_iou(quad, corners))
