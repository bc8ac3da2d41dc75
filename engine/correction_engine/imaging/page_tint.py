"""A page told from its surface by hue: the region of the paper's own chroma around its text.

White paper and a pale surface (light wood, a cream table) may be equally bright, so the page's
outline has no brightness step to score, while their colours differ plainly: paper is neutral
or bluish (optical brighteners), wood and cream are orange or yellow. Shading changes a sheet's
lightness from one end to the other, hardly its chroma. So the paper's chroma is read where its
text is, every pixel is scored by how near its chroma lies to that, and the regions of near
chroma are outlined as the brightness regions are (page_proposals.propose_by_brightness).
"""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import quad_mask
from .page_nesting import contains
from .page_proposals import propose_by_brightness

# Chroma distance (a and b, 8-bit Lab units) that maps to nothing on the closeness scale: paper
# and a pale surface differ by 5-30 units of chroma, paper's own shading and noise by 1-3; the
# scale spans the first 16 units, so Otsu's split falls between paper and surface.
CHROMA_SPAN = 16.0
# The narrower span for a page partly in a hard shadow (shadowed_page_quads): across a shadow's
# edge the paper's chroma moves by 1-3 units and its lightness by 40 or more, so the whole sheet
# stays above half on this scale, while a surface of nearly the paper's colour (pale wood, 5-8
# units off a pale yellow note) falls under it and no longer joins the page's region.
SHADOW_SPAN = 8.0


def chroma_closeness(lab: np.ndarray, paper: np.ndarray, span: float = CHROMA_SPAN) -> np.ndarray:
    """How near each pixel's chroma lies to the ``paper``'s (uint8, 255 = the same, 0 = at
    least ``span`` away); lightness left out, so shading across the sheet does not count."""
    distance = np.linalg.norm(lab[..., 1:] - paper[None, None, 1:], axis=2)
    return np.asarray(np.clip(255.0 * (1.0 - distance / span), 0, 255).astype(np.uint8))


def tint_quads(
    lab: np.ndarray, paper: np.ndarray, min_area: float, span: float = CHROMA_SPAN
) -> list[np.ndarray]:
    """Outlines (4 x 2, image coordinates of ``lab``) of the regions whose chroma is the
    ``paper``'s, at least ``min_area`` in area."""
    return propose_by_brightness(chroma_closeness(lab, paper, span), min_area)


def shadowed_page_quads(
    image: np.ndarray, ink: np.ndarray, winner: np.ndarray, min_area: float
) -> list[np.ndarray]:
    """Outlines of the regions of the paper's chroma (read on the bare paper inside ``winner``,
    an outline in ``image``, RGB) that contain ``winner``: the whole page when a hard shadow
    across it made the lit part an outline of its own (the shadow's edge steps in lightness
    only, so the paper's chroma runs on across it). Candidates only: the caller scores them."""
    lab = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32), (0, 0), 1.5)
    bare = quad_mask(ink.shape, winner) & (ink == 0)
    if not bare.any():
        return []
    paper = np.median(lab[bare], axis=0)
    size = (ink.shape[0], ink.shape[1])
    return [q for q in tint_quads(lab, paper, min_area, SHADOW_SPAN) if contains(q, winner, size)]
