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
Everything runs on a copy of fixed size, so the decision does not depend on the photo's
resolution; callers map the result back to full resolution by interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Working resolution of the search: large enough that one working pixel is a small
# fraction of a product's outline, small enough for ~10 ms per pass. Fixed, so a photo at
# 0.3 MP and the same photo at 12 MP are decided on the same picture.
DEFAULT_WORK_LONG_SIDE = 512


@dataclass(frozen=True)
class ForegroundEstimate:
    """Result at working resolution.

    ``mask``: bool, the product. ``alpha``: float32 coverage estimate in [0, 1] whose 0.5
    level is the outline to sub-pixel precision (see :func:`coverage`). ``distance``:
    float32, colour distance to the background model in units of the decision threshold
    (1.0 = on the threshold). ``scale_xy``: working size / input size along x and y.
    ``method`` names the path taken ("border-model", "border-model+grabcut",
    "border-model+u2netp", "u2netp+grabcut", ...). ``small``: the working RGB copy, for
    later stages that look at the product (orientation).
    """

    mask: np.ndarray
    alpha: np.ndarray
    distance: np.ndarray
    scale_xy: tuple[float, float]
    method: str
    small: np.ndarray | None = None

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


def _ring(h: int, w: int, width: int) -> np.ndarray:
    ring = np.zeros((h, w), bool)
    ring[:width] = ring[-width:] = True
    ring[:, :width] = ring[:, -width:] = True
    return ring


def shadow_tolerant_distance(
    pixels: np.ndarray, background: np.ndarray, *, shadow_floor: float, dark_weight: float
) -> np.ndarray:
    """Colour distance to the background that forgives cast shadows.

    Brightness/chromaticity distortion (Horprasert, Harwood & Davis, ICCV FRAME-RATE
    workshop 1999): with ``k = <c, b> / <b, b>`` the pixel ``c`` is ``k`` times the
    background ``b`` plus a chromatic residual ``c - k b``. A shadow only scales the
    background (``shadow_floor <= k < 1``), so that part costs nothing; darkening beyond the
    floor costs ``dark_weight`` per unit and brightening or a hue change count fully.
    Both arrays are RGB float (0-255); ``background`` broadcasts against ``pixels``.
    """
    background = np.broadcast_to(background, pixels.shape)
    bb = np.einsum("...c,...c->...", background, background) + 1.0
    k = np.einsum("...c,...c->...", pixels, background) / bb
    chroma = pixels - k[..., None] * background
    cd2 = np.einsum("...c,...c->...", chroma, chroma)
    norm_b = np.sqrt(bb)
    bright = np.where(
        k > 1.0,
        (k - 1.0) * norm_b,
        np.where(k < shadow_floor, dark_weight * (shadow_floor - k) * norm_b, 0.0),
    )
    return np.sqrt(cd2 + bright * bright)


# Cubic surface terms as (power of x, power of y): separable, so the surface is evaluated
# as a sum of outer products instead of a per-pixel design matrix.
_TERMS = ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2), (3, 0), (2, 1), (1, 2), (0, 3))


def _smooth_background(
    rgb: np.ndarray, support: np.ndarray, iterations: int = 3, step: int = 1
) -> np.ndarray:
    """Cubic colour surface fitted to the ``support`` pixels by iteratively reweighted least squares.

    Cubic rather than quadratic: studio sweeps fall off unevenly (light from one side,
    vignetting), and the residual of a quadratic fit reads as faint product in the middle.
    Robust refits (residuals beyond 3 robust sigmas get zero weight) drop the stretch of
    support a shadow or an object reaches into. ``step`` subsamples the support: ten
    coefficients need far fewer than the ~50k pixels of a working frame.
    """
    h, w = rgb.shape[:2]
    ys, xs = np.nonzero(support[::step, ::step])
    ys, xs = ys * step, xs * step
    xn, yn = xs / w - 0.5, ys / h - 0.5
    a = np.stack([xn**i * yn**j for i, j in _TERMS], 1)
    b = rgb[ys, xs].astype(np.float64)
    weights = np.ones(len(a))
    coef = np.zeros((len(_TERMS), 3))
    for _ in range(iterations):
        aw = a * weights[:, None]
        coef = np.linalg.solve(aw.T @ a + 1e-6 * np.eye(len(_TERMS)), aw.T @ b)
        res = np.linalg.norm(a @ coef - b, axis=1)
        sigma = 1.4826 * np.median(res) + 1e-3
        weights = (res < 3.0 * sigma + 1.0).astype(np.float64)
    xv = np.arange(w) / w - 0.5
    yv = np.arange(h) / h - 0.5
    xp = np.stack([xv**i for i, _ in _TERMS], 0)  # (terms, w)
    yp = np.stack([yv**j for _, j in _TERMS], 1)  # (h, terms)
    out = np.empty((h, w, 3), np.float32)
    for c in range(3):
        out[..., c] = (yp * coef[:, c]) @ xp
    return out


