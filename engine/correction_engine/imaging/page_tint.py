"""A page told from its surface by hue: the region of the paper's own chroma around its text.

White paper and a pale surface (light wood, a cream table) may be equally bright, so the page's
outline has no brightness step to score, while their colours differ plainly: paper is neutral
or bluish (optical brighteners), wood and cream are orange or yellow. Shading changes a sheet's
lightness from one end to the other, hardly its chroma. So the paper's chroma is read where its
text is, every pixel is scored by how near its chroma lies to that, and the regions of near
chroma are outlined as the brightness regions are (page_proposals.propose_by_brightness).
"""

from __future__ import annotations

import numpy as np

from .page_proposals import propose_by_brightness

# Chroma distance (a and b, 8-bit Lab units) that maps to nothing on the closeness scale: paper
# and a pale surface differ by 5-30 units of chroma, paper's own shading and noise by 1-3; the
# scale spans the first 16 units, so Otsu's split falls between paper and surface.
CHROMA_SPAN = 16.0


def chroma_closeness(lab: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """How near each pixel's chroma lies to the ``paper``'s (uint8, 255 = the same, 0 = at
    least CHROMA_SPAN away); lightness left out, so shading across the sheet does not count."""
    distance = np.linalg.norm(lab[..., 1:] - paper[None, None, 1:], axis=2)
    return np.asarray(np.clip(255.0 * (1.0 - distance / CHROMA_SPAN), 0, 255).astype(np.uint8))


def tint_quads(lab: np.ndarray, paper: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Outlines (4 x 2, image coordinates of ``lab``) of the regions whose chroma is the
    ``paper``'s, at least ``min_area`` in area."""
    return propose_by_brightness(chroma_closeness(lab, paper), min_area)
