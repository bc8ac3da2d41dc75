"""What page_tint.SHADOW_SPAN is for (hostile review, issue 8, finding 5): a surface a few chroma
units off the paper's must not join the page's region of the paper's chroma.

With the surface all of one colour, Otsu's split of the closeness map falls between paper and
surface at any span (the split follows the scale), so test_page_shadow's scenes pass with the span
at 16 or 40. A real table is not of one colour: out of the light, wood is warmer. With a wide span
the surface's two tones sit far apart on the closeness scale while the lit wood lies near the
paper, and the split falls between the two woods: the lit wood joined the note (an outline twice
its area) and the note's own outline was not offered. A narrow span maps both woods near 0."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.geometry import quad_area, quad_iou
from correction_engine.imaging.page_detection import MIN_AREA_FRACTION
from correction_engine.imaging.page_tint import shadowed_page_quads

from .test_page_shadow import NOTE_LAB, _note_in_shadow

# The half of the table out of the light: 14 chroma units off the note (Lab a, b), as warm wood.
SHADED_WOOD_AB = (NOTE_LAB[1] + 14 * 0.6, NOTE_LAB[2] + 14 * 0.8)
# Pen ink is far darker than the note, lit or shadowed (L 60 against 186-246).
INK_BELOW_L = 100


def _note_on_two_tone_wood(off: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(RGB photo, the note's corners, its ink, the lit part of the note) for the shadowed note
    on wood ``off`` chroma units from the note's, the right half of the wood warmer still."""
    wood = (222.0, NOTE_LAB[1] + 0.6 * off, NOTE_LAB[2] + 0.8 * off)
    image, corners = _note_in_shadow(np.random.default_rng(5), wood=wood)
    h, w = image.shape[:2]
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    note = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(note, corners.astype(np.int32), 1)
    shaded = (note == 0) & (np.arange(w)[None, :] >= w // 2)
    lab[shaded, 1:] = np.round(SHADED_WOOD_AB).astype(np.uint8)
    ink = cv2.dilate(np.where(lab[..., 0] < INK_BELOW_L, 255, 0).astype(np.uint8), np.ones((5, 5), np.uint8))
    ink[note == 0] = 0

    # The lit part of the note, down to the shadow's edge (y = 0.35 x + 250 in _note_in_shadow).
    def edge_y(x: float) -> float:
        return 0.35 * x + 250

    lit = np.array([corners[0], corners[1], [876.0, edge_y(876.0)], [326.0, edge_y(326.0)]])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), corners, ink, lit


@pytest.mark.parametrize("off", [5.0, 6.0, 7.0])
def test_wood_a_few_chroma_units_off_the_paper_stays_out_of_the_page(off):
    image, corners, ink, lit = _note_on_two_tone_wood(off)
    min_area = MIN_AREA_FRACTION * image.shape[0] * image.shape[1]
    quads = shadowed_page_quads(image, ink, lit, min_area)
    # The whole note is offered, and nothing reaching out over the wood.
    assert any(quad_iou(q, corners) >= 0.95 for q in quads), [quad_iou(q, corners) for q in quads]
    assert all(quad_area(q) <= 1.1 * quad_area(corners) for q in quads), [
        quad_area(q) / quad_area(corners) for q in quads
    ]
