"""A weak outline cue confirmed by the scene needs the same tilt whether the scene's lines or
its gradients confirm it (:func:`correction_engine.imaging.straighten.estimate_tilt`).

A rough axis or a squat outline's sides ("weak-axis", "weak-sides") each read a degree or two
off on level photos, and so do a scene's lines (a shelf or a table seen in perspective): two
such cues agreeing at 1.5 degrees is no evidence of a roll. With gradients they already needed
2 degrees; with lines they needed only 1.5, and a level real photo (a dark cabinet of parts,
weak sides and its shelf lines agreeing at 1.54 on one working copy) was turned.
"""

from __future__ import annotations

import cv2
import pytest

from correction_engine.imaging.straighten import estimate_tilt
from tests.engine.test_product_tilt_lines import bitten_bottle, shelves


@pytest.mark.parametrize("tilt", [-1.7, -1.8, -1.9])
def test_a_weak_cue_the_lines_confirm_below_two_degrees_is_left_alone(tilt: float) -> None:
    found = estimate_tilt(bitten_bottle(tilt), image=cv2.cvtColor(shelves(tilt), cv2.COLOR_GRAY2RGB))
    # The case: both cues read the small tilt and agree ...
    assert found.evidence == "weak-axis+lines", found
    assert abs(found.measured - tilt) <= 0.5, found
    # ... and the photo is left as taken.
    assert found.angle == 0.0, found


@pytest.mark.parametrize("tilt", [2.2, -2.6, 3.0, -12.0])
def test_a_weak_cue_the_lines_confirm_from_two_degrees_straightens(tilt: float) -> None:
    # The limit: from GRADIENT_MIN_TILT the two agreeing cues still turn the photo.
    found = estimate_tilt(bitten_bottle(tilt), image=cv2.cvtColor(shelves(tilt), cv2.COLOR_GRAY2RGB))
    assert found.evidence == "weak-axis+lines", found
    assert abs(found.angle - tilt) <= 0.5, found
