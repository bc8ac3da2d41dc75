"""A low-contrast page on a light surface: its outline found as a faint, continuous step.

White paper on a white or cream backing (a receipt on a scanner's lid, a sheet on a pale desk)
differs from it by a few grey levels, often less than the noise the scorer allows for, and more
in colour than in brightness (the backing a little bluer or yellower than the paper). What a
person sees is still a straight side: a small step in L or in the a/b chroma channels, the SAME
way all along it, parallel to the text lines and enclosing all of the text. Averaged along the
side, such a step stands well clear of the noise, which steps either way at random.

The search starts from the text block (the page encloses its text) and walks each side outward,
line by line parallel to the text, keeping the first line that steps consistently along the
text's whole extent; the outline of the four is kept only if each of its full sides steps
consistently too. Only the first such line is wanted: farther out lie the backing's own, strong
outline and the frame. A walk that reaches the frame still on the paper has met a page cut by
the frame: that side is the frame's border (two such sides at most; such an outline must hold
the page's text, or it is a pale band printed on a page filling the frame). Where the walk finds no
outline (the text's direction thrown off by grain on the surface, sides leaning farther than
the tilts tried), the region of the paper's hue is outlined instead (page_tint), held to the
same test of its sides (page_faint_sides: no side is one of a series of like steps, as the
rules of lined paper leave under a glare's falloff) and, behind a winning outline, not that
outline cut by one line (page_one_cut).
"""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import is_convex, order_quad, quad_area, quad_mask
from .page_faint_sides import (
    HALF_SPAN,
    MIN_CONSISTENT,
    MIN_STEP,
    PAPER_DISTANCE,
    SAMPLES,
    WALK,
    in_frame,
    lab_of,
    sample_lab,
    side_on_border,
    whole_sides_step,
)
from .page_nesting import NESTED_AREA_RATIO, contains
from .page_one_cut import cut_by_one_line
from .page_regions import crossings
from .page_scoring import side_samples
from .page_text_block import holds_text, marks, text_block, text_marks
from .page_tint import tint_quads

# Tilts tried for each side about the text block's direction (degrees): a page's side is
# parallel to its text lines to within a degree or two, and seen at an angle, its opposite
# sides converge by a few degrees more (a long receipt's sides, 2 degrees apart, either side of
# the block's direction).
TILTS = np.radians(np.arange(-4.0, 4.01, 0.5))
# Pixels of walk off the paper's tone after which no side of this page lies beyond (a share of
# the analysis copy's long side would be the same at one size: the detection runs at one).
OFF_PAPER = 16.0
# Lines this many pixels beyond the first that steps are compared with it.
REACH = 4.0
# Looked for only when the text block covers less than this share of the best outline found on
# clear edges (or of the frame): a page's text fills most of it, a receipt's most of its width;
# a text block in a small part of the outline suggests the outline is the backing's.
MAX_TEXT_SHARE = 0.45
# What the walk returns for a side that runs on past the frame (see _first_step).
BORDER = "border"


