"""Product photos (enhancement types 3 and 4) as a straight line of stages.

1. find   :func:`correction_engine.imaging.foreground.estimate_foreground` - the product's
          mask at a fixed working resolution (the choice between methods lives there),
          and :func:`correction_engine.imaging.closer_look.closer_look` - where the model,
          run again on the product's neighbourhood, sees the product continue;
2. place  :func:`place_product` - tilt (:mod:`~correction_engine.imaging.straighten`),
          upright turn (:mod:`~correction_engine.imaging.product_orientation`) and the crop
          around the turned product, planned as one affine map;
3. cut    :func:`apply_placement` (type 3) and
          :func:`correction_engine.imaging.cutout.alpha_in_frame` (type 4).

Each stage is a pure function of the previous stage's result; nothing calls back upstream.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from correction_engine.imaging import saliency
from correction_engine.imaging.closer_look import closer_look
from correction_engine.imaging.crop_boxes import at_least, cover, quarter_turn_map, turn_box
from correction_engine.imaging.cutout import alpha_in_frame, cutout_with_alpha
from correction_engine.imaging.foreground import ForegroundEstimate, estimate_foreground
from correction_engine.imaging.geometry import quarter_turn
from correction_engine.imaging.group_members import faint_members
from correction_engine.imaging.holding_hand import held_in_a_hand
from correction_engine.imaging.product_orientation import NO_TURN, UprightTurn, estimate_upright_turn
from correction_engine.imaging.straighten import (
    DEFAULT_MAX_TILT,
    DEFAULT_MIN_TILT,
    NO_TILT,
    Tilt,
    estimate_tilt,
)

DEFAULT_MARGIN = 0.03
# Where u2netp gives at least this probability in a region that touches the mask, the product
# may extend there (a carton's lower half matching the shelf, a bulb's thin pins): the crop
# covers it. Measured on the real set (containment 79 -> 86 of 93 photos, both halves gaining;
# median tightness 0.87 -> 0.85); 0.3 and 0.1 held fewer or cost more tightness.
MAYBE_LEVEL = 0.2
# Salient specks smaller than this share of the mask are noise, not a part of the product.
MAYBE_MIN_SHARE = 0.01
# A product held in a hand (a carton held up in a shop) is framed with a margin this many times
# wider: the hand breaks its outline and its far end often shares the shelf's colours, so the
# mask of a held product stops short of it more often than on a table or a backdrop. Measured
# on the real set (crop held >= 99 %: even 48 -> 49 of 52, odd 48 -> 49 of 51; median
# tightness 0.845 -> 0.833 and 0.836 -> 0.833; 24 of 103 photos widen); a margin of 0.04 on
# every photo held the same two and cost 0.03 of median tightness. A skin-toned surface entering
# beside the product (a wooden shelf, floor or board) also counts: 6 of the 12 crops that moved.
HELD_MARGIN_FACTOR = 1.5
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class ProductPlacement:
    """Where the product is and how to cut it out of the input.

    ``angle``: degrees the product is tilted, counter-clockwise on screen positive; the
    output undoes it (0.0 when left alone). ``turn_cw``: the quarter turn (clockwise degrees)
    applied after straightening to make the product upright. ``evidence`` and
    ``turn_evidence`` name what decided them. ``product_box`` and ``crop_box``: ``(x0, y0,
    x1, y1)`` end-exclusive in the output frame (the input straightened and turned), without
    and with the margin; a straightened crop may reach past the image (warp fills by
    replication). ``to_input``: 2x3 affine mapping output pixel coordinates to input
    coordinates (for ``cv2.WARP_INVERSE_MAP``). ``input_box``: for a crop without tilt, the
    same crop in input coordinates (a plain slice, then ``np.rot90``). ``foreground``: the
    working-resolution estimate.
    """

    angle: float
    evidence: str
    product_box: tuple[int, int, int, int]
    crop_box: tuple[int, int, int, int]
    to_input: np.ndarray
    foreground: ForegroundEstimate
    turn_cw: int = 0
    turn_evidence: str = "none"
    input_box: tuple[int, int, int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """Output (height, width)."""
        x0, y0, x1, y1 = self.crop_box
        return (y1 - y0, x1 - x0)

    @property
    def tilt_cw(self) -> float:
        """The product's tilt as found, clockwise positive (the convention of the datasets)."""
        return -self.angle


