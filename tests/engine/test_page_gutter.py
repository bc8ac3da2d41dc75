"""The gutter cut (imaging/page_gutter.py) on drawn black-hat maps and text-free grey copies whose
lines are known: a lone crease from edge to edge behind a side on the frame's border, in a valley
of shading, is a gutter; ruled lines, a rule that stops at the print's margins, a crease behind a
side off the border, a crease on flat paper (a letter's fold) or one past the region's middle
are not."""

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


def _gray(valley: tuple[tuple[int, int], tuple[int, int]] | None, fall: float = 0.0) -> np.ndarray:
    """A text-free grey copy: paper at 200, darkened by up to 8 levels within 20 px of the line
    ``valley`` (pages curving down into a gutter) and by ``fall`` levels per 100 px from top to
    bottom (light falling off across the page)."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    gray = 200.0 - fall * ys / 100.0
    if valley is not None:
        (x0, y0), (x1, y1) = valley
        dist = np.abs((y1 - y0) * xs - (x1 - x0) * ys + x1 * y0 - y1 * x0) / np.hypot(x1 - x0, y1 - y0)
        gray -= 8.0 * np.clip(1.0 - dist / 20.0, 0.0, None)
    return np.clip(gray, 0, 255).astype(np.uint8)


def _line_y(line: np.ndarray, x: float) -> float:
    return float(-(line[0] * x + line[2]) / line[1])


def test_a_lone_crease_behind_a_border_side_cuts_the_region_there() -> None:
    # The crease runs from the left side to the right side, a little tilted (perspective).
    crease = ((19, 40), (606, 54))
    found = gutter_cut(_blackhat([crease]), _gray(crease), REGION, CONTRAST, MIN_AREA)
    assert found is not None
    quad, side, line = found
    assert side == 0
    assert abs(_line_y(line, 19) - 40) <= 1.5 and abs(_line_y(line, 606) - 54) <= 1.5
    # The other three sides stay; the cut page keeps the part away from the border.
    assert np.allclose(quad[2:], REGION[2:])
    assert quad[0, 1] > 35 and quad[1, 1] > 50


def test_ruled_lines_are_no_gutter() -> None:
    ruled = [((17, y), (608, y)) for y in range(40, 440, 22)]
    assert gutter_cut(_blackhat(ruled), _gray(ruled[0]), REGION, CONTRAST, MIN_AREA) is None


def test_a_rule_that_stops_at_the_margins_is_no_gutter() -> None:
    # A rule printed across a receipt or a form: dark over the middle, not to the paper's edges.
    rule = ((90, 60), (540, 60))
    assert gutter_cut(_blackhat([rule]), _gray(rule), REGION, CONTRAST, MIN_AREA) is None


def test_no_cut_behind_sides_off_the_border() -> None:
    inside = REGION + np.array([0.0, 30.0])  # the same page, its top side now on the paper
    inside[2:, 1] -= 30.0
    crease = ((19, 70), (606, 84))
    assert gutter_cut(_blackhat([crease]), _gray(crease), inside, CONTRAST, MIN_AREA) is None


def test_a_crease_on_flat_paper_is_no_gutter() -> None:
    # A letter's fold pressed flat, a perforation, a pencil line across the sheet: the closing
    # erased it whole, the paper beside it is as bright as at the line.
    crease = ((19, 40), (606, 54))
    assert gutter_cut(_blackhat([crease]), _gray(None), REGION, CONTRAST, MIN_AREA) is None
    # Light falling off across it darkens one side, which is no valley either.
    assert gutter_cut(_blackhat([crease]), _gray(None, fall=4.0), REGION, CONTRAST, MIN_AREA) is None


def test_the_page_is_the_larger_part_of_the_region() -> None:
    # A shaded crease at 40 % of the sides from the border leaves the page the larger part: cut.
    # At 65 % the part behind it would be the larger: that is the photographed page, and the
    # line on it something else (MAX_STRIP): no cut.
    near = ((18, 180), (604, 180))
    assert gutter_cut(_blackhat([near]), _gray(near), REGION, CONTRAST, MIN_AREA) is not None
    far = ((16, 295), (602, 292))
    assert gutter_cut(_blackhat([far]), _gray(far), REGION, CONTRAST, MIN_AREA) is None
