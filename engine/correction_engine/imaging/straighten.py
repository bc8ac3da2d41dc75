"""How far a product is tilted in the photo, measured on its outline, with the evidence used.

Real outlines are rarely clean rectangles: a box photographed from above is a perspective
quadrilateral, a bottle's sides converge. Each kind of evidence is tried in turn, from the
most to the least exact, and each says how sure it is; the scene's long straight lines and
strong gradients (:mod:`~correction_engine.imaging.scene_tilt`) confirm or replace a weak
outline cue. Without clear evidence the answer is "no tilt" (a product left as photographed
is better than one turned by a guess).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from correction_engine.imaging.edge_fit import ImageEdges
from correction_engine.imaging.group_members import GROUP_SHARE
from correction_engine.imaging.outline_sides import edges_tilt, polygon_runs, sides_tilt
from correction_engine.imaging.scene_tilt import (
    GRADIENT_MIN_PEAK,
    GRADIENT_MIN_TILT,
    LINES_ALONE_SHARE,
    fold,
    fold_array,
    gradient_tilt,
    lines_tilt,
)

# Beyond this a tilt is more likely a deliberate composition (a bottle lying diagonally);
# 30 degrees is the goal, with room for a measurement's error.
DEFAULT_MAX_TILT = 33.0
# Below this the tilt is left alone: a level photo must never be turned by a misreading of
# 1 degree, and a product within 1.5 degrees of level already looks level.
DEFAULT_MIN_TILT = 1.5
# Two parallel sides, straight edges of an outline that is not a quadrilateral, or the axis of
# one product of a group are weaker evidence (real masks read 2 degrees off on level photos),
# so they must show more tilt.
EDGE_MIN_TILT = 3.0
# Lines and the outline agreeing within this many degrees count as one answer (their mean).
LINES_AGREE = 4.0
# A roughly symmetric outline (a bottle cut by the frame, a tub whose label breaks the
# outline, a mask with a ragged side) still points along the product's axis, but a few
# degrees off; two parallel sides of a squat outline may be converging by the camera's
# pitch. Such a "weak axis" or "weak sides" never turns a photo alone, only when the
# scene's lines or gradients, an independent cue, agree with it within WEAK_AXIS_AGREE
# degrees.
WEAK_AXIS_ELONGATION = 1.5
WEAK_AXIS_SYMMETRY = 0.85
WEAK_AXIS_AGREE = 3.0
# ... and only a tall outline's: a standing product is built mirror-symmetric left to right,
# about a vertical axis, so its long axis is a mirror only when it stands up. A wide outline's
# long axis is horizontal (a car, a sofa, a shoe in profile); reflecting about it swaps roof
# and wheels, and a rough match there is the blob's roundness, leaning with the silhouette's
# perspective (a level street photo of a car in three-quarter view, turned by 3.9 degrees with
# a wall of planks seen obliquely agreeing). A lying bottle is a true mirror about its long
# axis: the strict "axis" (WEAK_AXIS_SYMMETRY is not enough there) keeps it.
# A quadrilateral outline that is also mirror-symmetric and elongated (its axis found) is a
# tapered product as often as a box: a bulb's lens narrowing to its pins, a tub, a lampshade.
# Its near-parallel pair is then the rim and a short, ill-defined base (the line across a
# bulb's pins), read 2-3 degrees off, while the axis is measured over the whole outline. For
# a box the two agree (a symmetric box's axis is its sides' bisector), so where they differ
# by more than this many degrees the axis decides.
QUAD_AXIS_AGREE = 1.0
# A symmetric elongated outline ("axis", symmetry >= 0.95) of a single product is read to a
# few tenths of a degree: 51 readings on 8 real products (photos and their copies turned by
# +-3..30 degrees) stood within 1.2 degrees of the truth, most within 0.4; the readings 2
# degrees off were all one bottle of a group of three, each of which leans its own way by the
# camera's perspective (+3.1, -0.7, -1.9 degrees). So a single product's axis straightens from
# DEFAULT_MIN_TILT, while a group member's (another part of the mask at least GROUP_SHARE of
# the largest: :mod:`~correction_engine.imaging.group_members`) keeps EDGE_MIN_TILT.
# A box's side runs straight to the mask's jitter: the outline's RMS distance from the side's
# fitted line was at most 0.7 % of its length on the real set's boxes and cartons, while the
# "sides" of a skirt's bowed hem, a T-shirt laid flat or a can among chess pieces stood 2.5-5 %
# off it.
QUAD_MAX_BOW = 0.015


@dataclass(frozen=True)
class Tilt:
    """``angle``: the product's tilt in degrees, counter-clockwise on screen positive (undo it
    by turning the content clockwise by ``angle``); 0.0 when left alone. ``measured``: what
    the evidence said before the thresholds. ``evidence``: "rectangle", "quad", "axis",
    "sides", "edges", "weak-axis", "weak-sides" (each outline cue after the first three with
    "+lines" or "+gradients" when the scene's lines or gradients agreed; the two weak ones
    act only so), "lines" or "none".
    ``confidence`` in [0, 1]."""

    angle: float
    measured: float
    evidence: str
    confidence: float


NO_TILT = Tilt(0.0, 0.0, "none", 0.0)


def _direction(dx: float, dy: float) -> float:
    # Screen y grows downwards; -dy makes counter-clockwise on screen positive.
    return fold(float(np.degrees(np.arctan2(-dy, dx))))


def _largest_contour(mask: np.ndarray) -> np.ndarray | None:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    return contour if cv2.contourArea(contour) >= 64 else None


def rectangle_tilt(contour: np.ndarray, rectangularity: float = 0.9) -> tuple[float, float] | None:
    """Angle of the minimum-area rectangle (rotating calipers, as ``cv2.minAreaRect``) when
    the outline fills at least ``rectangularity`` of it; (angle, fill) or None."""
    area = cv2.contourArea(contour)
    rect = cv2.minAreaRect(contour)
    rw, rh = rect[1]
    if rw * rh <= 0 or area / (rw * rh) < rectangularity:
        return None
    pts = cv2.boxPoints(rect)
    e1, e2 = pts[1] - pts[0], pts[2] - pts[1]
    e = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2  # the longer side is better measured
    return _direction(float(e[0]), float(e[1])), float(area / (rw * rh))


def quad_tilt(
    contour: np.ndarray,
    fill: float = 0.95,
    max_spread: float = 8.0,
    max_skew: float = 10.0,
    max_bow: float = QUAD_MAX_BOW,
) -> tuple[float, float] | None:
    """Tilt of an outline that is a perspective quadrilateral (a box or a book seen obliquely).

    The outline is simplified (Douglas-Peucker) to four corners that must cover it (areas
    within ``fill``), and each side must be straight: the outline's points along it within
    ``max_bow`` x its length (RMS) of their least-squares line
    (:func:`~correction_engine.imaging.outline_sides.polygon_runs`). Perspective makes one
    pair of opposite sides converge symmetrically about the true direction, so each pair's
    mean direction is an estimate; the pair whose two sides agree better (spread at most
    ``max_spread`` degrees) is used. Returns (angle, confidence) or None.
    """
    area = cv2.contourArea(contour)
    perimeter = cv2.arcLength(contour, True)
    quad = None
    for eps in (0.01, 0.02, 0.03, 0.04):
        poly = cv2.approxPolyDP(contour, eps * perimeter, True)
        if len(poly) == 4:
            quad = poly.reshape(4, 2).astype(np.float64)
            break
        if len(poly) < 4:
            break
    if quad is None or not cv2.isContourConvex(quad.astype(np.float32)):
        return None
    qa = cv2.contourArea(quad.astype(np.float32))
    if qa <= 0 or min(area, qa) / max(area, qa) < fill:
        return None
    # The areas agree for any blob with four rough corners (a skirt whose hem bows, a T-shirt
    # laid flat, a can among chess pieces: turned by 3-10 degrees on level real photos); a box
    # is four straight sides.
    if max(bow for _, bow in polygon_runs(contour, poly)) > max_bow:
        return None
    sides = np.roll(quad, -1, axis=0) - quad
    dirs = np.array([_direction(dx, dy) for dx, dy in sides])
    best = None
    means = []
    for pair in ((0, 2), (1, 3)):
        a, b = dirs[pair[0]], dirs[pair[1]]
        spread = abs(fold_array(np.array([a - b]))[0])
        mean = fold(b + fold_array(np.array([a - b]))[0] / 2.0)
        means.append(mean)
        if best is None or spread < best[1]:
            best = (mean, spread)
    # A box's two pairs of sides stay roughly perpendicular under moderate perspective; a
    # quadrilateral whose pairs are far from it is some other shape.
    if best is None or best[1] > max_spread or abs(fold_array(np.array([means[0] - means[1]]))[0]) > max_skew:
        return None
    return best[0], float(1.0 - best[1] / (2 * max_spread))


def axis_tilt(
    mask: np.ndarray, min_elongation: float = 2.0, min_symmetry: float = 0.95, *, standing: bool = False
) -> tuple[float, float] | None:
    """Tilt of an elongated, mirror-symmetric outline (a bottle, a vase, a tube) from its axis.

    The principal axis of the mask's second moments is its symmetry axis when there is one;
    the reflection of the mask about that axis must overlap the mask by ``min_symmetry``
    (IoU), which rejects asymmetric shapes (a shoe's long axis follows no upright). The
    second moments' eigenvalue ratio must reach ``min_elongation``. ``standing``: only a long
    axis nearer vertical than horizontal counts (see ``WEAK_AXIS_SYMMETRY``). Returns (angle,
    symmetry).
    """
    ys, xs = np.nonzero(mask)
    if xs.size < 64:
        return None
    cx, cy = xs.mean(), ys.mean()
    dx, dy = xs - cx, ys - cy
    cov = np.cov(np.stack([dx, dy]))
    evals, evecs = np.linalg.eigh(cov)
    if evals[0] <= 0 or evals[1] / evals[0] < min_elongation:
        return None
    vx, vy = evecs[:, 1]
    if standing and abs(vy) < abs(vx):
        return None
    angle = _direction(vx, vy)
    # Reflect every pixel about the axis through the centroid and count how many land on the mask.
    ux, uy = vx / np.hypot(vx, vy), vy / np.hypot(vx, vy)
    along = dx * ux + dy * uy
    rx = np.rint(cx + 2 * along * ux - dx).astype(int)
    ry = np.rint(cy + 2 * along * uy - dy).astype(int)
    h, w = mask.shape
    ok = (rx >= 0) & (rx < w) & (ry >= 0) & (ry < h)
    hit = np.count_nonzero(mask[ry[ok], rx[ok]])
    symmetry = hit / float(2 * xs.size - hit)
    if symmetry < min_symmetry:
        return None
    return angle, float(symmetry)


# Outline cues that the scene's lines may overrule and its gradients confirm (a box or
# rectangle outline is exact enough to stand alone).
WEAK = ("axis", "sides", "edges", "weak-axis", "weak-sides")
# Outline cues that only count when the scene confirms them.
UNCONFIRMED = ("weak-axis", "weak-sides")


def _agree(evidence: str) -> float:
    """Degrees within which the scene's lines or gradients confirm an outline cue."""
    return WEAK_AXIS_AGREE if evidence in UNCONFIRMED else LINES_AGREE


def _around(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``mask`` on a grid of ``shape`` (h, w), grown by 3 % of the frame (its outline's ramp)."""
    h, w = shape[:2]
    m = mask.astype(np.uint8)
    if m.shape != (h, w):
        m = np.asarray(cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST), np.uint8)
    r = max(2, int(round(0.03 * max(h, w))))
    return cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


def one_of_a_group(mask: np.ndarray) -> bool:
    """True when the mask holds another part at least ``GROUP_SHARE`` of its largest (three
    bottles in a row): the largest outline is then one member, whose lean is its own."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = np.sort(stats[1:, cv2.CC_STAT_AREA])[::-1]
    return areas.size > 1 and float(areas[1]) >= GROUP_SHARE * float(areas[0])


def estimate_tilt(
    mask: np.ndarray,
    *,
    max_tilt: float = DEFAULT_MAX_TILT,
    min_tilt: float = DEFAULT_MIN_TILT,
    image: np.ndarray | None = None,
) -> Tilt:
    """The product's tilt from its mask (bool, any resolution; the outline's shape matters).

    Evidence in order: a perspective quadrilateral or rectangle (:func:`quad_tilt`; a
    quadrilateral that is also a symmetric elongated outline whose axis disagrees with it by
    more than ``QUAD_AXIS_AGREE`` is a tapered product, read by its axis), a rectangle by its
    minimum-area box (:func:`rectangle_tilt`), a symmetric elongated outline
    (:func:`axis_tilt`), two long parallel sides of an elongated outline
    (:func:`~correction_engine.imaging.outline_sides.sides_tilt`; with ``image`` on the mask's
    grid, the pair is read on the photo's own edges beside the outline), long straight edges
    (:func:`~correction_engine.imaging.outline_sides.edges_tilt`), and, with ``image`` only, a roughly symmetric tall outline or the
    parallel sides of a squat one ("weak-axis", "weak-sides": they count only where the scene's
    lines or gradients agree within ``WEAK_AXIS_AGREE``). The first that applies decides; with
    the working copy ``image`` (RGB or grey), the scene's lines (:func:`lines_tilt`) are
    averaged with an edges answer or a group member's axis when they agree (a single product's
    axis stands), and replace it (or no answer) when they disagree and are strong on their own;
    a rectangle or quadrilateral outline is never overruled. Without lines, the scene's
    gradients (:func:`gradient_tilt`, the product left out) that agree with an axis or edges
    answer are averaged with it. Tilts beyond ``max_tilt`` are left alone (``evidence`` still
    says what was seen), and so are tilts under ``min_tilt`` (``EDGE_MIN_TILT`` for sides, mere
    edges or a group member's axis alone (:func:`one_of_a_group`), ``GRADIENT_MIN_TILT`` with
    gradients and for a weak cue the lines confirm).
    """
    contour = _largest_contour(mask)
    if contour is None:
        return NO_TILT
    found = None
    # A true rectangle is measured best by its minimum-area box; a trapezoid can fill that box
    # well enough to pass a looser test while the box leans along a converging side, so the
    # perspective quadrilateral comes before the looser rectangle test.
    rect = rectangle_tilt(contour, rectangularity=0.97)
    if rect is not None:
        found = (rect[0], "rectangle", rect[1])
    if found is None:
        quad = quad_tilt(contour)
        if quad is not None:
            found = (quad[0], "quad", quad[1])
    main = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(main, [contour], -1, 1, thickness=-1)
    if found is not None and found[1] == "quad":
        axis = axis_tilt(main.astype(bool))
        if axis is not None and abs(fold(axis[0] - found[0])) > QUAD_AXIS_AGREE:
            found = (axis[0], "axis", axis[1])
    if found is None:
        rect = rectangle_tilt(contour)
        if rect is not None:
            found = (rect[0], "rectangle", rect[1])
    if found is None:
        axis = axis_tilt(main.astype(bool))
        if axis is not None:
            found = (axis[0], "axis", axis[1])
    # The photo's own edges, to which the outline's sides are refitted (the mask's outline is
    # rough to a few pixels); only on the mask's grid. Read only where a side's search looks.
    on_grid = image is not None and image.shape[:2] == mask.shape[:2]
    photo_edges = ImageEdges(image) if on_grid and image is not None else None
    if found is None:
        sides = sides_tilt(contour, mask.shape[:2], edges=photo_edges)
        if sides is not None:
            found = (sides[0], "sides", sides[1])
    if found is None:
        edges = edges_tilt(contour)
        if edges is not None:
            found = (edges, "edges", 0.5)
    if found is None and image is not None:
        weak = axis_tilt(main.astype(bool), WEAK_AXIS_ELONGATION, WEAK_AXIS_SYMMETRY, standing=True)
        if weak is not None:
            found = (weak[0], "weak-axis", weak[1])
    if found is None and image is not None:
        weak = sides_tilt(contour, mask.shape[:2], min_elongation=1.0, edges=photo_edges)
        if weak is not None:
            found = (weak[0], "weak-sides", weak[1])
    # The product's own box outline (rectangle, quadrilateral) is the most exact evidence
    # there is (a tenth of a degree): lines would only blur it, and where they disagree the
    # product is held tilted in a level scene. So the lines (~25 ms) are only looked for
    # when the outline is weaker.
    # A single product's mirror axis is read to a few tenths of a degree (see GROUP_SHARE);
    # the scene's lines and gradients carry a degree or two of their own (a table's edge in
    # perspective): their mean moved the axis away from the truth on all 9 such readings of
    # the real set (a bottle's 1.8 degree lean read 0.5 and left alone). So they may still
    # overrule it where they disagree, but never blur it where they agree.
    single_axis = found is not None and found[1] == "axis" and not one_of_a_group(mask)
    if image is not None and (found is None or found[1] in WEAK):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        lines = lines_tilt(grey)
        if lines is not None:
            if found is not None and abs(fold(found[0] - lines[0])) <= _agree(found[1]):
                # A weak outline cue and the scene agree: each has its own bias (a bottle's
                # taper, a table edge's perspective), so the mean is the better estimate.
                if not single_axis:
                    found = (fold(lines[0] + fold(found[0] - lines[0]) / 2.0), found[1] + "+lines", 1.0)
            elif lines[2] or lines[1] >= LINES_ALONE_SHARE:
                # A weak outline cue (or none) that the scene contradicts gives way to it.
                found = (lines[0], "lines", lines[1])
        if found is not None and found[1] in WEAK and not single_axis:
            # Still no scene lines: the scene's strong gradients, which also see structure too
            # short or broken for a line, confirm a weak outline cue (their mean), so that two
            # independent cues agreeing may straighten a smaller tilt. The product and its
            # outline's ramp do not vote (its sides already spoke through the outline). Never
            # alone: on the real set's photos without an outline cue the dominant gradient
            # direction was a room or table in perspective as often as the camera's roll
            # (wrong turns of 5-30 degrees); requiring both edge families to agree still
            # turned a 36-degree bottle the wrong way and gained one case in 80 otherwise.
            grads = gradient_tilt(grey, exclude=_around(mask, grey.shape))
            if (
                grads is not None
                and grads[1] >= GRADIENT_MIN_PEAK
                and abs(fold(found[0] - grads[0])) <= _agree(found[1])
            ):
                found = (fold(grads[0] + fold(found[0] - grads[0]) / 2.0), found[1] + "+gradients", 1.0)
    if found is None:
        return NO_TILT
    angle, evidence, confidence = found
    if evidence in UNCONFIRMED:
        # Unconfirmed by the scene: seen, never acted on.
        return Tilt(0.0, float(angle), evidence, float(confidence))
    if evidence == "axis" and not one_of_a_group(mask):
        threshold = min_tilt
    elif evidence in WEAK:
        threshold = max(min_tilt, EDGE_MIN_TILT)
    elif evidence.endswith("gradients") or evidence.split("+")[0] in UNCONFIRMED:
        # Two weak cues that agree: any outline cue confirmed only by the scene's gradients
        # (the weaker scene cue), and a cue that counts only when confirmed (UNCONFIRMED)
        # whichever scene cue confirms it. Sides, edges or a group member's axis confirmed
        # by the scene's lines keep ``min_tilt``: the lines are the stronger scene cue.
        threshold = max(min_tilt, GRADIENT_MIN_TILT)
    else:
        threshold = min_tilt
    if abs(angle) > max_tilt or abs(angle) < threshold:
        return Tilt(0.0, float(angle), evidence, float(confidence))
    return Tilt(float(angle), float(angle), evidence, float(confidence))
