"""A wide outline's long axis is no upright (:func:`correction_engine.imaging.straighten.estimate_tilt`).

A standing product is built mirror-symmetric left to right, about a vertical axis. For a wide
outline (a car, a sofa, a shoe in profile) the long axis is horizontal, and reflecting about it
swaps roof and wheels: a rough match there (a "weak axis", symmetry 0.85-0.95) is the blob's
roundness, and its direction follows the silhouette's perspective (a car's nose nearer the
camera, lower in the frame). On the real set it turned a level street photo of a sports car by
3.9 degrees, confirmed by a wall of planks seen obliquely.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.straighten import WEAK_AXIS_SYMMETRY, axis_tilt, estimate_tilt

SIZE = (480, 640)


def wide_product(lean_deg: float, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A wide rounded body on two wheels whose silhouette's long axis leans by ``lean_deg``
    (counter-clockwise), as a car seen from three quarters, nose nearer the camera."""
    h, w = size
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2 + 10, h // 2 + 60), (220, 62), -lean_deg, 0, 360, 1, -1)
    for x in (w // 2 - 120, w // 2 + 130):
        y = h // 2 + 110 - int(round((x - w // 2 - 10) * np.tan(np.radians(lean_deg))))
        cv2.circle(mask, (x, y), 26, 1, -1)
    return mask.astype(bool)


def planked_wall(ccw_deg: float, size: tuple[int, int] = SIZE, seed: int = 0) -> np.ndarray:
    """Rows of short strokes (planks, tiles: too short for a Hough line, plenty for the
    gradients) leaning by ``ccw_deg``, drawn at 4x and reduced so that no edge sits on the
    pixel grid. RGB."""
    h, w = size
    k = 4
    ink = np.zeros((h * k, w * k), np.uint8)
    t = np.radians(ccw_deg)
    step = np.array([np.cos(t), -np.sin(t)]) * 45 * k
    for y in range(10, h, 16):
        for x0 in range(-20, w, 60):
            p0 = np.array([x0 + (y // 16 % 2) * 30, y], float) * k
            p1 = p0 + step
            cv2.line(ink, tuple(int(v) for v in p0.round()), tuple(int(v) for v in p1.round()), 255, 2 * k)
    small = cv2.resize(ink, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    grey = np.clip(150 + rng.normal(0, 3, (h, w)) - 60 * small, 0, 255).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)


@pytest.mark.parametrize("lean", [2.5, 4.0, 6.0])
def test_a_wide_outlines_rough_axis_does_not_turn_a_level_photo(lean):
    mask = wide_product(lean)
    # The case itself: a rough mirror about the long (horizontal) axis, leaning by perspective.
    found = axis_tilt(mask, 1.5, 0.0)
    assert found is not None and found[1] >= WEAK_AXIS_SYMMETRY and abs(found[0] - lean) < 1.0
    image = planked_wall(lean)
    image[mask] = (200, 200, 205)
    tilt = estimate_tilt(mask, image=image)
    assert tilt.angle == 0.0, tilt


@pytest.mark.parametrize("tilt_deg", [-8.0, 4.0])
def test_a_tall_outlines_rough_axis_still_turns_with_the_scene(tilt_deg):
    # The same body standing (its long axis up: a bottle, a carton with a ragged side) in a
    # scene leaning with it is still straightened: only a wide outline's axis is refused.
    mask = np.ascontiguousarray(wide_product(0.0).T)
    size = mask.shape
    m = cv2.getRotationMatrix2D((size[1] / 2.0, size[0] / 2.0), tilt_deg, 1.0)
    mask = cv2.warpAffine(mask.astype(np.uint8), m, (size[1], size[0]), flags=cv2.INTER_NEAREST) > 0
    image = planked_wall(tilt_deg, size)
    image[mask] = (200, 200, 205)
    found = estimate_tilt(mask, image=image)
    assert found.evidence.startswith("weak-axis"), found
    assert abs(found.angle - tilt_deg) <= 1.0, found
