"""A found page's corners stay within the contract's 1 % beyond the frame, measured from the frame's
own edges (pixel positions are pixel centres: the edges lie half a pixel outside them)."""

import numpy as np

from correction_engine.imaging.document import held_to_frame
from correction_engine.imaging.page_regions import MAX_OUTSIDE, corners_outside


def test_a_corner_far_past_the_frame_is_held_within_the_limit_of_its_edges():
    h, w = 400, 300
    quad = np.array([[-50.0, -40.0], [w + 60.0, -3.0], [w + 2.0, h + 90.0], [10.0, h - 20.0]])
    held = held_to_frame(quad, (h, w))
    # In the frame's continuous coordinates (pixel corners at integers), as the truth is kept.
    assert corners_outside(held + 0.5, (h, w)) <= MAX_OUTSIDE


def test_corners_inside_the_frame_are_not_moved():
    quad = np.array([[0.0, 0.0], [299.0, 0.0], [299.0, 399.0], [0.0, 399.0]])
    assert np.array_equal(held_to_frame(quad, (400, 300)), quad)
