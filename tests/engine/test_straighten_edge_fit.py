"""A product's straight sides are read on the photo's own edges, not on the mask's outline
(:mod:`correction_engine.imaging.edge_fit`, used by
:func:`correction_engine.imaging.outline_sides.sides_tilt`).

A mask is rough to a few pixels and often unevenly so: on the real set a carton's mask stood
5-8 px inside its edge near the top and on it near the bottom, which leans the side by a
degree or more. The photo's edge between the carton and the wall is sharp; the side refitted
to it gives the carton's tilt whatever the mask's error.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.edge_fit import ImageEdges, refit_side
from correction_engine.imaging.outline_sides import sides_tilt
from correction_engine.imaging.straighten import estimate_tilt

SIZE = (512, 512)
K = 4  # drawn at 4x and reduced: anti-aliased edges, no pixel staircase


def _turn(points: np.ndarray, ccw_deg: float, centre: np.ndarray) -> np.ndarray:
    t = np.radians(ccw_deg)
    # Screen y grows downwards: counter-clockwise on screen.
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    return (points - centre) @ rot.T + centre


def _fill(polygons: list[np.ndarray], holes: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """Coverage (float 0..1) of ``polygons`` minus ``holes`` at SIZE, drawn at K x."""
    h, w = SIZE
    big = np.zeros((h * K, w * K), np.uint8)
    for p in polygons:
        cv2.fillPoly(big, [np.round(p * K).astype(np.int32)], 255)
    for p in holes:
        cv2.fillPoly(big, [np.round(p * K).astype(np.int32)], 0)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def held_carton(ccw_deg: float, inset_top: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A tall carton (120 x 300 px) leaning ``ccw_deg``, a hand over the middle of its left
    side, on a plain wall with sensor noise; and its mask as a segmenter draws it: the hand
    left out, and the right side ``inset_top`` px inside the carton's edge at the top, on it
    at the bottom (an uneven mask). Returns (RGB image, bool mask)."""
    centre = np.array([256.0, 256.0])
    x0, x1, y0, y1 = 196.0, 316.0, 106.0, 406.0
    carton = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    # The hand: a block over the left side's middle third, 45 % of the width deep.
    hand = np.array([[x0 - 30, 200.0], [x0 + 54, 200.0], [x0 + 54, 300.0], [x0 - 30, 300.0]])
    seen = np.array([[x0, y0], [x1 - inset_top, y0], [x1, y1], [x0, y1]])
    carton_t, hand_t, seen_t = (_turn(p, ccw_deg, centre) for p in (carton, hand, seen))
    wall = np.array([200.0, 196.0, 188.0])
    box = np.array([70.0, 110.0, 170.0])
    skin = np.array([215.0, 160.0, 130.0])
    c = _fill([carton_t])[..., None]
    s = _fill([hand_t])[..., None]
    img = wall * (1 - c) + box * c
    img = img * (1 - s) + skin * s
    rng = np.random.default_rng(seed)
    img = img + rng.normal(0, 3.0, img.shape)
    image = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    mask = _fill([seen_t], (hand_t,)) >= 0.5
    return image, mask


def _contour(mask: np.ndarray) -> np.ndarray:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return max(contours, key=cv2.contourArea)


@pytest.mark.parametrize("ccw_deg", [-8.0, 5.0, 15.0])
def test_unevenly_masked_carton_is_read_on_its_edges(ccw_deg: float) -> None:
    image, mask = held_carton(ccw_deg, inset_top=7.0)
    contour = _contour(mask)
    # The outline alone reads the pair leaning by the mask's error (the premise) ...
    alone = sides_tilt(contour, mask.shape)
    assert alone is not None and abs(alone[0] - ccw_deg) > 0.5
    # ... the photo's edges give the carton's own tilt.
    tilt = estimate_tilt(mask, image=image)
    assert tilt.evidence.startswith("sides")
    assert tilt.angle == pytest.approx(ccw_deg, abs=0.3)


