"""Placement on committed real photos (issue 9): crop containment and straightening, against
the hand-corrected truth in datasets/real-products. The full measure is bench/real_products.py;
these are regression checks on photos whose failure had a known, general cause.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.product import apply_placement, locate_product
from correction_engine.imaging.product_orientation import straightened
from tests.engine.test_real_products import load


def held(truth: np.ndarray, placement) -> float:
    placed = apply_placement(truth.astype(np.uint8) * 255, placement)
    return np.count_nonzero(placed >= 128) / max(1, np.count_nonzero(truth))


# The mask misses part of the product where u2netp still sees it, less surely: a carton's
# lower half against a shelf of the same colours, a bulb's thin pins, a board's cable.
@pytest.mark.parametrize("name", ["pa-food-12", "pe-electronics-abo-bulb-01", "pc-electronics-02"])
def test_crop_holds_a_product_the_mask_cut_short(name):
    image, truth, _ = load(name)
    assert held(truth, locate_product(image)) >= 0.99


# The mask and the model's whole-frame map both stop short of a part of the product (a
# carton's cap held tilted in a shop, a chair's top rail against a white wall); the model,
# run again on the product's neighbourhood, sees the product continue there.
@pytest.mark.parametrize("name", ["pa-food-11", "pc-furniture-04"])
def test_crop_holds_what_a_closer_look_finds(name):
    image, truth, _ = load(name)
    assert held(truth, locate_product(image)) >= 0.99


# A carton held up in a hand in a shop: the model's mask stops a few pixels short of its far
# end (a white gable against a white shelf label, a corner running off the frame past the
# fingers), and no look of the model sees it. A held product gets a wider margin. Before the
# fix: 0.984 and 0.987 held.
@pytest.mark.parametrize("name", ["pi-food-arlamilk-01", "pa-food-10"])
def test_the_crop_of_a_product_held_in_a_hand_has_room_around_it(name):
    image, truth, _ = load(name)
    assert held(truth, locate_product(image)) >= 0.99


# A row of four wine bottles: the model sees the dark one at the row's end only faintly (its
# label, probability 0.2-0.5), apart from the mask; within a group that is the next member,
# framed like the rest (imaging/group_members.py). Before the fix: 0.755 held.
def test_the_crop_holds_a_group_member_the_model_sees_faintly():
    image, truth, _ = load("pk-bottle-wine-group-01")
    assert held(truth, locate_product(image)) >= 0.99


def tilted_camera(image: np.ndarray, cw_deg: float) -> np.ndarray:
    """``image`` as a camera turned by ``cw_deg`` would have framed it: turned, then cut to the
    largest upright rectangle of the same shape inside (no invented corners)."""
    h, w = image.shape[:2]
    turned = straightened(image, cw_deg)
    t = np.radians(abs(cw_deg))
    f = 1.0 / (np.cos(t) + np.sin(t) * max(w / h, h / w)) * 0.98
    ch, cw = int(h * f), int(w * f)
    th, tw = turned.shape[:2]
    return np.ascontiguousarray(turned[(th - ch) // 2 : (th + ch) // 2, (tw - cw) // 2 : (tw + cw) // 2])


def small_copy(image: np.ndarray, long_side: int = 800) -> np.ndarray:
    h, w = image.shape[:2]
    f = long_side / max(h, w)
    return cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA) if f < 1 else image


# A level bottle turned by a small angle comes back level. Two ways of tilting a level
# photo: as a camera turned by hand would frame it, and as the bench does (corners filled by
# replicating the border). (pa-bottle-01, used here before, leans -1.8 degrees in its photo:
# its truth was corrected in session 8, so it is no longer a level photo.)
@pytest.mark.parametrize("name,cw_deg", [("pa-bottle-03", 3.0), ("pa-bottle-03", -3.0)])
def test_a_level_bottle_photographed_tilted_comes_back_level(name, cw_deg):
    image, _, meta = load(name)
    assert abs(meta["tilt_deg"]) <= 1.0
    placement = locate_product(tilted_camera(small_copy(image), cw_deg))
    assert abs(placement.tilt_cw - (meta["tilt_deg"] + cw_deg)) <= 1.5, placement.evidence


@pytest.mark.parametrize("name,cw_deg", [("pa-bottle-02", -8.0), ("pa-bottle-01", 30.0)])
def test_a_level_bottle_turned_on_a_grown_canvas_comes_back_level(name, cw_deg):
    image, _, meta = load(name)
    turned = straightened(small_copy(image), cw_deg, border=cv2.BORDER_REPLICATE)
    placement = locate_product(turned)
    assert abs(placement.tilt_cw - (meta["tilt_deg"] + cw_deg)) <= 1.5, placement.evidence


# A carton held tilted in a hand: the hand breaks its outline (no rectangle, no quadrilateral,
# no symmetry), but two long sides stay straight.
@pytest.mark.parametrize("name", ["pa-food-10"])
def test_a_carton_held_tilted_comes_out_level(name):
    image, _, meta = load(name)
    placement = locate_product(image)
    assert abs(placement.tilt_cw - meta["tilt_deg"]) <= 1.5, placement.evidence


# A tub whose label breaks its outline, on a textured wall: its outline's cues are too weak
# alone, and the wall's gradients, agreeing with them, straighten it.
@pytest.mark.parametrize("name,cw_deg", [("pe-food-tub-01", 8.0), ("pe-food-tub-01", -8.0)])
def test_a_weak_outline_cue_the_scene_confirms_straightens(name, cw_deg):
    image, _, meta = load(name)
    turned = straightened(small_copy(image), cw_deg, border=cv2.BORDER_REPLICATE)
    placement = locate_product(turned)
    assert abs(placement.tilt_cw - (meta["tilt_deg"] + cw_deg)) <= 1.5, placement.evidence


# A tapered, mirror-symmetric product (a bulb: a wide lens narrowing to a neck and two pins)
# simplifies to a quadrilateral whose one near-parallel pair is the lens rim and the line
# across the pins' tips: a short, ill-defined base that pulls the tilt 2-3 degrees off. Its
# symmetry axis, measured over the whole outline, is the product's upright.
@pytest.mark.parametrize("name,cw_deg", [("pe-electronics-abo-bulb-01", -30.0)])
def test_a_tapered_symmetric_product_straightens_by_its_axis(name, cw_deg):
    image, _, meta = load(name)
    turned = straightened(small_copy(image), cw_deg, border=cv2.BORDER_REPLICATE)
    placement = locate_product(turned)
    assert abs(placement.tilt_cw - (meta["tilt_deg"] + cw_deg)) <= 1.5, placement.evidence
