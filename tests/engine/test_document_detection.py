"""Page detection and type 0 on synthetic photos whose corners and rotation are known exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.real_sets import turn_cw, turn_points_cw
from correction_engine.imaging.document import crop_and_orient, enhance_text, locate_page
from correction_engine.imaging.geometry import order_quad, quad_iou
from correction_engine.imaging.page_border import border_variants
from correction_engine.imaging.page_detection import canonical_turns, find_page_quad
from correction_engine.imaging.page_proposals import (
    propose_by_brightness,
    propose_by_edges,
    propose_by_lines,
    text_free_gray,
)
from correction_engine.imaging.page_regions import border_sides, fit_quad_to_outline
from correction_engine.imaging.page_scoring import edge_contrast
from correction_engine.synth.documents import BACKGROUNDS, make_page_photo

N_PAGES = 32


@pytest.fixture(scope="module")
def photos():
    # Every background, every rotation, tilts up to ±10°, half of them shadowed.
    return [
        make_page_photo(2000 + i, background=BACKGROUNDS[i % 4], rotation=90 * ((i // 4) % 4))
        for i in range(N_PAGES)
    ]


@pytest.fixture(scope="module")
def located(photos):
    return [locate_page(p.image) for p in photos]


def test_corner_jaccard_index_on_a_synthetic_set(photos, located):
    ious = np.array([quad_iou(quad, p.corners) for (quad, _, _), p in zip(located, photos)])
    assert ious.mean() >= 0.98, ious
    assert ious.min() >= 0.90, ious


def test_orientation_after_rectification_on_the_synthetic_set(photos, located):
    correct = [o.rotation == p.rotation for (_, _, o), p in zip(located, photos)]
    assert np.mean(correct) >= 0.99, [p.rotation for p in photos]


@pytest.mark.parametrize(
    "propose",
    [
        lambda g, w, a: propose_by_edges(g, a),
        lambda g, w, a: propose_by_brightness(g, a),
        lambda g, w, a: propose_by_brightness(w, a),
        lambda g, w, a: propose_by_lines(g, a),
    ],
    ids=["edges", "brightness", "whiteness", "hough-lines"],
)
def test_each_detector_finds_a_page_on_a_plain_background(propose):
    photo = make_page_photo(11, background="plain", shadow=False)
    gray, white, scale = text_free_gray(photo.image, 640)
    quads = propose(gray, white, 0.12 * gray.size)
    assert quads, "no proposal"
    assert max(quad_iou(q / scale, photo.corners) for q in quads) > 0.9


def test_type0_output_matches_the_clean_page(photos):
    for photo in photos[:8]:
        out = crop_and_orient(photo.image)
        h, w = photo.page.shape[:2]
        assert out.shape[1] / out.shape[0] == pytest.approx(w / h, rel=0.03)
        # Shadows are type 1's business: flatten them so the comparison sees the text.
        a = cv2.cvtColor(
            cv2.resize(enhance_text(out), (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY
        )
        b = cv2.cvtColor(photo.page, cv2.COLOR_RGB2GRAY)
        a = cv2.GaussianBlur(a.astype(float), (0, 0), 2)
        b = cv2.GaussianBlur(b.astype(float), (0, 0), 2)
        upright = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        flipped = np.corrcoef(a[::-1, ::-1].ravel(), b.ravel())[0, 1]
        assert upright > 0.6 and upright > flipped + 0.3, (upright, flipped)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_a_page_filling_the_frame_is_not_cropped(rotation):
    photo = make_page_photo(40 + rotation, full_frame=True, rotation=rotation, shadow=False)
    assert find_page_quad(photo.image) is None
    out = crop_and_orient(photo.image)
    h, w = photo.image.shape[:2]
    assert out.shape[:2] == ((h, w) if rotation in (0, 180) else (w, h))
    # Turned upright, the frame is the clean page.
    a = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(float)
    b = cv2.cvtColor(cv2.resize(photo.page, (out.shape[1], out.shape[0])), cv2.COLOR_RGB2GRAY).astype(float)
    assert (
        np.corrcoef(cv2.GaussianBlur(a, (0, 0), 2).ravel(), cv2.GaussianBlur(b, (0, 0), 2).ravel())[0, 1]
        > 0.7
    )


def test_a_small_bright_card_is_not_taken_for_the_page():
    # A card covering 4 % of a dark frame is too small to be the page being photographed.
    img = np.full((900, 1200, 3), 60, np.uint8)
    cv2.rectangle(img, (500, 400), (700, 620), (240, 240, 240), -1)
    assert find_page_quad(img) is None
    out = crop_and_orient(img)
    assert out.shape == img.shape


def test_degenerate_inputs_do_not_fail():
    for img in (np.zeros((5, 7, 3), np.uint8), np.full((300, 200, 3), 255, np.uint8)):
        out = crop_and_orient(img)
        assert out.ndim == 3 and out.dtype == np.uint8


@pytest.mark.parametrize("seed", [3, 26, 38])
def test_a_hard_shadow_across_the_page_does_not_cut_the_page(seed):
    # The lit part of a shadowed page is an outline nested in the page's; the text running on
    # through the shadow says it is the same sheet (a receipt's backing card holds almost none).
    page = make_page_photo(seed, size=(900, 700), rotation=0, tilt_range_deg=3.0)
    _, quad, _ = locate_page(page.image)
    assert quad is not None
    assert quad_iou(quad.quad, page.corners) >= 0.95


def _outline_and_simplified(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outline = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(outline)
    approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
    return outline, order_quad(approx.reshape(-1, 2))


def test_sides_fitted_through_a_rounded_outline_meet_at_the_true_corners():
    # A card with corners rounded by a 30 px radius, turned 8 degrees: four points of its
    # outline are off the sides' crossing points; lines through the sides are not.
    corners = cv2.boxPoints(((320.0, 240.0), (400.0, 250.0), 8.0))
    mask = np.zeros((480, 640), np.uint8)
    cv2.fillConvexPoly(mask, np.round(corners).astype(np.int32), 255)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (61, 61)))
    outline, simplified = _outline_and_simplified(mask)
    fitted = fit_quad_to_outline(outline, simplified, mask.shape)
    truth = order_quad(corners)
    assert fitted is not None
    assert np.linalg.norm(fitted - truth, axis=1).max() < 2.0, fitted - truth
    assert quad_iou(fitted, truth) > quad_iou(simplified, truth)


def test_a_side_cut_by_the_frame_is_fitted_onto_the_border():
    # A receipt against the frame's top-right corner: its top and right sides are the frame.
    mask = np.zeros((480, 360), np.uint8)
    cv2.fillConvexPoly(mask, np.array([[200, 0], [360, 0], [360, 300], [204, 300]], np.int32), 255)
    outline, simplified = _outline_and_simplified(mask)
    fitted = fit_quad_to_outline(outline, simplified, mask.shape)
    assert fitted is not None
    assert border_sides(fitted, mask.shape) == 2
    assert quad_iou(fitted, np.array([[200, 0], [360, 0], [360, 300], [204, 300]], float)) > 0.98


def _receipt_on_white_card(
    tilt_deg: float,
    receipt_rgb: tuple[int, int, int] = (234, 233, 229),
    card_rgb: tuple[int, int, int] = (231, 232, 236),
) -> tuple[np.ndarray, np.ndarray]:
    """A narrow white receipt with text on a white card a few levels bluer, the card on a
    darker lid: the receipt's sides step by 2-4 levels, the card's by 60. (photo, corners)"""
    rng = np.random.default_rng(7)
    h, w = 1000, 740
    img = np.empty((h, w, 3), np.float32)
    img[:] = (170, 170, 175)  # the scanner lid around the card
    img[20 : h - 20, 20 : w - 20] = card_rgb  # the card (by default white, a little blue)
    centre, size = (w * 0.45, h * 0.5), (260.0, 860.0)
    corners = cv2.boxPoints((centre, size, tilt_deg))
    receipt = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(receipt, np.round(corners).astype(np.int32), 1)
    img[receipt > 0] = receipt_rgb  # the receipt (by default as bright, a little warmer)
    # Text lines within the receipt's margins, along its tilt.
    m = cv2.getRotationMatrix2D(centre, -tilt_deg, 1.0)
    for y in range(int(centre[1] - 380), int(centre[1] + 380), 22):
        x0 = centre[0] - 100 + rng.integers(0, 30)
        x1 = centre[0] + 100 - rng.integers(0, 60)
        for x in np.arange(x0, x1, 11.0):
            p = m @ np.array([x, y, 1.0])
            cv2.rectangle(img, (int(p[0]), int(p[1])), (int(p[0]) + 7, int(p[1]) + 9), (40, 40, 40), -1)
    img += rng.normal(0, 1.5, img.shape).astype(np.float32)
    photo = np.clip(img, 0, 255).astype(np.uint8)
    return photo, order_quad(corners.astype(np.float64))


@pytest.mark.parametrize("tilt", [0.0, 2.0])
def test_a_white_receipt_on_a_white_card_is_found_not_the_card(tilt):
    # No side of the receipt steps by the scorer's contrast; the card's strong outline, around
    # it, scored best and was taken (IoU about 0.3). Its sides step faintly but all along.
    photo, corners = _receipt_on_white_card(tilt)
    quad, found, _ = locate_page(photo)
    assert found is not None
    assert quad_iou(quad, corners) >= 0.95, quad_iou(quad, corners)


def _page_against_left_border(edge: int, shade_to: float | None = None) -> np.ndarray:
    """A bright page (200) on a dark desk (60) in a 480 x 640 working-size grey, its left side
    at x = ``edge`` (0: the page runs past the frame), with the grain of a photo. With
    ``shade_to``, the paper darkens smoothly towards the left border to that level over its
    first 40 px (a curl, a scanner's rim): no 6-px step there reaches the scorer's contrast."""
    rng = np.random.default_rng(edge)
    img = np.full((480, 640), 60.0)
    img[60:420, edge:500] = 200.0
    if shade_to is not None:
        ramp = shade_to + (200.0 - shade_to) * np.clip(np.arange(640) / 40.0, 0.0, 1.0)
        img[60:420, :] = np.minimum(img[60:420, :], ramp[None, :])
    img += rng.normal(0.0, 1.5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("edge", [4, 12])
def test_a_page_edge_just_inside_the_border_stays_where_it_is(edge):
    # The page's own left edge lies a few px inside the frame: its outline along that edge is
    # right, and the step between it and the border must keep it from being offered on the border.
    gray = _page_against_left_border(edge)
    quad = np.array([[edge, 60], [500, 60], [500, 420], [edge, 420]], float)
    assert border_variants(gray, quad, edge_contrast(gray)) == []


def test_a_page_reaching_the_border_has_its_side_moved_onto_it():
    # The paper runs past the left border, shaded there, and its region stopped 8 px short of
    # the border across plain paper: the outline with that side on the border is offered.
    gray = _page_against_left_border(0, shade_to=170.0)
    quad = np.array([[8, 60], [500, 60], [500, 420], [8, 420]], float)
    variants = border_variants(gray, quad, edge_contrast(gray))
    assert len(variants) == 1
    np.testing.assert_allclose(variants[0], [[0, 60], [500, 60], [500, 420], [0, 420]], atol=0.5)


def test_a_side_straddling_the_border_is_not_moved_without_looking():
    # A side crossing the border (ends 4 px either side of it, as the 1 % clamp can leave one)
    # has no inside to look towards: it must not be moved, even less across the page's own edge
    # 6 px inside the border.
    gray = _page_against_left_border(6)
    quad = np.array([[4, 60], [500, 60], [500, 420], [-4, 420]], float)
    assert border_variants(gray, quad, edge_contrast(gray)) == []


def test_every_turn_of_a_picture_reaches_the_same_pose():
    rng = np.random.default_rng(1)
    for _ in range(100):
        gray = rng.integers(0, 256, (int(rng.integers(3, 40)), int(rng.integers(3, 40))), dtype=np.uint8)
        # Turned by k and then by its own canonical turns: the same total turn for every k.
        totals = {(k + canonical_turns(turn_cw(gray, k))) % 4 for k in range(4)}
        assert len(totals) == 1, totals


@pytest.mark.parametrize("seed", [2003, 2010, 2021])
def test_a_turned_photo_gives_the_turned_page_exactly(seed):
    # OpenCV breaks ties one way (Canny's non-maximum suppression, the Hough accumulator's bins
    # and peaks, contours starting at the raster scan's first pixel), so the proposals on a
    # turned photo were not the turned proposals; the search now runs in one pose per photo.
    image = make_page_photo(seed, background=BACKGROUNDS[seed % 4]).image
    found = find_page_quad(image)
    assert found is not None
    for k in (1, 2, 3):
        turned = find_page_quad(turn_cw(image, k))
        assert turned is not None
        # The engine puts a pixel's centre at its index, turn_points_cw its corner: half apart.
        expected = order_quad(turn_points_cw(found.quad + 0.5, image.shape[:2], k) - 0.5)
        assert np.abs(turned.quad - expected).max() <= 0.01, (k, turned.quad, expected)
