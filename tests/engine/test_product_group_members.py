"""A group's member that the model sees only faintly, apart from the mask (a dark bottle at the
end of a row; imaging/group_members.py): the type 3 crop holds it; faint regions that are not
the row's next member stay out."""

from __future__ import annotations

import numpy as np

from correction_engine.imaging.foreground import ForegroundEstimate
from correction_engine.imaging.group_members import faint_members
from correction_engine.imaging.product import locate_product

H, W = 200, 300


def row_of_bottles(faint_box: tuple[int, int, int, int] | None, members: int = 3) -> ForegroundEstimate:
    """``members`` bottles 30 px wide, 150 tall, 20 px apart, from column 120, in the mask and
    sure in the model's map; a faint object (probability 0.35) at ``faint_box`` (x0, y0, x1,
    y1), apart from the mask."""
    mask = np.zeros((H, W), bool)
    sal = np.zeros((H, W), np.float32)
    for k in range(members):
        x0 = 120 + 50 * k
        mask[30:180, x0 : x0 + 30] = True
        sal[30:180, x0 : x0 + 30] = 0.95
    if faint_box is not None:
        x0, y0, x1, y1 = faint_box
        sal[y0:y1, x0:x1] = 0.35
    return ForegroundEstimate(
        mask=mask,
        alpha=mask.astype(np.float32),
        distance=np.zeros((H, W), np.float32),
        scale_xy=(1.0, 1.0),
        method="test",
        small=np.zeros((H, W, 3), np.uint8),
        salient=sal,
        # No second look by the model (the test's map is the model's only view).
        plain_backdrop=True,
    )


def crop(est: ForegroundEstimate) -> tuple[int, int, int, int]:
    """Type 3's crop of the estimate (no straightening or turn: the crop alone is judged)."""
    image = np.zeros((H, W, 3), np.uint8)
    return locate_product(image, foreground=est, straighten=False, orient=False).crop_box


def test_a_faint_member_at_the_end_of_the_row_is_framed():
    # The model sees the fourth bottle's lower half (its label), 20 px left of the row.
    box = crop(row_of_bottles((70, 100, 100, 180)))
    # Framed like the row itself, with its margin (3 % of the framed 180 px: 5 px).
    assert box[0] <= 70 - 5
    # Across the row the crop is the row's own (rows 30-179 and the margin): the faint member
    # adds nothing there.
    assert box[1] >= 30 - 6 and box[3] <= 180 + 6


def test_faint_regions_that_are_not_the_next_member_stay_out():
    # Across the row (above it, on the wall), a speck, and a faint object beside a single
    # product (there it is another object of the scene).
    cases = (
        (row_of_bottles((130, 0, 200, 25)), row_of_bottles(None)),
        (row_of_bottles((90, 150, 96, 156)), row_of_bottles(None)),
        (row_of_bottles((70, 100, 100, 180), members=1), row_of_bottles(None, members=1)),
    )
    for est, without in cases:
        assert faint_members(est.mask, est.salient) is None
        assert crop(est) == crop(without)


def test_a_faint_object_far_along_the_row_stays_out():
    # The same faint object 60 px from the row's end: two bottles' widths, not the next place.
    est = row_of_bottles((30, 100, 60, 180))
    assert faint_members(est.mask, est.salient) is None
    assert crop(est) == crop(row_of_bottles(None))


def test_a_faint_strip_longer_than_a_member_stays_out():
    # Issue 9 (a): a faint strip in the row's band that starts 20 px from the row (as the
    # framed member above) but runs on to the frame's side - a shelf edge, a table top - and a
    # faint rug beside a pair of shoes: longer along the row than any member, so not the next one.
    cases = (
        (row_of_bottles((0, 100, 100, 180)), row_of_bottles(None)),
        (row_of_bottles((0, 60, 118, 180), members=2), row_of_bottles(None, members=2)),
    )
    for est, without in cases:
        assert faint_members(est.mask, est.salient) is None
        assert crop(est) == crop(without)


def test_a_block_of_members_keeps_the_same_faint_neighbour_in_every_pose():
    # Issue 9 (c): a 2x2 block of members is neither a row nor a column; whether a faint box
    # beside it is kept must not depend on the photo's quarter turn.
    mask = np.zeros((300, 300), bool)
    sal = np.zeros((300, 300), np.float32)
    for x0 in (100, 180):
        for y0 in (100, 180):
            mask[y0 : y0 + 60, x0 : x0 + 60] = True
            sal[y0 : y0 + 60, x0 : x0 + 60] = 0.95
    sal[100:240, 60:90] = 0.35
    kept = set()
    for k in range(4):
        m = np.ascontiguousarray(np.rot90(mask, k))
        s = np.ascontiguousarray(np.rot90(sal, k))
        region = faint_members(m, s)
        kept.add(None if region is None else int(np.count_nonzero(region)))
    assert len(kept) == 1