def _all_in_frame(pts: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per line of ``pts`` (lines, n, 2): whether all its points and their step samples lie in
    the frame."""
    h, w = size
    margin = HALF_SPAN + 1
    x, y = pts[..., 0], pts[..., 1]
    return np.asarray(
        ((x >= margin) & (x <= w - 1 - margin) & (y >= margin) & (y <= h - 1 - margin)).all(axis=-1)
    )


def _first_step(
    lab: np.ndarray,
    paper: np.ndarray,
    centre: np.ndarray,
    axis: np.ndarray,
    along: np.ndarray,
    start: float,
    extent: float,
) -> np.ndarray | str | None:
    """The first line outward from ``centre + start * axis``, nearly parallel to ``along``, that
    steps consistently along the text's ``extent`` (half-length) off the ``paper`` tone (Lab):
    homogeneous (a, b, c); BORDER when the paper runs on to the frame's border with no such line
    (the page cut by the frame), None when no side is found."""
    size = lab.shape[:2]
    t = np.linspace(-extent, extent, SAMPLES)
    c, s = np.cos(TILTS)[:, None], np.sin(TILTS)[:, None]
    # Each tilt's direction along the line and normal across it, (tilts, 2).
    d = np.concatenate([c * along[0] - s * along[1], s * along[0] + c * along[1]], axis=1)
    normals = np.concatenate([c * axis[0] - s * axis[1], s * axis[0] + c * axis[1]], axis=1)

    def best_at(offset: float) -> tuple[float, np.ndarray] | str | None:
        """The tilt stepping most at ``offset`` as (step, line); None when none steps; "away"
        when the line is off the paper at every tilt, "off" when off the frame."""
        mid = centre + offset * axis
        pts = mid[None, None, :] + t[None, :, None] * d[:, None, :]  # (tilts, n, 2)
        inside = _all_in_frame(pts, size)
        if not in_frame(mid[None, :], size):
            return "off"
        if not inside.any():
            return None
        pts, nrm = pts[inside], normals[inside]
        within = sample_lab(lab, pts - HALF_SPAN * nrm[:, None, :]).reshape(len(pts), SAMPLES, 3)
        beyond = sample_lab(lab, pts + HALF_SPAN * nrm[:, None, :]).reshape(len(pts), SAMPLES, 3)
        steps = beyond - within
        mean = steps.mean(axis=1)  # (tilts, 3)
        size_t = np.linalg.norm(mean, axis=1)
        unit = mean / np.maximum(size_t, 1e-6)[:, None]
        share = (np.einsum("tnc,tc->tn", steps, unit) > 0.5 * size_t[:, None]).mean(axis=1)
        # The page's edge steps off its paper, away from the paper's tone: not off a dark logo or
        # a printed bar, nor from the shading around one back onto the paper.
        d_in = np.linalg.norm(within.mean(axis=1) - paper[None, :], axis=1)
        d_out = np.linalg.norm(beyond.mean(axis=1) - paper[None, :], axis=1)
        if (d_in > PAPER_DISTANCE).all():
            return "away"
        ok = (size_t >= MIN_STEP) & (share >= MIN_CONSISTENT) & (d_in <= PAPER_DISTANCE) & (d_out > d_in)
        if not ok.any():
            return None
        k = int(np.argmax(np.where(ok, size_t, -1.0)))
        return float(size_t[k]), np.array([nrm[k, 0], nrm[k, 1], -float(nrm[k] @ mid)])

    # Walked in strides of WALK pixels (the step spans 2 HALF_SPAN, so a side between two
    # lines still steps at one of them), then pixel by pixel about the first line that steps:
    # the tilt and offset that step most is the side (a line slightly across the side passes
    # first, on part of it).
    # Past the paper for OFF_PAPER pixels with no side found (a dark desk, the backing's print),
    # the walk is over: whatever lies beyond is not this page's side. (Less than that is a logo
    # or a printed bar at the text block's edge, which the walk crosses.)
    offset, away = start, 0.0
    while True:
        offset += WALK
        hit = best_at(offset)
        away = away + WALK if hit == "away" else 0.0
        if hit == "off":
            # Still on the paper's tone (or less than OFF_PAPER off it) where the frame ends: the
            # page goes on past the frame, and its side there is the frame's border.
            return BORDER
        if away > OFF_PAPER:
            return None
        if isinstance(hit, tuple):
            break
    found = [
        r for o in np.arange(offset - WALK + 1, offset + REACH + 1) if isinstance(r := best_at(o), tuple)
    ]
    if not found:
        return None
    return max(found, key=lambda f: f[0])[1]


def paper_tone(lab: np.ndarray, block: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """The paper's tone (Lab) in ``lab``: the text ``block``'s typical colour with its text
    closed away."""
    centre, axes, half = block
    grid = np.linspace(-0.9, 0.9, 15)
    inner = centre[None, :] + (
        grid[:, None, None] * half[0] * axes[0] + grid[None, :, None] * half[1] * axes[1]
    ).reshape(-1, 2)
    return np.asarray(np.median(sample_lab(lab, inner), axis=0))


def _frame_side(centre: np.ndarray, axis: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The border of a frame of ``size`` that the ray from ``centre`` along ``axis`` leaves the
    frame through, as a line (a, b, c)."""
    h, w = size
    borders = [(0, 0.0), (0, w - 1.0), (1, 0.0), (1, h - 1.0)]  # (coordinate, its value)
    best: tuple[float, np.ndarray] | None = None
    for coord, value in borders:
        if abs(axis[coord]) < 1e-9:
            continue
        t = (value - centre[coord]) / axis[coord]
        if t > 0 and (best is None or t < best[0]):
            line = np.array([1.0, 0.0, -value]) if coord == 0 else np.array([0.0, 1.0, -value])
            best = (t, line)
    assert best is not None  # a ray from inside the frame leaves it somewhere
    return best[1]


def _quad_around(
    lab: np.ndarray, paper: np.ndarray, block: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray | None:
    """The outline around the text ``block`` in ``lab`` (text closed away) whose every side is
    a faint, consistent step off the ``paper`` tone or the frame's border, or None."""
    centre, axes, half = block
    lines = []
    on_border = 0
    # Sides in turn round the block: +u, +v, -u, -v (their crossings in order are its corners).
    for k, sign in ((0, 1.0), (1, 1.0), (0, -1.0), (1, -1.0)):
        axis = sign * axes[k]
        along = axes[1 - k]
        line = _first_step(lab, paper, centre, axis, along, half[k], half[1 - k])
        if line is None:
            return None
        if isinstance(line, str):
            # A third side on the frame's border leaves whole_sides_step too few stepping sides
            # to accept the outline: the last side's walk (out to the frame, on a page filling
            # it) would be wasted.
            on_border += 1
            if on_border > 2:
                return None
            line = _frame_side(centre, axis, lab.shape[:2])
        lines.append(line)
    corners = crossings([lines[0], lines[1], lines[2], lines[3]])
    if corners is None or not is_convex(corners) or quad_area(corners) <= 0:
        return None
    return corners if whole_sides_step(lab, corners) else None


def faint_page(
    image: np.ndarray,
    ink: np.ndarray,
    best: np.ndarray | None,
    min_area: float,
    text: np.ndarray | None = None,
) -> np.ndarray | None:
    """The faint outline of the page in ``image`` (see _quad_around, or else page_tint) when the
    best outline found on clear edges (``best``, or None for none) leaves the text block a
    narrow part of itself, and the faint one lies within it, clearly smaller: the page on its
    backing; not when it is a tinted box printed on the page (see _printed_box). None otherwise."""
    h, w = ink.shape
    # Looked for only when the text block is under MAX_TEXT_SHARE of the outline, and print
    # covers only part of its block: ink on more of the frame than MAX_INK_SHARE is the
    # surface's texture (gravel, carpet, a dense pattern), not a page's text on its backing.
    # Checked first, as it costs nothing; finding the block's direction on such a photo does.
    if np.count_nonzero(ink) > MAX_INK_SHARE * ink.size:
        return None
    if text is None:
        text = text_marks(ink)
    block = text_block(text)
    if block is None:
        return None
    outer = best if best is not None else np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
    narrow = 4 * float(np.prod(block[2])) < MAX_TEXT_SHARE * quad_area(outer)
    # With no outline on clear edges at all (``best`` None) the frame stands for one, and a
    # page filling most of it holds a text block as wide: it is still looked for, as every side
    # of it must step off its surface (or run on past the frame). So too behind an outline with
    # two or more sides on the frame's border: that is a surface running on past the frame (a
    # board, a table) as often as a page cut by it, its area is only the part in view, and a
    # sheet lying on it may hold text over most of that part.
    if not narrow and best is not None and _border_sides(best, (h, w)) < 2:
        return None
    lab = lab_of(image)
    paper = paper_tone(lab, block)

    def fits(quad: np.ndarray) -> bool:
        # Behind a winner, a sheet lying on its surface lies clear of the surface's edges: an
        # outline keeping three of the winner's sides is the winner cut by one line (issue 8: a
        # lined sheet cut by the frame on two sides, where the walk stopped at a ruled line that
        # the closing and a glare's falloff had made a faint step; 0.54, half the page lost).
        return (
            min_area <= quad_area(quad) <= NESTED_AREA_RATIO * quad_area(outer)
            and contains(outer, quad, (h, w))
            and not (best is not None and cut_by_one_line(outer, quad, (h, w)))
            and not _printed_box(lab, ink, quad, outer)
        )

    walked = _quad_around(lab, paper, block)
    if walked is not None and not _border_sides(walked, (h, w)):
        return walked if fits(walked) else None
    # The page encloses its text: a region of the paper's hue that does not hold the text
    # block's centre is another sheet or a patch of the surface.
    centre = (float(block[0][0]), float(block[0][1]))
    tinted = [
        q
        for q in sorted(_tint_quads(lab, paper, min_area), key=quad_area, reverse=True)
        if cv2.pointPolygonTest(q.reshape(-1, 1, 2).astype(np.float32), centre, False) > 0
        and fits(q)
        and whole_sides_step(lab, q)
    ]
    # A side seen beats a side taken on the frame's border: the walk gives up at the border
    # wherever print or shadow runs out to it (a soft shadow along a page's edge reads as ink),
    # while the page's hue may show the side. Between equals the walk's, then the largest region.
    found = [
        q
        for q in ([walked] if walked is not None and fits(walked) else []) + tinted
        if not _border_sides(q, (h, w)) or holds_text(text, q)
    ]
    return min(found, key=lambda q: _border_sides(q, (h, w))) if found else None


def _tint_quads(lab: np.ndarray, paper: np.ndarray, min_area: float) -> list[np.ndarray]:
    """page_tint's regions of the ``paper``'s hue in ``lab``; none where hardly any pixel's
    chroma lies MIN_STEP off the paper's: a page told from its surface by hue steps onto it in
    chroma along a side, HALF_SPAN deep and at least the side of a page of ``min_area`` long.
    With fewer off-hue pixels than that (a flat scan, a page filling the frame) the map holds
    the paper's own noise, which Otsu's split would outline for nothing."""
    # Counted on every other pixel of every other row, a quarter of the cost (the full chroma map
    # takes about 10 ms on the 640 px analysis copy): enough to tell none from some.
    ab = lab[::2, ::2, 1:] - paper[None, None, 1:]
    off = np.einsum("ijc,ijc->ij", ab, ab) > MIN_STEP**2
    if 4 * np.count_nonzero(off) < HALF_SPAN * np.sqrt(min_area):
        return []
    return tint_quads(lab, paper, min_area)


def _border_sides(quad: np.ndarray, size: tuple[int, int]) -> int:
    """How many sides of ``quad`` lie along the border of a frame of ``size``."""
    return sum(side_on_border(np.array([quad[i], quad[(i + 1) % 4]]), size) for i in range(4))


# Ink on more than this share of the frame is no page's text on its backing (see faint_page).
# On the committed document photos ink covers at most 13 % of the analysis copy where it is
# print (a birth certificate, a page of notes) and 28 % where it is a concrete floor's grain.
MAX_INK_SHARE = 0.30
# Ink this far (pixels) from both outlines lies between them: not the shadow or curl along the
# page's or the backing's edge (a few pixels wide), nor the page's own print just past a faint
# side found up to REACH + HALF_SPAN (7 px) inside its edge.
PRINT_MARGIN = 8.0
# Ink between the two outlines that makes print on the page: a printed character's worth at
# the analysis size (the synthetic page number: 60 px; the synthetic letters about 20 each).
MIN_PRINT_AROUND = 20


def _printed_box(lab: np.ndarray, ink: np.ndarray, quad: np.ndarray, outer: np.ndarray) -> bool:
    """Whether the faint ``quad`` in ``lab`` is a tinted box printed on a page whose outline is
    ``outer``, rather than a page on its backing.

    By colour alone the two look the same: a box a few levels greyer or warmer than the paper
    around it, a receipt a few levels greyer or warmer than its white card. What tells them
    apart is the print around it: a page has its own print outside the box (a heading, a page
    number, more text), a backing card has nothing printed on it around the receipt. So the
    box needs both: print between the two outlines (the same marks text_block reads, beyond
    PRINT_MARGIN of either), and a side stepping out onto whiter ground (_steps_onto_whiter:
    the committed receipt scans have punched holes and small print on their cards, but
    their cards are darker than the receipts)."""
    inner = cv2.dilate(quad_mask(ink.shape, quad).astype(np.uint8), _disc(PRINT_MARGIN))
    around = cv2.erode(quad_mask(ink.shape, outer).astype(np.uint8), _disc(PRINT_MARGIN))
    between = int(np.count_nonzero(marks(ink) & (around > 0) & (inner == 0)))
    return between >= MIN_PRINT_AROUND and _steps_onto_whiter(lab, quad)


def _disc(radius: float) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(radius) + 1, 2 * int(radius) + 1))


