"""A sheet on a backing of its own tone (page_thin_edges): its sides seen only as the thin dark
line of its own shadow, which the scorer's text-free copy erases with the print. Synthetic
scenes whose sheet is known exactly (a torn receipt on a ruled, handwritten notebook page: the
class of receipt-cord-crumpled-on-notes), and the committed real photos the rule was made on and
must not harm."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.document import locate_page
from correction_engine.imaging.geometry import order_quad, quad_iou
from correction_engine.imaging.page_thin_edges import LINE_REACH, thin_line_support

from .real_document_photos import turned_document

PAPER = (224, 225, 226)
NOTEBOOK = (222, 224, 226)
DESK = (55, 50, 48)
SHADOW = (175, 177, 180)


def _receipt_on_notebook(tilt_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """A white receipt, torn at both ends, lying across a white ruled notebook page with
    handwriting in its margins; the page ends above and below on a dark desk, onto which the
    receipt's torn ends reach. Its long sides lie on the page, as bright as the receipt, and
    show only as a 3 px shadow line. (photo, the receipt's corners at the middle of its tears)"""
    rng = np.random.default_rng(7)
    h, w = 1000, 667
    img = np.empty((h, w, 3), np.float32)
    img[:] = DESK
    img[130:860, :] = NOTEBOOK
    for y in range(150, 850, 34):
        cv2.line(img, (0, y), (w, y), (150, 160, 185), 1, cv2.LINE_AA)
    for y in range(160, 820, 34):
        for x in list(range(4, 60, 16)) + list(range(626, 660, 16)):
            if rng.random() < 0.7:
                a = (x, y + int(rng.integers(-3, 8)))
                b = (x + int(rng.integers(6, 14)), y + int(rng.integers(8, 20)))
                cv2.line(img, a, b, (60, 60, 70), 2, cv2.LINE_AA)
    centre, size = (w * 0.52, h * 0.5), (560.0, 830.0)
    m = cv2.getRotationMatrix2D(centre, -tilt_deg, 1.0)
    # Torn ends: teeth 8 px deep every 10 px about the line the corners are on.
    xs = np.arange(-size[0] / 2, size[0] / 2 + 1e-6, 5.0)
    tooth = np.where(np.arange(len(xs)) % 2 == 0, 4.0, -4.0)
    top = np.stack([xs, -size[1] / 2 + tooth], axis=1)
    bottom = np.stack([xs[::-1], size[1] / 2 + tooth[::-1]], axis=1)
    outline = np.concatenate([top, bottom]) + np.array(centre)
    outline = np.hstack([outline, np.ones((len(outline), 1))]) @ m.T
    poly = np.round(outline).astype(np.int32)
    cv2.polylines(img, [poly], True, SHADOW, 3, cv2.LINE_AA)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [poly], 1)
    img[mask > 0] = PAPER
    for y in np.arange(centre[1] - 300, centre[1] + 300, 26):
        x0 = centre[0] - 220 + rng.integers(0, 30)
        x1 = centre[0] + 220 - rng.integers(0, 120)
        for x in np.arange(x0, x1, 13.0):
            if rng.random() < 0.85:
                p = m @ np.array([x, y, 1.0])
                cv2.rectangle(img, (int(p[0]), int(p[1])), (int(p[0]) + 8, int(p[1]) + 11), (90, 90, 110), -1)
    img += rng.normal(0, 1.5, img.shape).astype(np.float32)
    corners = cv2.boxPoints((centre, size, tilt_deg)).astype(np.float64)
    return np.clip(img, 0, 255).astype(np.uint8), order_quad(corners)


@pytest.mark.parametrize("tilt", [0.0, 2.0])
def test_a_receipt_on_a_notebook_page_is_found_by_its_thin_edges(tilt):
    # The receipt's long sides step by a grey level or two off the page; the faint walk ran
    # through their shadow lines onto the page, as bright as the receipt, out to the frame, and
    # took the frame's border for them: the receipt's ends with the desk's corners beside them
    # (IoU 0.84). Their thin shadow lines are seen sides: the receipt itself.
    photo, corners = _receipt_on_notebook(tilt)
    quad, found, _ = locate_page(photo)
    assert found is not None
    assert quad_iou(quad, corners) >= 0.95, (found.detector, quad_iou(quad, corners))


