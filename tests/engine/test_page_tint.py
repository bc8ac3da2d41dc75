"""Faint pages whose truth is known exactly: a sheet as bright as its surface but of another hue
(page_tint), and a white receipt on a white table cut by the frame at both ends (the faint
walk's border sides, page_faint)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.document import locate_page
from correction_engine.imaging.geometry import order_quad, quad_iou
from correction_engine.imaging.page_faint_sides import lab_of, whole_sides_step

# Bluish-white paper and light wood of the same grey (ITU-R 601 luma 229 and 228): the sheet's
# outline steps by a grey level, its hue by about 20 units of b (blue against orange).
PAPER = (226, 229, 236)
WOOD = (240, 226, 205)


def _text(img: np.ndarray, quad: np.ndarray, rng: np.random.Generator) -> None:
    """Lines of dark letter-sized marks within ``quad``'s middle (an axis-aligned box's)."""
    x0, y0 = quad.min(axis=0) + 60
    x1, y1 = quad.max(axis=0) - 60
    for y in range(int(y0), int(y1), 24):
        end = x1 - rng.integers(0, 120)
        for x in np.arange(x0, end, 12.0):
            cv2.rectangle(img, (int(x), y), (int(x) + 8, y + 10), (45, 45, 50), -1)


def _sheet_on_wood(tilt_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """A sheet on light wood as bright as itself in grey, grain across the wood, light falling
    off from left to right over both, seen from its foot: its sides lean 6 degrees in towards
    its top, farther than the faint walk tries about the text's direction. (photo, corners)"""
    rng = np.random.default_rng(11)
    h, w = 900, 1200
    img = np.empty((h, w, 3), np.float32)
    img[:] = WOOD
    # Grain: darker, slightly wavy streaks of varying strength, all along the wood.
    for y in range(5, h, 17):
        depth = float(rng.uniform(6, 18))
        ys = (y + 3 * np.sin(np.arange(w) / 90.0 + y)).astype(int)
        img[np.clip(ys, 0, h - 1), np.arange(w)] -= depth
    lean = 740.0 * np.tan(np.radians(6.0))
    flat = np.array([[-280.0 + lean, -370.0], [280.0 - lean, -370.0], [280.0, 370.0], [-280.0, 370.0]])
    turn = np.radians(tilt_deg)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    corners = (flat @ rotation.T + [w * 0.5, h * 0.5]).astype(np.float32)
    sheet = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(sheet, np.round(corners).astype(np.int32), 1)
    img[sheet > 0] = PAPER
    # Lines of text within the sheet's narrower top, turned with it.
    for y in np.arange(-310.0, 310.0, 24.0):
        for x in np.arange(-180.0, 180.0 - rng.integers(0, 120), 12.0):
            p = rotation @ [x, y] + [w * 0.5, h * 0.5]
            cv2.rectangle(img, (int(p[0]), int(p[1])), (int(p[0]) + 8, int(p[1]) + 10), (45, 45, 50), -1)
    img *= np.linspace(1.0, 0.85, w, dtype=np.float32)[None, :, None]
    img += rng.normal(0, 1.5, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), order_quad(corners.astype(np.float64))


@pytest.mark.parametrize("tilt", [0.0, 4.0])
def test_a_sheet_as_bright_as_the_wood_is_found_by_its_hue(tilt):
    # No side steps by the scorer's contrast in grey, and the grain draws lines of its own: no
    # outline reached the bar, the walk from the text lost the leaning sides, and the whole frame
    # was kept (IoU 0.33).
    photo, corners = _sheet_on_wood(tilt)
    quad, found, _ = locate_page(photo)
    assert found is not None
    assert quad_iou(quad, corners) >= 0.95, (found.detector, quad_iou(quad, corners))


def _receipt_cut_by_the_frame() -> tuple[np.ndarray, np.ndarray]:
    """A white receipt on a white table running off the frame's top and bottom, seen a little
    obliquely (its sides 2 degrees apart), each side a soft shadow line 3 px wide and 8 levels
    darker. (photo, corners: its part in the frame)"""
    rng = np.random.default_rng(5)
    h, w = 1000, 760
    img = np.full((h, w, 3), (228, 228, 226), np.float32)
    corners = np.array([[180.0, 0.0], [590.0, 0.0], [576.0, h - 1.0], [201.0, h - 1.0]])
    receipt = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(receipt, np.round(corners).astype(np.int32), 1)
    img[receipt > 0] = (231, 231, 230)
    shadow = np.zeros((h, w), np.uint8)
    cv2.polylines(shadow, [np.round(corners[[0, 3]]).astype(np.int32)], False, 1, 3)
    cv2.polylines(shadow, [np.round(corners[[1, 2]]).astype(np.int32)], False, 1, 3)
    img[cv2.GaussianBlur(shadow.astype(np.float32), (0, 0), 1.0) > 0.3] -= 8
    _text(img, np.array([[230.0, 30.0], [540.0, 970.0]]), rng)
    img += rng.normal(0, 1.5, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), corners


@pytest.mark.parametrize("k", [0, 1])
def test_a_white_receipt_cut_by_the_frame_is_found(k):
    # The walk out from the text met the frame at both ends of the receipt and gave up, and its
    # sides, 2 degrees from the text's direction each way, were beyond the tilts it tried: the
    # whole frame was kept (IoU 0.52).
    photo, corners = _receipt_cut_by_the_frame()
    if k:
        h = photo.shape[0]
        photo = np.ascontiguousarray(np.rot90(photo, k=-1))
        corners = np.stack([h - corners[:, 1], corners[:, 0]], axis=1)
    quad, found, _ = locate_page(photo)
    assert found is not None
    assert quad_iou(quad, corners) >= 0.95, (found.detector, quad_iou(quad, corners))


def test_one_faint_line_with_the_frame_is_no_page():
    # Sides along the border count for nothing: a faint line across the frame (a fold, a
    # shadow's edge) with three borders leaves one side of evidence; a strip between two does.
    img = np.full((400, 600, 3), 230, np.uint8)
    img[:, 300:] = 222
    img[:, 450:] = 230
    lab = lab_of(img)
    one = np.array([[0.0, 0.0], [300.0, 0.0], [300.0, 399.0], [0.0, 399.0]])
    strip = np.array([[300.0, 0.0], [450.0, 0.0], [450.0, 399.0], [300.0, 399.0]])
    assert not whole_sides_step(lab, one)
    assert whole_sides_step(lab, strip)