def _rotation(angle: float) -> np.ndarray:
    """2x2 matrix turning screen coordinates counter-clockwise (on screen) by ``angle``."""
    t = np.radians(angle)
    return np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])


def outline_points(est: ForegroundEstimate) -> np.ndarray:
    """The product outline in input pixel coordinates, at sub-pixel precision: the
    coverage's 0.5 level traced on a 4x finer grid, each fine pixel's four corners."""
    fine = 4
    hs, ws = est.alpha.shape
    up = cv2.resize(est.alpha, (ws * fine, hs * fine), interpolation=cv2.INTER_LINEAR) >= 0.5
    contours, _ = cv2.findContours(up.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float64)
    half = 0.5 / fine
    offsets = ((-half, -half), (half, -half), (-half, half), (half, half))
    # Fine pixel u has its centre at working coordinate (u + 0.5) / 4 - 0.5; working pixel i
    # covers input [i / s, (i + 1) / s).
    corners = np.concatenate([(pts + 0.5) / fine - 0.5 + d for d in offsets])
    return (corners + 0.5) / np.asarray(est.scale_xy)


def maybe_product(est: ForegroundEstimate) -> np.ndarray | None:
    """Working-grid region where the product may extend beyond its mask: u2netp's regions at
    :data:`MAYBE_LEVEL` that touch the mask (a salient region apart from it is another
    object). None without the model's map or when it adds nothing."""
    if est.salient is None:
        return None
    maybe = est.salient >= MAYBE_LEVEL
    if maybe.shape != est.mask.shape or not (maybe & ~est.mask).any():
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(maybe.astype(np.uint8), connectivity=8)
    touching = np.unique(labels[est.mask & maybe])
    big = stats[:, cv2.CC_STAT_AREA] >= MAYBE_MIN_SHARE * np.count_nonzero(est.mask)
    keep = np.zeros(n, bool)
    keep[touching] = True
    keep &= big
    keep[0] = False
    region = keep[labels]
    return region if region.any() else None


def _region_corners(region: np.ndarray, scale_xy: tuple[float, float]) -> np.ndarray:
    """The outer pixel corners of ``region``'s outline (working grid), in input coordinates."""
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float64)
    corners = np.concatenate([pts + d for d in ((0, 0), (1, 0), (0, 1), (1, 1))])
    return corners / np.asarray(scale_xy)


