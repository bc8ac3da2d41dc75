"""Shared sides of nested outlines (imaging/page_nesting.shared_sides) on quads whose geometry is
known: a panel cut from a sheet by one line shares three sides with it; a receipt in a scan's
corner shares with its backing card only the frame's border, which counts for nothing."""

from __future__ import annotations

import numpy as np

from correction_engine.imaging.page_nesting import shared_sides

SIZE = (480, 640)  # h, w
SHEET = np.array([[100.0, 60.0], [540.0, 70.0], [530.0, 420.0], [110.0, 430.0]])


def test_a_panel_cut_from_the_sheet_by_one_line_shares_three_sides() -> None:
    # The sheet's left part cut off by a line from its top side to its bottom side.
    panel = np.array([[250.0, 60.0 + 150 * 10 / 440], SHEET[1], SHEET[2], [260.0, 430.0 - 150 * 10 / 420]])
    assert shared_sides(SHEET, panel, SIZE) == 3


def test_a_document_lying_on_the_sheet_shares_none() -> None:
    inside = np.array([[200.0, 150.0], [400.0, 155.0], [395.0, 350.0], [205.0, 345.0]])
    assert shared_sides(SHEET, inside, SIZE) == 0


def test_sides_on_the_frame_border_are_not_shared() -> None:
    # A receipt and its backing card, both against the scan's top-left corner.
    card = np.array([[0.0, 0.0], [400.0, 0.0], [400.0, 470.0], [0.0, 470.0]])
    receipt = np.array([[0.0, 0.0], [200.0, 0.0], [200.0, 470.0], [0.0, 470.0]])
    assert shared_sides(card, receipt, SIZE) == 1  # only the bottom, off the border
