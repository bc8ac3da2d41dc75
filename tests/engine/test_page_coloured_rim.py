"""Issue 8: a page never proposed in a cluttered scene. A magazine cover small in the frame, in
strong perspective, on a white table with a glass, a knife and cabinets behind: its thin yellow
rim and its sunlit, saturated picture are within about 20 grey levels of the table, under the
Canny thresholds that scale with a bright photo's median, so no grey detector outlined it and
the whole frame was kept. In whiteness (the least channel) colour is dark against white."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.real_sets import turn_cw, turn_points_cw
from correction_engine.imaging.document import locate_page
from correction_engine.imaging.geometry import order_quad, quad_iou

COVER = np.array([[390.0, 262.0], [790.0, 256.0], [845.0, 436.0], [325.0, 446.0]])
# The same cover pushed toward the table's far edge (y 240): its top side 14 px from it.
NEAR_EDGE = COVER - [0.0, 8.0]
PAGE = np.array([[300.0, 150.0], [900.0, 170.0], [880.0, 780.0], [320.0, 760.0]])


def _inset(quad: np.ndarray, t: float) -> np.ndarray:
    """``quad`` (TL, TR, BR, BL) shrunk by the share ``t`` of each side, bilinearly in the quad:
    a border of even width on the sheet, foreshortened with it."""
    tl, tr, br, bl = quad

    def at(u: float, v: float) -> np.ndarray:
        return (1 - v) * ((1 - u) * tl + u * tr) + v * ((1 - u) * bl + u * br)

    return np.array([at(t, t), at(1 - t, t), at(1 - t, 1 - t), at(t, 1 - t)])


def _fill(img: np.ndarray, quad: np.ndarray, colour: tuple[int, int, int]) -> None:
    cv2.fillConvexPoly(img, np.round(quad).astype(np.int32), colour)


def _saturated_picture(img: np.ndarray, quad: np.ndarray, rng: np.random.Generator) -> None:
    """A sunlit landscape inside ``quad``: a smooth mix of orange and yellow-green (grey about
    180, least channel 80), a darker hill, and large title letters."""
    mask = np.zeros(img.shape[:2], np.uint8)
    _fill(mask, quad, (1, 1, 1))
    blend = cv2.GaussianBlur(rng.random(img.shape[:2]).astype(np.float32), (0, 0), 25)
    blend = (blend - blend.min()) / (np.ptp(blend) + 1e-6)
    orange, green = np.array((225, 172, 80), np.float32), np.array((185, 200, 80), np.float32)
    picture = orange + (green - orange) * blend[..., None]
    img[mask > 0] = picture[mask > 0]
    c = quad.mean(axis=0)
    cv2.ellipse(img, (int(c[0] + 60), int(c[1])), (70, 40), 10, 0, 360, (120, 92, 78), -1)
    for i in range(7):
        p = quad[0] + (0.08 + 0.12 * i) * (quad[1] - quad[0]) + 0.2 * (quad[3] - quad[0])
        cv2.rectangle(img, (int(p[0]), int(p[1])), (int(p[0] + 30), int(p[1] + 40)), (30, 100, 120), -1)


def _finish(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img += rng.normal(0, 3, img.shape).astype(np.float32)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 1.0), 0, 255).astype(np.uint8)


def _cover_on_a_kitchen_table(seed: int, cover: np.ndarray = COVER) -> np.ndarray:
    """The cover (8 % of the frame) near a white table's far edge, a yellow rim of 2.5 %
    of its sides; wooden cabinets, a steel door and a pale wall beyond; the table's near-left
    corner with the floor past it; a glass's rim and a knife on the table."""
    rng = np.random.default_rng(seed)
    h, w = 900, 1200
    yy = np.mgrid[0:h, 0:w][0]
    img = np.empty((h, w, 3), np.float32)
    img[:] = (215, 203, 188)
    img += ((yy - 450) / 900 * 20)[..., None]  # the light falls off toward the far edge
    img[:240] = (70, 48, 30)
    img[:240, 560:950] = (125, 112, 100)
    img[:240, 950:] = (222, 214, 204)
    _fill(img, np.array([[0, 240], [300, 240], [0, 620]]), (60, 42, 28))
    _fill(img, cover, (225, 185, 55))
    _saturated_picture(img, _inset(cover, 0.025), rng)
    cv2.line(img, (690, 500), (1150, 820), (95, 95, 100), 14)
    cv2.ellipse(img, (280, 620), (120, 150), 0, 0, 360, (150, 145, 140), -1)
    cv2.ellipse(img, (280, 620), (100, 130), 0, 0, 360, (205, 200, 195), -1)
    return _finish(img, rng)


def _page_with_a_coloured_picture(seed: int) -> np.ndarray:
    """The guard: a white page (PAGE) on a darker desk, a large picture of the same saturated
    colours printed on it with a yellow frame. Whiteness outlines the picture too; the page stays
    the answer."""
    rng = np.random.default_rng(seed)
    img = np.empty((900, 1200, 3), np.float32)
    img[:] = (150, 138, 125)
    _fill(img, PAGE, (240, 238, 232))
    picture = _inset(PAGE, 0.2)
    _fill(img, picture, (225, 185, 55))
    _saturated_picture(img, _inset(picture, 0.03), rng)
    return _finish(img, rng)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_a_coloured_cover_on_a_white_table_is_found(seed, k):
    # Before: no proposal reached the cover and the whole frame was kept (IoU 0.08).
    image = _cover_on_a_kitchen_table(seed)
    truth = turn_points_cw(COVER, image.shape[:2], k)
    quad, found, _ = locate_page(turn_cw(image, k))
    assert found is not None
    assert quad_iou(order_quad(quad), order_quad(truth)) >= 0.95, (found.detector, quad_iou(quad, truth))


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_a_cover_near_the_tables_far_edge_keeps_its_own_top_side(k):
    # Snapped and refined in grey, the cover's top side (no grey step: the rim is as bright as
    # the table) moved to the strongest step within reach, the table's far edge 7 px above it at
    # the detection size: IoU 0.963-0.968. In whiteness the rim is that strongest step.
    image = _cover_on_a_kitchen_table(0, NEAR_EDGE)
    truth = turn_points_cw(NEAR_EDGE, image.shape[:2], k)
    quad, found, _ = locate_page(turn_cw(image, k))
    assert found is not None
    assert quad_iou(order_quad(quad), order_quad(truth)) >= 0.975, (found.detector, quad_iou(quad, truth))


@pytest.mark.parametrize("k", [0, 1])
def test_a_coloured_picture_printed_on_a_page_is_not_taken_for_it(k):
    image = _page_with_a_coloured_picture(2)
    truth = turn_points_cw(PAGE, image.shape[:2], k)
    quad, found, _ = locate_page(turn_cw(image, k))
    assert found is not None
    assert quad_iou(order_quad(quad), order_quad(truth)) >= 0.95, (found.detector, quad_iou(quad, truth))
