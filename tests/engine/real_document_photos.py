"""The committed real document photos as the tests use them: loaded, or the test skipped
when a checkout lacks the photo, and turned by quarters with their true corners."""

from __future__ import annotations

import numpy as np
import pytest

from bench.real_sets import DOCUMENTS, load_document, turn_cw, turn_points_cw


def document_or_skip(ident: str) -> tuple[np.ndarray, dict]:
    """The photo ``ident`` of datasets/real-documents (RGB) and its truth; skips the calling
    test when the photo is not in this checkout."""
    path = DOCUMENTS / f"{ident}.jpg"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout")
    return load_document(path)


def turned_document(ident: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo ``ident`` turned clockwise by ``k`` quarter turns, and its true corners turned
    alike (see :func:`document_or_skip`)."""
    image, meta = document_or_skip(ident)
    truth = turn_points_cw(np.asarray(meta["corners"], float), image.shape[:2], k)
    return turn_cw(image, k), truth