# A side whose outside is no darker and no more coloured than its inside, and whiter by this in
# all (Lab, 8-bit units: lighter plus less coloured), steps out onto whiter ground: half a
# side's least step (MIN_STEP).
WHITER = 0.5 * MIN_STEP


def _steps_onto_whiter(lab: np.ndarray, quad: np.ndarray) -> bool:
    """Whether a side of ``quad`` steps out of it onto whiter ground (see WHITER), in ``lab``.

    Ink printed on paper only darkens and colours it, so there the inside is a tint printed on
    the page (a shaded form field, a highlighted panel) and the page's own paper lies around it:
    the outline is not the page. A page on its backing is the whiter region, or differs from it
    in hue alone (the committed receipts on white cards: each side's outside 2-6 levels darker
    and 2-4 more coloured; the synthetic receipt's card as light, a little bluer where the
    receipt is a little warmer)."""
    pts, _ = side_samples(order_quad(quad), SAMPLES, np.array([-HALF_SPAN, HALF_SPAN]))
    # Mean Lab per side, inside (0) and outside (1): normals point out of an ordered quad.
    tone = sample_lab(lab, pts.reshape(-1, 2)).reshape(4, SAMPLES, 2, 3).mean(axis=1)
    lighter = tone[:, 1, 0] - tone[:, 0, 0]
    chroma = np.hypot(tone[:, :, 1] - 128.0, tone[:, :, 2] - 128.0)
    paler = chroma[:, 0] - chroma[:, 1]
    return bool(((lighter > -WHITER) & (paler > -WHITER) & (lighter + paler >= WHITER)).any())
