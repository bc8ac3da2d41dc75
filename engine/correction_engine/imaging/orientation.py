"""Which way up a page of text is: 0, 90, 180 or 270 degrees, by layout analysis and, where its
package is installed, a page-orientation classifier (orientation_model).

Text-line direction (0/180 versus 90/270) comes from projection profiles over a search of skew
angles, so a residual tilt of about ±12 degrees is absorbed. Up versus down comes from the
asymmetry of Latin script around the x-height band: ascenders and capitals put more ink above it
than descenders put below (the cue used by e.g. Caprari, "Algorithm for text page up/down
orientation determination", Pattern Recognition Letters 21, 2000). Rules, table borders and a
diagram's bars are taken out first, from the profiles and from what the classifier sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from correction_engine.imaging.code_blocks import code_blocks

from .orientation_model import model_log_probs, tile_probabilities
from .text_direction import INK_MARGIN, SKEW_RANGE_DEG, find_text_direction, rotate_whole

__all__ = ["Orientation", "estimate_orientation", "find_text_direction", "ink_mask", "kept_as_taken"]

# Connected ink longer than this share of the page's long side is a rule, not a letter or word.
MAX_COMPONENT_FRACTION = 0.12
# Text lines must separate this much better in one direction than the other before the page is
# turned a quarter: a page of drawings or dots has no line direction to follow. (1.5 while the
# chosen direction alone was fine-searched, which inflated the ratio; both are now, and a short
# receipt's lines measure 1.46.)
MIN_LINE_CONFIDENCE = 1.25
# A straight horizontal or vertical stroke at least this share of the page's long side is a rule,
# not part of a letter (see straight_strokes).
RULE_FRACTION = 0.05
# ... with paper this many pixels to either side of it (a rule is a thin line).
RULE_THICKNESS = 5
# Weights of the profile's axis (log line confidence) and of the classical up/down evidence in
# the sum of log-odds that scores each turn (see combine_turns). The axis weighed 0.5 while the
# classifier looked at the whole page only; with tile votes, 0.25 (measured on the even half of
# the real set: 0.5 kept a sticky note whose character grid out-scored its lines sideways).
AXIS_WEIGHT = 0.25
UPDOWN_WEIGHT = 0.5
# When the best turn leads the next by less than this (log-odds), the classifier is also run on
# tiles of the page and their votes, each weighing TILE_VOTE_WEIGHT, join the sum. A clear page
# (about three quarters of the real set's) pays for one classifier run, an unclear one for two.
TILE_GATE = 3.0
TILE_VOTE_WEIGHT = 3.0
# Without clear text lines (line confidence under MIN_LINE_CONFIDENCE) the profile's axis and the
# up/down cue measure nothing (a speck of ink read as an ascender, clipped at +-6.9, turned a blank
# page) and only the classifier speaks. It turns the page only when it is sure of that turn: the
# whole page at MODEL_ALONE_PROBABILITY, or most tiles with strokes in them (at least
# MIN_AGREEING), each at over TILE_SURE; and its best turn must lead "as it is" by NO_LINES_LEAD
# (log-odds). A drawing, a pattern or blank paper has no up to find.
MODEL_ALONE_PROBABILITY = 0.7
TILE_SURE = 0.5
MIN_AGREEING = 2
NO_LINES_LEAD = 0.25
# A page must be this many ink windows (see _ink_window) across its short side to show text
# lines. The window holds a letter with paper around it, so a line of text and its gap take at
# most about one (body text 15-17 px a line on an A4 page at 1100 px, the window 27 px). On a
# page narrower than two, the profile's one crisp step is the page's own two edges: a noise strip
# 6-33 px by 1100 read as one line 13-220 times crisper than across it and was turned.
MIN_LINES = 2

# What the cues settled (see Orientation.cue).
Cue = Literal["turn", "axis", "none"]


@dataclass(frozen=True)
class Orientation:
    """``rotation`` is how far the text is turned clockwise (0, 90, 180, 270); undo it with
    ``np.rot90(page, k=rotation // 90)``. ``skew_deg`` is the residual clockwise tilt found
    (the counter-clockwise turn that levels the lines). ``cue`` says what decided the rotation:
    "turn" (a cue read it), "axis" (the lines' direction only: 0 versus 180 or 90 versus 270 is
    a coin toss) or "none" (nothing did: 0 means only "not read"). A caller that read the page
    in a frame other than the photo's own (the canonical pose) keeps the photo's own frame for
    what no cue decided: "unsure means no turn" must hold for the photo as it was taken."""

    rotation: int
    skew_deg: float
    line_confidence: float  # profile sharpness of the chosen direction over the other, >= 1
    updown_evidence: float  # > 0 for upright once levelled, < 0 for upside down, ~0 unsure
    cue: Cue


def ink_mask(gray: np.ndarray) -> np.ndarray:
    """Dark strokes on a lighter local background (mean-C adaptive threshold), page border trimmed
    because warping leaves a rim of background there, rules and long strokes removed."""
    return _ink_and_rules(gray)[0]


def _ink_and_rules(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ink mask of ``ink_mask``, the straight strokes taken out of it (see straight_strokes)
    and every mark but those strokes (large handwriting included: a word of it joined up is
    longer than the component limit)."""
    h, w = gray.shape
    block = _ink_window(h, w)
    mask = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 12)
    my, mx = int(INK_MARGIN * h), int(INK_MARGIN * w)
    mask[:my] = 0
    mask[h - my :] = 0
    mask[:, :mx] = 0
    mask[:, w - mx :] = 0
    rules = straight_strokes(mask)
    marks = cv2.bitwise_and(mask, cv2.bitwise_not(rules))
    # Ruled and graph-paper lines, table borders and drawings are long connected strokes whose
    # direction says nothing about the text's: keep only components of word size or smaller.
    # (Measured with the rules still in: cut at every rule, a diagram's bars and stems would
    # pass as word-sized pieces.)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    longest = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    too_long = longest > MAX_COMPONENT_FRACTION * max(h, w)
    too_long[0] = False
    if too_long.any():
        mask[too_long[labels]] = 0
    # Then the pieces of faint rules, broken by the threshold into word-sized bits.
    mask[rules > 0] = 0
    return mask, rules, marks


