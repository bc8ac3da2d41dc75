"""A page partly under a hard cast shadow (page_tint.shadowed_page_quads): the lit part is an
outline of brightness steps of its own, the shadow's edge one of its sides, and it won; text
running on across that side shows the page goes on, and the paper's chroma, which the shadow
leaves as it is, outlines the whole sheet."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.real_sets import turn_cw, turn_points_cw
from correction_engine.imaging.document import locate_page
from correction_engine.imaging.geometry import order_quad, quad_area, quad_iou

from .real_document_photos import turned_document

# A pale yellow note on pale wood: close in lightness, some 10 units apart in chroma (Lab).
NOTE_LAB = (246.0, 126.0, 142.0)
WOOD_LAB = (222.0, 133.0, 150.0)
# The shadow takes this much lightness (8-bit Lab) and no chroma: what a hand's shadow does to a
# sheet under diffuse room light (the real note: L 201 -> 158, chroma 2.8 units).
SHADOW_DROP = 60.0


def _note_in_shadow(
    rng: np.random.Generator, wood: tuple[float, float, float] = WOOD_LAB
) -> tuple[np.ndarray, np.ndarray]:
    """(RGB photo, corners) of a note on wood (``wood``, Lab), text lines all down it, a
    straight-edged shadow across its lower half running on over the wood."""
    h, w = 900, 1200
    lab = np.empty((h, w, 3), np.float32)
    lab[:] = wood
    for y in range(3, h, 19):  # grain: darker streaks along the wood
        lab[y : y + 3, :, 0] -= rng.uniform(6, 16)
    corners = np.array([[330.0, 150.0], [880.0, 165.0], [870.0, 720.0], [320.0, 705.0]])
    sheet = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(sheet, corners.astype(np.int32), 1)
    lab[sheet > 0] = NOTE_LAB
    ink = np.zeros((h, w), np.uint8)
    words = ["shopping list", "milk and bread", "eggs, butter", "apples", "rice and tea", "soap"]
    for i, y in enumerate(range(250, 680, 75)):  # pen-written lines all down the note
        cv2.putText(ink, words[i % len(words)], (380, y), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 1, 3)
    lab[ink > 0] = (60.0, 128.0, 120.0)
    yy, xx = np.mgrid[0:h, 0:w]
    shadow = yy > 0.35 * xx + 250  # a straight edge, diagonal across the note and the wood
    lab[..., 0] = np.where(shadow, lab[..., 0] - SHADOW_DROP, lab[..., 0])
    lab += rng.normal(0, 1.5, lab.shape).astype(np.float32)
    rgb = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    return rgb, corners


@pytest.mark.parametrize("k", [0, 1])
def test_a_note_half_in_a_hard_shadow_is_found_whole(k):
    image, corners = _note_in_shadow(np.random.default_rng(5))
    truth = turn_points_cw(corners, image.shape[:2], k)
    quad, found, _ = locate_page(turn_cw(image, k))
    assert found is not None
    assert quad_iou(order_quad(quad), order_quad(truth)) >= 0.9, (found.detector, quad_iou(quad, truth))


def test_a_table_of_the_papers_own_colour_is_not_taken_for_the_page():
    # The paper's chroma then runs out over the table, shadow and all: that region holds the
    # note but is not the page, and the lit part found on brightness steps stays (as before).
    image, corners = _note_in_shadow(np.random.default_rng(5), wood=(222.0, NOTE_LAB[1], NOTE_LAB[2]))
    quad, found, _ = locate_page(image)
    assert found is not None
    assert quad_area(quad) <= 1.05 * quad_area(corners), found.detector


@pytest.mark.parametrize("k", [0, 1])
def test_the_real_note_under_a_hands_shadow_is_found_whole(k):
    # A yellow sticky note on pale wood, a hand's hard shadow across it: the lit part won and
    # the shadow's edge was its bottom side (IoU 0.33); "Bread" and "Eggs" run on below it.
    image, truth = turned_document("note-mslearn-shopping-list-wood", k)
    quad, found, _ = locate_page(image)
    assert found is not None
    assert quad_iou(quad, truth) >= 0.95, (found.detector, quad_iou(quad, truth))