def test_side_without_an_edge_keeps_the_outline() -> None:
    # A plain, noisy photo: no line stands out near the outline's side, so there is no refit
    # (the side is not moved to noise).
    rng = np.random.default_rng(1)
    image = np.clip(128 + rng.normal(0, 3.0, (*SIZE, 3)), 0, 255).astype(np.uint8)
    points = np.stack([np.full(200, 250.0), np.arange(150.0, 350.0)], axis=1)
    assert refit_side(points, ImageEdges(image)) is None


def test_print_mark_beside_a_side_does_not_pull_it() -> None:
    # A carton's edge and, 4 px inside it, a short dark print mark across a fifth of the side:
    # the line along the whole side is the carton's edge.
    image, _ = held_carton(0.0, inset_top=0.0)
    image[150:210, 308:311] = (20, 20, 20)
    points = np.stack([np.full(200, 313.0), np.arange(140.0, 340.0)], axis=1)
    refit = refit_side(points, ImageEdges(image))
    assert refit is not None
    (vx, vy), (cx, _) = refit
    assert np.degrees(np.arcsin(min(1.0, abs(vx)))) == pytest.approx(0.0, abs=0.2)
    # The edge runs between the carton's last pixel column (315) and the wall's first.
    assert cx == pytest.approx(315.5, abs=0.5)


@pytest.mark.parametrize("inset_top", [0.0, 7.0, 10.0])
def test_level_carton_with_an_uneven_mask_is_left_level(inset_top: float) -> None:
    # Refitting must not invent a tilt: the level carton's edges are level whatever the mask.
    image, mask = held_carton(0.0, inset_top=inset_top)
    tilt = estimate_tilt(mask, image=image)
    assert tilt.angle == 0.0
    # (read from the outline alone: 0.51 and 0.71 degrees for the uneven masks).
    assert abs(tilt.measured) <= 0.3


def test_refitting_never_makes_a_pair() -> None:
    # A squat box whose photo edges are parallel, but whose mask's opposite sides lean 3.5
    # degrees apart each way (7 apart: no pair). The outline decides which sides pair; the
    # photo only says where a pair runs. (Refitted first, a T-shirt's or a hat's sides turned
    # parallel and paired on level real photos.)
    x0, x1, y0, y1 = 186.0, 326.0, 196.0, 316.0
    lean = 60.0 * np.tan(np.radians(3.5))  # half a side's length times the lean
    rise = 70.0 * np.tan(np.radians(3.5))
    box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    outline = np.array(
        [[x0 + lean, y0 + rise], [x1 - lean, y0 - rise], [x1 + lean, y1 + rise], [x0 - lean, y1 - rise]]
    )
    c = _fill([box])[..., None]
    rng = np.random.default_rng(2)
    img = np.array([200.0, 196.0, 188.0]) * (1 - c) + np.array([70.0, 110.0, 170.0]) * c
    image = np.clip(img + rng.normal(0, 3.0, img.shape) + 0.5, 0, 255).astype(np.uint8)
    mask = _fill([outline]) >= 0.5
    contour = _contour(mask)
    edges = ImageEdges(image)
    # The premise: each side alone comes out on the photo's vertical edge.
    for x in (x0, x1):
        side = contour.reshape(-1, 2)[np.abs(contour.reshape(-1, 2)[:, 0] - x) < lean + 1.5].astype(float)
        side = side[np.abs(side[:, 1] - (y0 + y1) / 2) < 40]
        refit = refit_side(side, edges)
        assert refit is not None and abs(refit[0][0]) < np.sin(np.radians(0.5))
    assert sides_tilt(contour, mask.shape, min_elongation=1.0) is None
    assert sides_tilt(contour, mask.shape, min_elongation=1.0, edges=edges) is None


