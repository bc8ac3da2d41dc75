"""Members of a group of products that the learned model sees only faintly (stage 1, find):
where the crop must also reach.

A row of bottles is photographed as one product. u2netp's map gives each member its own
object, but a member at the edge of the row - darker, half cut by the frame, against a busy
shelf - can stay under the 0.5 cut and even under the placement's "maybe" level where it
would touch the mask; it then stands apart, and a region apart from the mask is otherwise
taken for another object of the scene. Within a group it is more likely the next member: it
lies in the row's band and about one member's spacing from its end. Pure function of
working-resolution arrays.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["GROUP_SHARE", "faint_members"]

# Another part of the mask at least this share of the largest part's area makes the mask a
# group of products (three bottles in a row), each member leaning its own way by the camera's
# perspective; a smaller part is a loose piece or a speck. Read here (the faint members of a
# group) and by straightening (:func:`correction_engine.imaging.straighten.one_of_a_group`:
# a member's axis needs more tilt than a single product's).
GROUP_SHARE = 0.5
# The model's probability that counts as a faint member: the placement's "maybe" level (a
# faint bottle in the real set's group of four reads 0.2-0.5 over its label and body).
MEMBER_LEVEL = 0.2
# A faint member is at least this share of the smallest member's area: the model often sees
# only part of it (the label of a dark bottle, about 0.3 of a member), while specks and the
# shelf's reflections are far smaller.
MEMBER_SHARE = 0.2
# Share of the region's extent across the row that must lie within the row's band (the rows
# of a horizontal group, the columns of a vertical one).
IN_BAND = 0.8
# Greatest gap between the region and the nearest member, in the members' median width along
# the row: the next place in the row, not an object across the room.
MAX_GAP = 1.0
# Greatest extent of a faint region along the row, in the members' median width: the next
# member, seen whole or in part, and some slack for a wider one; a longer strip in the band is
# a shelf edge, a table top or a rug running beside the row, not a member (issue 9).
MAX_LENGTH = 1.5
# Least ratio of the members' spreads (along x and along y) that leaves no direction: a block
# of members (2x2) is neither a row nor a column, and picking one by the larger spread would
# keep a neighbour in one quarter turn of the photo and drop it in the next (issue 9).
TIE = 0.8


def _members(mask: np.ndarray) -> np.ndarray:
    """Stats rows (x, y, w, h, area) of the mask's parts that are members of a group: each at
    least ``GROUP_SHARE`` of the largest; empty unless there are two or more."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    parts = stats[1:]
    if len(parts) < 2:
        return parts[:0]
    big = parts[parts[:, cv2.CC_STAT_AREA] >= GROUP_SHARE * parts[:, cv2.CC_STAT_AREA].max()]
    return big if len(big) >= 2 else parts[:0]


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    """Length of the overlap of the spans [a0, a1) and [b0, b1)."""
    return max(0, min(a1, b1) - max(a0, b0))


def _in_row(box: np.ndarray, members: np.ndarray, axis: int) -> bool:
    """True when ``box`` (x, y, w, h) lies in the band of ``members`` across ``axis`` (0: a
    horizontal row, 1: a vertical column) and within :data:`MAX_GAP` of one of them along it."""
    along, across = (0, 1) if axis == 0 else (1, 0)
    lo = int(members[:, across].min())
    hi = int((members[:, across] + members[:, across + 2]).max())
    b0, b1 = int(box[across]), int(box[across] + box[across + 2])
    if _overlap(b0, b1, lo, hi) < IN_BAND * (b1 - b0):
        return False
    step = float(np.median(members[:, along + 2]))
    if box[along + 2] > MAX_LENGTH * step:
        return False
    a0, a1 = int(box[along]), int(box[along] + box[along + 2])
    gaps = [max(int(m[along]) - a1, a0 - int(m[along] + m[along + 2])) for m in members]
    return min(gaps) <= MAX_GAP * step


def faint_members(mask: np.ndarray, salient: np.ndarray | None) -> np.ndarray | None:
    """Working-grid region (bool) of the model's faint objects that stand apart from ``mask``
    where the mask is a group (two or more parts, each at least ``GROUP_SHARE`` of the
    largest) and lie in the group's row (or column) next to a member, no longer along it than
    :data:`MAX_LENGTH` members; None when there are none, or when the members' spreads along x
    and y are within :data:`TIE` of each other (no row or column to follow)."""
    if salient is None or salient.shape != mask.shape:
        return None
    members = _members(mask)
    if not len(members):
        return None
    faint = salient >= MEMBER_LEVEL
    n, labels, stats, _ = cv2.connectedComponentsWithStats(faint.astype(np.uint8), connectivity=8)
    touching = np.zeros(n, bool)
    touching[np.unique(labels[mask & faint])] = True
    # A row (bottles side by side) or a column (boxes stacked): the way the members' centres spread.
    centres = members[:, :2] + members[:, 2:4] / 2.0
    spread_x, spread_y = float(np.ptp(centres[:, 0])), float(np.ptp(centres[:, 1]))
    if min(spread_x, spread_y) >= TIE * max(spread_x, spread_y):
        return None
    axis = 0 if spread_x > spread_y else 1
    keep = np.zeros(n, bool)
    min_area = MEMBER_SHARE * float(members[:, cv2.CC_STAT_AREA].min())
    for i in range(1, n):
        if touching[i] or stats[i, cv2.CC_STAT_AREA] < min_area:
            continue
        keep[i] = _in_row(stats[i, :4], members, axis)
    region = keep[labels]
    return region if region.any() else None
