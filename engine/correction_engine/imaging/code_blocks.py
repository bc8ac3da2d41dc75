"""Codes printed on a page (QR, Aztec, Data Matrix), found so that orientation cues skip them.

At a business card's resolution a code's modules are strokes as thin as print: left in, they
filled the ink mask, set the text-line profile's direction and drew the page classifier's
tiles, and a card whose print is a few short lines beside its code came out turned at every
turn. A pure function of the grey page.
"""

from __future__ import annotations

import cv2
import numpy as np

# A code is dark over most of an area much larger than its strokes, with no lines in it: pixels
# under BLOCK_DARK of the paper (a grey closing as wide as the scale) fill over BLOCK_DENSITY of
# a window twice that scale, over a patch whose sides are at least BLOCK_MIN_SIDE of the page's short side and within
# BLOCK_ASPECT of each other, and neither its row nor its column profile varies by more than
# BLOCK_MAX_CV (coefficient of variation): lines of print, even bold or in a big typeface, leave
# gaps between lines or characters (0.5-0.6 on a cover's title), random modules do not (0.13-0.45;
# a barcode's bars vary along one axis only and are left to straight_strokes). Two scales, as
# shares of the short side, so both a card's fine code and a code of big modules fill a window.
BLOCK_SCALES = (0.05, 0.1)
BLOCK_DARK = 0.7
BLOCK_DENSITY = 0.35
BLOCK_MIN_SIDE = 0.25
BLOCK_ASPECT = 2.5
BLOCK_MAX_CV = 0.45
# Nor is a patch whose profiles vary much more one way than the other: print varies across its
# lines only, and bold print set with tight leading, shrunk to BLOCK_SIDE, leaves gaps too thin to
# lift its row profile's CV over BLOCK_MAX_CV (0.40-0.45, columns 0.07-0.08); read as a code,
# 92-99 % of such a page was painted out and nothing turned it upright. A code's modules vary
# alike both ways (smaller over larger CV 0.75-0.99 on the committed pages with codes and the
# synthetic cards; dense print 0.15-0.20, up to 0.56 at the coarser scale).
BLOCK_MIN_CV_RATIO = 0.6
# A patch of the coarser scale lying mostly (over PRINT_OVERLAP of it) on one the finer scale
# saw as such print is print too: its window spans several lines of tight leading, and its rim
# follows the print's drifts of density, not the lines (a page of bold print rectified from a
# photo: coarser patch CVs 0.28 and 0.43, painted out over 99 % of it).
PRINT_OVERLAP = 0.5
# A code's modules are about half dark (QR and Aztec masking keeps them so: 0.34-0.53 on the
# committed pages with codes); the dark ground of light print on a dark card or an inverted page
# is dark over 0.79-0.85 of the patch, its letters the only gaps, and read as a code it was
# painted out with the print on it (a dark card then came out upright at one turn of four).
BLOCK_MAX_DARK = 0.7
# Blocks are a quarter of the short side or more: a larger page is shrunk to this short side
# first (26 ms of CPU for a 1100 x 835 page, then 9).
BLOCK_SIDE = 400


def code_blocks(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """255 over the page's codes (see BLOCK_SCALES), and the paper to paint them with for the
    classifier: the grey closing at the finer scale (painted with the coarser one, a synthetic
    card of test_business_cards_with_a_code_come_out_upright_at_every_turn came out upside down)."""
    h, w = gray.shape
    s = min(1.0, BLOCK_SIDE / min(h, w))
    if s < 1.0:
        small = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        found, paper = code_blocks(small)
        return (
            cv2.resize(found, (w, h), interpolation=cv2.INTER_NEAREST),
            cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR),
        )
    side = min(h, w)
    blocks = np.zeros_like(gray)
    closings = []
    print_seen = np.zeros(gray.shape, bool)
    for share in BLOCK_SCALES:
        k = max(5, int(share * side) | 1)
        paper = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
        closings.append(paper)
        dark = (gray < BLOCK_DARK * paper.astype(np.float32)).astype(np.float32)
        dense = (cv2.blur(dark, (2 * k + 1, 2 * k + 1)) > BLOCK_DENSITY).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(dense, connectivity=8)
        for i in range(1, n):
            x, y, bw, bh = (int(v) for v in stats[i, :4])
            if min(bw, bh) < BLOCK_MIN_SIDE * side or max(bw, bh) > BLOCK_ASPECT * min(bw, bh):
                continue
            inside = labels[y : y + bh, x : x + bw] == i
            ink = dark[y : y + bh, x : x + bw] * inside
            if ink.sum() > BLOCK_MAX_DARK * np.count_nonzero(inside):
                continue
            seen = print_seen[y : y + bh, x : x + bw]
            if np.count_nonzero(seen & inside) > PRINT_OVERLAP * np.count_nonzero(inside):
                continue
            rows, cols = _variation(ink, inside, 1), _variation(ink, inside, 0)
            if max(rows, cols) >= BLOCK_MAX_CV:
                continue
            if min(rows, cols) < BLOCK_MIN_CV_RATIO * max(rows, cols):
                seen |= inside
                continue
            # The window's average falls under the density at the block's rim: the patch found
            # stops about half a scale inside the code's edge.
            m = k // 2
            blocks[max(0, y - m) : y + bh + m, max(0, x - m) : x + bw + m] = 255
    return blocks, closings[0]


def _variation(ink: np.ndarray, inside: np.ndarray, axis: int) -> float:
    """Coefficient of variation of the ink's profile along ``axis`` (1: one value per row) over
    the rows (columns) that cross at least 30 % of the patch."""
    span = inside.sum(axis=axis)
    prof = ink.sum(axis=axis) / np.maximum(span, 1)
    prof = prof[span > 0.3 * inside.shape[axis]]
    if len(prof) < 2 or prof.mean() <= 0:
        return float("inf")
    return float(prof.std() / prof.mean())
