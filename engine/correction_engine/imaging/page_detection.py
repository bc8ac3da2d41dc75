"""Find a photographed page's four corners.

Several detectors propose quadrilaterals on a downscaled, text-free copy of the photo
(page_proposals); each proposal is scored by how much of its outline lies on a brightness step;
the best one is refined to sub-pixel accuracy by fitting a line to the gradient peaks along each
side (page_scoring). This module is the search that ties them together.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import is_convex, order_quad, plausible_page, quad_area, quad_mask, quarter_turn
from .page_border import border_variants
from .page_cast_shadow import beyond_shadow, shadow_sides
from .page_faint import faint_page
from .page_gutter import gutter_cut, with_side_on
from .page_nesting import choose_nested
from .page_proposals import (
    closed_small,
    grey_and_white,
    propose_by_brightest,
    propose_by_brightness,
    propose_by_edges,
    propose_by_lines,
    step_thresholds,
    text_free_gray,
)
from .page_regions import MAX_OUTSIDE, border_sides, clamp_to_frame, corners_outside
from .page_scoring import TEXT_SPILL, edge_contrast, outside_ink, refine_quad, score_quad, text_ink
from .page_text_block import text_marks
from .page_thin_edges import thin_edged
from .page_tint import shadowed_page_quads

# A found page must cover at least this share of the frame: business cards and short receipts
# are photographed down to about 5 % of it; smaller bright shapes are more likely a label or a
# window than the document being photographed.
MIN_AREA_FRACTION = 0.045
# Below this score no proposal is trusted and the caller keeps the whole frame.
MIN_SCORE = 0.6
# The preference, between equally supported outlines, for one whose side is a seen edge over one
# whose side runs on the frame's border (per side; the larger-area preference is 0.05 at most).
BORDER_SIDE_COST = 0.02
# A region's outline whose corner lies this far outside the frame (a share of the side) is still
# scored: a card or page cut by the frame, its corner outside by a few per cent (see _snapped).
# The lines proposer keeps its own, closer limit: its quads are crossings of any two lines.
CUT_PAGE_OUTSIDE = 0.1
# The score reported for a faint outline (page_faint): its sides step consistently all along,
# but by less than the scorer's contrast, so its own score says nothing; it stands at the bar.
FAINT_SCORE = MIN_SCORE
# The lines proposer's edge thresholds, a second time, times this (see find_page_quad).
FAINT_SENSITIVITY = 0.5
# The detector name of outlines seen on the least channel (see _find_in_pose).
WHITE_EDGES = "whiteness edges"
# An outline with a side on the frame's border holds at least this share of the photo's text,
# or it is no page (see _holds_most_text).
MIN_TEXT_HELD = 0.5


@dataclass(frozen=True)
class PageQuad:
    """A page outline in the coordinates of the image it was searched in."""

    quad: np.ndarray  # 4x2 float, TL, TR, BR, BL in image coordinates
    score: float  # share of the outline on a brightness step, 0..1
    detector: str


def _snapped(
    gray: np.ndarray,
    smooth: np.ndarray,
    raw: np.ndarray,
    name: str,
    contrast: float,
    snap_on: np.ndarray | None = None,
) -> tuple[float, float, np.ndarray, str]:
    """(score, area, quad, name) of ``raw`` held within the frame's limit, or of that moved onto
    the gradient peaks along its sides, whichever scores better. A polygon simplified from a
    contour may put a side a few pixels off a slightly tilted edge, by where the contour happened
    to start; that depends on how the photo is turned, the snapped side does not.

    A page cut by the frame has a corner outside it; held at the limit, the two sides that meet
    there turn off the page's edges, and the outline scored as held finds no edge under them.
    Its sides are where ``raw`` puts them, so ``raw`` is scored as found (samples off the frame
    count as no support) and the better score stands for the held outline."""
    h, w = gray.shape
    quad = clamp_to_frame(raw, (h, w))
    best = (score_quad(gray, quad, contrast), quad)
    if corners_outside(raw, (h, w)) > MAX_OUTSIDE:
        best = (max(best[0], score_quad(gray, raw, contrast)), quad)
    snapped = clamp_to_frame(refine_quad(gray if snap_on is None else snap_on, quad, 3.0, smooth), (h, w))
    if is_convex(snapped):
        s = score_quad(gray, snapped, contrast)
        if s > best[0]:
            best = (s, snapped)
    return best[0], quad_area(best[1]), best[1], name


def _scored(
    gray: np.ndarray,
    proposals: list[tuple[np.ndarray, str]],
    contrast: float,
    snap_on: np.ndarray | None = None,
) -> list[tuple[float, float, np.ndarray, str]]:
    """(score, area, quad, detector) of each plausible proposal, held within the frame's limit
    and snapped onto the edges along its sides (of ``snap_on``, the channel it was seen in,
    ``gray`` by default) where that scores better."""
    h, w = gray.shape
    kept = [(quad, name) for quad, name in proposals if corners_outside(quad, (h, w)) <= CUT_PAGE_OUTSIDE]
    kept += [
        (v, f"{name} to border")
        for quad, name in kept
        for v in border_variants(gray, clamp_to_frame(quad, (h, w)), contrast)
    ]
    smooth = cv2.GaussianBlur(gray if snap_on is None else snap_on, (0, 0), 1.0)
    return [
        _snapped(gray, smooth, quad, name, contrast, snap_on)
        for quad, name in kept
        if is_convex(quad) and quad_area(clamp_to_frame(quad, (h, w))) <= 0.97 * h * w
    ]


def _faint(
    image: np.ndarray,
    closed: np.ndarray,
    ink: np.ndarray,
    best: np.ndarray | None,
    min_area: float,
    scale: float,
    text: np.ndarray | None = None,
) -> PageQuad | None:
    """The page as a faint outline inside ``best`` (see page_faint), in ``image`` coordinates,
    or None; ``text``, the text marks of ``ink`` when already found. Not refined: the
    refinement moves a side to the strongest brightness peak near it, and a side that steps
    only in chroma has none there but the paper's grain (on the three white receipts, whose
    sides step in brightness too, refining gained 0.001-0.007 IoU)."""
    quad = faint_page(closed, ink, best, min_area, text)
    if quad is None:
        return None
    return PageQuad(clamp_to_frame(order_quad(quad / scale), image.shape[:2]), FAINT_SCORE, "faint outline")


def _past_cast_shadows(
    gray: np.ndarray, quad: np.ndarray, name: str, contrast: float, min_score: float
) -> tuple[np.ndarray, str]:
    """``quad`` with each side that is a cast shadow's edge (page_cast_shadow: its step runs on
    past the page's corners) moved out to the page's own side beyond the shadow, when the
    outline so found is still supported as a page; else ``quad`` as it was."""
    for side in shadow_sides(gray, quad, contrast):
        moved = beyond_shadow(gray, quad, side, contrast)
        if moved is not None and score_quad(gray, moved, contrast) >= min_score:
            quad, name = moved, f"{name} past a shadow"
    return quad, name


def _holds_most_text(ink: np.ndarray, quad: np.ndarray, text: np.ndarray | None = None) -> bool:
    """Whether ``quad`` holds at least MIN_TEXT_HELD of the text in ``ink`` (see text_marks;
    ``text``, those marks when already found), or has no side on the frame's border, or the
    photo has no text.

    A side on the border is supported all along by the scorer (the page runs on out of the
    frame), so a bright, bare patch of the backing that reaches the border outlines as well as a
    page cut by the frame (issue 8: a corner of the white sheet under a receipt, the receipt's
    print all outside it: IoU 0.05, a wrong crop). A page cut by the frame holds its own text;
    most of the photo's text beyond such an outline says it is not the page."""
    if not border_sides(quad, ink.shape[:2]):
        return True
    if text is None:
        text = text_marks(ink)
    total = int(np.count_nonzero(text))
    if not total:
        return True
    held = np.count_nonzero(text & quad_mask(text.shape, quad))
    return bool(held >= MIN_TEXT_HELD * total)


