"""The border model (stage 1 of the product path, first opinion): the product photo convention -
one object on a sweep, table or backdrop - makes the border ring a sample of the background.
A smooth colour surface (sweeps, gradients, vignettes) and the ring's palette (k-means
clusters and a colour histogram, for textured backdrops) are fitted to it, compared with a
shadow-tolerant colour distance; what neither explains is the product. The shadow rule lives
here too: a darkening of the backdrop's own colour with the backdrop's own texture is shadow,
a dark but textured region is product.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from correction_engine.imaging.mask_ops import border_ring, bridge_pieces, fill_holes, keep_main_components


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


def fine_detail(grey: np.ndarray) -> np.ndarray:
    """Local mean of the absolute difference between ``grey`` (float32) and its blur: texture
    and print respond, smooth ramps (a shadow's soft edge, a lit gradient) do not."""
    hp = np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 1.5))
    return cv2.blur(hp, (5, 5))


@dataclass(frozen=True)
class BorderModel:
    """The border model's answer on a working copy: ``mask`` (bool), ``score`` (distance in
    units of the threshold), ``smooth`` (the backdrop is one smooth colour surface),
    ``shadow`` (bool: pixels explained only by the shadow allowance and left as backdrop),
    ``scene`` (much of the frame besides the product is unexplained), ``backdrop`` (float32
    RGB, the fitted smooth colour surface: what the backdrop would look like everywhere)."""

    mask: np.ndarray
    score: np.ndarray
    smooth: bool
    shadow: np.ndarray
    scene: bool
    backdrop: np.ndarray


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
    ring = border_ring(h, w, max(3, int(round(ring_fraction * min(h, w)))))

    surface = _smooth_background(rgb, ring)
    d_smooth = shadow_tolerant_distance(rgb, surface, shadow_floor=shadow_floor, dark_weight=dark_weight)
    smooth_spread = float(np.percentile(d_smooth[ring], 95))
    smooth = smooth_spread < min_threshold
    if smooth:
        # Second fit on every pixel that is clearly not product (the ring alone cannot see
        # a bright patch in the middle of the sweep, which would otherwise read as product).
        core = d_smooth > 2.0 * max(min_threshold, 1.5 * smooth_spread)
        core = cv2.dilate(core.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        # A frame a few pixels wide can lie wholly within the core's dilation (a 300x8 photo
        # half dark, half light): with fewer samples than the surface has terms there is nothing
        # to refit on, and the ring's fit stands.
        if np.count_nonzero(~core[::4, ::4]) >= len(_TERMS):
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
        mask=mask,
        score=score.astype(np.float32),
        smooth=smooth,
        shadow=shadow & ~mask,
        scene=scene,
        backdrop=surface,
    )


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


def darkened_backdrop(
    pixels: np.ndarray, backdrop: np.ndarray, *, darkest: float = 0.2, hue_tolerance: float = 0.08
) -> np.ndarray:
    """Which ``pixels`` (float RGB, any shape ending in 3) are the ``backdrop`` colour under
    them dimmed: ``c = k b`` with ``darkest <= k < 1`` and a chromatic residual ``|c - k b|``
    within ``hue_tolerance`` of the dimmed colour's own length (plus sensor noise).

    This is what a cast shadow is physically - less light on the same surface - at any depth
    (a deep shadow below the border model's floor too), with the residual measured relative to
    the shadow's brightness so a dark shadow is not penalised for its noise. It says nothing
    about texture or about the product: callers weigh it with other evidence.
    """
    bb = np.einsum("...c,...c->...", backdrop, backdrop) + 1.0
    k = np.einsum("...c,...c->...", pixels, backdrop) / bb
    residual = pixels - k[..., None] * backdrop
    chroma = np.sqrt(np.einsum("...c,...c->...", residual, residual))
    return (k >= darkest) & (k < 1.0) & (chroma <= hue_tolerance * k * np.sqrt(bb) + 3.0)
