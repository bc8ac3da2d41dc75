"""A single product's mirror axis stands on its own (:func:`correction_engine.imaging.straighten.estimate_tilt`).

The symmetric outline of a single product ("axis", symmetry >= 0.95) is read to a few tenths
of a degree; the scene's lines (a table's edge receding in perspective) carry their own bias
of a degree or two. Averaging the two halved a bottle's real 2 degree lean to 0.5 (left alone);
one member of a group leans its own way by the camera's perspective, and there the scene's
cue is still averaged in (tests/engine/test_product_group_members.py).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.scene_tilt import lines_tilt
from correction_engine.imaging.straighten import axis_tilt, estimate_tilt, one_of_a_group

SIZE = (480, 640)


def _turn(points: np.ndarray, ccw_deg: float, centre: np.ndarray) -> np.ndarray:
    t = np.radians(ccw_deg)
    # Screen y grows downwards: counter-clockwise on screen.
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    return (points - centre) @ rot.T + centre


def bottle(ccw_deg: float, size: tuple[int, int] = SIZE, x: int = 320) -> np.ndarray:
    """A bottle (body, shoulders, neck) standing at ``x``, leaning counter-clockwise by
    ``ccw_deg``; drawn at 4x and reduced so its outline is no pixel staircase."""
    h, w = size
    k = 4
    half_body, half_neck = 42, 15
    outline = np.array(
        [
            [x - half_body, 420],
            [x + half_body, 420],
            [x + half_body, 190],
            [x + half_neck, 140],
            [x + half_neck, 80],
            [x - half_neck, 80],
            [x - half_neck, 140],
            [x - half_body, 190],
        ],
        float,
    )
    turned = _turn(outline, ccw_deg, np.array([x, 250.0]))
    big = np.zeros((h * k, w * k), np.uint8)
    cv2.fillPoly(big, [np.round(turned * k).astype(np.int32)], 255)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA) >= 128


def table_scene(edge_ccw_deg: float, size: tuple[int, int] = SIZE, seed: int = 0) -> np.ndarray:
    """A wall above a table whose front and back edges run at ``edge_ccw_deg`` (one family
    of lines: a table seen a little from the side). RGB, drawn at 4x and reduced."""
    h, w = size
    k = 4
    big = np.full((h * k, w * k), 170, np.uint8)
    t = np.radians(edge_ccw_deg)
    for y0, shade in ((330, 90), (440, 30)):
        dy = np.tan(t) * w / 2
        pts = np.array([[0, y0 + dy], [w, y0 - dy], [w, h], [0, h]], float)
        cv2.fillPoly(big, [np.round(pts * k).astype(np.int32)], shade)
    grey = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    rng = np.random.default_rng(seed)
    grey = np.clip(grey + rng.normal(0, 2.5, (h, w)), 0, 255).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)


@pytest.mark.parametrize(("lean", "edge"), [(2.0, -1.0), (-2.2, 1.5), (2.4, -1.2)])
def test_a_single_products_axis_is_not_averaged_with_the_scenes_lines(lean, edge):
    mask = bottle(lean)
    image = table_scene(edge)
    image[mask] = (60, 110, 200)
    # The case itself: an exact axis, scene lines that speak and agree within a few degrees.
    axis = axis_tilt(mask)
    assert axis is not None and abs(axis[0] - lean) <= 0.3
    lines = lines_tilt(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    assert lines is not None and abs(lines[0] - edge) <= 1.0 and abs(lines[0] - lean) >= 2.0
    assert not one_of_a_group(mask)
    found = estimate_tilt(mask, image=image)
    assert abs(found.angle - lean) <= 0.5, found


def test_a_level_single_product_stays_level_beside_a_leaning_table():
    mask = bottle(0.0)
    image = table_scene(-2.5)
    image[mask] = (60, 110, 200)
    assert estimate_tilt(mask, image=image).angle == 0.0