def canonical_turns(gray: np.ndarray) -> int:
    """How many clockwise quarter turns bring ``gray`` to its canonical pose: the one whose
    brightness moment about the centre points into the lower-right quadrant. A turned photo has
    its moment turned with it, so every turn of one photo reaches the same pose. Integer sums:
    exact, so the choice cannot flip on rounding."""
    h, w = gray.shape
    # Column and row sums (OpenCV's, in int32: a tenth of NumPy's time, exact below 8 million
    # rows), and twice each pixel's offset from the centre, so a centre between two pixels
    # stays a whole number too.
    cols = cv2.reduce(gray, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.int64)
    rows = cv2.reduce(gray, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.int64)
    mx = int(cols @ (2 * np.arange(w, dtype=np.int64) - (w - 1)))
    my = int(rows @ (2 * np.arange(h, dtype=np.int64) - (h - 1)))
    # A clockwise turn takes (x, y) about the centre to (-y, x); in the lower-right quadrant
    # (x > 0, y >= 0) after k turns. A moment of zero (a symmetric picture) stays as it is.
    for k in range(4):
        if mx > 0 and my >= 0:
            return k
        mx, my = -my, mx
    return 0


def turned(image: np.ndarray, k: int) -> np.ndarray:
    """``image`` turned clockwise by ``k`` quarter turns; the image itself when ``k`` is a
    whole turn (no copy of a 12 MP photo for nothing)."""
    return quarter_turn(image, -k) if k % 4 else image


