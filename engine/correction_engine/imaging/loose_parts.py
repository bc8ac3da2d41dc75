"""Loose parts beside the product on a smooth backdrop (stage 1, find): which of the regions
the border model sees apart from the product's mask are objects of the shot - a board's loose
headers, a pair's second shoe - and which are light, shadow or print on the backdrop.

Pure functions on working-resolution arrays; :func:`~correction_engine.imaging.foreground.
estimate_foreground` calls :func:`objects_apart` and the crop frames what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from correction_engine.imaging.background_model import BorderModel, darkened_backdrop, fine_detail
from correction_engine.imaging.mask_ops import border_ring
from correction_engine.imaging.region_evidence import edge_strength

__all__ = ["objects_apart"]

# Objects on a smooth backdrop smaller than this share of the mask are specks, not parts.
APART_MIN_SHARE = 0.02
# ... and an object holds at least this share of pixels beyond the border model's "strong"
# distance (its hysteresis seed level).
APART_STRONG = 2.5
APART_CORE_SHARE = 0.1
# Evidence that such a piece is an object (see _is_object): the gradient along its outline
# (75th percentile) at least this many times the backdrop's (95th percentile on the ring) ...
APART_EDGE = 3.0
# ... not the backdrop dimmed (a shadow) over this share of it with no detail inside ...
APART_SHADOW_SHARE = 0.9
# ... and not strokes: its widest point at least this share of the long side from its outline
# (print on the backdrop), unless u2netp sees it as an object.
APART_STROKE = 0.015
# Each piece is weighed on its bounding box plus this margin, not the whole frame (the whole
# frame's dilate, erode and distance transform cost ~19 ms a piece at 800 x 600). A ring of
# background around the piece is all they need to give the frame's results; 6 px holds even
# the 9 x 9 erosion's whole reach (4) inside the window.
PIECE_MARGIN = 6


def objects_apart(
    border: BorderModel,
    mask: np.ndarray,
    small: np.ndarray,
    sal: np.ndarray | None,
    min_share: float = APART_MIN_SHARE,
) -> np.ndarray | None:
    """Objects on a smooth backdrop that stand apart from ``mask``: what the border model
    cannot explain (beyond its threshold, shadows forgiven), in pieces of at least
    ``min_share`` of the mask's area with a clear core (:data:`APART_STRONG`), touching
    neither the mask nor the frame, and shown to be objects (:func:`_is_object`). None when
    the backdrop is not smooth or there are none. ``small``: the working copy; ``sal``:
    u2netp's probability on it, or None.

    On one smooth backdrop nothing is there by chance: loose parts laid out beside the main
    piece (a board's headers, a pair's second shoe) belong to the shot even where the mask,
    one object, leaves them out. A piece entering from the frame is something else reaching
    in (a hand, the next object); a piece touching the mask was weighed by the mask already
    (a hand or a shadow taken out). Without a smooth backdrop the leftover is the scene.
    """
    area = np.count_nonzero(mask)
    if not border.smooth or area == 0:
        return None
    seen = cv2.morphologyEx(
        (border.score > 1.0).astype(np.uint8),
        cv2.MORPH_OPEN,
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)),
    )
    n, labels, stats, _ = cv2.connectedComponentsWithStats(seen, connectivity=8)
    if n <= 1:
        return None
    keep = stats[:, cv2.CC_STAT_AREA] >= min_share * area
    # An object, not a blotch of the backdrop a little off its fitted colour (a patch of a
    # wooden table by a shirt): part of it stands clearly out, as the border model's own
    # hysteresis asks of the product's seeds.
    strong = np.bincount(labels.ravel(), weights=(border.score > APART_STRONG).ravel(), minlength=n)
    keep &= strong >= APART_CORE_SHARE * stats[:, cv2.CC_STAT_AREA]
    near = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    keep[np.unique(labels[near])] = False
    keep[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = False
    keep[0] = False
    if keep.any():
        evidence = _ObjectEvidence.of(border, small)
        h, w = labels.shape
        for i in np.flatnonzero(keep):
            x, y, bw, bh = (int(v) for v in stats[i, :4])
            m = PIECE_MARGIN
            window = (slice(max(0, y - m), min(h, y + bh + m)), slice(max(0, x - m), min(w, x + bw + m)))
            keep[i] = _is_object(labels[window] == i, window, evidence, sal)
    apart = keep[labels]
    return apart if apart.any() else None


@dataclass(frozen=True)
class _ObjectEvidence:
    """What a piece on a smooth backdrop is weighed against (working grid): the image's colour
    gradient, its fine detail, the smoothed colours, the fitted backdrop, and the backdrop's
    own gradient and detail measured on the border ring."""

    gradient: np.ndarray
    detail: np.ndarray
    rgb: np.ndarray
    backdrop: np.ndarray
    ring_gradient: float
    ring_detail: float

    @staticmethod
    def of(border: BorderModel, small: np.ndarray) -> _ObjectEvidence:
        h, w = small.shape[:2]
        ring = border_ring(h, w, max(3, int(round(0.03 * min(h, w)))))
        gradient = edge_strength(small)
        detail = fine_detail(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32))
        return _ObjectEvidence(
            gradient=gradient,
            detail=detail,
            rgb=cv2.GaussianBlur(small, (0, 0), 1.0).astype(np.float32),
            backdrop=border.backdrop,
            ring_gradient=float(np.percentile(gradient[ring], 95)),
            ring_detail=float(np.percentile(detail[ring], 75)),
        )


def _is_object(
    piece: np.ndarray, window: tuple[slice, slice], ev: _ObjectEvidence, sal: np.ndarray | None
) -> bool:
    """Whether ``piece`` (bool over ``window`` of the working grid: one region the border model
    sees apart from the product) is an object rather than light, shadow or print on the backdrop.

    - A real edge: an object's outline is a step in the image (the gradient along most of its
      outline well above the backdrop's own); a lighting hot spot or a vignette's bright lobe
      is a smooth bump that the colour distance sees but no edge outlines.
    - Not a cast shadow: the backdrop dimmed with its own chroma over (nearly) all of it
      (:func:`~correction_engine.imaging.background_model.darkened_backdrop`) and, inside, no
      more detail than the backdrop - the border model's own shadow test (a shadow dims
      texture, it does not add it). A dark part with pins, print or holes is textured.
    - Not print on the backdrop: strokes are thin (no point of the piece lies more than
      :data:`APART_STROKE` of the frame's long side from its outline) and u2netp does not see
      them as an object; a thin part the model sees (a cable, a pin) stays.
    """
    long_side = max(ev.gradient.shape)
    gradient, detail = ev.gradient[window], ev.detail[window]
    k3 = np.ones((3, 3), np.uint8)
    p8 = piece.astype(np.uint8)
    outline = cv2.dilate(p8, k3).astype(bool) & ~cv2.erode(p8, k3).astype(bool)
    if float(np.percentile(gradient[outline], 75)) < APART_EDGE * max(ev.ring_gradient, 1.0):
        return False
    dimmed = darkened_backdrop(ev.rgb[window][piece], ev.backdrop[window][piece])
    if np.count_nonzero(dimmed) >= APART_SHADOW_SHARE * dimmed.size:
        # Measured away from the rim, where the outline's own edge bleeds into the high-pass
        # (the border model's 9 px core); a piece too thin to have an inside is a shadow's rim.
        core = cv2.erode(p8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))) > 0
        if not core.any() or float(detail[core].mean()) <= max(1.0, 2.0 * ev.ring_detail):
            return False
    half_width = float(cv2.distanceTransform(p8, cv2.DIST_L2, 3).max())
    salient = sal is not None and float(np.median(sal[window][piece])) >= 0.5
    return half_width >= APART_STROKE * long_side or salient
