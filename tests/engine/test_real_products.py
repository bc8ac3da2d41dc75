"""The product path on a handful of the committed real photos, against their hand-corrected truth.

These are regression checks on real pictures (the full measure is bench/real_products.py):
mask IoU of the type-4 matte, the type-3 crop holding the whole product, no tilt and no
quarter turn invented on a level, upright photo, and a level photo turned by hand coming
back level.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.real_sets import PRODUCTS, load_product, turn_cw
from correction_engine.imaging.product import apply_placement, locate_product, plan_product
from correction_engine.imaging.product_orientation import straightened

DATA = PRODUCTS

# (photo, least mask IoU): photos of different kinds - a cup on a table, a toy in a room, a
# car outdoors, food on a plain backdrop, a bottle on a shelf.
PHOTOS = [
    ("pb-cup-01", 0.95),
    ("pb-toy-02", 0.95),
    ("pb-vehicle-03", 0.95),
    ("pb-food-05", 0.95),
    ("pa-bottle-03", 0.93),
]


def load(name: str):
    stem = DATA / name
    if not stem.with_suffix(".jpg").exists():
        pytest.skip(f"{name} is not in datasets/real-products")
    image, mask, meta = load_product(stem)
    return image, mask >= 128, meta


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a & b) / max(1, np.count_nonzero(a | b)))


@pytest.mark.parametrize("name,least_iou", PHOTOS)
def test_real_photo_mask_crop_tilt_and_turn(name, least_iou):
    image, truth, meta = load(name)
    plan = plan_product(image)
    alpha = plan.full_frame_alpha(image)
    assert iou(alpha >= 128, truth) >= least_iou
    # The type-3 crop holds the whole product.
    placed = apply_placement(truth.astype(np.uint8) * 255, plan.placement)
    assert np.count_nonzero(placed >= 128) >= 0.99 * np.count_nonzero(truth)
    # Level photos stay level; no quarter turn but the right one.
    if meta.get("tilt_deg") is None or abs(meta["tilt_deg"]) <= 1.0:
        assert abs(plan.placement.tilt_cw) <= 1.0
    assert plan.placement.turn_cw in (0, meta.get("upright_turn", 0))


# Was a strict record of a gap: the bottle came back off by about 2 degrees. The engine was
# right and the truth's sign wrong (the photo's own cap and base centres lean the top right,
# +0.9, recorded as -1.0 until 2026-11-30).
@pytest.mark.parametrize("theta", [-20.0, 12.0])
def test_a_level_bottle_turned_by_hand_comes_back_level(theta):
    image, _, meta = load("pa-bottle-03")
    placement = locate_product(straightened(image, theta, border=cv2.BORDER_REPLICATE))
    assert abs((meta["tilt_deg"] + theta) - placement.tilt_cw) <= 1.5


# A bottle in a room whose outline says nothing about its tilt, but whose scene (shelves,
# a door frame) is full of level and plumb lines: turned by hand, the scene brings it back.
@pytest.mark.parametrize("theta", [-25.0, 8.0, 15.0])
def test_a_level_photo_turned_by_hand_comes_back_level_by_its_scene_lines(theta):
    image, _, meta = load("pa-bottle-04")
    placement = locate_product(straightened(image, theta, border=cv2.BORDER_REPLICATE))
    assert abs((meta["tilt_deg"] + theta) - placement.tilt_cw) <= 1.5


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_a_turned_photo_is_never_turned_the_wrong_way(turn):
    image, _, meta = load("pb-cup-01")
    placement = locate_product(turn_cw(image, turn // 90))
    assert placement.turn_cw in (0, (meta.get("upright_turn", 0) - turn) % 360)


# A product whose base is clear (a skirt hanging from its hanger: the hem is the wide end, the
# waistband the narrow one) should be turned back upright from any quarter turn by the base
# cue. It is not today (known gaps, strict so that a fix shows). Upside down: the opening that
# keeps thin parts (cables, hooks) from reading as a narrow top also removes the hanger, so the
# two ends no longer differ enough. A quarter turn either way: the cue passed only while
# straightening read the hem's four corners as a box tilted by about 3 degrees; since a box
# needs straight sides the skirt stays level, and level, one corner of its hem touches one side
# of its box (contact 0.31 against 0.84), beyond the cue's 0.2 side-symmetry limit.
# (pb-electronics-04, a chassis seen from above with no upright, must not be turned:
# tests/engine/test_product_orientation_real.py.)
_LEVEL_HEM_TOUCHES_ONE_SIDE = pytest.mark.xfail(
    strict=True, reason="level, the hem's corner touches one side: the side-symmetry test refuses the base"
)


@pytest.mark.parametrize("name", ["pc-clothing-06"])
@pytest.mark.parametrize(
    "turn",
    [
        pytest.param(90, marks=_LEVEL_HEM_TOUCHES_ONE_SIDE),
        pytest.param(
            180,
            marks=pytest.mark.xfail(
                strict=True, reason="the thin-part opening removes the hanger, the base cue's narrow end"
            ),
        ),
        pytest.param(270, marks=_LEVEL_HEM_TOUCHES_ONE_SIDE),
    ],
)
def test_a_turned_photo_with_a_clear_base_comes_back_upright(name, turn):
    image, _, meta = load(name)
    placement = locate_product(turn_cw(image, turn // 90))
    assert placement.turn_cw == (meta.get("upright_turn", 0) - turn) % 360


# Regressions (issue 9) on grey duffel bags on grey studio backdrops. 01: the border palette
# explains the whole bag away and leaves a speck, while u2netp alone is sure of the bag (IoU
# 0.99) - a speck must never pass for the product's answer against a sure model object
# (engine: 0.00). 02: the backdrop seen between the handles, which u2netp calls background,
# must not be filled in as bag (engine: 0.90).
@pytest.mark.parametrize("name", ["pd-bag-abo-duffel-01", "pd-bag-abo-duffel-02"])
def test_a_bag_on_a_backdrop_of_its_colour_keeps_its_body_and_its_handle_hole(name):
    image, truth, _ = load(name)
    plan = plan_product(image)
    assert iou(plan.full_frame_alpha(image) >= 128, truth) >= 0.97


# Regressions (issue 9): a cast shadow, and the backdrop seen through a loop, kept as product on
# a smooth backdrop (scissors on paper: the shadow runs along the blades, the handles' loops
# show the paper). Where the colour says "the backdrop, dimmed" and u2netp says "not object",
# the region is backdrop; a dark product part is dimmed backdrop colour too, but u2netp calls
# it object. Before the fix: 0.50 and 0.49 (u2netp alone 0.70 and 0.77).
@pytest.mark.parametrize("name,least_iou", [("pb-tool-01", 0.66), ("pb-tool-02", 0.70)])
def test_a_cast_shadow_on_a_smooth_backdrop_is_not_product(name, least_iou):
    image, truth, _ = load(name)
    plan = plan_product(image)
    assert iou(plan.full_frame_alpha(image) >= 128, truth) >= least_iou


# Regressions (issue 9): the border model's outline cuts through the product where the
# backdrop's palette explains part of it, while u2netp's outline follows a real edge; decided
# per region by the image's edges along each candidate outline. Before the fix: 0.930 (a
# carton by a dark wall) and 0.934 (a boxed board).
@pytest.mark.parametrize("name,least_iou", [("pb-food-04", 0.96), ("pb-electronics-04", 0.96)])
def test_where_the_two_models_disagree_the_outline_on_an_edge_wins(name, least_iou):
    image, truth, _ = load(name)
    plan = plan_product(image)
    assert iou(plan.full_frame_alpha(image) >= 128, truth) >= least_iou


# Regressions (issue 9): the sub-pixel coverage re-judged the outline by colour alone, handing
# back to the backdrop the band of a product part that only the learned model had found (a
# white tub by a white cloth, boots on a backdrop of their tone). Before the fix: 0.893 and
# 0.948 (the mask itself 0.926 and 0.98).
@pytest.mark.parametrize("name,least_iou", [("pe-food-tub-01", 0.91), ("pe-shoe-boots-02", 0.97)])
def test_the_matte_keeps_what_the_learned_model_added(name, least_iou):
    image, truth, _ = load(name)
    plan = plan_product(image)
    assert iou(plan.full_frame_alpha(image) >= 128, truth) >= least_iou


# Guard (review, issue 9): a hand holding the product must stay out of the cut-out when the
# photo is re-encoded. At JPEG quality 70 u2netp grows all but certain of pb-food-08's fingers
# (0.96 -> 0.994); a rule that took such regions without the edge test let them in (pixels
# outside the product 1.0 % -> 5.8 % of its area). The edge test keeps them out.
def test_a_re_encoded_hand_held_photo_keeps_the_hand_out():
    image, truth, _ = load("pb-food-08")
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 70])
    assert ok
    image = cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    cut = plan_product(image).full_frame_alpha(image) >= 128
    assert np.count_nonzero(cut & ~truth) <= 0.03 * np.count_nonzero(truth)


def _resized(image: np.ndarray, pixels: float) -> np.ndarray:
    """``image`` resized to about ``pixels`` pixels as the bench does (area down, bicubic up)."""
    h, w = image.shape[:2]
    f = np.sqrt(pixels / (h * w))
    return cv2.resize(
        image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    )


def _iou_at_two_sizes(image: np.ndarray) -> float:
    """IoU of the masks found on the photo resized to 0.3 MP and to 12 MP, both brought to the
    photo's own size (the two working grids may differ by a pixel's rounding)."""
    from correction_engine.imaging.foreground import estimate_foreground, upscale_mask

    h, w = image.shape[:2]
    masks = [upscale_mask(estimate_foreground(_resized(image, px)).mask, (h, w)) for px in (0.3e6, 12e6)]
    return iou(masks[0], masks[1])


# Regression (issue 9): the same photo must give the same mask at any size. A carton on a
# table by a dark wall: the border palette explains most of it away and keeps a piece whose
# solidity is 0.92 at 0.3 MP and 0.62 at 12 MP; the "solid object on a textured backdrop"
# exception to the model's verdict flipped with it (IoU with the truth 0.31 vs 0.98). A lesser
# piece of one model object is now never that exception. Before the fix: 0.31.
def test_a_piece_of_the_product_does_not_decide_at_one_size_only():
    image, _, _ = load("pb-food-06")
    assert _iou_at_two_sizes(image) >= 0.95


# Known gap (issue 9): the same photo must give the same mask at any size. The working copies
# of a 0.3 MP and of a 12 MP version differ near their sampling limit (up to ~30 grey levels at
# edges; the resampling paths differ), and u2netp's object (a bottle by a dark stand) and the
# border palette (a carton in a shop) change with it: 0.895 and 0.823 today. Smoothing the
# model's input fixed the bottle but cost other photos up to 0.08 IoU (see the report of the
# 2026-11-30 session). Tried again (second 2026-11-30 session): a working copy averaged from a
# bicubic 4x enlargement at every size brings the two copies together (2 MP and 12 MP copies
# already agree to ~6 grey levels; the gap is in inputs between one and four working sizes)
# and fixed both bottles and pb-food-09 (0.909 -> 0.985), but flipped a hand-held bottle
# (pa-bottle-10) into the border model's answer, IoU 0.38 -> 0.00: dropped. Third session: with
# that flip fixed (below), the enlargement only for inputs of one to two working sizes fixed the
# bottle (0.985) but flipped others (a chair, 0.962 -> 0.786, whose method changes between
# three paths at sizes from 0.3 to 1.5 MP under either copy: its IoU of the two models, 0.71 to
# 0.81, and u2netp's sureness, 0.82 to 0.86, straddle the 0.8 and 0.85 cuts); even half 49 -> 48
# of 51: dropped. Strict, so a fix shows.
@pytest.mark.xfail(strict=True, reason="masks at 0.3 and 12 MP still differ on these photos")
@pytest.mark.parametrize("name", ["pa-bottle-05", "pa-food-14"])
def test_the_mask_is_the_same_at_0_3_and_12_megapixels(name):
    image, _, _ = load(name)
    assert _iou_at_two_sizes(image) >= 0.95


# Regression (issue 9): a piece the border model keeps (a sugar sachet in a caddy) lies on the
# rim of u2netp's object, and the model's 0.5 outline moves with the photo's size: the piece was
# 92 % inside it at native size but 86 % at 12 MP, so the "fragment of the model's object"
# test (90 %) flipped and the sachet passed for the product (IoU 0.00 at 0.3, 3 and 12 MP, 0.38
# at native size). Judged against the model's object with its penumbra (hysteresis down to
# 0.3), it is a fragment at every size (0.30 to 0.49). Before the fix: 0.00 and 0.00.
@pytest.mark.parametrize("pixels", [0.3e6, 12e6])
def test_a_piece_on_the_rim_of_the_models_object_is_a_fragment_at_every_size(pixels):
    from correction_engine.imaging.foreground import estimate_foreground

    image, truth, _ = load("pa-bottle-10")
    mask = estimate_foreground(_resized(image, pixels)).mask
    small_truth = cv2.resize(truth.astype(np.uint8), mask.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    assert iou(mask, small_truth) >= 0.25


# Regressions (issue 9): a hand holding the product is salient with it, and unlike the backdrop,
# so both models kept it (a power bank between two fingers on a studio backdrop, a carton held
# up in a shop). Before the fix: 0.47 and 0.26 (u2netp alone 0.47 and 0.31); after, 0.98 and
# 0.43 (the shop carton's shadowed fingers are not skin-coloured enough to go).
@pytest.mark.parametrize("name,least_iou", [("pb-electronics-02", 0.90), ("pa-food-15", 0.38)])
def test_a_hand_holding_the_product_is_not_product(name, least_iou):
    image, truth, _ = load(name)
    plan = plan_product(image)
    assert iou(plan.full_frame_alpha(image) >= 128, truth) >= least_iou


# Regressions (hand rule): under a warm shop light a white carton's chroma is skin's; the rule
# must not take a product for a hand (a white carton held up, an orange print running off the
# frame). The truth mask itself must come through whole.
@pytest.mark.parametrize("name", ["pa-food-01", "pa-food-13"])
def test_a_skin_toned_product_is_not_taken_for_a_hand(name):
    from correction_engine.imaging.foreground import working_copy
    from correction_engine.imaging.holding_hand import without_holding_hand

    image, truth, _ = load(name)
    small, _ = working_copy(image)
    mask = cv2.resize(truth.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
    kept = without_holding_hand(mask, small)
    assert np.count_nonzero(kept & mask) >= 0.99 * np.count_nonzero(mask)


# Regression (issue 9, type 3): a product sold as several pieces laid out on a plain backdrop
# (a board with its loose headers and terminal blocks). u2netp sees only the board and wins the
# mask; the border model sees every piece, and on a smooth backdrop whatever stands apart from
# it is part of the shot, so the crop frames the pieces too. Before the fix: 0.81 held.
def test_the_crop_holds_every_piece_laid_out_on_a_plain_backdrop():
    image, truth, _ = load("pb-electronics-03")
    placement = locate_product(image)
    placed = apply_placement(truth.astype(np.uint8) * 255, placement)
    assert np.count_nonzero(placed >= 128) >= 0.99 * np.count_nonzero(truth)
