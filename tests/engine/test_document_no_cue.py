"""Type 0 on photos whose page carries no orientation cue: "unsure means no turn" in the photo's
OWN frame, at every quarter turn the photo is taken at (review finding F1: the canonical pose read
"rotation 0" in its own frame and turned a cue-less photo by its canonical turns); and thin noise
strips, whose found "page" was a pixel wide (finding F4: an OpenCV assertion, or an output below
the contract's minimum side)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_core.contract import MIN_DIMENSION
from correction_engine.imaging.document import crop_and_orient, crop_orient_enhance
from correction_engine.imaging.orientation import _sure_without_lines, estimate_orientation, kept_as_taken
from correction_engine.synth.documents import render_page


def _soft_picture() -> np.ndarray:
    """A full-frame picture with no edge and no ink: light from the top left fading to the bottom
    right (its brightness moments give it a canonical pose, its content no up)."""
    yy, xx = np.mgrid[0:450, 0:600]
    v = 230 - 90 * (yy / 450) - 40 * (xx / 600)
    img = np.dstack([v * 0.8, v * 0.9, v]).astype(np.uint8)
    return cv2.add(img, np.random.default_rng(0).integers(0, 6, img.shape, dtype=np.uint8))


def _blank_page_with_stain() -> np.ndarray:
    page = np.full((350, 500, 3), 238, np.uint8)
    xx = np.mgrid[0:350, 0:500][1]
    page = (page - (xx / 500.0 * 25)[..., None]).astype(np.uint8)  # light falling off to the right
    cv2.circle(page, (75, 280), 35, (200, 170, 120), -1)  # a coffee ring, bottom left
    cv2.circle(page, (75, 280), 27, (232, 230, 228), -1)
    return page


def _plain_shapes() -> np.ndarray:
    page = np.full((350, 500, 3), 240, np.uint8)
    cv2.rectangle(page, (30, 30), (200, 150), (40, 90, 160), -1)  # a coloured panel top left
    cv2.circle(page, (380, 240), 60, (170, 60, 60), -1)
    return page


def _on_desk(page: np.ndarray) -> np.ndarray:
    h, w = page.shape[:2]
    photo = np.full((h + 150, w + 200, 3), (70, 60, 50), np.uint8)
    photo[75 : 75 + h, 100 : 100 + w] = page
    return photo


def _turn_cw(image: np.ndarray, k: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(image, -k))


def _turn_that_matches(out: np.ndarray, given: np.ndarray) -> int:
    """The counter-clockwise quarter turns of ``out`` that best match ``given`` (correlation of
    the grey pixels, ``out`` resized to ``given``): 0 when the output is the page as given."""
    ref = cv2.cvtColor(given, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32)
    scores = []
    for r in range(4):
        cand = cv2.resize(np.ascontiguousarray(np.rot90(grey, r)), ref.shape[::-1])
        scores.append(float(np.corrcoef(cand.ravel(), ref.ravel())[0, 1]))
    return int(np.argmax(scores))


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_a_cue_less_full_frame_picture_comes_back_as_given(k: int) -> None:
    given = _turn_cw(_soft_picture(), k)
    out = crop_and_orient(given)
    assert out.shape == given.shape
    assert np.array_equal(out, given)


@pytest.mark.parametrize("make", [_blank_page_with_stain, _plain_shapes], ids=["stained-blank", "shapes"])
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_a_cue_less_page_is_cut_out_as_the_photo_holds_it(make, k: int) -> None:
    page = make()
    out = crop_and_orient(_turn_cw(_on_desk(page), k))
    assert _turn_that_matches(out, _turn_cw(page, k)) == 0


def test_orientation_says_when_no_cue_decided() -> None:
    blank = np.full((600, 450), 240, np.uint8)
    assert estimate_orientation(blank).cue == "none"
    assert estimate_orientation(blank, use_model=False).cue == "none"
    page, _ = render_page(np.random.default_rng(5), 600, 800)
    grey = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY)
    assert estimate_orientation(grey).cue == "turn"


def _dashes_page() -> np.ndarray:
    """Lines of plain bars, every line from the same left margin to the same right one: lines
    with a direction and nothing above or below the x-height, nor a ragged edge, to tell up."""
    page = np.full((800, 600), 238, np.uint8)
    rng = np.random.default_rng(3)
    for y in range(60, 740, 30):
        x = 50
        while x < 540:
            end = min(x + int(rng.integers(20, 80)), 550)
            cv2.rectangle(page, (x, y), (end, y + 10), 40, -1)
            x = end + int(rng.integers(10, 16))
    return page


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_the_classical_cues_read_only_the_axis_of_lines_without_up_or_down(k: int) -> None:
    # The bars' evidence is a few hundredths either way (pixels shared with the levelling's 0.25
    # degree steps); what is tested is the label under the threshold, set above that noise.
    found = estimate_orientation(_turn_cw(_dashes_page(), k), use_model=False, min_evidence=0.2)
    assert found.cue == "axis"
    assert found.rotation % 180 == 90 * (k % 2)


def test_what_no_cue_decided_is_kept_as_taken() -> None:
    assert [kept_as_taken(r, "turn") for r in (0, 90, 180, 270)] == [0, 90, 180, 270]
    # Only the axis read: the turn along it that is no half turn from the photo as taken.
    assert [kept_as_taken(r, "axis") for r in (0, 90, 180, 270)] == [0, 90, 0, 90]
    assert [kept_as_taken(r, "none") for r in (0, 90, 180, 270)] == [0, 0, 0, 0]


def test_without_lines_a_sure_upright_is_a_cue_and_a_lean_is_none() -> None:
    # "As it is" in the pose the page is read in need not be the photo's own: a 0 the classifier
    # is sure of is a reading (the same page at every turn), a lean towards 0 is no reading. A
    # blank page: its tiles hold no strokes and cast no votes.
    blank = np.full((400, 300), 240, np.uint8)
    empty = np.zeros_like(blank)
    sure = np.log([0.94, 0.02, 0.02, 0.02])
    lean = np.log([0.40, 0.30, 0.20, 0.10])
    assert _sure_without_lines(blank, empty, empty, sure) == 0
    assert _sure_without_lines(blank, empty, empty, lean) is None


@pytest.mark.parametrize("shape", [(1, 300), (300, 1), (1, 1)])
def test_a_page_under_two_pixels_across_has_no_cue(shape: tuple[int, int]) -> None:
    strip = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    found = estimate_orientation(strip)
    assert (found.rotation, found.cue) == (0, "none")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(600, 8), (8, 600)])
@pytest.mark.parametrize("operation", [crop_and_orient, crop_orient_enhance], ids=["type0", "type2"])
def test_a_thin_noise_strip_keeps_every_side_at_the_contract_minimum(seed, shape, operation) -> None:
    strip = np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)
    out = operation(strip)
    assert min(out.shape[:2]) >= MIN_DIMENSION, out.shape
