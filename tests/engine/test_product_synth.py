"""The synthetic product generator: deterministic, and its truth matches its picture."""

from __future__ import annotations

import numpy as np
import pytest

from correction_engine.synth.products import BACKGROUNDS, SHAPES, make_product, mask_box, product_set

SIZE = (300, 400)


def test_same_seed_same_image_and_truth():
    a = make_product(42, SIZE)
    b = make_product(42, SIZE)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.mask, b.mask)
    assert (a.box, a.tilt, a.shape, a.background) == (b.box, b.tilt, b.shape, b.background)


def test_different_seeds_differ():
    assert not np.array_equal(make_product(1, SIZE).image, make_product(2, SIZE).image)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("background", BACKGROUNDS)
def test_truth_is_consistent(shape, background):
    p = make_product(7, SIZE, shape=shape, background=background, tilt=4.0)
    h, w = SIZE
    assert p.image.shape == (h, w, 3) and p.image.dtype == np.uint8
    assert p.mask.shape == (h, w) and p.mask.dtype == bool
    assert p.box == mask_box(p.mask)
    x0, y0, x1, y1 = p.box
    # The product is inside the frame, off its border, and a sizeable part of it.
    assert 0 < x0 < x1 < w and 0 < y0 < y1 < h
    assert 0.02 < p.mask.mean() < 0.6
    assert p.tilt == 4.0 and p.shape == shape and p.background == background


def test_product_differs_from_background_where_the_mask_says():
    # The image really contains the product the mask describes: inside the mask the
    # colours differ from the border's on average much more than the border varies.
    p = make_product(3, SIZE, background="plain", shape="ellipse", tilt=0.0, camouflage=False, shadow=False)
    border = np.concatenate([p.image[:5].reshape(-1, 3), p.image[-5:].reshape(-1, 3)]).astype(float)
    ref = border.mean(0)
    inside = np.linalg.norm(p.image[p.mask].astype(float) - ref, axis=1).mean()
    spread = np.linalg.norm(border - ref, axis=1).mean()
    assert inside > 10 * spread


def test_same_scene_at_another_size():
    small = make_product(5, (300, 400), tilt=3.0)
    large = make_product(5, (600, 800), tilt=3.0)
    # Geometry is drawn in fractions of the frame: the box scales with the image.
    assert np.allclose(np.array(large.box) / 2.0, np.array(small.box), atol=2.0)


def test_product_set_cycles_kinds():
    kinds = {(p.shape, p.background) for p in product_set(16, seed=1, size=(120, 160))}
    assert len(kinds) == 16