def place_product(
    shape: tuple[int, int],
    est: ForegroundEstimate,
    tilt: Tilt = NO_TILT,
    turn: UprightTurn = NO_TURN,
    *,
    margin: float = DEFAULT_MARGIN,
    closer: np.ndarray | None = None,
    members: np.ndarray | None = None,
) -> ProductPlacement:
    """Plan the output for an input of ``shape`` (h, w): straighten by ``tilt``, turn by
    ``turn``, crop around the product with ``margin`` x its longer side on every side.

    The crop is computed after turning, from the whole outline and the loose parts beside it
    (``est.apart``) and ``members`` (a group's faint members, working grid), so nothing of
    the product is lost to it; it also covers
    :func:`maybe_product` and ``closer``, the model's closer look
    (:func:`~correction_engine.imaging.closer_look.closer_look`, working grid), without a
    margin of their own: the margin frames the sure product, the maybe regions only must not
    be cut. Without a tilt the crop stays inside the frame (no invented pixels).
    """
    h, w = shape
    if not (est.alpha >= 0.5).any():
        # Nothing found: the whole frame is the "product"; better than an empty result.
        box = (0, 0, w, h)
        return ProductPlacement(0.0, "none", box, box, IDENTITY.copy(), est, input_box=box)
    corners = outline_points(est)
    if est.apart is not None:
        # Loose parts laid out beside the product on a plain backdrop are framed like it.
        corners = np.concatenate([corners, _region_corners(est.apart, est.scale_xy)])
    if members is not None:
        # So are a group's members seen only faintly (working grid, see locate_product).
        corners = np.concatenate([corners, _region_corners(members, est.scale_xy)])
    region = maybe_product(est)
    if closer is not None:
        region = closer if region is None else region | closer
    extra = _region_corners(region, est.scale_xy) if region is not None else corners[:0]
    angle = tilt.angle
    if angle == 0.0:
        px0, py0 = np.floor(corners.min(0)).astype(int)
        px1, py1 = np.ceil(corners.max(0)).astype(int)
        m = int(round(margin * max(px1 - px0, py1 - py0)))
        cx0, cy0, cx1, cy1 = cover((px0 - m, py0 - m, px1 + m, py1 + m), extra)
        crop = (max(0, cx0), max(0, cy0), min(w, cx1), min(h, cy1))
        (x0, x1), (y0, y1) = at_least(crop[0], crop[2], w), at_least(crop[1], crop[3], h)
        crop = (x0, y0, x1, y1)
        product = (max(0, px0), max(0, py0), min(w, px1), min(h, py1))
        return ProductPlacement(
            angle=0.0,
            evidence=tilt.evidence,
            product_box=turn_box(product, shape, turn.turn_cw),
            crop_box=turn_box(crop, shape, turn.turn_cw),
            to_input=quarter_turn_map(crop, turn.turn_cw),
            foreground=est,
            turn_cw=turn.turn_cw,
            turn_evidence=turn.evidence,
            input_box=crop,
        )
    # Straighten and turn as one rotation: undo the counter-clockwise tilt (turn the content
    # clockwise by ``angle``), then the quarter turn, also clockwise.
    total = angle + turn.turn_cw
    centre = np.array([w / 2.0, h / 2.0])
    rot = _rotation(total)
    q = (corners - centre) @ rot + centre
    px0, py0 = np.floor(q.min(0)).astype(int)
    px1, py1 = np.ceil(q.max(0)).astype(int)
    m = int(round(margin * max(px1 - px0, py1 - py0)))
    x0, y0, x1, y1 = cover((px0 - m, py0 - m, px1 + m, py1 + m), (extra - centre) @ rot + centre)
    (x0, x1), (y0, y1) = at_least(x0, x1), at_least(y0, y1)
    # Output pixel q_out maps to input p = rot (q_out + origin - c) + c.
    to_input = np.zeros((2, 3))
    to_input[:, :2] = rot
    to_input[:, 2] = rot @ (np.array([x0, y0], float) - centre) + centre
    return ProductPlacement(
        angle=angle,
        evidence=tilt.evidence,
        product_box=(px0, py0, px1, py1),
        crop_box=(x0, y0, x1, y1),
        to_input=to_input,
        foreground=est,
        turn_cw=turn.turn_cw,
        turn_evidence=turn.evidence,
    )


