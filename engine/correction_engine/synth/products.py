"""Synthetic product photos with exact ground truth: mask, bounding box and tilt.

A product (box, bottle, ellipse or irregular polygon; plain, striped, checkered or noisy
surface, sometimes with a patch close to the background colour) is composited with an
anti-aliased edge and a soft contact shadow onto a plain, gradient, textured or busy
background. The truth mask is the product's coverage >= 0.5, so it is exact to the pixel;
the shadow is *not* part of the product. Everything is deterministic from the seed and
drawn at the requested size, so the same scene scales from test size to 12 MP.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

SHAPES: tuple[str, ...] = ("box", "bottle", "ellipse", "polygon")
BACKGROUNDS: tuple[str, ...] = ("plain", "gradient", "textured", "busy")
SURFACES: tuple[str, ...] = ("solid", "stripes", "checker", "noise")

# fillPoly takes fixed-point vertices; 4 fractional bits give 1/16 px placement, so the
# truth mask does not inherit integer rounding of the shape.
_SHIFT = 4
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class SyntheticProduct:
    """One synthetic product photo and its truth.

    ``image`` is RGB uint8 HxWx3; ``mask`` is bool HxW (the product, shadow excluded);
    ``box`` is ``(x0, y0, x1, y1)`` of the mask, end-exclusive; ``tilt`` is the rotation
    applied to the upright product in degrees, counter-clockwise on screen positive (0.0 if
    the product is upright). ``shape``, ``background`` and ``surface`` name what was drawn.
    """

    image: np.ndarray
    mask: np.ndarray
    box: tuple[int, int, int, int]
    tilt: float
    shape: str
    background: str
    surface: str


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box ``(x0, y0, x1, y1)``, end-exclusive, of the true pixels of ``mask``."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return (0, 0, 0, 0)
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a small random grid upsampled bicubically (cheap at 12 MP)."""
    h, w = shape
    gh = max(2, int(round(cells * h / max(h, w))) + 2)
    gw = max(2, int(round(cells * w / max(h, w))) + 2)
    grid = rng.random((gh, gw)).astype(np.float32)
    out = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0.0, 1.0)


def _random_colour(rng: np.random.Generator, lo: int = 20, hi: int = 235) -> np.ndarray:
    return rng.integers(lo, hi, size=3).astype(np.float32)


def _distinct_colour(rng: np.random.Generator, avoid: Sequence[np.ndarray], min_dist: float) -> np.ndarray:
    """A random colour at least ``min_dist`` (RGB Euclidean) from every colour in ``avoid``."""
    best, best_d = None, -1.0
    for _ in range(64):
        c = _random_colour(rng)
        d = min(float(np.linalg.norm(c - a)) for a in avoid) if avoid else 1e9
        if d >= min_dist:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


