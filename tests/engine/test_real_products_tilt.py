"""Straightening on committed real product photos, and the outline rules those photos taught.

A quadrilateral is read as a box seen in perspective only when its four sides are straight:
a skirt's bowed hem or a T-shirt's sleeves fill a four-cornered hull just as well, and read
as a box they turned level photos by 3-7 degrees.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.real_sets import PRODUCTS, load_product
from correction_engine.imaging.outline_sides import polygon_runs
from correction_engine.imaging.product import locate_product
from correction_engine.imaging.product_orientation import straightened
from correction_engine.imaging.straighten import QUAD_MAX_BOW, estimate_tilt, one_of_a_group, quad_tilt
from tests.engine.test_real_products_placement import small_copy

SIZE = (480, 640)


def _contour(points: np.ndarray) -> np.ndarray:
    mask = np.zeros(SIZE, np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return max(contours, key=cv2.contourArea)


def _turned(points: np.ndarray, ccw_deg: float) -> np.ndarray:
    c = np.array([SIZE[1] / 2.0, SIZE[0] / 2.0])
    t = np.radians(ccw_deg)
    return (points - c) @ np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]]).T + c


def _skirt(ccw_deg: float) -> np.ndarray:
    """An A-line skirt: a straight waistband, sides flaring out, a hem hanging in a fold (a
    wave about its chord, so a quadrilateral's hull still covers the area within 0.95)."""
    hem_x = np.linspace(150.0, -150.0, 61)
    hem = np.stack([hem_x + 320.0, 360.0 + 30.0 * np.sin(np.pi * hem_x / 150.0)], axis=1)
    outline = np.concatenate([[[220.0, 80.0], [420.0, 80.0]], hem])
    return _turned(outline, ccw_deg)


@pytest.mark.parametrize("ccw_deg", [0.0, 6.0, -12.0])
def test_a_box_in_perspective_has_four_straight_sides(ccw_deg):
    box = _turned(np.array([[230.0, 120.0], [410.0, 120.0], [430.0, 360.0], [210.0, 360.0]]), ccw_deg)
    found = quad_tilt(_contour(box))
    assert found is not None and abs(found[0] - ccw_deg) <= 1.0, found


@pytest.mark.parametrize("ccw_deg", [0.0, 6.0, -12.0])
def test_a_bowed_side_is_no_box_side(ccw_deg):
    contour = _contour(_skirt(ccw_deg))
    perimeter = cv2.arcLength(contour, True)
    poly = next(
        p
        for p in (cv2.approxPolyDP(contour, e * perimeter, True) for e in (0.01, 0.02, 0.03, 0.04))
        if len(p) <= 4
    )
    assert len(poly) == 4  # four corners that the old area test accepted ...
    assert max(bow for _, bow in polygon_runs(contour, poly)) > QUAD_MAX_BOW  # ... one side bowed
    assert quad_tilt(contour) is None


# Regression (2026-11-30): the outline's four-cornered hull was read as a box and turned
# these level photos (no tilt recorded: nothing in them is a reliable level edge, so they
# must be left alone) by +6.9 (a skirt on a hanger, its hem hanging askew) and -3.3 degrees
# (a striped T-shirt laid flat).
@pytest.mark.parametrize("name", ["pc-clothing-06", "pc-clothing-05"])
def test_a_garment_whose_hull_has_four_corners_is_not_turned(name):
    stem = PRODUCTS / name
    if not stem.with_suffix(".jpg").exists():
        pytest.skip(f"{name} is not in datasets/real-products")
    image, _, meta = load_product(stem)
    assert meta.get("tilt_deg") is None
    placement = locate_product(image)
    assert abs(placement.tilt_cw) <= 1.0, placement.evidence


# A record of a truth corrected by eye (2026-11-30): this tub was recorded level, but both of
# its sides lean left on 5x crops (-2.5 and -1.0 degrees; the drawn polygon's sides stood up
# to 6 px off the silhouette near the base). The engine's rectangle reads -1.5.
def test_a_tub_photographed_rolled_by_two_degrees_comes_out_level():
    stem = PRODUCTS / "pi-food-tub-02"
    if not stem.with_suffix(".jpg").exists():
        pytest.skip("pi-food-tub-02 is not in datasets/real-products")
    image, _, meta = load_product(stem)
    placement = locate_product(image)
    assert abs(meta["tilt_deg"] - placement.tilt_cw) <= 1.5, placement.evidence


def _bottle(ccw_deg: float, centre: tuple[float, float] = (320.0, 240.0)) -> np.ndarray:
    """A bottle's silhouette (a body and a narrower neck), turned counter-clockwise."""
    mask = np.zeros(SIZE, np.uint8)
    body = np.array([[-40.0, -60.0], [40.0, -60.0], [40.0, 150.0], [-40.0, 150.0]])
    neck = np.array([[-15.0, -150.0], [15.0, -150.0], [15.0, -60.0], [-15.0, -60.0]])
    c = np.array(centre)
    t = np.radians(ccw_deg)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    for part in (body, neck):
        cv2.fillPoly(mask, [np.round(part @ rot.T + c).astype(np.int32)], 1)
    return mask.astype(bool)


def test_a_single_symmetric_product_straightens_from_a_small_tilt_but_not_one_of_a_group():
    # Alone, a symmetric outline's axis is read to a few tenths of a degree: 2.5 degrees is
    # straightened. Three such bottles in a row each lean their own way by the camera's
    # perspective, so one member's axis keeps the weak cues' 3 degree dead zone.
    alone = _bottle(2.5)
    assert not one_of_a_group(alone)
    found = estimate_tilt(alone)
    assert found.evidence == "axis" and abs(found.angle - 2.5) <= 0.5, found
    group = alone | _bottle(0.0, (130.0, 250.0)) | _bottle(-1.0, (510.0, 250.0))
    assert one_of_a_group(group)
    assert estimate_tilt(group).angle == 0.0


def _variant(stem, cw_deg: float) -> tuple[np.ndarray, float]:
    """The photo at the bench's 800 px working size turned clockwise by ``cw_deg`` (corners
    replicated, as bench/real_products.py turns level photos), and the tilt it then has."""
    image, _, meta = load_product(stem)
    return straightened(small_copy(image), cw_deg, border=cv2.BORDER_REPLICATE), meta["tilt_deg"] + cw_deg


# Regression (2026-11-30, session 8): a milk bottle standing alone (recorded tilt 0.9) turned
# by -3 degrees: its axis read -2.0 (truth -2.1), but an axis had to show 3 degrees, so the
# photo was left 2.1 degrees off level.
def test_a_bottle_turned_by_three_degrees_comes_out_level():
    stem = PRODUCTS / "pa-bottle-03"
    if not stem.with_suffix(".jpg").exists():
        pytest.skip("pa-bottle-03 is not in datasets/real-products")
    image, tilt = _variant(stem, -3.0)
    placement = locate_product(image)
    assert abs(tilt - placement.tilt_cw) <= 1.5, (tilt, placement.tilt_cw, placement.evidence)


# Three bottles in a row, level (tilt 0.0): the largest bottle's axis reads -2.1 degrees (it
# leans by the camera's perspective, its neighbours +3.1 and -0.7): the photo stays as it is.
def test_a_level_group_is_not_turned_by_one_members_lean():
    stem = PRODUCTS / "pa-bottle-02"
    if not stem.with_suffix(".jpg").exists():
        pytest.skip("pa-bottle-02 is not in datasets/real-products")
    image, _, meta = load_product(stem)
    assert meta["tilt_deg"] == 0.0
    assert abs(locate_product(image).tilt_cw) <= 1.0
