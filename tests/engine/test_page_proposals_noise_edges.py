"""Issue 8: a bright, clean photo of a page lit from one side, its sides stepping by little more
than the photo's noise (imaging/page_proposals.step_thresholds, the last pass of
page_detection's search). The edge thresholds that scale with a bright photo's median found no
line there and the whole frame was kept; thresholds set by the noise find the page, bowed side
and all. A photo with no page, or only faint straight joints, still keeps the whole frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.geometry import quad_iou
from correction_engine.imaging.page_detection import find_page_quad, turned_back
from correction_engine.imaging.page_proposals import SOBEL_GAIN, step_thresholds
from correction_engine.synth.documents import make_page_photo

H, W = 600, 800
# The page's corners (TL, TR, BR, BL): its top side bows between the first two (see _page_mask).
CORNERS = np.array([[110.0, 70.0], [700.0, 85.0], [690.0, 540.0], [100.0, 528.0]])
# The S-bow of the top side, a share of its length (the real thesis page: about 3 %).
BOW = 0.03


def _light(fall: float) -> np.ndarray:
    """A light field falling from 1 at the left to ``1 - fall`` at the right: a lamp to one side."""
    xs = np.linspace(0.0, 1.0, W, dtype=np.float32)
    return np.broadcast_to(1.0 - fall * xs, (H, W))


def _page_mask() -> np.ndarray:
    """The page's area: the quad of CORNERS with its top side replaced by an S-curve through the
    same two corners, bulging up over its first half and down over its second."""
    (x0, y0), (x1, y1) = CORNERS[0], CORNERS[1]
    t = np.linspace(0.0, 1.0, 200)
    length = float(np.hypot(x1 - x0, y1 - y0))
    bulge = BOW * length * np.sin(2 * np.pi * t)
    top = np.stack([x0 + t * (x1 - x0), y0 + t * (y1 - y0) - bulge], axis=1)
    outline = np.concatenate([top, CORNERS[2:]])
    mask = np.zeros((H, W), np.float32)
    cv2.fillPoly(mask, [np.round(outline * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
    return mask


def _photo(
    page: float | None, table: float, fall: float, *, joints: bool = False, seed: int = 0
) -> np.ndarray:
    """The scene lit by _light(fall): paper of brightness ``page`` (None: no paper) over a table
    of ``table``, a few lines of print on the paper, grain noise of about 1.5 levels; with
    ``joints``, a plank table whose joints step by a few levels."""
    rng = np.random.default_rng(seed)
    scene = np.full((H, W), table, np.float32)
    if joints:
        for x in (230, 470, 690):
            scene[:, x:] -= 8.0
        for y in (150, 420):
            scene[y:, :] -= 8.0
    if page is not None:
        mask = _page_mask()
        scene = scene * (1 - mask) + page * mask
        for y in range(140, 500, 28):
            cv2.line(scene, (170, y), (int(rng.integers(450, 630)), y + 2), 40.0, 2)
    lit = scene * _light(fall) + rng.normal(0.0, 1.5, (H, W)).astype(np.float32)
    grey = np.clip(lit, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def test_a_page_lit_from_one_side_is_found_at_every_turn() -> None:
    # Paper 215 on a table of 190: the sides step by 25 levels at the lamp and 12 at the far
    # side, under half the median-based thresholds (about 28 / 70 in gradient, 11 / 28 levels).
    photo = _photo(215.0, 190.0, 0.5)
    ious = []
    for k in range(4):
        view = np.ascontiguousarray(np.rot90(photo, -k))  # turned clockwise k times
        found = find_page_quad(view)
        assert found is not None, f"no page at {k} quarter turns"
        ious.append(quad_iou(turned_back(found.quad, photo.shape[:2], k), CORNERS))
    assert min(ious) >= 0.9, ious
    assert max(ious) - min(ious) <= 0.02, ious


def test_a_plank_table_with_no_page_keeps_the_whole_frame() -> None:
    # Faint straight joints both ways are lines the noise-level pass sees too, and they cross
    # into quads; steps the same way all across the table are no page's outline.
    assert find_page_quad(_photo(None, 200.0, 0.5, joints=True)) is None


def test_a_bare_table_keeps_the_whole_frame() -> None:
    assert find_page_quad(_photo(None, 200.0, 0.5)) is None


@pytest.mark.parametrize("contrast", [6.0, 10.0])
def test_noise_thresholds_only_where_lower_than_half_the_medians(contrast: float) -> None:
    bright = np.full((H, W), 200, np.uint8)
    dark = np.full((H, W), 60, np.uint8)
    low, high = step_thresholds(bright, contrast, 0.5) or (np.inf, np.inf)
    # A step of the scorer's bar reads 2.5 x its height in Canny's gradient and continues an
    # edge; twice that seeds one. Half a bright photo's median asks for 100 (40 for the low one).
    assert (low, high) == (2.5 * contrast, 5.0 * contrast)
    # A dark photo's median thresholds are already at their floor (10 / 30): nothing new to see.
    assert step_thresholds(dark, contrast, 0.5) is None


def test_a_printed_page_filling_the_frame_under_a_shadow_is_not_cut() -> None:
    # Flat scans of printed pages, some under a hand's cast shadow: at noise-level thresholds the
    # print's rows and the shadow's edges are lines too, and one seed's crossed into a quad
    # through the text (IoU 0.10; 25 seeds measured, these eight kept for the suite's time).
    # Text running across a side says it is no page's edge.
    ious = []
    for seed in range(10, 18):
        page = make_page_photo(seed, full_frame=True)
        h, w = page.image.shape[:2]
        found = find_page_quad(page.image)
        quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], float) if found is None else found.quad
        ious.append(quad_iou(quad, page.corners))
    assert min(ious) >= 0.9, ious


@pytest.mark.parametrize("height", [8, 20, 60])
def test_the_sobel_gain_is_what_canny_reads_of_a_blurred_step(height: int) -> None:
    # step_thresholds turns a step's height into Canny's gradient units by SOBEL_GAIN: measured
    # here as Canny measures it (3x3 Sobel after the proposers' 5x5 Gaussian), not restated.
    img = np.full((64, 64), 100, np.uint8)
    img[:, 32:] += height
    gradient = cv2.Sobel(cv2.GaussianBlur(img, (5, 5), 0), cv2.CV_32F, 1, 0, ksize=3)
    assert abs(float(gradient.max()) / height - SOBEL_GAIN) < 0.15