def _ink_window(h: int, w: int) -> int:
    """Side (odd) of the adaptive threshold's window for an ``h`` x ``w`` page: a stroke is ink
    when darker than the mean around it, so the window is sized to hold a letter and paper."""
    return max(15, int(max(h, w) / 40) | 1)


def straight_strokes(ink: np.ndarray) -> np.ndarray:
    """Ink lying on thin straight horizontal or vertical runs of at least RULE_FRACTION of the
    long side, widened by a pixel: rules, table borders, a diagram's bars, a barcode's bars.

    Faint rules break into pieces under the adaptive threshold, each shorter than the component
    limit, and the pieces of rules that run across the text (lined paper held sideways to its
    writing) lined up into a profile sharper than the text's own lines (line confidence 6.7-9.8
    for the wrong axis). Letters have no straight run that long.
    """
    h, w = ink.shape
    length = max(15, int(RULE_FRACTION * max(h, w)))
    near = RULE_THICKNESS - 1
    strokes = np.zeros_like(ink)
    for axis, run in ((0, (length, 1)), (1, (1, length))):
        straight = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, run))
        if not straight.any():
            # No run that long this way (3-4 of 29 real pages): every stroke below lies within it.
            continue
        # A rule has paper on both sides; the edge of a line of small print that the threshold
        # merged into a solid bar (a low-resolution card) is straight too, with print beside it.
        widened = cv2.dilate(ink, np.ones((3, 1) if axis == 0 else (1, 3), np.uint8))
        beside = cv2.bitwise_or(np.roll(widened, near, axis=axis), np.roll(widened, -near, axis=axis))
        lone = cv2.bitwise_and(straight, cv2.bitwise_not(beside))
        # A rule crossing it (graph paper, a margin line) breaks it for a few pixels: bridge that.
        bridge = (2 * RULE_THICKNESS + 1, 1) if axis == 0 else (1, 2 * RULE_THICKNESS + 1)
        lone = cv2.morphologyEx(lone, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, bridge))
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, run)
        rules = cv2.morphologyEx(lone, cv2.MORPH_OPEN, kernel)
        # Where a rule crosses a line of writing it has print beside it; it goes on straight
        # through, and its pieces there would line up across the text as crisply as the rules.
        strokes |= cv2.bitwise_and(straight, cv2.dilate(rules, kernel))
    return cv2.dilate(strokes, np.ones((3, 3), np.uint8))


