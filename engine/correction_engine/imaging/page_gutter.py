"""The gutter of an open book whose facing page the frame cut: where the photographed page ends.

Photographing one page of an open book or bound notebook usually catches a strip of the facing
page too, cut by the frame. The two pages are one sheet of paper in brightness, so the region
found by brightness or whiteness takes both, and its side on the frame's border wins: nothing
steps between the pages. What parts them is the gutter, a thin dark crease running straight
across the whole region from one of its sides to the other. The text-free copy the outlines are
scored on has it erased with the print (it is as thin as a pen stroke), so it is looked for on
the photo's black-hat, what that closing removed. A crease must be alone: ruled lines, a text
line or a grid repeat, and a second crease-like line near it means none of them is a gutter.
And it must lie in a valley of shading: a book's pages curve down into the gutter. A sheet's flat
fold, a tear-off perforation or a pencil line is as thin, as dark and as alone, but the paper on
both sides of it is as bright as at the line, and the sheet goes on past it.
"""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import is_convex, quad_area
from .page_regions import NEAR_BORDER, border_line, crossings, line_through
from .page_scoring import sample

# A gutter is dark along at least this share of its length (a crease runs across the pages;
# handwriting or print along a line of text leaves gaps between words and letters), and along
# END_SHARE of each end tenth: it runs on to the page's edges, where a rule printed across a
# receipt or a form stops at the print's margins.
GUTTER_SHARE = 0.8
END_SHARE = 0.6
# Another line darkened along this share of its length, apart from the gutter, makes the
# gutter doubtful (ruled paper, a grid, a second fold): then there is none.
RIVAL_SHARE = 0.5
# Lines wholly to one side of the gutter, both ends this many pixels from its ends, are another
# line, not the gutter found a little off.
RIVAL_APART = 4.0
# The photographed page is the larger part: the cut page's strip reaches at most this share of
# the region's sides from the border (and the crease lies at least NEAR pixels from it).
MAX_STRIP = 0.5
NEAR = 4
# The crease may run this many pixels more or less far from the border at one end than at the
# other (the pages are seen in perspective; the region's sides need not be parallel to it).
MAX_SKEW = 24
# The shading of pages curving into a gutter: the text-free grey is darker at the crease than on
# both sides of it. The closing that made that copy erases only strokes thinner than its kernel,
# a 110th of the long side (page_proposals.closed_small), so it erases a flat fold with the print
# and leaves the paper beside it as bright as at the line; a valley of shading is wider and
# stays. The valley's floor is read within SHADE_FLOOR pixels of the crease (the line found is
# within a pixel or two of its middle), its sides from SHADE_NEAR to SHADE_FAR of the long side
# away, each the brightest median along the crease there; both must rise SHADE_DEPTH of the edge
# contrast above the floor. A median over SAMPLES points along the crease is far steadier than
# one pixel, so a third of an edge's step is well clear of the noise; an evenly lit flat sheet
# gives 0, a light falling off across the line makes one side darker (below 0), and the bound
# notebook of the real set (book-breta-notebook-page08) is 5.5 grey levels deep (the bar: 2).
SHADE_FLOOR = 2
SHADE_NEAR = 1 / 128
SHADE_FAR = 1 / 24
SHADE_DEPTH = 1 / 3
# Samples along a line, from 2 % to 98 % of it (an end tenth holds a tenth of them).
SAMPLES = 50
# Candidate lines are first searched this many pixels apart at each end (each costs SAMPLES
# look-ups; at one pixel a page against the frame's border took 20-100 ms), then to half a
# pixel around the best.
STEP = 4