def turned_back(quad: np.ndarray, size: tuple[int, int], k: int, *, pixel: float = 1.0) -> np.ndarray:
    """``quad``'s points, found in a photo of ``size`` = (h, w) turned clockwise by ``k``, in
    the unturned photo, in the same order (not re-sorted). ``pixel`` 1 for pixel indices: a
    pixel (x, y) of a photo of height H turned once is the pixel (y, H - 1 - x) before the
    turn; 0 for positions on the frame ([0, W] x [0, H]: the point (x, y) is (y, H - x))."""
    h, w = size
    pts = np.asarray(quad, dtype=np.float64)
    for height in reversed([h if i % 2 == 0 else w for i in range(k)]):
        pts = np.stack([pts[:, 1], height - pixel - pts[:, 0]], axis=1)
    return pts


def find_page_quad(
    image: np.ndarray,
    *,
    detect_side: int = 640,
    refine_side: int = 1600,
    min_area_fraction: float = MIN_AREA_FRACTION,
    min_score: float = MIN_SCORE,
) -> PageQuad | None:
    """The page's corners in ``image`` coordinates, or None when no plausible page outline exists.

    Proposals come from edge contours, brightness and whiteness segmentation, and Hough lines,
    on a ``detect_side`` copy; the best-scoring one is refined on a ``refine_side`` copy.

    The search runs on the photo turned to its canonical pose (canonical_turns), and its answer
    is turned back: OpenCV breaks ties one way (Canny's non-maximum suppression keeps other
    pixels of a turned edge, the Hough accumulator bins a turned line's distance from a corner
    of the frame differently, contours start at the raster scan's first pixel), so the same
    photo turned by a quarter gave other proposals and, near a tie, another page.
    """
    # The pose is read on the photo itself and everything after runs in it: the downscale's
    # bilinear last step rounds differently on a turned copy (a grey level here and there), and
    # its scale is a ratio of rounded sides.
    turns = canonical_turns(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    posed = turned(image, turns)
    closed, scale = closed_small(posed, detect_side)
    found = _find_in_pose(posed, closed, scale, refine_side, min_area_fraction, min_score)
    if found is not None and not plausible_page(found.quad):
        # Issue 8: an outline no sheet seen in perspective shows is a wrong crop; the caller
        # keeps the whole frame instead. Corner angles do not change under a quarter turn.
        return None
    if found is None or not turns:
        return found
    quad = order_quad(turned_back(found.quad, image.shape[:2], turns))
    return PageQuad(quad, found.score, found.detector)


def _find_in_pose(
    image: np.ndarray,
    closed: np.ndarray,
    scale: float,
    refine_side: int,
    min_area_fraction: float,
    min_score: float,
) -> PageQuad | None:
    gray, white, neutral = grey_and_white(closed)
    h, w = gray.shape
    min_area = min_area_fraction * h * w
    contrast = edge_contrast(gray)
    proposals: list[tuple[np.ndarray, str]] = []
    proposals += [(q, "edges") for q in propose_by_edges(gray, min_area)]
    proposals += [(q, "brightness") for q in propose_by_brightness(gray, min_area)]
    proposals += [(q, "whiteness") for q in propose_by_brightness(white, min_area)]
    proposals += [(q, "neutral") for q in propose_by_brightness(neutral, min_area)]
    proposals += [(q, "brightest") for q in propose_by_brightest(white, min_area)]
    proposals += [(q, "lines") for q in propose_by_lines(gray, min_area, contrast=contrast)]
    scored = _scored(gray, proposals, contrast)
    # Issue 8: a cover's coloured rim and print (a magazine's yellow border, a sunlit picture) on
    # a white table step by under the Canny thresholds in grey, which scale with a bright
    # photo's median; in whiteness (the least channel) colour is dark against white, and the
    # outline shows. Snapped and refined in whiteness too: in grey the nearest step to such a
    # side is another edge (the table's far edge, the print inside the rim).
    seen_white = [(q, WHITE_EDGES) for q in propose_by_edges(white, min_area)]
    scored += _scored(gray, seen_white, contrast, snap_on=white)
    if not any(sc[0] >= min_score for sc in scored):
        # No outline on clear edges: look again with half the edge thresholds. They scale with
        # the photo's median brightness, so on a bright photo a low-contrast side (a receipt on
        # light wood, a whiteboard on a pale wall, a sticky note on carpet) leaves no edge and
        # its whole family of sides is empty. Only then: with clear edges present, the fainter
        # ones add outlines of whatever lies around the page (a clipboard, a box) to choose from.
        faint = propose_by_lines(gray, min_area, contrast=contrast, sensitivity=FAINT_SENSITIVITY)
        scored += _scored(gray, [(q, "faint lines") for q in faint], contrast)
    small_image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    ink = text_ink(small_image, gray)
    noise_edges = (
        None
        if any(sc[0] >= min_score for sc in scored)
        else step_thresholds(gray, contrast, FAINT_SENSITIVITY)
    )
    if noise_edges is not None:
        # Issue 8: still none, on a clean photo whose noise allows lower thresholds than half the
        # median's (a page lit from one side, its sides stepping by little more than the noise).
        # At those thresholds a printed page's rows and a shadow's edges are lines too: an
        # outline with text running across a side is not taken (see outside_ink).
        steps = propose_by_lines(gray, min_area, contrast=contrast, thresholds=noise_edges)
        steps = [q for q in steps if outside_ink(ink, q) <= TEXT_SPILL]
        scored += _scored(gray, [(q, "noise-level lines") for q in steps], contrast)
    if not scored:
        return _faint(image, closed, ink, None, min_area, scale)
    # Between equally supported outlines prefer the larger, by a little, and the one with fewer
    # sides on the frame's border: the scorer counts a border side as supported all along, so a
    # region that leaks out to the border ties with the page's own, seen edges.
    best = max(
        scored,
        key=lambda sc: sc[0] + 0.05 * sc[1] / (h * w) - BORDER_SIDE_COST * border_sides(sc[2], (h, w)),
    )
    if best[0] < min_score:
        faint_found = _faint(image, closed, ink, None, min_area, scale)
        if faint_found is not None and not border_sides(faint_found.quad * scale, (h, w)):
            return faint_found
        # Issue 8: a sheet on a backing of its own tone, its sides only thin lines (page_thin_edges).
        # Every side of such an outline is seen; a side seen beats one taken on the frame's border.
        thin = thin_edged(
            gray, cv2.cvtColor(small_image, cv2.COLOR_RGB2GRAY), scored, contrast, min_score, ink
        )
        if thin is None:
            return faint_found
        quad_thin = clamp_to_frame(order_quad(thin[1] / scale), image.shape[:2])
        return PageQuad(quad_thin, thin[0], f"{thin[2]} on thin edges")
    chosen = choose_nested(white, ink, best, scored, min_score)
    s, area, quad, name = chosen
    # A hard shadow across the page is an outline of brightness steps too, and may score best.
    # If text continues beyond a side of the winner, take instead a larger, nearly as well
    # supported outline with no text beyond it: the whole page. (Not after a document was
    # chosen inside a darker, text-free backing: marks on the backing are not the page's text.)
    spill = outside_ink(ink, quad) if chosen[1] >= best[1] else 0.0
    if spill > TEXT_SPILL:

        def wider_of(
            rivals: list[tuple[float, float, np.ndarray, str]],
        ) -> list[tuple[float, float, np.ndarray, str]]:
            return [
                sc
                for sc in rivals
                if sc[1] > 1.1 * area
                and sc[0] >= max(min_score, s - 0.2)
                and outside_ink(ink, sc[2]) < spill / 2
            ]

        wider = wider_of(scored)
        if not wider:
            # No outline of brightness steps holds the whole page; the paper's chroma, which runs
            # on under the shadow, may (page_tint.shadowed_page_quads).
            tinted = shadowed_page_quads(closed, ink, quad, min_area)
            wider = wider_of(_scored(gray, [(q, f"{name} by tint") for q in tinted], contrast))
        if wider:
            s, area, quad, name = max(wider, key=lambda sc: sc[0])
    # The text marks are found once, and only for an outline on the border, whose test needs
    # them; the faint search below reuses them.
    text = text_marks(ink) if border_sides(quad, ink.shape[:2]) else None
    if not _holds_most_text(ink, quad, text):
        return _faint(image, closed, ink, None, min_area, scale, text)
    if name == chosen[3]:
        quad, name = _past_cast_shadows(gray, quad, name, contrast, min_score)
    # An open book's facing page, cut by the frame, joins the page's region across the gutter.
    blackhat = cv2.subtract(gray, cv2.cvtColor(small_image, cv2.COLOR_RGB2GRAY))
    cut = gutter_cut(blackhat, gray, quad, contrast, min_area)
    if cut is not None:
        quad, name = cut[0], f"{name} to gutter"
    inner = _faint(image, closed, ink, quad, min_area, scale, text)
    if inner is not None:
        return inner
    ref_gray, ref_white, ref_scale = text_free_gray(image, refine_side)
    if name.startswith(WHITE_EDGES):
        ref_gray = ref_white
    quad_ref = quad * (ref_scale / scale)
    for radius in (6.0, 3.0):
        quad_ref = refine_quad(ref_gray, quad_ref, radius * max(1.0, ref_scale / scale) / 2)
    quad_ref = quad_ref / ref_scale
    if cut is not None:
        # The refinement moves a side to the strongest brightness step near it; the text-free
        # copy has none at the gutter (the crease went with the print), so the side goes back
        # on the crease, in full-size coordinates (x_small = scale * x).
        line = cut[2]
        quad_ref = with_side_on(quad_ref, cut[1], np.array([line[0] * scale, line[1] * scale, line[2]]))
    quad_full = order_quad(quad_ref)
    found = order_quad(quad / scale)
    if not is_convex(quad_full) or quad_area(quad_full) < 0.5 * quad_area(found):
        # The refinement moves sides a few pixels; one that loses half the page jumped to another
        # step: on a tiny two-tone photo both sides snapped to the one step between its halves,
        # the quad collapsed to a line and the output size divided 0 by 0.
        quad_full = found
    # Refinement may push a corner of a page cut by the frame farther out; hold it at the limit.
    return PageQuad(clamp_to_frame(quad_full, image.shape[:2]), s, name)
