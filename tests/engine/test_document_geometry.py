"""Quad geometry: corner order, the SmartDoc Jaccard index, aspect ratio from perspective."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.geometry import (
    cross3,
    downscale,
    order_quad,
    quad_iou,
    quarter_turn,
    rectified_aspect,
    warp_quad,
)
from correction_engine.synth.documents import make_page_photo

SQUARE = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)


def test_order_quad_returns_tl_tr_br_bl_from_any_order():
    rng = np.random.default_rng(0)
    quad = np.array([[105, 98], [402, 120], [390, 510], [90, 480]], float)
    for _ in range(10):
        shuffled = quad[rng.permutation(4)]
        np.testing.assert_array_equal(order_quad(shuffled), quad)


def test_order_quad_is_clockwise_for_a_quad_turned_45_degrees():
    diamond = np.array([[50, 0], [100, 50], [50, 100], [0, 50]], float)
    ordered = order_quad(diamond[::-1])
    # Clockwise on screen (y down) means a positive shoelace sum.
    x, y = ordered[:, 0], ordered[:, 1]
    assert np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)) > 0
    assert len({tuple(p) for p in ordered}) == 4


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        (SQUARE, 1.0),
        (SQUARE + [5, 0], 50 / 150),
        (SQUARE + [20, 0], 0.0),
        (np.array([[0, 0], [5, 0], [5, 10], [0, 10]], float), 0.5),
    ],
)
def test_quad_iou_matches_hand_computed_areas(other, expected):
    assert quad_iou(SQUARE, other) == pytest.approx(expected, abs=1e-6)
    assert quad_iou(other[::-1], SQUARE) == pytest.approx(expected, abs=1e-6)


def test_aspect_ratio_is_recovered_from_perspective_views():
    errors = []
    for seed in range(8):
        photo = make_page_photo(seed, size=(900, 1200))
        true_aspect = photo.page.shape[1] / photo.page.shape[0]
        # Corners as seen, TL first relative to the text, so width runs along the text lines.
        errors.append(abs(rectified_aspect(photo.corners, photo.image.shape[:2]) / true_aspect - 1))
    assert np.mean(errors) < 0.01
    assert np.max(errors) < 0.03


def test_aspect_ratio_of_a_fronto_parallel_rectangle_is_its_side_ratio():
    rect = np.array([[100, 100], [400, 100], [400, 300], [100, 300]], float)
    assert rectified_aspect(rect, (600, 800)) == pytest.approx(1.5, rel=1e-6)


def test_warp_with_true_corners_reproduces_the_clean_page():
    photo = make_page_photo(3, size=(1000, 750), shadow=False)
    h, w = photo.page.shape[:2]
    flat = warp_quad(photo.image, photo.corners, (w, h))
    a = cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY).astype(float)
    b = cv2.cvtColor(photo.page, cv2.COLOR_RGB2GRAY).astype(float)
    a = cv2.GaussianBlur(a, (0, 0), 2)
    b = cv2.GaussianBlur(b, (0, 0), 2)
    corr = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert corr > 0.8


@pytest.mark.parametrize(
    "image",
    [
        np.arange(7 * 5 * 3, dtype=np.uint8).reshape(7, 5, 3),
        np.arange(7 * 5 * 4, dtype=np.uint8).reshape(7, 5, 4),
        np.linspace(0, 1, 35, dtype=np.float32).reshape(7, 5),
        np.arange(35).reshape(7, 5) % 3 == 0,  # bool: NumPy's path
        np.arange(35, dtype=np.uint8).reshape(7, 5, 1),  # one channel kept as HxWx1
        np.arange(9 * 8 * 3, dtype=np.uint8).reshape(9, 8, 3)[1:8, 2:7],  # a crop's view
    ],
    ids=["rgb", "rgba", "float", "bool", "hxwx1", "view"],
)
@pytest.mark.parametrize("k", [0, 1, 2, 3, -1, 5])
def test_quarter_turn_is_rot90_as_a_new_contiguous_array(image, k):
    turned = quarter_turn(image, k)
    expected = np.rot90(image, k)
    assert turned.dtype == image.dtype
    np.testing.assert_array_equal(turned, expected)
    assert turned.flags.c_contiguous
    assert not np.shares_memory(turned, image)


def test_downscale_reaches_the_long_side_and_keeps_a_flat_area_flat():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (1000, 750, 3), dtype=np.uint8)
    for side in (400, 480, 600, 999):  # last steps 0.8, 0.96, 0.999 bilinear; 0.6 area
        small, scale = downscale(image, side)
        assert max(small.shape[:2]) == side
        assert scale == pytest.approx(small.shape[1] / 750)
    flat = np.full((1000, 750, 3), 77, np.uint8)
    for side in (400, 480, 600):
        np.testing.assert_array_equal(downscale(flat, side)[0], 77)


def test_cross3_is_np_cross_bit_for_bit():
    # Page detection's lines and corners must not move by a rounding: the same products and
    # differences as np.cross, in its dtype (points of float32 fits made float64 lines).
    rng = np.random.default_rng(8)
    for scale in (1e-3, 1.0, 4096.0, 1e9):
        for _ in range(2000):
            a, b = rng.standard_normal((2, 3)) * scale
            expected = np.cross(a, b)
            got = cross3(a, b)
            assert got.dtype == expected.dtype
            assert np.array_equal(got, expected)
    a = np.array([np.float32(0.1), np.float32(3.7), 1.0])
    b = np.array([np.float32(2.9), np.float32(-1.3), 1.0])
    assert np.array_equal(cross3(a, b), np.cross(a, b))
