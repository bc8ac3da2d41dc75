"""The gutter cut (imaging/page_gutter.py) on drawn black-hat maps whose lines are known: a lone
crease from edge to edge behind a side on the frame's border is a gutter; ruled lines, a rule
that stops at the print's margins, or a crease behind a side off the border are not."""

from __future__ import annotations

import cv2
import numpy as np

from correction_engine.imaging.page_gutter import gutter_cut

H, W = 480, 640
# A page region whose top side runs along the frame's top border (the facing page cut there).
REGION = np.array([[20.0, 0.0], [610.0, 0.0], [600.0, 450.0], [15.0, 455.0]])
CONTRAST = 6.0
MIN_AREA = 0.045 * H * W


def _blackhat(lines: list[tuple[tuple[int, int], tuple[int, int]]]) -> np.ndarray:
    """A black-hat map (what a closing removed: thin dark strokes) holding ``lines`` 2 px wide
    and 25 grey levels deep, as a notebook's gutter measured, on faint noise."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 4, (H, W)).astype(np.uint8)
    for p, q in lines:
        cv2.line(img, p, q, 25, 2)
    return img


def _line_y(line: np.ndarray, x: float) -> float:
    return float(-(line[0] * x + line[2]) / line[1])


def test_a_lone_crease_behind_a_border_side_cuts_the_region_there() -> None:
    # The crease runs from the left side to the right side, a little tilted (perspective).
    found = gutter_cut(_blackhat([((19, 40), (606, 54))]), REGION, CONTRAST, MIN_AREA)
    assert found is not None
    quad, side, line = found
    assert side == 0
    assert abs(_line_y(line, 19) - 40) <= 1.5 and abs(_line_y(line, 606) - 54) <= 1.5
    # The other three sides stay; the cut page keeps the part away from the border.
    assert np.allclose(quad[2:], REGION[2:])
    assert quad[0, 1] > 35 and quad[1, 1] > 50


def test_ruled_lines_are_no_gutter() -> None:
    ruled = [((17, y), (608, y)) for y in range(40, 440, 22)]
    assert gutter_cut(_blackhat(ruled), REGION, CONTRAST, MIN_AREA) is None


def test_a_rule_that_stops_at_the_margins_is_no_gutter() -> None:
    # A rule printed across a receipt or a form: dark over the middle, not to the paper's edges.
    assert gutter_cut(_blackhat([((90, 60), (540, 60))]), REGION, CONTRAST, MIN_AREA) is None


def test_no_cut_behind_sides_off_the_border() -> None:
    inside = REGION + np.array([0.0, 30.0])  # the same page, its top side now on the paper
    inside[2:, 1] -= 30.0
    assert gutter_cut(_blackhat([((19, 70), (606, 84))]), inside, CONTRAST, MIN_AREA) is None
