"""Tilt from the scene's straight lines (:func:`correction_engine.imaging.straighten.lines_tilt`)
and how it combines with the product's outline in :func:`estimate_tilt`."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.product_orientation import straightened
from correction_engine.imaging.straighten import estimate_tilt, lines_tilt

SIZE = (480, 640)


def noise(size=SIZE, seed: int = 0, sigma: float = 6.0) -> np.ndarray:
    """Sensor-like noise on a mid grey: no straight line anywhere."""
    rng = np.random.default_rng(seed)
    return np.clip(128 + rng.normal(0, sigma, size), 0, 255).astype(np.uint8)


def shelves(ccw_deg: float, size=SIZE) -> np.ndarray:
    """A shelf unit (horizontal boards and vertical uprights) on a noisy wall, the whole scene
    turned counter-clockwise by ``ccw_deg`` (drawn turned, so no corner is invented)."""
    h, w = size
    img = noise(size, sigma=3.0).astype(np.float32)
    c = np.array([w / 2.0, h / 2.0])
    t = np.radians(ccw_deg)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    canvas = np.zeros(size, np.uint8)
    for y in np.linspace(-400, 400, 9):
        p = (np.array([[-800, y], [800, y]]) @ rot.T + c).round().astype(np.int32)
        cv2.line(canvas, tuple(int(v) for v in p[0]), tuple(int(v) for v in p[1]), 1, 6)
    for x in np.linspace(-500, 500, 5):
        p = (np.array([[x, -800], [x, 800]]) @ rot.T + c).round().astype(np.int32)
        cv2.line(canvas, tuple(int(v) for v in p[0]), tuple(int(v) for v in p[1]), 1, 6)
    # A lens blurs every edge a little (a perfectly sharp edge on the pixel grid is no photo).
    img -= 70 * cv2.GaussianBlur(canvas.astype(np.float32), (0, 0), 1.2)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("tilt", [-28.0, -15.0, -3.0, 8.0, 25.0])
def test_the_scenes_lines_give_its_tilt(tilt):
    found = lines_tilt(shelves(tilt))
    assert found is not None
    assert abs(found[0] - tilt) <= 0.5, found
    assert found[2]  # both families seen


def test_a_level_scene_is_not_turned():
    # Either the lines read level, or (edges exactly on the pixel grid break into pieces) they
    # do not speak; both leave the photo as it is.
    found = lines_tilt(shelves(0.0))
    assert found is None or abs(found[0]) <= 0.5
    blob = np.zeros(SIZE, np.uint8)
    cv2.circle(blob, (320, 240), 60, 1, -1)
    image = cv2.cvtColor(shelves(0.0), cv2.COLOR_GRAY2RGB)
    assert estimate_tilt(blob.astype(bool), image=image).angle == 0.0


def test_corners_filled_by_replicating_the_border_are_not_lines():
    # A photo turned on a grown canvas with the border replicated: its corners are made of
    # perfectly uniform straight streaks at the turn's angle, which are no evidence of the
    # scene (a real photo taken tilted has none).
    rng = np.random.default_rng(1)
    blotches = cv2.GaussianBlur(rng.normal(0, 60, SIZE).astype(np.float32), (0, 0), 4)
    scene = np.clip(128 + 4 * blotches + rng.normal(0, 3, SIZE), 0, 255).astype(np.uint8)
    for angle in (20.0, 30.0):
        turned = straightened(scene, angle, border=cv2.BORDER_REPLICATE)
        assert lines_tilt(turned) is None


def test_a_tilted_scene_straightens_a_product_without_outline_evidence():
    tilt = 12.0
    image = cv2.cvtColor(shelves(tilt), cv2.COLOR_GRAY2RGB)
    blob = np.zeros(SIZE, np.uint8)
    cv2.circle(blob, (320, 240), 60, 1, -1)  # round: its outline says nothing about tilt
    assert estimate_tilt(blob.astype(bool)).angle == 0.0
    found = estimate_tilt(blob.astype(bool), image=image)
    assert found.evidence == "lines"
    assert abs(found.angle - tilt) <= 0.5


def test_a_box_held_tilted_in_a_level_scene_keeps_its_own_tilt():
    # The product's outline is a rectangle at 10 degrees; the shelves behind it are level.
    image = cv2.cvtColor(shelves(0.0), cv2.COLOR_GRAY2RGB)
    box = cv2.boxPoints(((320.0, 240.0), (140.0, 220.0), -10.0))
    mask = np.zeros(SIZE, np.uint8)
    cv2.fillPoly(mask, [np.round(box).astype(np.int32)], 1)
    found = estimate_tilt(mask.astype(bool), image=image)
    assert found.evidence == "rectangle"
    assert abs(found.angle - 10.0) <= 1.0
