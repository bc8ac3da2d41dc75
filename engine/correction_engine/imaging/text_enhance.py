"""Text enhancement for photographed pages: flat paper, dark text, colour kept.

The paper's light is estimated at low resolution by a morphological closing that erases the
(dark, thin) text, and the photo is divided by it per channel, which removes shadows, vignetting
and colour casts while keeping coloured ink coloured (flat-field correction by background
estimation, as in e.g. Lu, Su & Tan, "Document image binarization using background estimation
and stroke edges", IJDAR 13, 2010). A tone curve then sets paper to white and ink to near black,
and an unsharp mask restores stroke edges softened by the camera; noise is removed by dividing
by the paper level less a margin of a few noise deviations, which clips it to white. Print too
small to read (letters a few pixels high: receipts photographed whole, low-resolution scans) is
enlarged before all this, so the result reads better than its input rather than just cleaner.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from correction_core.contract import MAX_DIMENSION

from .geometry import downscale
from .letter_height import text_height

# Where the closing's background is darker than this share of the paper around it, it is dark
# printed content, not paper in shadow (the printed squares of the real set's boofcv pages read
# 0.13-0.29 of their paper) - unless its surround is as dark (SHADOW_RIM_SHARE): the deepest
# shadows keep 15 % of the light.
CONTENT_DARKNESS = 0.3
# Where one channel of the closing's background is this many times brighter, relative to the
# surrounding paper, than another, it is a coloured print (a label, a stamp pad, a photo), not a
# colour cast: casts tint paper by a few tens of percent.
CONTENT_CHROMA = 1.5
CONTENT_GROW = 0.7
# A dark area whose surround is, over this share of it, no brighter than the area itself is paper
# in shadow, not print: the rim of a shadow wider than the wide closing reads dark against the lit
# paper the closing reaches across, but it runs on into the shadow's inside, paper of its own
# tone. Printed content is darker than all the paper around it, lit or shaded alike. (Lowering
# CONTENT_DARKNESS instead washed plain dark-grey print to white and only moved the cliff.)
SHADOW_RIM_SHARE = 0.25
# "No brighter": the surround's level under this many times the area's mean level.
SHADOW_RIM_STEP = 1.3
# A tint: the closing's background under this share of the page's paper white; it is printed
# if light marks at least TINT_LETTER_STEP above it (its letters) cover TINT_LETTER_SHARE of it.
TINT_LEVEL = 0.9
TINT_LETTER_STEP = 0.1
TINT_LETTER_SHARE = 0.03
# Print beside a shadow (see print_beside_a_shadow): a part of a tint region this much darker
# than its letters' tone, over SHADE_SHARE of it, with under SHADE_LETTER_SHARE letters in it.
# The demo page's shadow beside its grey rows: 0.24 darker, 67 % of the region, 0.00005 letters
# per pixel; real tints on the real set with a darker part: at least 0.006 (a sixth of
# TINT_LETTER_SHARE), and that one a speck under the size of a band.
SHADE_STEP = 0.15
SHADE_SHARE = 0.25
SHADE_LETTER_SHARE = 0.003
# ... and whose lit part is over this share paper: the demo's rows 0.52; tints (their letters)
# under a shadow, beside one, or holding a printed photo: 0.18 at most (review cases).
ROWS_PAPER_SHARE = 0.4
# Small print: below this median letter height (pixels, ink marks of the enhanced page) the page
# is enlarged so that its letters reach it. Tesseract, like a reader without a zoom, loses
# letters a few pixels high, and at that size the tone curve and sharpening thicken strokes
# until letters touch: on the real set's printed pages (bench/real_documents.py, true crops) type
# 1 read 311 and 89 dictionary words on the even and odd halves at the crop's size (raw crop: 280
# and 71, 7 pages below it), 348 and 123 enlarged (raw crop enlarged alike: 323 and 105; no page
# below raw). 12 to 20 px read alike on the even half; at most MAX_UPSCALE times, and never past
# the contract's largest image.
READABLE_TEXT_HEIGHT = 16.0
MAX_UPSCALE = 3.0
MIN_UPSCALE = 1.25  # below this, resampling blurs more than it enlarges
# Nor past 12 MP: the photo size the engine's speed and memory goals are set for
# (docs/benchmarks.md), so an enlarged page costs no more than a large photo.
MAX_ENLARGED_PIXELS = 12_000_000


@dataclass(frozen=True)
class TextTuning:
    """The enhancement's settings, in one place for enhance_text and enhance_at_size: the
    paper's light estimated at most ``work_side`` px on its long side; paper noise clipped
    ``noise_margin`` deviations below white; ``ink_percentile`` of the flattened grey becomes
    black; a tone curve with ``gamma``; an unsharp mask of ``sharpen_amount``."""

    work_side: int = 900
    noise_margin: float = 3.0
    ink_percentile: float = 0.5
    gamma: float = 1.3
    sharpen_amount: float = 0.35


DEFAULT_TUNING = TextTuning()


def solid_content_mask(background: np.ndarray, paper: np.ndarray, stroke: int = 9) -> np.ndarray:
    """Where a closing-based ``background`` is dark or coloured printed content rather than paper:
    logos, headings, reverse-text bands, printed photos and coloured labels wider than the
    closing, which would otherwise be divided by themselves and wash out to white. ``paper`` is
    the paper level around them (a closing wide enough to bridge them); ``stroke`` the closing's
    width, which sets the size of the light letters a tinted band may hold."""
    # Per channel with OpenCV: numpy's reductions over a 3-long last axis are ten times slower.
    # (One pass each: the same whole numbers as a cast and then an add, in half the time.)
    one = np.float32(1.0)
    ratio = cv2.divide(np.add(background, one, dtype=np.float32), np.add(paper, one, dtype=np.float32))
    r, g, b = cv2.split(ratio)
    lum = (r + g + b) / 3.0
    chroma = cv2.max(cv2.max(r, g), b) / np.maximum(cv2.min(cv2.min(r, g), b), 1e-3)
    level = cv2.cvtColor(background, cv2.COLOR_RGB2GRAY).astype(np.float32)
    dark = lum < CONTENT_DARKNESS
    seeds = (dark & ~shadow_rims(dark, lum < CONTENT_GROW, level, stroke)) | (chroma > CONTENT_CHROMA)
    # Tints are judged against the page's paper at large: a band covering half a card is its own
    # surround, so relative to the local paper level it looks like paper.
    white = float(np.percentile(cv2.cvtColor(paper[::4, ::4], cv2.COLOR_RGB2GRAY), 95)) + 1.0
    seeds |= reverse_text_tints(level / white, stroke)
    # Hysteresis: a printed photo is that dark or coloured only in parts; its lighter tones are
    # still well below the paper around it. Grow the seeds through connected pixels darker than
    # CONTENT_GROW of the paper (paper in a shadow wider than the wide closing reads near 1 here).
    weak = ((lum < CONTENT_GROW) | seeds).astype(np.uint8)
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    keep = np.zeros(n, bool)
    keep[labels[seeds]] = True
    keep[0] = False
    mask = keep[labels].astype(np.uint8)
    if not mask.any():
        # No content (a quarter of the real pages): the closing, the reach past the rim and the
        # fill below keep an empty mask empty.
        return mask.astype(bool)
    # A printed photo is dark or coloured only in parts: close the gaps between them, then reach
    # a little past the rim, so the paper level is filled in from clean paper around it. (A
    # texture cue for light-toned pictures was tried: the closing's background is as uneven along
    # a hard shadow's edge as inside a pale photo, so it kept shadows; left out.)
    k = max(3, int(round(max(mask.shape) / 60)) | 1)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    # What such an area encloses belongs to it: the light middle of a picture wider than the
    # wide closing, the letters of a reverse-text band.
    outside = np.pad(1 - mask, 1, constant_values=1)
    cv2.floodFill(outside, None, (0, 0), 2)
    mask[outside[1:-1, 1:-1] == 1] = 1
    return mask.astype(bool)


def shadow_rims(dark: np.ndarray, weak: np.ndarray, level: np.ndarray, stroke: int) -> np.ndarray:
    """The pieces of ``dark`` that are paper in shadow. Each is judged by ``level`` (the
    closing's grey) in a ring ``stroke`` wide around the region of ``weak`` holding it (a printed
    area's lighter parts are no surround of its darker ones; ``dark`` lies within ``weak``):
    over SHADOW_RIM_SHARE of the ring no brighter than the piece (SHADOW_RIM_STEP times its mean
    level)."""
    pieces, piece_labels = cv2.connectedComponents(dark.astype(np.uint8), connectivity=8)
    if pieces <= 1:
        return np.zeros(dark.shape, bool)
    _, labels, region_stats, _ = cv2.connectedComponentsWithStats(weak.astype(np.uint8), connectivity=8)
    inside = piece_labels[dark]
    counts = np.bincount(inside, minlength=pieces)
    piece_level = np.bincount(inside, weights=level[dark], minlength=pieces) / np.maximum(counts, 1)
    region_of = np.zeros(pieces, np.int64)
    region_of[inside] = labels[dark]
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * stroke + 1, 2 * stroke + 1))
    h, w = labels.shape
    rims = np.zeros(pieces, bool)
    for region in np.unique(region_of[1:]):
        x, y, rw, rh = (int(v) for v in region_stats[region, :4])
        y0, y1, x0, x1 = (
            max(0, y - stroke),
            min(h, y + rh + stroke),
            max(0, x - stroke),
            min(w, x + rw + stroke),
        )
        grown = cv2.dilate((labels[y0:y1, x0:x1] == region).astype(np.uint8), k) > 0
        ring = np.sort(level[y0:y1, x0:x1][grown & ~weak[y0:y1, x0:x1]])
        if ring.size == 0:
            continue
        held = np.flatnonzero(region_of == region)  # region > 0, so never label 0
        as_dark = np.searchsorted(ring, SHADOW_RIM_STEP * piece_level[held], side="right") / ring.size
        rims[held] = as_dark >= SHADOW_RIM_SHARE
    return rims[piece_labels]


def reverse_text_tints(lum: np.ndarray, stroke: int) -> np.ndarray:
    """Tinted areas that hold light letters (a grey band with white text on a card, a coloured
    label): too light to be told from paper in shadow by their tone, but a shadow darkens
    everything under it, while a printed tint is broken by letters as light as the paper.

    ``lum`` is the closing's background relative to the page's paper white; the closing keeps
    light details, so the letters are there as narrow marks brighter than the tint around them
    (a white top-hat). Paper in shadow holds dark text only, which the closing has erased, so
    its background has no such marks (a shadow's edge is wider than the top-hat's square)."""
    tint = (lum < TINT_LEVEL).astype(np.uint8)
    if not tint.any():
        return tint.astype(bool)
    # A square: OpenCV runs it as two 1-D passes, an ellipse costs its full area per pixel.
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * stroke + 1, 2 * stroke + 1))
    rise = cv2.morphologyEx(lum, cv2.MORPH_TOPHAT, k)
    marks = rise > TINT_LETTER_STEP
    # A letter mark lies in a tint if the tint surrounds it: close the tint over the marks.
    tint = cv2.morphologyEx(tint, cv2.MORPH_CLOSE, k)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(tint, connectivity=8)
    if n <= 1:
        return np.zeros(lum.shape, bool)
    hits = np.bincount(labels[marks], minlength=n).astype(float)
    density = hits / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
    # Big enough to hold a line of letters: a speck between two dark marks is not a band.
    keep = (density >= TINT_LETTER_SHARE) & (stats[:, cv2.CC_STAT_AREA] >= (4 * stroke) ** 2)
    keep[0] = False
    keep &= ~print_beside_a_shadow(lum, rise, marks, labels, keep, stroke)
    return keep[labels] & (lum < TINT_LEVEL)


def print_beside_a_shadow(
    lum: np.ndarray,
    rise: np.ndarray,
    marks: np.ndarray,
    labels: np.ndarray,
    candidates: np.ndarray,
    stroke: int,
) -> np.ndarray:
    """Which ``candidates`` (tint regions, flags over ``labels``) are rows of print beside a
    shadow, not a printed tint. Large print can outlast the closing as grey rows whose gaps
    (``marks``, ``rise`` above their surround in ``lum``) read as a tint's letters, and the tint's
    closing joins the rows to a shadow that touches them. A printed tint's letters are paper
    white on the tint and still stand out where a shadow falls across it; the gaps between grey
    rows barely clear TINT_LETTER_STEP in the light and vanish in the shade. So a region with a
    part SHADE_STEP darker than the tone its letters stand in, over SHADE_SHARE of it, holding
    almost no letters of its own (SHADE_LETTER_SHARE), is no tint - when its lit part is rows on
    paper: over ROWS_PAPER_SHARE of it as light as paper. A tint is tint between its letters; a
    deep shadow across it hides its letters too, and a photo printed in it has none."""
    flagged = np.zeros(candidates.shape, bool)
    kept = np.flatnonzero(candidates)
    if kept.size == 0:
        return flagged
    n = candidates.size
    ground = lum - rise  # the level each letter stands in (the opening)
    tone = np.zeros(n, np.float32)
    region = candidates[labels]  # pixels of the candidate regions
    on = marks & region
    mark_labels, mark_ground = labels[on], ground[on]
    for c in kept:  # a handful of regions; each one's letters only
        tone[c] = np.median(mark_ground[mark_labels == c])
    shade_level = tone[labels] - SHADE_STEP
    tinted = region & (lum < TINT_LEVEL)
    shade = tinted & (lum < shade_level)
    shade_area = np.bincount(labels[shade], minlength=n)
    tinted_area = np.bincount(labels[tinted], minlength=n)
    shade_letters = np.bincount(labels[on & (ground < shade_level)], minlength=n)
    lit_part = region & ~shade
    lit_area = np.bincount(labels[lit_part], minlength=n)
    lit_paper = np.bincount(labels[lit_part & (lum >= TINT_LEVEL)], minlength=n)
    paper_share = lit_paper / np.maximum(lit_area, 1)
    flagged[kept] = (
        (shade_area[kept] >= SHADE_SHARE * tinted_area[kept])
        & (shade_area[kept] >= (4 * stroke) ** 2)
        & (shade_letters[kept] < SHADE_LETTER_SHARE * shade_area[kept])
        & (paper_share[kept] >= ROWS_PAPER_SHARE)
    )
    return flagged


def background_at_work_size(
    image: np.ndarray,
    *,
    work_side: int = 900,
    stroke_fraction: float = 1 / 110,
    keep_solid_content: bool = True,
) -> np.ndarray:
    """The paper's light on a copy of ``image`` at most ``work_side`` on its long side.

    The closing's square is ``stroke_fraction`` of the long side, wider than text strokes and
    narrower than shadows, so a hard shadow edge survives where a wide blur would smear it.
    Large dark or coloured printed areas outlast any closing that keeps shadow edges: with
    ``keep_solid_content`` they are found (see solid_content_mask) and the paper's light over them
    is filled in from the paper around them (inpainting, Telea 2004), so they keep their look.
    """
    small, _ = downscale(image, work_side)
    k = max(3, int(round(max(small.shape[:2]) * stroke_fraction)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    # Heavier text (headings, bold) can outlast the closing: a median removes what is left and
    # rounds the closing's square steps without moving shadow edges (a blur would, and leave a
    # dark seam along every hard shadow). At most 5 wide: OpenCV's 8-bit median is twenty
    # times slower above that.
    bg = cv2.medianBlur(bg, min(k, 5))
    if keep_solid_content:
        # The paper level around content: a closing several times wider, on a quarter-size copy
        # (the same bridge for a sixteenth of the work).
        tiny, _ = downscale(bg, max(32, max(bg.shape[:2]) // 4))
        kk = max(3, int(round(max(tiny.shape[:2]) / 4)) | 1)
        wide = cv2.morphologyEx(tiny, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (kk, kk)))
        paper = cv2.resize(wide, (bg.shape[1], bg.shape[0]), interpolation=cv2.INTER_LINEAR)
        content = solid_content_mask(bg, paper, k)
        if content.any() and not content.all():
            # Paper's light varies slowly: fill it in on the quarter-size copy (inpainting's cost
            # grows with the area filled) and bring back only the filled pixels.
            hole = (
                cv2.resize(
                    content.astype(np.float32), (tiny.shape[1], tiny.shape[0]), interpolation=cv2.INTER_AREA
                )
                > 0
            )
            filled = cv2.inpaint(tiny, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)
            filled = cv2.resize(filled, (bg.shape[1], bg.shape[0]), interpolation=cv2.INTER_LINEAR)
            bg = np.where(content[..., None], filled, bg)
    return bg


def tone_curve(black: float, white: float, gamma: float) -> np.ndarray:
    """256-entry lookup table: ``black`` and below to 0, ``white`` and above to 255, and a gamma
    above 1 between them, which darkens the anti-aliased edges of strokes."""
    x = np.arange(256, dtype=np.float64)
    t = np.clip((x - black) / max(white - black, 1.0), 0.0, 1.0)
    return np.round(255.0 * t**gamma).astype(np.uint8)


def estimate_noise(image: np.ndarray, *, crop: int = 384) -> float:
    """Standard deviation of pixel noise, from the median absolute deviation of a central crop's
    difference to its 3x3 median (a robust estimator in the spirit of Donoho's MAD rule)."""
    h, w = image.shape[:2]
    y0, x0 = max(0, h // 2 - crop // 2), max(0, w // 2 - crop // 2)
    patch = cv2.cvtColor(np.ascontiguousarray(image[y0 : y0 + crop, x0 : x0 + crop]), cv2.COLOR_RGB2GRAY)
    resid = patch.astype(np.int16) - cv2.medianBlur(patch, 3).astype(np.int16)
    return float(1.4826 * np.median(np.abs(resid)) * 1.5)


def largest_enlargement(shape: tuple[int, ...]) -> float:
    """The most a page of ``shape`` may be enlarged: MAX_UPSCALE, within MAX_DIMENSION a side
    and MAX_ENLARGED_PIXELS."""
    h, w = shape[:2]
    return min(MAX_UPSCALE, MAX_DIMENSION / max(h, w), float(np.sqrt(MAX_ENLARGED_PIXELS / (h * w))))


def letter_sample(page: np.ndarray, *, pixels: int = 2_000_000, tiles: int = 3) -> np.ndarray:
    """``page`` itself if at most ``pixels``, else ``tiles`` x ``tiles`` windows spread evenly
    over it, ``pixels`` in all, set side by side with white gaps (so no mark joins two): hundreds
    of letters on a page of print wherever its text lies, and measuring them then costs a
    fraction of the enhancement on any page."""
    h, w = page.shape[:2]
    f = float(np.sqrt(pixels / (h * w)))
    if f >= 1.0:
        return page
    th, tw = max(1, int(h * f / tiles)), max(1, int(w * f / tiles))
    rows = []
    for i in range(tiles):
        y = (2 * i + 1) * h // (2 * tiles) - th // 2
        row = []
        for j in range(tiles):
            x = (2 * j + 1) * w // (2 * tiles) - tw // 2
            row += [page[y : y + th, x : x + tw], np.full((th, 1, *page.shape[2:]), 255, page.dtype)]
        rows += [np.concatenate(row, axis=1)]
        rows += [np.full((1, *rows[-1].shape[1:]), 255, page.dtype)]
    return np.ascontiguousarray(np.concatenate(rows, axis=0))


def reading_scale(shape: tuple[int, ...], letter_height: float | None) -> float:
    """How much to enlarge a page of ``shape`` whose letters are ``letter_height`` px high so
    that they reach READABLE_TEXT_HEIGHT: 1 when they already do, when nothing reads as letters,
    or when the enlargement allowed (largest_enlargement) is too small to matter."""
    if letter_height is None or letter_height >= READABLE_TEXT_HEIGHT:
        return 1.0
    s = min(READABLE_TEXT_HEIGHT / letter_height, largest_enlargement(shape))
    return s if s >= MIN_UPSCALE else 1.0


def enhance_text(
    image: np.ndarray,
    *,
    enlarge_small_print: bool = True,
    tuning: TextTuning = DEFAULT_TUNING,
) -> np.ndarray:
    """Type 1: ``image`` enhanced by enhance_at_size (``tuning`` is its settings); where its
    print is too small to read (see text_height), the page enlarged first (bicubic) so its
    letters are READABLE_TEXT_HEIGHT high, and the result is that much larger than the input.

    The letters are measured on an enhanced sample of the page, where ink and paper are told
    apart; a page too large to be enlarged by MIN_UPSCALE (see largest_enlargement) is not
    measured at all (a 12 MP photo costs what it did)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("enhance_text expects an HxWx3 RGB image")
    # Measured once, on the photo as taken: an enlargement smooths the noise pixel to pixel,
    # which would halve the estimate, while its blotches stay as strong and must still be
    # clipped to white.
    noise = estimate_noise(image)
    if not enlarge_small_print or largest_enlargement(image.shape) < MIN_UPSCALE:
        return enhance_at_size(image, tuning=tuning, noise=noise)
    # The letters are measured on an enhanced sample of the page (at most 2 MP), flattened by
    # the page's own light: estimating the light is most of an enhancement's cost whatever the
    # size, and the page needs it anyway when its print is large enough. A page small enough to
    # be its own sample and needing no enlargement is then already done.
    h, w = image.shape[:2]
    light = cv2.resize(paper_light(image, tuning=tuning, noise=noise), (w, h), interpolation=cv2.INTER_LINEAR)
    sample = letter_sample(image)
    enhanced_sample = flatten(sample, letter_sample(light), tuning=tuning)
    s = reading_scale(image.shape, text_height(cv2.cvtColor(enhanced_sample, cv2.COLOR_RGB2GRAY)))
    if s == 1.0:
        return enhanced_sample if sample is image else flatten(image, light, tuning=tuning)
    # The enlarged page finds its own light: no full-size copy held while it does (review: 22 MB
    # more at the peak on a 7 MP page).
    del light, enhanced_sample
    # Floor, not round: the enlarged page stays within MAX_DIMENSION and MAX_ENLARGED_PIXELS.
    big = cv2.resize(image, (int(w * s), int(h * s)), interpolation=cv2.INTER_CUBIC)
    return enhance_at_size(big, tuning=tuning, noise=noise)


def enhance_at_size(
    image: np.ndarray,
    *,
    tuning: TextTuning = DEFAULT_TUNING,
    noise: float | None = None,
) -> np.ndarray:
    """Flatten the light, stretch contrast, keep colour, denoise and sharpen; same size as input:
    ``image`` divided by its paper_light (see there for ``noise``) and finished by flatten."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("enhance_text expects an HxWx3 RGB image")
    h, w = image.shape[:2]
    small = paper_light(image, tuning=tuning, noise=noise)
    return flatten(image, cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), tuning=tuning)


def paper_light(
    image: np.ndarray, *, tuning: TextTuning = DEFAULT_TUNING, noise: float | None = None
) -> np.ndarray:
    """The paper's light under ``image`` at most ``tuning.work_side`` on its long side (see
    background_at_work_size), less ``tuning.noise_margin`` noise deviations: each pixel divided
    by it, paper noise lands at or above white and is clipped away even in a deep shadow, where
    the division's gain is highest and a fixed white point would let it through as grey
    speckle. ``noise`` is that deviation when known, else measured here (see estimate_noise)."""
    noise = estimate_noise(image) if noise is None else noise
    margin = int(round(min(tuning.noise_margin * max(noise, 1.0), 40.0)))
    # The margin and the floor that keeps the division finite are applied at the work size,
    # before the one full-size resize: two passes over 12 MP fewer.
    return np.maximum(cv2.subtract(background_at_work_size(image, work_side=tuning.work_side), margin), 1)


def flatten(image: np.ndarray, light: np.ndarray, *, tuning: TextTuning = DEFAULT_TUNING) -> np.ndarray:
    """``image`` divided by ``light`` (its paper_light at its size), then
    ``tuning.ink_percentile`` of the flattened grey made black by a tone curve and the strokes
    sharpened."""
    h, w = image.shape[:2]
    flat = cv2.divide(image, light, scale=255)
    # The ink level from a strided sample of pixels, not an averaged thumbnail: averaging mixes
    # thin strokes with paper and would put the black point far above the ink.
    step = max(1, int(np.sqrt(h * w / 250_000)))
    grey = cv2.cvtColor(np.ascontiguousarray(flat[::step, ::step]), cv2.COLOR_RGB2GRAY)
    hist = np.bincount(grey.ravel(), minlength=256).cumsum()
    black = float(np.searchsorted(hist, hist[-1] * tuning.ink_percentile / 100.0))
    black = min(black, 140.0)  # a page with almost no ink must not have its paper turned black
    lut = tone_curve(black, 255.0, tuning.gamma)
    # Unsharp mask with a 3x3 box: strokes a few pixels wide regain their edges, and the
    # overshoot on the paper side is clipped to white by the division's saturation. Gently: at
    # 0.7 the overshoot on small print (receipts, x-height 6-8 px) closed letters' counters and
    # Tesseract read fewer words on both halves of the real set (267 -> 271 even, 101 -> 105
    # odd at 0.35, against 244 and 100 for the raw crop).
    if tuning.sharpen_amount > 0:
        blurred = cv2.blur(flat, (3, 3))
        flat = cv2.addWeighted(flat, 1 + tuning.sharpen_amount, blurred, -tuning.sharpen_amount, 0)
    return cv2.LUT(flat, lut)