def _dark_share(dark: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each segment starts[k]-ends[k], the share of its samples on ``dark`` (a 0/1 uint8
    mask), and the lesser such share of its two end tenths."""
    t = np.linspace(0.02, 0.98, SAMPLES, dtype=np.float32)
    d = (ends - starts).astype(np.float32)
    s = starts.astype(np.float32)
    # One row of the look-up map per line (OpenCV's remap: a tenth of NumPy's indexing time).
    xs = s[:, :1] + d[:, :1] * t[None, :]
    ys = s[:, 1:] + d[:, 1:] * t[None, :]
    on = cv2.remap(dark, xs, ys, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT).astype(np.float32)
    tenth = SAMPLES // 10
    ends_share = np.minimum(on[:, :tenth].mean(axis=1), on[:, -tenth:].mean(axis=1))
    return on.mean(axis=1), ends_share


def gutter_cut(
    blackhat: np.ndarray, gray: np.ndarray, quad: np.ndarray, contrast: float, min_area: float
) -> tuple[np.ndarray, int, np.ndarray] | None:
    """``quad`` (TL, TR, BR, BL, on the text-free copy) cut at an open book's gutter: (the cut
    quad, the index of its side on the gutter, that side's homogeneous line), or None.

    ``gray`` is the text-free grey copy and ``blackhat`` what its closing removed from the photo
    (the same size): thin dark strokes. Only a side of ``quad`` that runs along the frame's
    border is looked behind: the facing page cut by the frame. The gutter is the one line between
    the two neighbouring sides, within MAX_STRIP of their length from the border, dark along
    GUTTER_SHARE of it and END_SHARE of each end, with no rival line (see RIVAL_SHARE), in a
    valley of ``gray`` (see SHADE_DEPTH); the quad cut there must still be a page (convex,
    ``min_area``).
    """
    size = blackhat.shape[:2]
    # Dark strokes, widened by half the search step each way: a line searched STEP pixels apart
    # then passes over a crease wherever it runs.
    widen = np.ones((STEP + 1, STEP + 1), np.uint8)
    dark = cv2.dilate((blackhat > contrast).astype(np.uint8), widen)
    found = None
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        if border_line(a, b, size, NEAR_BORDER) is None:
            continue
        line = _crease(blackhat, dark, a, quad[(i - 1) % 4] - a, b, quad[(i + 2) % 4] - b)
        if line is None:
            continue
        lines = [line_through(quad[j], quad[(j + 1) % 4]) for j in range(4)]
        lines[i] = line
        cut = crossings(lines)
        if cut is None or not is_convex(cut) or quad_area(cut) < min_area:
            continue
        if _valley_depth(gray, cut[i], cut[(i + 1) % 4]) < SHADE_DEPTH * contrast:
            continue
        # Two border sides with a crease behind each: keep the larger page (cut the least).
        if found is None or quad_area(cut) > quad_area(found[0]):
            found = (cut, i, line)
    return found


def _crease(
    blackhat: np.ndarray,
    dark: np.ndarray,
    a: np.ndarray,
    to_prev: np.ndarray,
    b: np.ndarray,
    to_next: np.ndarray,
) -> np.ndarray | None:
    """The homogeneous line of the lone crease from the side a + u to_prev to the side b + v
    to_next (u, v in pixels from a and b, up to MAX_STRIP of the shorter side), or None.
    Searched every STEP pixels along both sides, then to half a pixel around the best by the
    mean black-hat along the line."""
    norm_prev, norm_next = float(np.linalg.norm(to_prev)), float(np.linalg.norm(to_next))
    reach = int(MAX_STRIP * min(norm_prev, norm_next))
    if reach <= NEAR:
        return None
    unit_prev, unit_next = to_prev / norm_prev, to_next / norm_next

    def ends(du: np.ndarray, dv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return a[None, :] + du[:, None] * unit_prev[None, :], b[None, :] + dv[:, None] * unit_next[None, :]

    near_end, skew = np.meshgrid(
        np.arange(NEAR, reach + 1, STEP, dtype=np.float64),
        np.arange(-MAX_SKEW, MAX_SKEW + 1, STEP, dtype=np.float64),
        indexing="ij",
    )
    du, dv = near_end.ravel(), (near_end + skew).ravel()
    ok = (dv >= NEAR) & (dv <= reach)
    du, dv = du[ok], dv[ok]
    share, end_share = _dark_share(dark, *ends(du, dv))
    best = int(np.argmax(share))
    if share[best] < GUTTER_SHARE or end_share[best] < END_SHARE:
        return None
    # Lines wholly to one side of the gutter (those crossing it share a part of it).
    off_u, off_v = du - du[best], dv - dv[best]
    apart = (np.minimum(np.abs(off_u), np.abs(off_v)) > RIVAL_APART) & (off_u * off_v > 0)
    if (share[apart] >= RIVAL_SHARE).any():
        return None
    fine = np.arange(-STEP, STEP + 0.5, 0.5)
    fine_u, fine_v = np.meshgrid(du[best] + fine, dv[best] + fine)
    starts, stops = ends(fine_u.ravel(), fine_v.ravel())
    t = np.linspace(0.02, 0.98, SAMPLES)
    pts = starts[:, None, :] + t[None, :, None] * (stops - starts)[:, None, :]
    k = int(np.argmax(sample(blackhat, pts.astype(np.float32)).mean(axis=1)))
    return line_through(starts[k], stops[k])


def _valley_depth(gray: np.ndarray, p: np.ndarray, q: np.ndarray) -> float:
    """How far the text-free ``gray`` rises from the crease p-q to the paper on its lesser side
    (see SHADE_DEPTH); -inf when a side has no row of samples wholly in the frame."""
    along = q - p
    normal = np.array([-along[1], along[0]]) / max(float(np.linalg.norm(along)), 1e-9)
    long_side = max(gray.shape[:2])
    offsets = np.arange(-np.ceil(SHADE_FAR * long_side), np.ceil(SHADE_FAR * long_side) + 0.5)
    # Its middle eight tenths: the corners, where the neighbouring sides meet it, stay out.
    on = p[None, :] + np.linspace(0.1, 0.9, SAMPLES)[:, None] * along[None, :]
    pts = on[None, :, :] + offsets[:, None, None] * normal[None, None, :]
    h, w = gray.shape[:2]
    inside = ((pts >= 0) & (pts <= np.array([w - 1, h - 1]))).all(axis=(1, 2))
    profile = np.median(sample(gray, pts.astype(np.float32)), axis=1)
    floor = profile[np.abs(offsets) <= SHADE_FLOOR].min()
    sides = [inside & (offsets >= SHADE_NEAR * long_side), inside & (offsets <= -SHADE_NEAR * long_side)]
    if not all(side.any() for side in sides):
        return float("-inf")
    return float(min(profile[side].max() for side in sides) - floor)


def with_side_on(quad: np.ndarray, side: int, line: np.ndarray) -> np.ndarray:
    """``quad`` with its side ``side`` moved onto ``line`` (homogeneous), its neighbours kept;
    ``quad`` itself when they no longer cross."""
    lines = [line_through(quad[j], quad[(j + 1) % 4]) for j in range(4)]
    lines[side] = line
    moved = crossings(lines)
    return quad if moved is None else moved