def pale_carton_before_a_box(ccw_deg: float, box_level: float = 150.0) -> tuple[np.ndarray, np.ndarray]:
    """A pale carton (120 x 300 px) leaning ``ccw_deg``, a hand over its left side, on a pale
    wall, and a darker level box standing behind it whose left edge touches the carton's right
    side at its outermost corner: a straight background edge as strong as the carton's and
    running within a few pixels of its side. Returns (RGB image, bool mask: the carton, hand
    left out)."""
    centre = np.array([256.0, 256.0])
    x0, x1, y0, y1 = 196.0, 316.0, 106.0, 406.0
    carton = _turn(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), ccw_deg, centre)
    hand = _turn(
        np.array([[x0 - 30, 200.0], [x0 + 54, 200.0], [x0 + 54, 300.0], [x0 - 30, 300.0]]), ccw_deg, centre
    )
    img = np.empty((*SIZE, 3))
    img[:] = (200.0, 196.0, 188.0)
    edge = int(carton[:, 0].max())
    img[96:416, edge : edge + 80] = (box_level, box_level - 4, box_level - 12)
    c = _fill([carton])[..., None]
    s = _fill([hand])[..., None]
    img = img * (1 - c) + np.array([222.0, 218.0, 212.0]) * c
    img = img * (1 - s) + np.array([215.0, 160.0, 130.0]) * s
    img = img + np.random.default_rng(0).normal(0, 3.0, img.shape)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), _fill([carton], (hand,)) >= 0.5


@pytest.mark.parametrize("ccw_deg", [3.0, -3.0])
def test_background_edge_touching_a_side_does_not_take_it_over(ccw_deg: float) -> None:
    # The box's level edge is stronger than the pale carton's and, within 4 degrees of the
    # side, passes through the search's reach along most of it: the refit must not level the
    # carton (it read 0.5 / -0.7 for 3 / -3 degrees).
    image, mask = pale_carton_before_a_box(ccw_deg)
    contour = _contour(mask)
    tilt = sides_tilt(contour, mask.shape, edges=ImageEdges(image))
    assert tilt is not None and tilt[0] == pytest.approx(ccw_deg, abs=0.3)


def test_an_edge_beyond_the_angle_search_is_not_read_at_its_end() -> None:
    # A carton edge 6 degrees off the outline's side: the search (4 degrees) sees its slope at
    # the end of the angles, no peak; that is no reading of the edge.
    image, _ = held_carton(6.0, inset_top=0.0)
    points = np.stack([np.full(200, 316.0), np.arange(156.0, 356.0)], axis=1)
    assert refit_side(points, ImageEdges(image)) is None


def test_sharp_level_edge_is_read_level() -> None:
    # A sharp edge gives a flat top of equally strong angles around the true one (each
    # samples the same pixel columns); the reading is the middle of the top, not its first
    # angle (which read a level edge 0.1 degree off, its sign following the fitted line's).
    image, _ = held_carton(0.0, inset_top=0.0)
    for x in (313.0, 318.0):
        points = np.stack([np.full(200, x), np.arange(140.0, 340.0)], axis=1)
        refit = refit_side(points, ImageEdges(image))
        assert refit is not None
        assert np.degrees(np.arcsin(abs(refit[0][0]))) < 0.03


def test_gradients_in_a_box_equal_the_whole_frames() -> None:
    # Only the boxes along the sides are read (speed); each must see what the whole frame's
    # gradients say there, at the frame's border too.
    image, _ = held_carton(5.0, inset_top=0.0)
    edges = ImageEdges(image)
    normal = np.array([0.6, 0.8])
    whole = edges.across(normal, (0, 0, SIZE[1], SIZE[0]))
    for x0, y0, x1, y1 in [
        (300, 90, 340, 420),
        (0, 0, 30, 50),
        (SIZE[1] - 20, SIZE[0] - 60, SIZE[1], SIZE[0]),
    ]:
        assert np.allclose(edges.across(normal, (x0, y0, x1, y1)), whole[y0:y1, x0:x1], atol=1e-3)
