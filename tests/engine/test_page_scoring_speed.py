"""The fast paths in page scoring give exactly what the generic NumPy calls they replace give:
page detection's answer must not move by a bit for being computed faster."""

from __future__ import annotations

import numpy as np
import pytest

from correction_engine.imaging.geometry import cross3
from correction_engine.imaging.page_regions import corners_outside
from correction_engine.imaging.page_scoring import median_u8, one_way_steps, side_points, side_samples


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (4, 4), (61, 80), (480, 640)])
def test_median_of_uint8_is_numpys(shape):
    rng = np.random.default_rng(sum(shape))
    for image in (
        rng.integers(0, 256, shape, dtype=np.uint8),
        rng.integers(100, 103, shape, dtype=np.uint8),  # few levels: the middle two often differ
        np.full(shape, 255, np.uint8),
    ):
        assert median_u8(image) == float(np.median(image))


@pytest.mark.parametrize("n", [39, 40, 60])
def test_one_way_steps_reads_the_median_sign_as_numpy_does(n):
    rng = np.random.default_rng(n)
    for _ in range(50):
        # Small integers and their halves: ties and a zero median come up often.
        step = (rng.integers(-3, 4, (4, n)) / 2).astype(np.float32)
        counted = rng.random((4, n)) > 0.3
        for axis in (0, 1):
            sign = np.sign(np.median(np.where(counted, step, 0.0), axis=axis, keepdims=True))
            expected = (np.abs(step) > 0.7) & ((np.sign(step) == sign) | (sign == 0))
            assert np.array_equal(one_way_steps(step, 0.7, axis, counted), expected)


def test_side_samples_are_the_per_side_grid():
    rng = np.random.default_rng(7)
    offsets = np.array([-3.0, 0.0, 3.0])
    for _ in range(200):
        quad = rng.uniform(-50, 700, (4, 2))
        pts, normals = side_samples(quad, 40, offsets)
        for i in range(4):
            a, b = quad[i], quad[(i + 1) % 4]
            d = (b - a) / (np.linalg.norm(b - a) + 1e-12)
            nrm = np.array([d[1], -d[0]])
            grid = side_points(a, b, 40)[:, None, :] + offsets[None, :, None] * nrm[None, None, :]
            # Equal to rounding: np.linalg.norm's summation differs across NumPy versions (2.4
            # rounds some lengths one ulp away from the plain square root side_samples takes).
            np.testing.assert_allclose(normals[i], nrm, rtol=1e-12, atol=0)
            np.testing.assert_allclose(pts[i], grid.astype(np.float32), rtol=0, atol=1e-3)


def test_corners_outside_is_the_farthest_overshoot():
    rng = np.random.default_rng(11)
    h, w = 480, 640
    for _ in range(500):
        q = rng.uniform(-0.2, 1.2, (4, 2)) * [w, h]
        expected = max(
            0.0, np.max(-q[:, 0]) / w, np.max(q[:, 0] - w) / w, np.max(-q[:, 1]) / h, np.max(q[:, 1] - h) / h
        )
        assert corners_outside(q, (h, w)) == float(expected)


def test_cross3_is_numpys_cross():
    rng = np.random.default_rng(5)
    for _ in range(500):
        a, b = rng.normal(size=3) * 300, rng.normal(size=3) * 300
        assert np.array_equal(cross3(a, b), np.cross(a, b))
