"""Issue 8: where no page is found, the whole frame, never a wrong crop. An outline whose corner
no sheet seen in perspective shows (a sliver between a table's edge and a knife) is refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.document import locate_page
from correction_engine.imaging.geometry import corner_angles, plausible_page
from correction_engine.imaging.page_detection import find_page_quad


def _sliver_scene(turns: int) -> np.ndarray:
    """A dark wedge on a light table: its outline is a strong brightness step all round, so it
    scores as a page, but one corner is about 12 degrees (a knife's blade, a table's edge)."""
    image = np.full((480, 640, 3), 200, np.uint8)
    wedge = np.array([[120, 110], [250, 110], [560, 400], [115, 125]], np.int32)
    cv2.fillConvexPoly(image, wedge, (40, 40, 40))
    return np.ascontiguousarray(np.rot90(image, turns))


@pytest.mark.parametrize("turns", [0, 1])
def test_a_sliver_is_no_page(turns):
    image = _sliver_scene(turns)
    assert find_page_quad(image) is None
    # The document operations then keep the whole frame (issue 8), not a crop of the wedge.
    quad, found, _ = locate_page(image)
    h, w = image.shape[:2]
    assert found is None
    np.testing.assert_allclose(sorted(map(tuple, quad)), sorted([(0, 0), (w, 0), (w, h), (0, h)]), atol=1)


def test_corner_angles_of_a_rectangle_and_a_wedge():
    rect = np.array([[0, 0], [40, 0], [40, 10], [0, 10]], float)
    np.testing.assert_allclose(corner_angles(rect), [90, 90, 90, 90])
    assert plausible_page(rect)
    # A trapezoid as oblique as the real set's most oblique truth outline (corners 63-117 degrees;
    # the 90 truth outlines span 60-127).
    oblique = np.array([[0, 0], [100, 0], [100 + 60 * np.cos(np.radians(60)), 60], [0, 60]], float)
    assert plausible_page(oblique)
    wedge = np.array([[120, 110], [250, 110], [560, 400], [115, 125]], float)
    assert corner_angles(wedge).min() < 20
    assert not plausible_page(wedge)