def without_strokes(gray: np.ndarray, strokes: np.ndarray) -> np.ndarray:
    """``gray`` with the pixels of ``strokes`` painted with the paper around them (a grey closing
    wipes out dark lines thinner than its kernel and keeps larger dark areas)."""
    if not strokes.any():
        return gray
    paper = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    out = gray.copy()
    out[strokes > 0] = paper[strokes > 0]
    return out


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
    first, last = [], []
    for top, bottom in runs:
        cols = np.flatnonzero(mask[max(0, top - 1) : bottom + 1].any(axis=0))
        if bottom - top >= 2 and len(cols):
            first.append(cols[0])
            last.append(cols[-1])
    if len(first) < 4:
        return 0.0
    starts, ends = np.array(first, float), np.array(last, float)
    mad_start = np.median(np.abs(starts - np.median(starts)))
    mad_end = np.median(np.abs(ends - np.median(ends)))
    scale = 0.01 * mask.shape[1]  # spreads below 1 % of the width are alignment, not raggedness
    return float(np.log((mad_end + scale) / (mad_start + scale)))


def estimate_orientation(
    gray: np.ndarray, *, min_evidence: float = 0.05, use_model: bool = True
) -> Orientation:
    """The page's text rotation from a greyscale page (best at 800-1200 px on the long side).

    The line direction and residual skew come from projection profiles. Classical evidence, with
    the lines levelled: log(ascender/descender ink) + 0.5 * alignment asymmetry for up versus
    down. Without the classifier the profile's direction and the classical up/down cue decide;
    when the total is weaker than ``min_evidence`` the page is left as it was turned rather than
    flipped on a coin toss, and a page without clear text lines is left as it is. With the
    classifier (its package installed), each of the four turns is scored by a sum of log-odds
    (see combine_turns), so a confident classifier can overrule the profile's direction
    (monospace receipts, whose character columns are as crisp as their lines) and a confused one
    cannot; when the best turn does not lead clearly, tiles of the page vote as well (see
    orientation_model.tile_probabilities). A page without clear text lines is turned only by a
    classifier sure of the turn (see _sure_without_lines).
    """
    if min(gray.shape[:2]) < MIN_LINES * _ink_window(*gray.shape[:2]):
        return Orientation(0, 0.0, 1.0, 0.0, "none")
    mask, rules, marks = _ink_and_rules(gray)
    # A code (QR, Aztec) is no print: its modules would set the lines and draw the tiles.
    blocks, paper = code_blocks(gray)
    # The page with its "codes" kept, for the classifier alone when no lines are found (below).
    whole_mask, whole_marks = mask, marks
    if blocks.any():
        mask, marks = mask.copy(), marks.copy()
        mask[blocks > 0] = 0
        marks[blocks > 0] = 0
    if not mask.any():
        return Orientation(0, 0.0, 1.0, 0.0, "none")
    # Direction search on a half-size mask: lines survive, the search costs a quarter.
    small = cv2.resize(mask, (mask.shape[1] // 2, mask.shape[0] // 2), interpolation=cv2.INTER_AREA)
    angle, line_conf = find_text_direction(small)
    no_lines = line_conf < MIN_LINE_CONFIDENCE
    # The classifier sees the page as it is, not levelled: levelled by a skew measured on a bowed
    # page it lost its answer (0.91 -> 0.51 on a book page); the tile votes were measured on the
    # page as it is, and it saves a warp. It sees it without rules: lined paper held sideways to
    # its writing read as lines of text across the writing (0.78-0.92 for a wrong turn; 0.9-2.7
    # of 3 tile votes for the right one with the rules painted out).
    seen = without_strokes(gray, rules) if use_model else gray
    if use_model and blocks.any() and not no_lines:
        # Codes are painted out so that their modules draw no tiles; with no lines found there
        # is nothing for them to set, and on a small page (a magazine cover 103 px across) the
        # "code" was the cover's photo and big title (the classifier's 0.73 for the right turn
        # fell to 0.24 painted, a wrong one won): the classifier alone then reads the page whole.
        seen = np.where(blocks > 0, paper, seen)
    log_p = model_log_probs(seen) if use_model else None
    if no_lines and log_p is None:
        return Orientation(0, 0.0, line_conf, 0.0, "none")
    vertical = abs(angle) > SKEW_RANGE_DEG + 0.01
    skew = angle - (90.0 if vertical else 0.0)
    level = rotate_whole(mask, angle)
    ratio = ascender_descender_ratio(level)
    evidence = float(np.log(np.clip(ratio, 1e-3, 1e3))) + 0.5 * alignment_asymmetry(level)
    # After rotating CCW by `angle` the lines are horizontal and the text upright (evidence > 0)
    # or upside down. Lines made horizontal by +90 CCW had been turned 90 clockwise.
    if log_p is None:
        flipped = evidence < -min_evidence
        if vertical:
            rotation = 270 if flipped else 90
        else:
            rotation = 180 if flipped else 0
        # Under min_evidence up versus down was not read: only the lines' axis was.
        return Orientation(
            rotation, skew, line_conf, evidence, "axis" if abs(evidence) < min_evidence else "turn"
        )
    if no_lines:
        # Nothing to level and no up/down cue: the classifier alone, on its own terms, on the
        # page with its "codes" kept (see ``seen``).
        sure = _sure_without_lines(seen, whole_mask, whole_marks, log_p)
        if sure is None:
            return Orientation(0, 0.0, line_conf, 0.0, "none")
        return Orientation(90 * sure, 0.0, line_conf, 0.0, "turn")
    scores = combine_turns(log_p, vertical, line_conf, evidence)
    if _lead(scores) < TILE_GATE:
        tiles = tile_probabilities(seen, mask, marks)
        if tiles is not None:
            scores = combine_turns(
                log_p + TILE_VOTE_WEIGHT * tiles.sum(axis=0), vertical, line_conf, evidence
            )
    rotation = int(np.argmax(scores))
    along = (1, 3) if vertical else (0, 2)
    return Orientation(90 * rotation, skew, line_conf, float(scores[along[0]] - scores[along[1]]), "turn")


def kept_as_taken(rotation: int, cue: Cue) -> int:
    """``rotation`` (read in a pose of the page, mapped back to the photo as taken) with what no
    cue decided left as the photo was taken: no turn when nothing was read, and no half turn
    beyond the lines' axis when only that was (see Orientation.cue)."""
    if cue == "none":
        return 0
    return rotation % 180 if cue == "axis" else rotation


def _sure_without_lines(
    seen: np.ndarray, mask: np.ndarray, marks: np.ndarray, log_p: np.ndarray
) -> int | None:
    """Quarter turns for a page without clear text lines: the classifier's best turn (whole page,
    plus tile votes when that is unclear) when it leads "as it is" by NO_LINES_LEAD and either the
    whole page gives it MODEL_ALONE_PROBABILITY or most tiles with strokes are sure of it; else
    None (not read). A best turn of 0 must lead every other turn by NO_LINES_LEAD instead: "as
    it is" may be a pose the photo was not taken in (the canonical pose), where a 0 read on a
    lean would turn the photo. The skew found without lines is noise: none is reported."""
    scores = np.asarray(log_p, dtype=np.float64).copy()
    tiles = tile_probabilities(seen, mask, marks) if _lead(scores) < TILE_GATE else None
    if tiles is not None:
        scores += TILE_VOTE_WEIGHT * tiles.sum(axis=0)
    best = int(np.argmax(scores))
    if (_lead(scores) if best == 0 else scores[best] - scores[0]) < NO_LINES_LEAD:
        return None
    if float(np.exp(log_p[best])) >= MODEL_ALONE_PROBABILITY:
        return best
    if tiles is None or len(tiles) == 0:
        return None
    agreeing = int(np.sum((np.argmax(tiles, axis=1) == best) & (tiles.max(axis=1) > TILE_SURE)))
    return best if agreeing >= MIN_AGREEING and 2 * agreeing > len(tiles) else None


def _lead(scores: np.ndarray) -> float:
    """How far the best turn's score is ahead of the second best."""
    top = np.sort(scores)
    return float(top[-1] - top[-2])


def combine_turns(log_p: np.ndarray, vertical: bool, line_conf: float, evidence: float) -> np.ndarray:
    """The score of each turn (0, 90, 180, 270 clockwise) from the classifier's log-probabilities
    (plus any tile votes), the profile's axis and line confidence, and the classical up/down
    evidence on that axis.

    Each turn is scored as a sum of log-odds: the classifier's, plus AXIS_WEIGHT times the log
    line confidence for the turns along the profile's direction (minus it for the others), plus
    UPDOWN_WEIGHT times the classical up/down evidence on that axis. (Choosing the axis first
    and up versus down after, so the classical evidence has no say in the axis, was measured
    on the real set: no page with text changed, so the simpler sum stays.)"""
    along = (1, 3) if vertical else (0, 2)
    scores = np.asarray(log_p, dtype=np.float64).copy()
    axis = AXIS_WEIGHT * float(np.log(line_conf))
    for r in range(4):
        scores[r] += axis if r in along else -axis
    # along[0] is the turn whose text is upright once levelled by `angle`, along[1] its flip.
    scores[along[0]] += UPDOWN_WEIGHT * evidence
    scores[along[1]] -= UPDOWN_WEIGHT * evidence
    return scores
