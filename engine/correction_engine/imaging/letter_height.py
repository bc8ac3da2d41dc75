"""How tall the print on a page is: the median height of its letters, or None.

Type 1 enlarges small print before enhancing it (:mod:`correction_engine.imaging.text_enhance`);
this module says whether a page holds print and how small it is, telling letters in lines apart
from the grain of a surface and from a halftone screen's dots. Pure functions of a grey page.
"""

from __future__ import annotations

import cv2
import numpy as np

# Letters of print: at least this share of the letter-like marks stand in text lines. Dense
# receipts run their letters together into words (no longer letter-shaped), leaving 40-50 % of
# the marks in lines; the grain of a carpet around a note leaves about 13 %.
IN_LINES_SHARE = 0.3
# A halftone screen (a photo printed in a newspaper, magazine or flyer) stands in rows like
# letters in lines, but its dots are near-identical in size and evenly spaced: a row of at least
# SCREEN_ROW_MARKS marks where most marks match the one before them within SCREEN_LIKENESS, in
# ink area and in the step from it, is a screen's, not print. Synthetic screens (3-7 px dots,
# 6-12 px pitch, round and elliptical, flat and photo tones) differ by 0.08 or less at the
# median; the lines of the real set's pages by 0.15-0.7 in area (0.3 typical), and the few rows
# that match are repeats, not words (asterisks, a passport's filler chevrons, a column of equal
# prices read sideways). A screen's area: its dots closed over SCREEN_GAP pitches, where that
# many rows stack.
SCREEN_ROW_MARKS = 8
SCREEN_LIKENESS = 0.15
SCREEN_GAP = 4


def text_height(grey: np.ndarray) -> float | None:
    """The height in pixels of the print on an enhanced page's ``grey`` (paper white, ink dark):
    the median height of its letters, or None where too few marks read as letters in lines of
    text to say (a photo, a blank page, a textured surface, noise).

    Letter-like marks: at least 3 px high, at most an eighth of the page, no wider than three
    heights (a rule, a bar code's run of bars, a smudge are not letters), holding a core of ink
    (the tone curve takes ink to near black; the speckle of a tinted band is only mid-grey). The
    grain of a carpet, wood or knitwear passes that test too, and outnumbers the letters of a
    note lying on it, so only marks that stand in text lines count (see letters_in_lines), and
    only when they are most of the marks: a page of print is mostly its letters."""
    ink = (grey < 128).astype(np.uint8)
    # Noise or a dark photo: ink everywhere is no page of print.
    if not 0.002 < float(np.count_nonzero(ink)) / ink.size < 0.3:
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    cored = np.bincount(labels[grey < 64], minlength=n)[1:] > 0
    hh, ww = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]
    area = stats[1:, cv2.CC_STAT_AREA]
    # Sideways print (type 1 takes a photo as it comes) has its letters' heights across the page.
    best: np.ndarray | None = None
    for tall, wide, axis in ((hh, ww, 1), (ww, hh, 0)):
        marks = cored & (tall >= 3) & (tall <= grey.shape[1 - axis] / 8) & (wide <= 3 * tall) & (wide >= 2)
        if np.count_nonzero(marks) < 30:
            continue
        in_lines, band = letters_in_lines(labels, marks, tall, axis)
        # A halftone's dots are no letters and no unknown grain either: they leave the count
        # (a photo's dots outnumber the few lines of print beside it), and the lines are found
        # again among the marks left, bridged at their own letters' height.
        dots, step = screen_rows(
            in_lines, band, area, stats[1:, cv2.CC_STAT_LEFT if axis == 1 else cv2.CC_STAT_TOP]
        )
        if dots.any():
            marks &= ~dots & ~in_screen(labels, dots, step, axis)
            if np.count_nonzero(marks) < 30:
                continue
            in_lines, _ = letters_in_lines(labels, marks, tall, axis)
        if np.count_nonzero(in_lines) >= max(30, IN_LINES_SHARE * np.count_nonzero(marks)) and (
            best is None or np.count_nonzero(in_lines) > np.count_nonzero(best[0])
        ):
            best = np.stack([in_lines, tall])
    if best is None:
        return None
    return float(np.median(best[1][best[0].astype(bool)]))


