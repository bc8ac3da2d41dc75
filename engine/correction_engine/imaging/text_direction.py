"""Which axis a page's text lines run along, and the skew that levels them: projection profiles
(Postl's criterion) over a search of angles within ±SKEW_RANGE_DEG of each axis, on an ink mask
(see orientation.ink_mask). Split out of orientation.py, which decides the quarter turn from this
and from the up/down cues.
"""

from __future__ import annotations

import cv2
import numpy as np

SKEW_RANGE_DEG = 12.0
# The ink mask leaves out this share of each side (the page's border and its shadows).
INK_MARGIN = 0.03


def rotate_whole(mask: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate counter-clockwise by ``angle_deg`` about the centre, onto a canvas that holds it all."""
    h, w = mask.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * s + w * c) + 1, int(h * c + w * s) + 1
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(mask, m, (nw, nh), flags=cv2.INTER_LINEAR)


def _profile_sharpness(
    mask: np.ndarray, angle_deg: float, chunks: int = 1, support: np.ndarray | None = None
) -> float:
    """How crisply rows separate into lines and gaps after rotating by ``angle_deg``: the energy of
    the row profile's differences (Postl's skew criterion).

    With a ``support`` (the area the ink mask covers), the rotated page is cut across its rows
    into ``chunks`` equal pieces, each piece's profile is read only between rows the support
    covers fully, and the energies add up (see _chunks_per_axis for why)."""
    rotated = rotate_whole(mask, angle_deg)
    if support is None:
        return float(np.sum(np.diff(_row_sums(rotated)) ** 2))
    # The canvas's last few columns (less than a piece, past the page's corners) are left out.
    piece = rotated.shape[1] // chunks
    prof = _piece_row_sums(rotated, chunks, piece)
    cover = _piece_row_sums(rotate_whole(support, angle_deg), chunks, piece)
    # The page's own outline (and the mask's trimmed margins) is a step from paper to a full row
    # of ink density, not a line: only steps between rows a piece's support covers fully count.
    full = cover >= 0.98 * np.maximum(cover.max(axis=0), 1.0)
    steps = np.diff(prof, axis=0)[full[:-1] & full[1:]]
    return float(np.sum(steps**2))


def _piece_row_sums(mask: np.ndarray, chunks: int, piece: int) -> np.ndarray:
    """Row sums of each of ``chunks`` side-by-side pieces ``piece`` columns wide: (rows, chunks)."""
    rows = mask.shape[0]
    pieces = np.ascontiguousarray(mask[:, : chunks * piece]).reshape(rows * chunks, piece)
    return _row_sums(pieces).reshape(rows, chunks)


def _chunks_per_axis(h: int, w: int) -> dict[float, int]:
    """Pieces the rows of an ``h`` x ``w`` mask are cut into for each axis's profile (0: rows run
    along the width, 90: along the height): about one short side long each.

    A row along the long side of a strip sums long-side-many pixels: any column-wise change of ink
    density (the threshold's border, the margins, grain) piles up over its length, so the energy
    grows with the long side squared while the other axis's grows with it once. Text-less noise
    and kraft-grain strips 54-240 px by 1100 read as lines along their length (confidence 2-8)
    and were turned. Rows cut to the short side's length weigh both axes alike; a page under
    1.5:1 gets one piece per axis, as before."""
    short = max(1, min(h, w))
    return {0.0: max(1, round(w / short)), 90.0: max(1, round(h / short))}


def _row_sums(mask: np.ndarray) -> np.ndarray:
    """``mask.sum(axis=1, dtype=np.float64)`` for a uint8 mask: the same integers, summed by
    OpenCV's row reduction in a tenth of NumPy's time (the direction search takes 56 profiles
    a page)."""
    return cv2.reduce(mask, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.float64)


def find_text_direction(mask: np.ndarray) -> tuple[float, float]:
    """Angle (CCW degrees) that makes the text lines horizontal, within 0±12 or 90±12, and how much
    better it is than the best angle of the other direction."""
    h, w = mask.shape
    chunks = _chunks_per_axis(h, w)
    support = None
    if max(chunks.values()) > 1:
        # An elongated page: both axes read alike, within the area the ink mask covers (its 3 %
        # margins trimmed, see _ink_and_rules).
        support = np.zeros_like(mask)
        my, mx = int(INK_MARGIN * h), int(INK_MARGIN * w)
        support[my : h - my, mx : w - mx] = 255
    best_per_axis = []
    for base in (0.0, 90.0):
        scores = {
            base + a: _profile_sharpness(mask, base + a, chunks[base], support)
            for a in np.arange(-SKEW_RANGE_DEG, SKEW_RANGE_DEG + 0.01, 1.5)
        }
        coarse = max(scores, key=lambda a: scores[a])
        # Finer search around the coarse optimum: up/down analysis needs lines level to a pixel.
        # Both axes get it: a finely levelled axis against a coarsely sampled one wins by the
        # search, not the text (monospace columns are nearly as crisp as lines).
        for a in np.arange(coarse - 1.25, coarse + 1.26, 0.25):
            # The coarse optimum is on this grid too (both grids are exact in binary): its
            # score is known.
            if a not in scores:
                scores[a] = _profile_sharpness(mask, a, chunks[base], support)
        best = max(scores, key=lambda a: scores[a])
        best_per_axis.append((scores[best], best))
    (s_best, best), (s_other, _) = sorted(best_per_axis, reverse=True)
    return float(best), float(s_best / max(s_other, 1e-9))