def _cluster_distance(
    rgb: np.ndarray, ring: np.ndarray, clusters: int, shadow_floor: float, dark_weight: float, seed: int = 0
) -> np.ndarray:
    """Distance to the nearest of ``clusters`` k-means colour centres of the ring."""
    samples = rgb[ring].astype(np.float32)
    if len(samples) > 20000:  # k-means cost; an even subsample keeps every colour present
        samples = samples[:: len(samples) // 20000 + 1]
    cv2.setRNGSeed(seed)  # k-means++ seeding is random; keep the function pure
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, _, centres = cv2.kmeans(samples, clusters, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    # Same distance as shadow_tolerant_distance, specialised to a constant background:
    # with dot = <c, b>, k = dot / |b|^2 and |c - k b|^2 = |c|^2 - dot^2 / |b|^2, so each
    # centre costs one 3-to-1 channel transform instead of several full-size temporaries.
    sq = cv2.multiply(rgb, rgb)
    pp = cv2.transform(sq, np.ones((1, 3), np.float32))
    best = None
    for c in centres:
        bb = float(c @ c) + 1.0
        dot = cv2.transform(rgb, c.reshape(1, 3).astype(np.float32))
        k = dot / bb
        cd2 = np.maximum(pp - dot * k, 0.0)
        nb = np.sqrt(bb)
        bright = np.where(
            k > 1.0, (k - 1.0) * nb, np.where(k < shadow_floor, dark_weight * (shadow_floor - k) * nb, 0.0)
        )
        d = np.sqrt(cd2 + bright * bright)
        best = d if best is None else np.minimum(best, d)
    return best


def _hysteresis(mask: np.ndarray, score: np.ndarray, strong: float) -> np.ndarray:
    """Keep the components of ``mask`` that reach ``score > strong`` somewhere.

    A product has at least some clear contrast; faint patches of unexplained backdrop
    (uneven light, a lens falloff the model missed) do not.
    """
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.astype(bool)
    hits = np.bincount(labels[score > strong], minlength=n)
    hits[0] = 0
    return np.isin(labels, np.flatnonzero(hits >= 4))


def _ring_colours(
    rgb: np.ndarray, ring: np.ndarray, shadow_floor: float, bins: int = 32, min_share: float = 1e-3
) -> np.ndarray:
    """Pixels whose colour (or a shadowed version of it) occurs on the ring.

    A colour histogram of the ring, with shadowed copies of each sample added, marks the
    backdrop's palette; unlike k-means it keeps colours that are rare on the ring (a few
    blobs of a busy backdrop). Bins are dilated by one so a colour on a bin edge counts.
    """
    q = 256 // bins
    samples = rgb[ring]
    shades = [samples * f for f in np.linspace(shadow_floor, 1.0, 5)]
    idx = (np.concatenate(shades) // q).astype(np.int32).clip(0, bins - 1)
    flat = (idx[:, 0] * bins + idx[:, 1]) * bins + idx[:, 2]
    hist = np.bincount(flat, minlength=bins**3).reshape(bins, bins, bins)
    present = (hist >= max(3, min_share * len(samples))).astype(np.uint8)
    # 3-D dilation by one bin: max over the 27 shifted copies.
    padded = np.pad(present, 1)
    dil = np.zeros_like(present)
    for dz in range(3):
        for dy in range(3):
            for dx in range(3):
                dil |= padded[dz : dz + bins, dy : dy + bins, dx : dx + bins]
    pix = (rgb // q).astype(np.int32).clip(0, bins - 1)
    return dil[pix[..., 0], pix[..., 1], pix[..., 2]].astype(bool)


def bridge_pieces(mask: np.ndarray, reach: float = 0.6, max_pieces: int = 4) -> np.ndarray:
    """Join pieces of one product split by a backdrop-coloured band (a white label on a
    white sweep): pixels a closing of two pieces adds that neither piece's own closing does.

    The closing diameter is ``reach`` x the square root of the pieces' total area, so
    only gaps narrow against the product are bridged; concave outlines are untouched
    because each piece's own closing is subtracted. Only the ``max_pieces`` largest are
    considered.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    order = np.argsort(stats[1:, cv2.CC_STAT_AREA])[::-1][:max_pieces] + 1
    d = reach * np.sqrt(stats[order, cv2.CC_STAT_AREA].sum())
    # Large elliptic closings are slow; the bridge is interior, so it is computed on a
    # grid ``f`` times coarser, inside the pieces' padded bounding box only.
    f = max(1, int(d // 12))
    x0 = max(0, int(min(stats[i, cv2.CC_STAT_LEFT] for i in order) - d))
    y0 = max(0, int(min(stats[i, cv2.CC_STAT_TOP] for i in order) - d))
    right = max(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] for i in order)
    bottom = max(stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT] for i in order)
    x1 = min(mask.shape[1], int(right + d))
    y1 = min(mask.shape[0], int(bottom + d))
    sub = labels[y0:y1, x0:x1]
    small = (max(1, (x1 - x0) // f), max(1, (y1 - y0) // f))
    kd = int(d / f) | 1
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kd, kd))

    def piece(sel: np.ndarray) -> np.ndarray:
        return cv2.resize(sel.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST)

    closed = {i: cv2.morphologyEx(piece(sub == i), cv2.MORPH_CLOSE, k) for i in order}
    bridge = np.zeros(small[::-1], np.uint8)
    for ai, a in enumerate(order):
        for b in order[ai + 1 :]:
            pair = cv2.morphologyEx(piece((sub == a) | (sub == b)), cv2.MORPH_CLOSE, k)
            bridge |= pair & ~(closed[a] | closed[b])
    out = mask.copy()
    # Interpolated, not nearest: a coarse cell resized by replication leaves a rectangular
    # patch of table wherever it grazes the bridge.
    back = cv2.resize(bridge.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR) >= 0.5
    out[y0:y1, x0:x1] |= back
    return out


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill enclosed background regions (flood fill of the outside from the border)."""
    m = mask.astype(np.uint8)
    h, w = m.shape
    padded = np.zeros((h + 2, w + 2), np.uint8)
    padded[1:-1, 1:-1] = m
    ff = padded.copy()
    cv2.floodFill(ff, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 1)
    return (padded[1:-1, 1:-1] | (1 - ff[1:-1, 1:-1])).astype(bool)


def keep_main_components(mask: np.ndarray, min_fraction: float = 0.25) -> np.ndarray:
    """Keep the largest component and any at least ``min_fraction`` of its area."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.astype(bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= min_fraction * areas.max()) + 1
    return np.isin(labels, keep)


@dataclass(frozen=True)
class BorderModel:
    """The border model's answer on a working copy: ``mask`` (bool), ``score`` (distance in
    units of the threshold), ``smooth`` (the backdrop is one smooth colour surface),
    ``shadow`` (bool: pixels explained only by the shadow allowance and left as backdrop),
    ``scene`` (much of the frame besides the product is unexplained)."""

    mask: np.ndarray
    score: np.ndarray
    smooth: bool
    shadow: np.ndarray
    scene: bool


def fine_detail(grey: np.ndarray) -> np.ndarray:
    """Local mean of the absolute difference between ``grey`` (float32) and its blur: texture
    and print respond, smooth ramps (a shadow's soft edge, a lit gradient) do not."""
    hp = np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 1.5))
    return cv2.blur(hp, (5, 5))


def border_model(
    small: np.ndarray,
    *,
    ring_fraction: float = 0.03,
    clusters: int = 8,
    shadow_floor: float = 0.6,
    dark_weight: float = 1.0,
    min_threshold: float = 12.0,
    strong: float = 2.5,
    scene_ratio: float = 0.3,
) -> BorderModel:
    """Product mask of a working copy against background models fitted to its border ring.

    Method: a robust cubic colour surface (refitted on everything clearly not product when
    the backdrop is smooth), or on other backdrops also the ring's k-means clusters and
    colour histogram, compared with a shadow-tolerant colour distance (see
    :func:`shadow_tolerant_distance`); the product is what no model explains beyond a
    threshold set from the ring's own residuals (1.5 x the ring's 95th percentile, at least
    ``min_threshold`` RGB units). Hysteresis (a component must reach ``strong`` x the
    threshold somewhere), hole filling and component filtering encode "one solid object".

    Shadow is a darkening of the backdrop's own colour with the backdrop's own (low)
    texture: a region explained only by the shadow allowance (down to ``shadow_floor`` of
    the backdrop's brightness) but more textured than the ring is a dark part of the
    product, not shadow, and stays product.
    """
    h, w = small.shape[:2]
    # Light smoothing: sensor noise and fine texture should not read as product.
    blurred = cv2.GaussianBlur(small, (0, 0), 1.0)
    rgb = blurred.astype(np.float32)
    ring = _ring(h, w, max(3, int(round(ring_fraction * min(h, w)))))

    surface = _smooth_background(rgb, ring)
    d_smooth = shadow_tolerant_distance(rgb, surface, shadow_floor=shadow_floor, dark_weight=dark_weight)
    smooth_spread = float(np.percentile(d_smooth[ring], 95))
    smooth = smooth_spread < min_threshold
    if smooth:
        # Second fit on every pixel that is clearly not product (the ring alone cannot see
        # a bright patch in the middle of the sweep, which would otherwise read as product).
        core = d_smooth > 2.0 * max(min_threshold, 1.5 * smooth_spread)
        core = cv2.dilate(core.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        surface = _smooth_background(rgb, ~core, step=4)
        d = shadow_tolerant_distance(rgb, surface, shadow_floor=shadow_floor, dark_weight=dark_weight)
        strict = shadow_tolerant_distance(rgb, surface, shadow_floor=1.0, dark_weight=dark_weight)
    else:
        d = np.minimum(d_smooth, _cluster_distance(rgb, ring, clusters, shadow_floor, dark_weight))
        strict = np.minimum(
            shadow_tolerant_distance(rgb, surface, shadow_floor=1.0, dark_weight=dark_weight),
            _cluster_distance(rgb, ring, clusters, 1.0, dark_weight),
        )
        d[_ring_colours(rgb, ring, shadow_floor)] = 0.0
        strict[_ring_colours(rgb, ring, 1.0)] = 0.0
    ring_spread = float(np.percentile(d[ring], 95))
    thr = max(min_threshold, 1.5 * ring_spread)

    # Dark but textured is product: the shadow allowance only applies where the texture is
    # no more than the backdrop's own (a shadow dims texture, it does not add it).
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    detail = fine_detail(grey)
    ring_detail = float(np.percentile(detail[ring], 75))
    forgiven = (d <= thr) & (strict > thr)
    # Judged per region, not per pixel: a shadow's soft edge is a ramp, not texture, and
    # a printed cover has plain patches between its letters.
    n, labels = cv2.connectedComponents(forgiven.astype(np.uint8), connectivity=8)
    if n > 1:
        # Measured away from the region's rim, where the product's own edge bleeds into
        # the high-pass; a region too thin to have an inside is a shadow's rim.
        core = cv2.erode(forgiven.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))) > 0
        sums = np.bincount(labels[core], weights=detail[core], minlength=n)
        counts = np.bincount(labels[core], minlength=n)
        busy = (counts > 0) & (sums / np.maximum(counts, 1) > max(1.0, 2.0 * ring_detail))
        busy[0] = False
        textured = busy[labels]
    else:
        textured = np.zeros_like(forgiven)
    d = np.where(forgiven & textured, strict, d)
    shadow = forgiven & ~textured
    score = d / thr

    mask = score > 1.0
    mask = cv2.morphologyEx(
        mask.astype(np.uint8), cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    )
    # A small closing: the blend between two product colours can pass right through the
    # backdrop colour (orange next to teal averages to green), cutting thin seams.
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    ).astype(bool)
    mask = _hysteresis(fill_holes(mask), score, strong)
    # The scene test looks at the pieces as found, before they are bridged into one.
    scene = _looks_like_scene(keep_main_components(mask), score, scene_ratio)
    mask = keep_main_components(fill_holes(bridge_pieces(mask)))
    return BorderModel(
        mask=mask, score=score.astype(np.float32), smooth=smooth, shadow=shadow & ~mask, scene=scene
    )


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
) -> ForegroundEstimate:
    """Product mask of an RGB uint8 image, at a fixed working resolution: THE choice of method.

    1. The border model (:func:`border_model`) on the working copy.
    2. When :func:`needs_learned_model` gives a reason (and ``use_model``), u2netp's
       salient-object map (U^2-Net, Qin et al. 2020) is computed. Where the two agree
       (IoU >= ``agree_iou``) the border model's sharper outline is kept, with the regions it
       took for shadow but the model calls object given back; where they disagree the
       model's mask is the seed ("u2netp").
    3. When the backdrop is not smooth, GrabCut (Rother, Kolmogorov & Blake, SIGGRAPH 2004)
       moves the outline within a narrow band to the image's edges.
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
            if not sal_mask.any() or (disjoint and not model_sure):
                pass
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
                mask = keep_main_components(fill_holes(fused))
                method += "+u2netp"
            elif model_sure and not (reason == "backdrop not smooth" and _solidity(mask) >= 0.85):
                # (A convex, solid object found on a textured backdrop is the border model's
                # best case; the model's disagreement there is more often the backdrop's
                # pattern catching its eye.)
                mask, from_model, method = sal_mask, True, "u2netp"
            else:
                method += "+unsure-u2netp"

    ring = _ring(h, w, max(3, int(round(0.03 * min(h, w)))))
    blurred = cv2.GaussianBlur(small, (0, 0), 1.0)
    if mask.any() and grabcut_iterations > 0 and (from_model or not border.smooth):
        # From the model the ring is not forced to background: the product may run off the frame.
        mask = _grabcut_refine(
            blurred, mask, score, np.zeros_like(ring) if from_model else ring, grabcut_iterations
        )
        method += "+grabcut"

    if from_model:
        # No colour distance describes the cut; a light blur of the binary mask keeps its
        # 0.5 level where the cut is and gives the matte refinement a ramp to work on.
        alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.8)
    else:
        alpha = coverage(mask, score)
    return ForegroundEstimate(
        mask=mask, alpha=alpha, distance=score, scale_xy=scale_xy, method=method, small=small
    )


def _solidity(mask: np.ndarray) -> float:
    """Area of ``mask`` over the area of its convex hull (1.0 for a convex object)."""
    pts = cv2.findNonZero(mask.astype(np.uint8))
    if pts is None:
        return 0.0
    hull = cv2.contourArea(cv2.convexHull(pts))
    return float(np.count_nonzero(mask) / hull) if hull > 0 else 0.0


def _looks_like_scene(mask: np.ndarray, score: np.ndarray, scene_ratio: float) -> bool:
    """True when the border model leaves much of the frame unexplained besides the product.

    Unexplained area (beyond the threshold, outside the product) over product area above
    ``scene_ratio``, or above half of it when the product came out in pieces. An
    opening first drops thin lines: the anti-aliased seams between two backdrop colours
    are mixtures the ring never shows, not scene content.
    """
    leftover = cv2.morphologyEx(
        ((score > 1.0) & ~mask).astype(np.uint8),
        cv2.MORPH_OPEN,
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)),
    )
    unexplained = np.count_nonzero(leftover) / max(1, np.count_nonzero(mask))
    pieces = cv2.connectedComponents(mask.astype(np.uint8))[0] - 1
    return unexplained > scene_ratio or (pieces >= 2 and unexplained > scene_ratio / 2)


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


def coverage(mask: np.ndarray, distance: np.ndarray, band: int = 3) -> np.ndarray:
    """Sub-pixel coverage near the outline: distance relative to the product's own.

    A boundary pixel mixes product and backdrop, and its colour distance to the backdrop
    grows about linearly with the product fraction. Dividing by the distance of nearby
    inner product pixels (a normalised box average, i.e. normalised convolution) gives
    that fraction; away from the outline the binary mask is kept. Thresholding this at 0.5
    places the outline at half contrast instead of wherever the detection threshold fell.
    """
    m8 = mask.astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    inner = cv2.erode(m8, k).astype(np.float32)
    near = cv2.dilate(m8, k).astype(bool) & ~cv2.erode(m8, k).astype(bool)
    size = (4 * band + 1, 4 * band + 1)
    num = cv2.boxFilter(distance.astype(np.float32) * inner, -1, size, normalize=False)
    den = cv2.boxFilter(inner, -1, size, normalize=False)
    ref = np.where(den > 0, num / np.maximum(den, 1e-6), 0.0)
    alpha = mask.astype(np.float32)
    ok = near & (ref > 0)
    alpha[ok] = np.clip(distance[ok] / ref[ok], 0.0, 1.0)
    return alpha


def upscale_alpha(alpha: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Float coverage resized bilinearly to ``shape`` = (h, w)."""
    h, w = shape
    return cv2.resize(alpha.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def upscale_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask resized to ``shape`` = (h, w) by bilinear interpolation thresholded at 0.5.

    Interpolating the 0/1 field (rather than nearest neighbour) puts the boundary at
    sub-pixel positions between working pixels instead of staircasing.
    """
    h, w = shape
    m = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return m >= 0.5