# (photo id, the least corners IoU accepted at quarter turns 0 and 1, what went wrong before)
REAL = [
    # The class itself: a crumpled receipt in low light on a handwritten notebook page. Its long
    # sides step by a grey level or two off the page; no outline reached the scorer's bar and
    # the whole frame was kept (IoU 0.72). Its torn ends step onto dark bands; its sides show as
    # thin shadow lines: 0.95.
    ("receipt-cord-crumpled-on-notes", 0.93),
    # Flat scans of crumpled receipts filling the frame (the whole frame is right, 0.998): the
    # rule's first form (a line darker than either neighbour, sides on the frame's border
    # counted as steps) took a band between two columns of print, its ends on the border and
    # its sides on the columns' edges (0.06, 0.13). Now its best outline there scores under the
    # bar (0.55, 0.60) and has one seen step and none: refused twice over.
    ("receipt-scan-receiptparser-07", 0.95),
    ("receipt-scan-receiptparser-08", 0.95),
]


@pytest.mark.parametrize("ident,least_iou", REAL, ids=[p[0] for p in REAL])
@pytest.mark.parametrize("k", [0, 1])
def test_thin_edged_sheets_on_real_photos(ident: str, least_iou: float, k: int) -> None:
    image, truth = turned_document(ident, k)
    quad, _, _ = locate_page(image)
    assert quad_iou(quad, truth) >= least_iou, quad_iou(quad, truth)


def _square_with(kind: str, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """A grey 200 x 200 image at 200 with, ``offset`` px right of x = 100, a 2 px dark line
    (``kind`` "line") or a step down to 150 (``kind`` "step"); and the quad whose right side is
    x = 100."""
    img = np.full((200, 200), 200.0, np.float32)
    x = int(round(100 + offset))
    if kind == "line":
        img[:, x : x + 2] = 150.0
    else:
        img[:, x:] = 150.0
    quad = np.array([[40.0, 40.0], [100.0, 40.0], [100.0, 160.0], [40.0, 160.0]])
    return img, quad


@pytest.mark.parametrize("offset", [0.0, float(LINE_REACH) - 1.0, -float(LINE_REACH)])
def test_a_thin_line_close_along_a_side_supports_it_all_along(offset):
    img, quad = _square_with("line", offset)
    support = thin_line_support(img, quad, 6.0)
    assert support[1].all()
    assert not support[[0, 2, 3]].any()


@pytest.mark.parametrize("kind, offset", [("line", LINE_REACH + 4.0), ("step", 0.0)])
def test_a_line_farther_off_or_a_step_is_no_thin_line(kind, offset):
    # A line past LINE_REACH is some other line; a step is the scorer's own kind of support,
    # not a line darker than both its neighbours.
    img, quad = _square_with(kind, offset)
    assert not thin_line_support(img, quad, 6.0).any()


# Only x1.6: at x1.3, x1.8, x2.0 and x2.4 this draw ends in another branch (a "faint lines"
# outline scoring over the bar on its own), a different failure, not this rule's.
@pytest.mark.parametrize("factor", [1.6])
def test_print_is_not_taken_for_a_thin_edged_sheet_at_larger_sizes(factor):
    # Issue 8 review: the same scene photographed larger (bilinear, fresh sensor noise). At
    # x1.6 the text-free closing no longer erases all the dense print, so two sides inside the
    # text block "stepped" and letter strokes along the other two passed for thin shadow lines:
    # a quad through the print (IoU 0.20), with print running across its sides. Whatever is found,
    # it must not cut into the receipt: the frame kept whole (0.70 at x1.3), the faint outline
    # found before (0.84 at x1.6) or the receipt itself all hold nearly all of it.
    photo, corners = _receipt_on_notebook(2.0)
    big = cv2.resize(photo, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    rng = np.random.default_rng(2)
    big = np.clip(big + rng.normal(0, 1.5, big.shape), 0, 255).astype(np.uint8)
    quad, found, _ = locate_page(big)
    truth = corners * factor
    iou = quad_iou(order_quad(quad), truth)
    # The share of the receipt inside the quad, from IoU and the two areas: I = IoU (A + B) / (1 + IoU).
    areas = cv2.contourArea(order_quad(quad).astype(np.float32)) + cv2.contourArea(truth.astype(np.float32))
    held = iou * areas / (1.0 + iou) / cv2.contourArea(truth.astype(np.float32))
    assert held >= 0.95, (found and found.detector, iou, held)