def locate_product(
    image: np.ndarray,
    *,
    margin: float = DEFAULT_MARGIN,
    straighten: bool = True,
    orient: bool = True,
    max_tilt: float = DEFAULT_MAX_TILT,
    min_tilt: float = DEFAULT_MIN_TILT,
    foreground: ForegroundEstimate | None = None,
    look_closer: bool = True,
) -> ProductPlacement:
    """Stages 1 and 2 for an RGB uint8 image: find the product, then place it.

    A precomputed ``foreground`` estimate may be passed to avoid estimating it twice.
    ``look_closer``: run the model again on the product's neighbourhood so the crop covers
    where the product may extend beyond its mask (one more inference; only a crop that shows
    the photo needs it, a cut-out's alpha is the mask); the same crop frames a product held
    in a hand with :data:`HELD_MARGIN_FACTOR` x ``margin``, and frames a group's member the
    model sees only faintly
    (:func:`~correction_engine.imaging.group_members.faint_members`) like the product.
    """
    est = foreground if foreground is not None else estimate_foreground(image)
    tilt, turn = NO_TILT, NO_TURN
    closer = None
    members = None
    if est.mask.any():
        if straighten:
            tilt = estimate_tilt(est.mask, max_tilt=max_tilt, min_tilt=min_tilt, image=est.small)
        if orient and est.small is not None:
            turn = estimate_upright_turn(est.small, est.mask, tilt.angle)
        if look_closer and est.salient is not None and est.small is not None and not est.plain_backdrop:
            # Only where the model was consulted for the mask (it is there and was run), and
            # where a scene shares its first view with the product: on a plain backdrop the
            # product is already the view's one object (none of the real set's 13 such crops
            # moved with a second look, each an inference: about half a type 3 task).
            closer = closer_look(est.small, est.mask, saliency.salient_probability)
        if look_closer and est.small is not None and held_in_a_hand(est.mask, est.small, est.skin):
            margin *= HELD_MARGIN_FACTOR
        # A group's member the model sees only faintly is framed like the product.
        members = faint_members(est.mask, est.salient) if look_closer else None
    return place_product(
        image.shape[:2],
        est,
        tilt,
        turn,
        margin=margin,
        closer=closer,
        members=members,
    )


def apply_placement(image: np.ndarray, placement: ProductPlacement) -> np.ndarray:
    """Cut the planned output out of ``image`` (any channel count) at full resolution."""
    if placement.input_box is not None:
        x0, y0, x1, y1 = placement.input_box
        # A slice and, when turned, OpenCV's blocked transpose (np.rot90 made contiguous
        # is six times slower): a copy either way, never a resampling.
        return quarter_turn(image[y0:y1, x0:x1], -(placement.turn_cw // 90))
    out_h, out_w = placement.size
    # One warp computes only the output pixels (bilinear), never the whole rotated frame.
    return cv2.warpAffine(
        image,
        placement.to_input,
        (out_w, out_h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


@dataclass(frozen=True)
class ProductPlan:
    """The first two stages' results for one photo (what the benchmarks inspect)."""

    foreground: ForegroundEstimate
    placement: ProductPlacement

    def full_frame_alpha(self, image: np.ndarray) -> np.ndarray:
        """Type 4's matte on the whole input frame (uint8), before any crop or turn."""
        return alpha_in_frame(image, self.foreground, IDENTITY)


def plan_product(image: np.ndarray) -> ProductPlan:
    """Find and place the product of ``image``; see :class:`ProductPlan`."""
    placement = locate_product(image)
    return ProductPlan(placement.foreground, placement)


def crop_and_straighten(image: np.ndarray) -> np.ndarray:
    """Enhancement type 3: the product, straightened when clearly tilted, turned upright when
    clearly turned, cropped with a margin. Input and output are RGB uint8 HxWx3."""
    return apply_placement(image, locate_product(image))


def crop_straighten_cutout(image: np.ndarray) -> np.ndarray:
    """Enhancement type 4: type 3, then background removal; RGBA uint8 with soft edges.

    The mask found for the crop is reused (warped into the crop) rather than estimated
    again, and refined against the full-resolution crop.
    """
    # The cut-out shows only what its alpha (the mask) covers: a crop widened to where the
    # product may extend would add transparent margin for the cost of an inference.
    placement = locate_product(image, look_closer=False)
    crop = apply_placement(image, placement)
    return cutout_with_alpha(crop, alpha_in_frame(crop, placement.foreground, placement.to_input))
