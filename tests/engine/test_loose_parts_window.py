"""objects_apart weighs each piece on its bounding box plus a margin, not the whole frame: the
decisions must be those the whole frame gives (issue 9, review F7: ~19 ms per piece at 800 x 600)."""

from __future__ import annotations

import cv2
import numpy as np

from correction_engine.imaging.background_model import BorderModel
from correction_engine.imaging.loose_parts import _is_object, _ObjectEvidence, objects_apart

SIZE = (300, 400)
WHOLE = (slice(None), slice(None))


def scene() -> tuple[BorderModel, np.ndarray, np.ndarray, np.ndarray]:
    """A mask in the middle and, apart from it, pieces of every kind the weighing tells apart:
    hard-edged parts (two a few pixels from the frame, where a window is cut short), a dimmed
    plain patch (a shadow), a dimmed patch with texture, thin grey strokes (print), one of
    them salient, and a ring (a hole inside a piece)."""
    rng = np.random.default_rng(7)
    h, w = SIZE
    backdrop = np.full((h, w, 3), 200, np.float32)
    small = np.full((h, w, 3), 200, np.uint8)
    seen = np.zeros(SIZE, np.uint8)
    sal = np.zeros(SIZE, np.float32)
    mask = np.zeros(SIZE, bool)
    mask[110:190, 160:240] = True
    small[mask] = (180, 40, 40)

    def part(y0, y1, x0, x1, colour):
        seen[y0:y1, x0:x1] = 1
        small[y0:y1, x0:x1] = colour

    part(20, 50, 20, 60, (40, 60, 200))  # a loose part
    part(3, 25, 300, 330, (40, 60, 200))  # near the top edge
    part(250, 290, 372, 397, (30, 30, 30))  # near the right and bottom edges
    part(220, 260, 40, 90, (120, 120, 120))  # a shadow: dimmed, plain
    part(60, 100, 300, 350, (120, 120, 120))  # dimmed, with texture
    small[60:100, 300:350] += rng.integers(0, 60, (40, 50, 3)).astype(np.uint8)
    cv2.putText(small, "SALE", (100, 270), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (150, 150, 150), 3)
    cv2.putText(small, "NEW", (250, 240), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (150, 150, 150), 3)
    strokes = (small.sum(axis=2) == 450) & ~mask
    seen[strokes] = 1
    sal[235:260, 245:320] = 0.9  # "NEW" is seen as an object by u2netp
    cv2.circle(seen, (120, 120), 18, 1, 5)  # a ring of a part with a hole
    cv2.circle(small, (120, 120), 18, (20, 20, 20), 5)
    score = np.where(seen > 0, 5.0, 0.3).astype(np.float32)
    score[mask] = 6.0
    border = BorderModel(
        mask=mask, score=score, smooth=True, shadow=np.zeros(SIZE, bool), scene=True, backdrop=backdrop
    )
    return border, mask, small, sal


def test_each_piece_is_weighed_as_on_the_whole_frame():
    border, mask, small, sal = scene()
    ev = _ObjectEvidence.of(border, small)
    # The pieces as objects_apart cuts them: what the border model sees, opened by a 3 x 3 disc.
    seen = (border.score > 1.0).astype(np.uint8)
    seen = cv2.morphologyEx(seen, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    n, labels = cv2.connectedComponents(seen & ~mask.astype(np.uint8))
    whole = [_is_object(labels == i, WHOLE, ev, sal) for i in range(1, n)]
    # The scene tells both answers apart, so the comparison below can fail either way.
    assert any(whole) and not all(whole)
    apart = objects_apart(border, mask, small, sal, min_share=0.0)
    assert apart is not None
    for i, expected in zip(range(1, n), whole, strict=True):
        piece = labels == i
        assert bool(apart[piece].all()) == expected and bool(apart[piece].any()) == expected, i