def _background(rng: np.random.Generator, kind: str, h: int, w: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Background float32 HxWx3 in [0, 255] and its representative colours."""
    if kind == "plain":
        c = _random_colour(rng, 40, 240)
        bg = np.empty((h, w, 3), np.float32)
        bg[:] = c
        # A studio sweep is never perfectly flat: a faint large-scale falloff.
        bg *= (0.94 + 0.06 * _smooth_noise(rng, (h, w), 2))[..., None]
        return bg, [c]
    if kind == "gradient":
        c0, c1 = _random_colour(rng, 40, 240), _random_colour(rng, 40, 240)
        theta = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = np.cos(theta) * xx / w + np.sin(theta) * yy / h
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        bg = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
        cy, cx = h / 2, w / 2
        r2 = ((yy - cy) / h) ** 2 + ((xx - cx) / w) ** 2
        bg *= (1.0 - 0.25 * r2)[..., None]  # vignette
        return bg.astype(np.float32), [c0, c1]
    if kind == "textured":
        # Fabric / wood-like: two colours mixed by streaky noise plus fine grain.
        c0 = _random_colour(rng, 60, 220)
        c1 = np.clip(c0 + rng.normal(0, 30, 3), 0, 255).astype(np.float32)
        streak = _smooth_noise(rng, (max(2, h // 40), w), 60)
        streak = cv2.resize(streak, (w, h), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            streak = cv2.resize(streak.T.copy(), (w, h), interpolation=cv2.INTER_LINEAR)
        t = np.clip(0.6 * streak + 0.4 * _smooth_noise(rng, (h, w), 24), 0, 1)
        bg = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
        grain = rng.normal(0, 6, (max(2, h // 2), max(2, w // 2))).astype(np.float32)
        bg += cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
        return bg.astype(np.float32), [c0, c1]
    if kind == "busy":
        # A cluttered table: a base colour and many soft blobs of a small palette.
        palette = [_random_colour(rng, 40, 230) for _ in range(3)]
        bg = np.empty((h, w, 3), np.float32)
        bg[:] = palette[0]
        s = max(h, w)
        for _ in range(40):
            c = palette[int(rng.integers(0, len(palette)))]
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.uniform(0.02, 0.08) * s), int(rng.uniform(0.02, 0.08) * s))
            angle = float(rng.uniform(0, 180))
            # Blend only inside the blob's bounding square: 40 full-frame blends cost
            # seconds at 12 MP.
            r = max(axes) + 2
            x0, y0 = max(0, centre[0] - r), max(0, centre[1] - r)
            x1, y1 = min(w, centre[0] + r + 1), min(h, centre[1] + r + 1)
            if x1 <= x0 or y1 <= y0:
                continue
            blob = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.ellipse(blob, (centre[0] - x0, centre[1] - y0), axes, angle, 0, 360, 255, -1, cv2.LINE_AA)
            a = (blob.astype(np.float32) / 255.0)[..., None]
            roi = bg[y0:y1, x0:x1]
            bg[y0:y1, x0:x1] = roi * (1 - a) + c[None, None, :] * a
        bg *= (0.9 + 0.1 * _smooth_noise(rng, (h, w), 6))[..., None]
        return bg.astype(np.float32), palette
    raise ValueError(f"unknown background kind: {kind!r}")


def _shape_outline(rng: np.random.Generator, kind: str, pw: float, ph: float) -> np.ndarray:
    """Upright outline, float Nx2, centred on (0, 0), fitting in pw x ph."""
    if kind == "box":
        hw, hh = pw / 2, ph / 2
        return np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]], np.float64)
    if kind == "ellipse":
        t = np.linspace(0, 2 * np.pi, 256, endpoint=False)
        return np.stack([pw / 2 * np.cos(t), ph / 2 * np.sin(t)], 1)
    if kind == "bottle":
        # Rounded body, shoulders, neck: one closed outline traced around the silhouette.
        bw, nw = pw / 2, pw * rng.uniform(0.14, 0.22)
        top, neck_base, shoulder, bottom = -ph / 2, -ph / 2 + ph * 0.22, -ph / 2 + ph * 0.38, ph / 2
        r = bw * 0.25
        right = [(nw, top), (nw, neck_base)]
        for s in np.linspace(0, 1, 16)[1:]:  # shoulder curve
            right.append((nw + (bw - nw) * np.sin(s * np.pi / 2), neck_base + (shoulder - neck_base) * s))
        right.append((bw, bottom - r))
        for a in np.linspace(0, np.pi / 2, 8)[1:]:  # rounded base corner
            right.append((bw - r + r * np.cos(a), bottom - r + r * np.sin(a)))
        left = [(-x, y) for x, y in reversed(right)]
        return np.array(right + left, np.float64)
    if kind == "polygon":
        n = int(rng.integers(6, 11))
        t = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.6, 1.0, n)
        return np.stack([pw / 2 * rad * np.cos(t), ph / 2 * rad * np.sin(t)], 1)
    raise ValueError(f"unknown shape kind: {kind!r}")


def _surface(
    rng: np.random.Generator, kind: str, h: int, w: int, base: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """Product surface float32 hxwx3, with a soft left-to-right shading."""
    if kind == "solid":
        tex = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    elif kind == "stripes":
        period = max(4.0, w * rng.uniform(0.08, 0.2))
        xx = np.arange(w, dtype=np.float32)[None, :]
        t = (np.sin(2 * np.pi * xx / period) > 0).astype(np.float32)
        t = np.broadcast_to(t, (h, w))[..., None]
        tex = base * (1 - t) + second * t
    elif kind == "checker":
        cell = max(4, int(min(h, w) * rng.uniform(0.1, 0.2)))
        yy, xx = np.mgrid[0:h, 0:w]
        t = (((yy // cell) + (xx // cell)) % 2).astype(np.float32)[..., None]
        tex = base * (1 - t) + second * t
    elif kind == "noise":
        t = _smooth_noise(rng, (h, w), 10)[..., None]
        tex = base * (1 - t) + second * t
    else:
        raise ValueError(f"unknown surface kind: {kind!r}")
    shade = np.linspace(1.08, 0.85, w, dtype=np.float32)[None, :, None]
    return (tex * shade).astype(np.float32)


def make_product(
    seed: int,
    size: tuple[int, int] = (720, 960),
    *,
    shape: str | None = None,
    background: str | None = None,
    surface: str | None = None,
    tilt: float | None = None,
    shadow: bool = True,
    camouflage: bool | None = None,
    noise_sigma: float = 2.0,
) -> SyntheticProduct:
    """Draw one product photo of ``size = (height, width)`` from ``seed``.

    Unspecified choices are drawn from the seed. ``tilt`` in degrees (counter-clockwise
    positive); ``None`` draws 0 for half the seeds and a small angle (2-12 degrees) for the
    rest. ``camouflage`` paints a patch of the product close to the background colour.
    Geometry is drawn in fractions of the image, so the same seed gives the same scene at
    any size.
    """
    rng = np.random.default_rng(seed)
    h, w = int(size[0]), int(size[1])
    shape = shape or SHAPES[int(rng.integers(0, len(SHAPES)))]
    background = background or BACKGROUNDS[int(rng.integers(0, len(BACKGROUNDS)))]
    surface = surface or SURFACES[int(rng.integers(0, len(SURFACES)))]
    if tilt is None:
        tilt = 0.0 if rng.random() < 0.5 else float(rng.choice([-1, 1]) * rng.uniform(2, 12))
    if camouflage is None:
        camouflage = bool(rng.random() < 0.3)

    bg, bg_colours = _background(rng, background, h, w)

    # Product size and place: 25-65 % of the short side, kept off the border so the border
    # really is background (a product touching the frame is a different problem).
    s = min(h, w)
    ph = s * rng.uniform(0.35, 0.7)
    # All three draws happen whatever the shape, so one seed's later draws never shift.
    aspects = {"bottle": rng.uniform(0.35, 0.55), "box": rng.uniform(0.6, 1.4)}
    aspect = aspects.get(shape, rng.uniform(0.6, 1.5))
    pw = min(ph * aspect, w * 0.7)
    outline = _shape_outline(rng, shape, pw, ph)
    th = np.deg2rad(tilt)
    # Screen coordinates have y down, so a counter-clockwise (on screen) rotation is
    # x' = x cos + y sin, y' = -x sin + y cos.
    rot = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
    pts = outline @ rot.T
    ext = pts.max(0) - pts.min(0)
    margin = 0.08 * s
    cx = rng.uniform(margin + ext[0] / 2, max(margin + ext[0] / 2 + 1, w - margin - ext[0] / 2))
    cy = rng.uniform(margin + ext[1] / 2, max(margin + ext[1] / 2 + 1, h - margin - ext[1] / 2))
    pts = pts + np.array([cx, cy])

    # Coverage (anti-aliased) from the exact polygon; the mask is coverage >= 0.5.
    cov8 = np.zeros((h, w), np.uint8)
    cv2.fillPoly(cov8, [np.round(pts * _ONE).astype(np.int32)], 255, cv2.LINE_AA, _SHIFT)
    cov = cov8.astype(np.float32) / 255.0
    mask = cov8 >= 128

    # Surface: drawn upright in a local canvas, then mapped by the same rotation.
    lw, lh = int(np.ceil(pw)) + 4, int(np.ceil(ph)) + 4
    base = _distinct_colour(rng, bg_colours, 90.0)
    second = _distinct_colour(rng, bg_colours + [base], 60.0)
    tex = _surface(rng, surface, lh, lw, base, second)
    if camouflage:
        # A band of the product close to the background (about 20-30 RGB units away), as a
        # white label on a white sweep would be.
        near = np.clip(bg_colours[0] + rng.choice([-1, 1], 3) * rng.uniform(15, 22, 3), 0, 255)
        y0 = int(lh * rng.uniform(0.3, 0.6))
        tex[y0 : y0 + max(2, int(lh * 0.18))] = near
    # Affine from local (u, v) to image: p = rot @ ([u, v] - c_local) + [cx, cy].
    a = np.zeros((2, 3))
    a[:, :2] = rot
    a[:, 2] = np.array([cx, cy]) - rot @ np.array([lw / 2, lh / 2])
    fg = cv2.warpAffine(tex, a, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    if shadow:
        # Soft contact shadow: the silhouette pushed down and to one side, blurred; it
        # darkens the background multiplicatively like real light loss.
        sh = np.zeros((h, w), np.uint8)
        off = np.array([rng.uniform(-0.03, 0.03) * s, rng.uniform(0.01, 0.04) * s])
        cv2.fillPoly(sh, [np.round((pts + off) * _ONE).astype(np.int32)], 255, cv2.LINE_AA, _SHIFT)
        k = int(0.04 * s) | 1
        shf = cv2.GaussianBlur(sh, (0, 0), sigmaX=k / 2.0).astype(np.float32) / 255.0
        strength = rng.uniform(0.2, 0.4)
        bg = bg * (1.0 - strength * shf)[..., None]

    img = bg * (1.0 - cov[..., None]) + fg * cov[..., None]
    if noise_sigma > 0:
        # Sensor noise drawn at half resolution and upsampled: spatially correlated like a
        # demosaiced photo, and 4x cheaper at 12 MP.
        n = rng.normal(0, noise_sigma, (max(2, h // 2), max(2, w // 2), 3)).astype(np.float32)
        img += cv2.resize(n, (w, h), interpolation=cv2.INTER_LINEAR)
    image = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    return SyntheticProduct(
        image=image,
        mask=mask,
        box=mask_box(mask),
        tilt=float(tilt),
        shape=shape,
        background=background,
        surface=surface,
    )


def product_set(
    count: int, seed: int = 0, size: tuple[int, int] = (720, 960), *, tilt: float | None = None
) -> Iterator[SyntheticProduct]:
    """``count`` products cycling through every shape x background pair, seeds from ``seed``.

    Cycling (rather than drawing) the kinds keeps a small set balanced: 16 images cover
    each shape on each background once.
    """
    for i in range(count):
        shape = SHAPES[i % len(SHAPES)]
        background = BACKGROUNDS[(i // len(SHAPES)) % len(BACKGROUNDS)]
        yield make_product(seed * 1000 + i, size, shape=shape, background=background, tilt=tilt)


def make_tilted_box(
    seed: int, tilt: float, size: tuple[int, int] = (720, 960), *, background: str = "gradient"
) -> SyntheticProduct:
    """A rectangular product (a packaged box) rotated by ``tilt`` degrees, for straightening."""
    return make_product(seed, size, shape="box", background=background, tilt=tilt)