def letters_in_lines(
    labels: np.ndarray, marks: np.ndarray, height: np.ndarray, axis: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which ``marks`` (a mask over ``labels``' components 1..n) stand in a line of text running
    along ``axis`` (1: rows, 0: columns): bridged to their neighbours by a closing one median
    letter long, they form a band at most 2.5 letters thick holding at least three of them. A
    texture's grain bridges into blobs as thick as they are long; scattered specks into nothing.
    Also each mark's band (a label; the marks of one line share it)."""
    h_med = float(np.median(height[marks]))
    on = np.concatenate([[False], marks])[labels].astype(np.uint8)
    length = max(3, int(round(1.5 * h_med)) | 1)
    kernel = np.ones((1, length) if axis == 1 else (length, 1), np.uint8)
    bridged = cv2.morphologyEx(on, cv2.MORPH_CLOSE, kernel)
    m, band, band_stats, _ = cv2.connectedComponentsWithStats(bridged, connectivity=8)
    thick = band_stats[:, cv2.CC_STAT_HEIGHT if axis == 1 else cv2.CC_STAT_WIDTH]
    # Each mark's band, read at one of its own pixels (a mark lies wholly inside its band).
    first = np.full(marks.size + 1, -1, np.int64)
    flat_labels = labels.ravel()
    idx = np.flatnonzero(on.ravel())
    first[flat_labels[idx[::-1]]] = idx[::-1]
    mark_band = np.zeros(marks.size, np.int64)
    has = first[1:] >= 0
    mark_band[has] = band.ravel()[first[1:][has]]
    per_band = np.bincount(mark_band[marks], minlength=m)
    line_band = (thick <= 2.5 * h_med) & (per_band >= 3)
    line_band[0] = False
    return marks & line_band[mark_band], mark_band


def screen_rows(
    in_lines: np.ndarray, band: np.ndarray, area: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, float]:
    """Which marks ``in_lines`` (their line ``band``s from letters_in_lines, ink ``area`` and
    ``start`` along the line) are a halftone screen's dots: rows of at least SCREEN_ROW_MARKS
    marks where most marks match their predecessor within SCREEN_LIKENESS in area and in the
    step from it (a photo's tones change slowly, so neighbouring dots stay alike); and the
    screen's pitch, the median step between alike dots (0 where there are none)."""
    idx = np.flatnonzero(in_lines)
    idx = idx[np.lexsort((start[idx], band[idx]))]
    a, x, b = area[idx].astype(np.float64), start[idx].astype(np.float64), band[idx]

    def unlike(v: np.ndarray) -> np.ndarray:
        # No allowance for the pixel grid's grain (a pitch between whole pixels steps 6, 7,
        # 6 px): with it, small monospaced receipt print matched too and its measured height
        # moved; the dots a strict match misses are taken with their screen's area (in_screen).
        return np.abs(np.diff(v)) > SCREEN_LIKENESS * np.maximum(v[1:], v[:-1])

    step = np.diff(x)
    # Mark i (from the third of its row) against mark i-1: its area and its step.
    alike = ~unlike(a)[1:] & ~unlike(step) & (b[2:] == b[:-2])
    m = int(band.max()) + 1
    count = np.bincount(b, minlength=m)
    matched = np.bincount(b[2:][alike], minlength=m)
    screen = (count >= SCREEN_ROW_MARKS) & (2 * matched >= count - 2)
    out = np.zeros(in_lines.shape, bool)
    out[idx] = screen[b]
    steps = step[1:][alike & screen[b[2:]]]
    return out, float(np.median(steps)) if steps.size else 0.0


def in_screen(labels: np.ndarray, dots: np.ndarray, step: float, axis: int) -> np.ndarray:
    """Which of ``labels``' components lie in the area of a halftone screen whose ``dots`` (a
    mask over components 1..n) stand ``step`` apart in rows along ``axis``: dots that noise,
    blur or a change of tone (light ones fading, dark ones merging) left unlike their
    neighbours. The area: the dots closed over SCREEN_GAP steps and reached one step beyond,
    where at least SCREEN_GAP rows stack (one repetitive line of print, a row of fillers or
    asterisks, is no photo)."""
    on = np.concatenate([[False], dots])[labels].astype(np.uint8)
    p = max(1, int(round(step)))
    area = cv2.morphologyEx(
        on, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (SCREEN_GAP * p + 1,) * 2)
    )
    m, regions, stats, _ = cv2.connectedComponentsWithStats(area, connectivity=8)
    stacked = stats[:, cv2.CC_STAT_HEIGHT if axis == 1 else cv2.CC_STAT_WIDTH] >= SCREEN_GAP * p
    stacked[0] = False
    area = cv2.dilate(
        stacked[regions].astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (2 * p + 1,) * 2)
    )
    return np.bincount(labels[area.astype(bool)], minlength=dots.size + 1)[1:] > 0
