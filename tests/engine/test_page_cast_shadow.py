"""A page cut by a cast shadow with no text to show it runs on (page_cast_shadow): a sheet
printed with large dots (a calibration target) on boards outdoors, a person's shadow across its
lower part and over the boards around. The lit part is an outline of
strong steps and won; the shadow's edge runs on past its corners, a page's own edge does not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.real_sets import turn_cw, turn_points_cw
from correction_engine.imaging.document import locate_page
from correction_engine.imaging.geometry import order_quad, quad_iou

PAGE = np.array([[350.0, 150.0], [850.0, 175.0], [835.0, 760.0], [335.0, 740.0]])
# What the shadow leaves of each channel (RGB): skylight alone, bluer than the sun's light.
SHADOW = np.array([0.42, 0.5, 0.72], np.float32)


def _dotted_sheet(rng: np.random.Generator, shadowed: bool = True) -> np.ndarray:
    """An RGB photo of a white sheet of large black dots on grey-brown boards; with
    ``shadowed``, a straight shadow's edge across the sheet's lower quarter and on over the
    boards."""
    h, w = 900, 1200
    img = np.empty((h, w, 3), np.float32)
    img[:] = (125, 108, 90)
    for y in range(0, h, 60):  # the gaps between boards
        img[y : y + 4] = (60, 50, 42)
    cv2.fillConvexPoly(img, PAGE.astype(np.int32), (246, 246, 240))
    for row in range(4):
        for col in range(5):
            centre = (int(430 + 85 * col + 3 * row), int(240 + 120 * row + 4 * col))
            cv2.circle(img, centre, 30, (35, 35, 40), -1)
    if shadowed:
        yy, xx = np.mgrid[0:h, 0:w]
        edge = yy > 0.12 * xx + 560
        img[edge] *= SHADOW
    img += rng.normal(0, 2.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_a_dotted_sheet_under_a_cast_shadow_is_found_whole(k):
    # The lit part (three sides of the sheet and the shadow's edge) scored best and was taken:
    # IoU about 0.7. The dots are too large to count as text, so no text shows the sheet runs on.
    image = _dotted_sheet(np.random.default_rng(3))
    truth = turn_points_cw(PAGE, image.shape[:2], k)
    quad, found, _ = locate_page(turn_cw(image, k))
    assert found is not None
    assert quad_iou(order_quad(quad), order_quad(truth)) >= 0.93, (found.detector, quad_iou(quad, truth))


def test_a_sheet_with_no_shadow_keeps_its_own_sides():
    # The guard: the sheet's sides end at its corners (the boards' gaps along its top and bottom
    # lie apart from them), so no side is taken for a shadow's edge and the sheet is found as it is.
    image = _dotted_sheet(np.random.default_rng(3), shadowed=False)
    quad, found, _ = locate_page(image)
    assert found is not None
    assert quad_iou(order_quad(quad), PAGE) >= 0.95, (found.detector, quad_iou(quad, PAGE))
    assert "shadow" not in found.detector


def _printed_page(
    img: np.ndarray, x0: int, top: int, x1: int, y1: int, rng: np.random.Generator
) -> np.ndarray:
    """``img`` (float RGB) with a white page of text-like blocks over x0..x1 x top..y1, noised."""
    img[top:y1, x0:x1] = (236, 234, 230)
    for y in range(top + 60, y1 - 60, 28):
        for x in range(x0 + 50, x1 - 50, 60):
            img[y : y + 10, x : x + 45] = (40, 40, 40)
    img += rng.normal(0, 4, img.shape[:2] + (1,)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _page_at_table_edge() -> tuple[np.ndarray, np.ndarray]:
    """A page pushed flush to a wooden table's far edge: its top side on the edge, a darker floor
    beyond and a darker skirting farther up. The table's edge runs on past the page's top
    corners, stepping the same way as the page's side."""
    img = np.full((900, 1200, 3), (150, 110, 75), np.float32)
    img[:250] = (70, 66, 60)
    img[:110] = (35, 33, 30)
    page = np.array([[350.0, 250.0], [849.0, 250.0], [849.0, 819.0], [350.0, 819.0]])
    return _printed_page(img, 350, 250, 850, 820, np.random.default_rng(1)), page


def _page_on_a_board_joint() -> tuple[np.ndarray, np.ndarray]:
    """A page on a floor of boards of differing tone, squared to them, its top side on a joint;
    the next joint up steps the same way again."""
    img = np.zeros((900, 1200, 3), np.float32)
    tones = [(70, 52, 36), (110, 80, 55), (165, 125, 88), (120, 88, 60), (150, 112, 78), (105, 78, 52)]
    joints = [0, 130, 250, 400, 560, 720, 900]
    for a, b, tone in zip(joints[:-1], joints[1:], tones, strict=True):
        img[a:b] = tone
    page = np.array([[350.0, 250.0], [849.0, 250.0], [849.0, 839.0], [350.0, 839.0]])
    return _printed_page(img, 350, 250, 850, 840, np.random.default_rng(4)), page


@pytest.mark.parametrize("scene", [_page_at_table_edge, _page_on_a_board_joint])
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_a_page_side_on_a_straight_surface_edge_is_not_moved_out(scene, k):
    # The page's top side lies on an edge of the surface that runs on past its corners (a table's
    # edge, a board joint), so it looked like a shadow's edge and was moved out to the next step
    # beyond (the skirting, the next joint): IoU 0.80 / 0.83. Moving it out crossed no paper.
    image, page = scene()
    truth = turn_points_cw(page, image.shape[:2], k)
    quad, found, _ = locate_page(turn_cw(image, k))
    assert found is not None
    assert quad_iou(order_quad(quad), order_quad(truth)) >= 0.95, (found.detector, quad_iou(quad, truth))
