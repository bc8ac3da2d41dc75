"""Whether an outline inside another is that outline cut by one straight line across it.

A sheet lying on a surface lies clear of the surface's own edges; an outline that keeps all but
one side of a larger one (its seen sides on the larger's seen sides, its sides on the frame's
border on the larger's border sides) is the larger cut by one line: a ruled line, a table's
rule, a fold or a band printed on one sheet, or a step that shading made there.
"""

from __future__ import annotations

import numpy as np

from .page_nesting import shared_sides
from .page_regions import MAX_OUTSIDE, border_line


def _borders(quad: np.ndarray, size: tuple[int, int]) -> list[tuple[float, ...]]:
    """The frame's borders (as line coefficients) that sides of ``quad`` run along."""
    found = []
    for i in range(4):
        line = border_line(quad[i], quad[(i + 1) % 4], size, MAX_OUTSIDE)
        if line is not None:
            found.append(tuple(float(v) for v in line))
    return found


def cut_by_one_line(outer: np.ndarray, inner: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether ``inner`` shares three of its sides with ``outer`` (outlines in a frame of
    ``size`` = (h, w)): on the same border of the frame, or on the same seen side
    (page_nesting.shared_sides, which leaves border sides out)."""
    on_outer_border = set(_borders(outer, size))
    on_same_border = sum(line in on_outer_border for line in _borders(inner, size))
    return on_same_border + shared_sides(outer, inner, size) >= 3
