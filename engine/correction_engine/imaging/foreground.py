"""Find the product (stage 1 of the product path): its mask at a fixed working resolution.

Two models of the product, and one visible place that chooses between them
(:func:`estimate_foreground`):

- the border model: the product photo convention - one object on a sweep, table or backdrop -
  makes the border ring a sample of the background. A smooth colour surface (sweeps,
  gradients, vignettes) and the ring's palette (k-means clusters and a colour histogram, for
  textured backdrops) are fitted to it; what neither explains is the product. It gives sharp,
  sub-pixel outlines when the convention holds;
- the learned model: u2netp's salient-object map (:mod:`correction_engine.imaging.saliency`),
  which knows what objects look like and does not care what touches the frame.

The learned model is consulted whenever the border model could have explained the product
away (a backdrop that is not smooth, a product touching the frame or in pieces, dark regions
accepted as shadow only by the shadow allowance), and it decides where they disagree.
The border model lives in :mod:`~correction_engine.imaging.background_model`, the mask
operations in :mod:`~correction_engine.imaging.mask_ops`, the per-region decisions between
the two answers in :mod:`~correction_engine.imaging.region_evidence`; this module is the fusion.
Everything runs on a copy of fixed size, so the decision does not depend on the photo's
resolution; callers map the result back to full resolution by interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from correction_engine.imaging.background_model import BorderModel, border_model
from correction_engine.imaging.holding_hand import skin_colour, without_holding_hand
from correction_engine.imaging.loose_parts import objects_apart
from correction_engine.imaging.mask_ops import (
    border_ring,
    coverage,
    fill_holes,
    keep_main_components,
    upscale_alpha,
    upscale_mask,
)
from correction_engine.imaging.region_evidence import backdrop_given_back, settle_by_edges

__all__ = [
    "DEFAULT_WORK_LONG_SIDE",
    "ForegroundEstimate",
    "estimate_foreground",
    "needs_learned_model",
    "upscale_alpha",
    "upscale_mask",
    "working_copy",
]

# Working resolution of the search: large enough that one working pixel is a small
# fraction of a product's outline, small enough for ~10 ms per pass. Fixed, so a photo at
# 0.3 MP and the same photo at 12 MP are decided on the same picture.
DEFAULT_WORK_LONG_SIDE = 512
# u2netp probability under which an enclosed hole in its object is background seen through
# the product, not a part of it the model missed.
HOLE_LEVEL = 0.1
# u2netp probability down to which a region joined to the model's object still lies within
# it: the 0.5 outline moves by several pixels with the input's resampling, and a piece of the
# border model's answer on that rim is no less a piece of the object.
REACH_LEVEL = 0.3


@dataclass(frozen=True)
class ForegroundEstimate:
    """Result at working resolution.

    ``mask``: bool, the product. ``alpha``: float32 coverage estimate in [0, 1] whose 0.5
    level is the outline to sub-pixel precision (see :func:`coverage`). ``distance``:
    float32, colour distance to the background model in units of the decision threshold
    (1.0 = on the threshold). ``scale_xy``: working size / input size along x and y.
    ``method`` names the path taken ("border-model", "border-model+grabcut",
    "border-model+u2netp", "u2netp+grabcut", ...). ``small``: the working RGB copy, for
    later stages that look at the product (orientation). ``salient``: u2netp's probability
    on the working grid when it was computed (placement reads where the product may extend).
    ``apart``: on a smooth backdrop, the objects the border model sees that stand apart from
    the mask (see :func:`~correction_engine.imaging.loose_parts.objects_apart`; the crop
    frames them), else None. ``plain_backdrop``: the border model found one smooth backdrop
    and no scene around the product (nothing else in the frame draws the model's eye).
    ``skin``: the working copy's skin-coloured pixels
    (:func:`~correction_engine.imaging.holding_hand.skin_colour`) when a hand was looked for.
    """

    mask: np.ndarray
    alpha: np.ndarray
    distance: np.ndarray
    scale_xy: tuple[float, float]
    method: str
    small: np.ndarray | None = None
    salient: np.ndarray | None = None
    apart: np.ndarray | None = None
    plain_backdrop: bool = False
    skin: np.ndarray | None = None

    @property
    def scale(self) -> float:
        """Mean of the two axis scales (they differ only by the rounding of the working size)."""
        return 0.5 * (self.scale_xy[0] + self.scale_xy[1])


def working_copy(
    image: np.ndarray, long_side: int = DEFAULT_WORK_LONG_SIDE
) -> tuple[np.ndarray, tuple[float, float]]:
    """The image resized so its longer side is exactly ``long_side``; returns it and the
    (x, y) scales. Large photos are first block-averaged by an integer factor (OpenCV's fast
    path, 4x faster at 12 MP) to between 2 and 4 times the target, then area-resampled;
    small photos are enlarged bilinearly, so every photo is judged on the same grid.
    """
    h, w = image.shape[:2]
    s = long_side / float(max(h, w))
    ws, hs = max(1, int(round(w * s))), max(1, int(round(h * s)))
    src = image
    k = int(max(h, w) // (2 * long_side))
    if k >= 2:
        src = cv2.resize(image, (w // k, h // k), interpolation=cv2.INTER_AREA)
    interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
    small = cv2.resize(src, (ws, hs), interpolation=interp) if (ws, hs) != (w, h) else image
    return small, (ws / float(w), hs / float(h))


def needs_learned_model(border: BorderModel) -> str | None:
    """Why the border model's answer should be checked by the learned model, or None.

    The border model can explain a product away whenever its convention is in doubt: the
    backdrop is not one smooth surface (its palette may contain the product's colours), the
    product touches the frame (the ring then samples the product), it came out in pieces or
    not at all, or a sizeable dark region was accepted as shadow.
    """
    mask = border.mask
    area = np.count_nonzero(mask)
    if area == 0:
        return "nothing found"
    if not border.smooth:
        return "backdrop not smooth"
    if mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any():
        return "touches the frame"
    if border.scene:
        return "scene"
    if np.count_nonzero(border.shadow) > 0.05 * area:
        return "shadow"
    # Even a clean-looking answer on a smooth backdrop can be a product explained away in
    # part (a steel fork reflecting the sweep, a white tool on white); the check costs one
    # small inference, so it is always made.
    return "confirm"


def estimate_foreground(
    image: np.ndarray,
    *,
    work_long_side: int = DEFAULT_WORK_LONG_SIDE,
    grabcut_iterations: int = 2,
    use_model: bool = True,
    agree_iou: float = 0.8,
    model_sure_level: float = 0.85,
    fusion_band: float = 0.03,
    fragment_share: float = 0.25,
    piece_share: float = 0.5,
) -> ForegroundEstimate:
    """Product mask of an RGB uint8 image, at a fixed working resolution: THE choice of method.

    1. The border model (:func:`border_model`) on the working copy.
    2. When :func:`needs_learned_model` gives a reason (and ``use_model``), u2netp's
       salient-object map (U^2-Net, Qin et al. 2020) is computed. Where the two agree
       (IoU >= ``agree_iou``) the border model's sharper outline is kept, with the regions it
       took for shadow but the model calls object given back; where they disagree the
       model's mask is the seed ("u2netp").
       When the border model's answer is no candidate - a fragment of the model's object (judged
       against the object with its penumbra, :data:`REACH_LEVEL`), or
       the whole frame around it - the model's mask is the seed without weighing. Where
       they agree, each region between the two outlines is decided by the image's edges
       (:func:`~correction_engine.imaging.region_evidence.settle_by_edges`, "+edges").
    3. When the backdrop is not smooth, GrabCut (Rother, Kolmogorov & Blake, SIGGRAPH 2004)
       moves the outline within a narrow band to the image's edges.
    4. Holes of the model's object that it is sure are background are opened; on a smooth
       backdrop, regions that both the colour (backdrop, or backdrop dimmed: cast shadow)
       and the model call backdrop are taken out
       (:func:`~correction_engine.imaging.region_evidence.backdrop_given_back`,
       "+backdrop-out").
    5. A hand holding the product (skin colour reaching in from the frame's edge) is taken
       out (:func:`~correction_engine.imaging.holding_hand.without_holding_hand`, "+hand-out").
    """
    small, scale_xy = working_copy(image, work_long_side)
    h, w = small.shape[:2]
    border = border_model(small)
    mask, score = border.mask, border.score
    method = "border-model"
    from_model = False
    reason = needs_learned_model(border) if use_model else None
    sal = None
    if reason is not None:
        from correction_engine.imaging import saliency

        if saliency.model_available():
            sal = cv2.resize(saliency.salient_probability(small), (w, h), interpolation=cv2.INTER_LINEAR)
            sal_mask = keep_main_components(fill_holes(sal > 0.5))
            overlap = np.count_nonzero(mask & sal_mask)
            union = np.count_nonzero(mask | sal_mask)
            agree = overlap / union if union else 1.0
            # Two different objects (neither mask confirms much of the other): the model
            # wins when it is sure of its object, else the border model keeps its answer.
            disjoint = overlap < 0.3 * min(np.count_nonzero(mask), np.count_nonzero(sal_mask))
            model_sure = sal_mask.any() and float(sal[sal_mask].mean()) >= model_sure_level
            # No candidate to weigh against the model's object: the border model kept only a
            # fragment of it (a speck of a grey bag on a grey sweep - the palette explained
            # the rest of the product away), or it fills the frame around the model's
            # compact, sure object (the backdrop taken for the product).
            area = np.count_nonzero(mask)
            within = np.count_nonzero(mask & _reach(sal, sal_mask, REACH_LEVEL))
            fragment = within >= 0.9 * area and area < fragment_share * np.count_nonzero(sal_mask)
            frame_filling = (
                model_sure and area >= 0.9 * mask.size and np.count_nonzero(sal_mask) < 0.5 * mask.size
            )
            if not sal_mask.any() or (disjoint and not model_sure):
                pass
            elif fragment or frame_filling:
                mask, from_model, method = sal_mask, True, "u2netp"
            elif reason == "confirm" and (agree >= agree_iou or not model_sure):
                # Nothing spoke against the border model: it stands unless the model, sure of
                # itself, sees a clearly different object.
                method += "+checked"
            elif agree >= agree_iou:
                # Same object: the border model's outline where the model agrees to within
                # a few pixels; the model's interior where the border model explained the
                # product away; and what was called shadow but the model calls object is a
                # dark part of the product.
                r = max(2, int(round(fusion_band * max(h, w))))
                k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
                near = cv2.dilate(sal_mask.astype(np.uint8), k) > 0
                core = cv2.erode(sal_mask.astype(np.uint8), k) > 0
                fused = (mask & near) | core | (border.shadow & (sal > 0.5))
                settled = settle_by_edges(
                    fused, sal_mask, sal, small, min_area=max(4, r * r), sure_level=model_sure_level
                )
                mask = keep_main_components(fill_holes(settled))
                method += "+u2netp" + (
                    "+edges" if np.count_nonzero(settled) > np.count_nonzero(fused) else ""
                )
            elif model_sure and not (
                reason == "backdrop not smooth"
                and _solidity(mask) >= 0.85
                and not _piece_of_one_object(mask, sal_mask, piece_share)
            ):
                # (A convex, solid object found on a textured backdrop is the border model's
                # best case; the model's disagreement there is more often the backdrop's
                # pattern catching its eye - unless the border model's object is a lesser
                # piece of one object of the model's: then the palette explained the rest of
                # the product away, and the solidity of what is left says nothing. Judged
                # against that one object, not all the model's objects, so a second object
                # the model also sees does not make the product look like a piece.)
                mask, from_model, method = sal_mask, True, "u2netp"
            else:
                method += "+unsure-u2netp"

    ring = border_ring(h, w, max(3, int(round(0.03 * min(h, w)))))
    blurred = cv2.GaussianBlur(small, (0, 0), 1.0)
    if mask.any() and grabcut_iterations > 0 and (from_model or not border.smooth):
        # From the model the ring is not forced to background: the product may run off the frame.
        mask = _grabcut_refine(
            blurred, mask, score, np.zeros_like(ring) if from_model else ring, grabcut_iterations
        )
        method += "+grabcut"

    if sal is not None:
        # Background seen through the product (a bag's handles, a mug's ear): holes in the
        # model's object that it is sure are background stay open, though the seeds and the
        # graph cut fill holes. Not when that would take most of the answer: then the answer
        # is an object the model missed inside another, and the model's hole is no evidence.
        raw = sal > 0.5
        opened = mask & ~(fill_holes(raw) & ~raw & (sal < HOLE_LEVEL))
        if np.count_nonzero(opened) >= 0.5 * np.count_nonzero(mask):
            mask = opened
        if border.smooth:
            kept = backdrop_given_back(mask, sal, border, small)
            if np.count_nonzero(kept) < np.count_nonzero(mask):
                mask, method = kept, method + "+backdrop-out"
    skin = None
    if mask.any():
        # A hand holding the product is salient with it and unlike the backdrop, so both
        # models keep it; skin colour entering from the frame's edge tells it apart. The
        # skin map is kept: the placement looks for a holding hand again, beside the mask.
        skin = skin_colour(small)
        held = without_holding_hand(mask, small, skin=skin)
        if np.count_nonzero(held) < np.count_nonzero(mask):
            mask, method = held, method + "+hand-out"
    if from_model:
        # No colour distance describes the cut; a light blur of the binary mask keeps its
        # 0.5 level where the cut is and gives the matte refinement a ramp to work on.
        alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.8)
    else:
        alpha = coverage(mask, score)
    return ForegroundEstimate(
        mask=mask,
        alpha=alpha,
        distance=score,
        scale_xy=scale_xy,
        method=method,
        small=small,
        salient=sal,
        apart=objects_apart(border, mask, small, sal),
        plain_backdrop=bool(border.smooth and not border.scene),
        skin=skin,
    )


def _reach(sal: np.ndarray, core: np.ndarray, level: float) -> np.ndarray:
    """The components of ``sal > level`` (holes filled) that hold some of ``core``: the
    model's object with its penumbra (hysteresis on the model's 0.5 cut)."""
    n, labels = cv2.connectedComponents(fill_holes(sal > level).astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[np.unique(labels[core])] = True
    keep[0] = False
    return keep[labels]


def _piece_of_one_object(mask: np.ndarray, objects: np.ndarray, share: float) -> bool:
    """True when ``mask`` lies (90 %) inside one connected object of ``objects`` and covers
    less than ``share`` of that object."""
    area = np.count_nonzero(mask)
    n, labels = cv2.connectedComponents(objects.astype(np.uint8), connectivity=8)
    if area == 0 or n <= 1:
        return False
    hits = np.bincount(labels[mask], minlength=n)
    hits[0] = 0
    best = int(np.argmax(hits))
    return bool(hits[best] >= 0.9 * area and area < share * np.count_nonzero(labels == best))


def _solidity(mask: np.ndarray) -> float:
    """Area of ``mask`` over the area of its convex hull (1.0 for a convex object)."""
    pts = cv2.findNonZero(mask.astype(np.uint8))
    if pts is None:
        return 0.0
    hull = cv2.contourArea(cv2.convexHull(pts))
    return float(np.count_nonzero(mask) / hull) if hull > 0 else 0.0


def _grabcut_refine(
    rgb: np.ndarray,
    seed_mask: np.ndarray,
    score: np.ndarray,
    ring: np.ndarray,
    iterations: int,
    band: int = 4,
) -> np.ndarray:
    """GrabCut in a band around the seed's outline; inside and far outside stay fixed.

    The seed's interior is trusted (holes are filled; a product may share colours with a
    busy backdrop), so the graph cut only moves the outline, within ``band`` working
    pixels, and the ROI keeps the cost proportional to the product.
    """
    h, w = seed_mask.shape
    ys, xs = np.nonzero(seed_mask)
    pad = int(0.08 * max(h, w))
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + pad + 1)
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + pad + 1)
    sm = seed_mask[y0:y1, x0:x1]
    gc = np.where(sm, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    sure_fg = cv2.erode(sm.astype(np.uint8), k).astype(bool)
    sure_bg = ~cv2.dilate(sm.astype(np.uint8), k).astype(bool)
    gc[sure_fg] = cv2.GC_FGD
    gc[sure_bg | ring[y0:y1, x0:x1]] = cv2.GC_BGD
    if not (gc == cv2.GC_BGD).any() or not ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).any():
        return seed_mask
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    roi = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    cv2.grabCut(roi, gc, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    out = np.zeros_like(seed_mask)
    out[y0:y1, x0:x1] = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    return keep_main_components(fill_holes(out))
