"""A periodic pattern is no product's side (hostile review of session 11).

A side refitted on the photo must stand out of the quietest lines within reach
(edge_fit.QUIET_QUANTILE): a carton's fold beside its edge lifts the median line. But between
the stripes of any periodic pattern (a ribbed or striped backdrop, slats, ruled print) there are
quiet lines too, so its best stripe passed as an edge and a level product was turned by the
stripes' angle (a level box in front of fine stripes 3.5 degrees off: turned 3.6). Stripes peak
across the offsets many times alike; an edge with a fold beside it at most twice."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.edge_fit import ImageEdges, refit_side
from correction_engine.imaging.straighten import estimate_tilt

H, W = 480, 640


def striped(shape: tuple[int, int], deg: float, period: float, amp: float) -> np.ndarray:
    """Sine stripes ``period`` px apart, turned ``deg`` counter-clockwise from vertical."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    t = np.radians(deg)
    u = (xs - shape[1] / 2) * np.cos(t) - (ys - shape[0] / 2) * np.sin(t)
    return amp * np.sin(2 * np.pi * u / period)


def photo(grey: np.ndarray) -> np.ndarray:
    """``grey`` as a soft, noisy colour photo."""
    grey = cv2.GaussianBlur(grey, (0, 0), 1.0)
    noise = np.random.default_rng(0).normal(0, 3.0, (*grey.shape, 3))
    return np.clip(grey[..., None] + noise + 0.5, 0, 255).astype(np.uint8)


def level_box_held() -> np.ndarray:
    """A level box with a palm bulging out at its lower left (so no mirror axis decides)."""
    mask = np.zeros((H, W), np.uint8)
    cv2.rectangle(mask, (270, 90), (370, 400), 1, -1)
    cv2.ellipse(mask, (262, 330), (45, 28), 20, 0, 360, 1, -1)
    return mask.astype(bool)


@pytest.mark.parametrize("period", [5, 6, 8])
def test_stripes_across_a_weak_edge_are_not_read_as_the_side(period: int) -> None:
    size, edge_x = 512, 316.0
    xs = np.arange(size, dtype=np.float64)[None, :].repeat(size, 0)
    inside = np.clip(edge_x - xs + 0.5, 0, 1)
    grey = 200.0 * inside + 190.0 * (1 - inside) + striped((size, size), 3.0, period, 10.0)
    side = np.stack([np.full(200, 314.0), np.arange(140.0, 340.0)], axis=1)
    refit = refit_side(side, ImageEdges(photo(grey)))
    if refit is not None:
        (vx, vy), _ = refit
        assert abs(np.degrees(np.arctan2(vx, vy))) <= 0.5


@pytest.mark.parametrize("deg", [3.5, -3.5, 2.5])
@pytest.mark.parametrize("period", [5, 6])
def test_a_level_box_in_front_of_fine_stripes_is_left_level(deg: float, period: int) -> None:
    mask = level_box_held()
    inside = cv2.GaussianBlur(mask.astype(np.float64), (0, 0), 0.7)
    grey = 200.0 * inside + 190.0 * (1 - inside) + striped((H, W), deg, period, 10.0)
    assert abs(estimate_tilt(mask, image=photo(grey)).angle) <= 0.5
