"""Boxes of the type 3 crop (stage 2, place; used by :mod:`~correction_engine.imaging.product`):
a box and the map back to the input under a quarter turn, a box grown to hold points, and a
span grown to the contract's smallest side. Pure functions of numbers, no image."""

from __future__ import annotations

import numpy as np

from correction_core.contract import MIN_DIMENSION

__all__ = ["at_least", "cover", "quarter_turn_map", "turn_box"]


def quarter_turn_map(box: tuple[int, int, int, int], turn_cw: int) -> np.ndarray:
    """2x3 affine from pixel (x, y) of ``np.rot90(crop, -turn_cw // 90)`` to the input, where
    ``crop`` is the input sliced to ``box``."""
    x0, y0, x1, y1 = box
    cw, ch = x1 - x0, y1 - y0
    k = (turn_cw // 90) % 4
    if k == 0:
        return np.array([[1.0, 0, x0], [0, 1.0, y0]])
    if k == 1:
        return np.array([[0, 1.0, x0], [-1.0, 0, y0 + ch - 1]])
    if k == 2:
        return np.array([[-1.0, 0, x0 + cw - 1], [0, -1.0, y0 + ch - 1]])
    return np.array([[0, -1.0, x0 + cw - 1], [1.0, 0, y0]])


def turn_box(
    box: tuple[int, int, int, int], shape: tuple[int, int], turn_cw: int
) -> tuple[int, int, int, int]:
    """``box`` (end-exclusive, input frame of ``shape`` = (h, w)) in the frame turned clockwise."""
    x0, y0, x1, y1 = box
    h, w = shape
    k = (turn_cw // 90) % 4
    if k == 0:
        return box
    if k == 1:
        return (h - y1, x0, h - y0, x1)
    if k == 2:
        return (w - x1, h - y1, w - x0, h - y0)
    return (y0, w - x1, y1, w - x0)


def cover(box: tuple[int, int, int, int], points: np.ndarray) -> tuple[int, int, int, int]:
    """``box`` (end-exclusive) grown to hold ``points`` (x, y)."""
    if not len(points):
        return box
    x0, y0 = np.floor(points.min(0)).astype(int)
    x1, y1 = np.ceil(points.max(0)).astype(int)
    return (min(box[0], int(x0)), min(box[1], int(y0)), max(box[2], int(x1)), max(box[3], int(y1)))


def at_least(lo: int, hi: int, limit: int | None = None) -> tuple[int, int]:
    """The span [lo, hi) grown about its middle to the contract's smallest side (a product of
    a few pixels in a tiny photo must still give a result that can be submitted again), kept
    within [0, limit) when a limit is given and the frame is wide enough."""
    if hi - lo >= MIN_DIMENSION:
        return lo, hi
    lo -= (MIN_DIMENSION - (hi - lo)) // 2
    hi = lo + MIN_DIMENSION
    if limit is not None:
        lo, hi = (0, MIN_DIMENSION) if lo < 0 else (lo, hi)
        lo, hi = (max(0, limit - MIN_DIMENSION), limit) if hi > limit else (lo, hi)
    return lo, hi
