"""Type 0 and type 1 on a handful of the committed real photos (datasets/real-documents), whose
corners and upright turn were placed by eye. The full set is measured by bench/real_documents.py;
these few guard the kinds that went wrong before: a page on a wood desk whose wrong outline ran
far off the frame, a small receipt against the corner of a scan, a business card, a handwritten
page on wood, a printed page whose text type 1 must make more legible."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from bench.real_sets import turn_cw, turn_points_cw
from correction_engine.imaging.document import crop_and_orient, locate_page
from correction_engine.imaging.geometry import order_quad, output_size, quad_iou, warp_quad
from correction_engine.imaging.orientation import estimate_orientation
from correction_engine.imaging.page_detection import find_page_quad
from correction_engine.imaging.page_proposals import closed_small, grey_and_white, propose_by_brightness
from correction_engine.imaging.text_enhance import enhance_text

from .real_document_photos import document_or_skip

# (photo id, the least corners IoU accepted). The engine measured 0.97-0.99 on each when these
# were written; the previous engine got 0.43 on the notebook and 0.11 on the receipt.
PHOTOS = [
    ("notebook-camscan-03", 0.95),
    ("receipt-scan-softmatic-01", 0.95),
    ("card-azure-bizcard-avery", 0.93),
    ("hw-breta-page01", 0.93),
    ("page-dynamsoft-about-wood", 0.97),
    # A receipt on a grey card backing, itself on the scanner's dark lid area, against two edges
    # of the scan: one brightness threshold takes card and receipt together (IoU 0.44 before).
    ("receipt-scan-softmatic-05", 0.95),
    ("receipt-scan-softmatic-18", 0.95),
    # The same kind against the frame's corner, the receipt's own corners rounded or torn: a
    # four-point simplification of its bright region put a side off its edge and the card
    # backing won (IoU 0.58); sides fitted as lines through the region's outline find it.
    ("receipt-scan-softmatic-02", 0.95),
    # An ID card held by a thumb, rounded corners, a second card behind it: only the card's
    # right part was found (IoU 0.66) until its sides were fitted through the whole outline.
    ("card-docaligner-01", 0.93),
    # Low-contrast outlines on a bright photo: Canny's thresholds follow the median brightness,
    # so a whole side left no edge and no outline scored; the page was not found (0.42, 0.59).
    ("receipt-azure-french", 0.95),
    ("whiteboard-imagelabs-02", 0.93),
]

# Pages with no text (calibration targets): corners only, their upright turn is not defined.
# Printed squares draw outlines of their own inside the sheet; before, one of those won (IoU
# 0.18 on the chessboard). The cluttered one guards the shadow check: read on one side of a
# side only, the clutter beyond the sheet passed for text and a larger outline won (0.81).
PLAIN_PAGES = [
    ("page-boofcv-chessboard", 0.95),
    ("page-boofcv-chessboard-clutter", 0.95),
    # A target on a clipboard on a weathered deck (the clipboard is lighter than the deck): the
    # page's region outline, simplified to four of its points, ran a side off the page and a
    # part of the page won at two of the four turns (IoU 0.33 unturned, 0.96 turned).
    ("page-boofcv-hexgrid-deck", 0.93),
]


@pytest.mark.parametrize("ident,least_iou", PHOTOS, ids=[p[0] for p in PHOTOS])
@pytest.mark.parametrize("k", [0, 1])
def test_page_corners_and_upright_turn(ident, least_iou, k):
    image, meta = document_or_skip(ident)
    truth = turn_points_cw(np.asarray(meta["corners"], float), image.shape[:2], k)
    turned = turn_cw(image, k)
    quad, found, orientation = locate_page(turned)
    assert found is not None
    assert quad_iou(quad, truth) >= least_iou, quad_iou(quad, truth)
    h, w = turned.shape[:2]
    # No corner more than 1 % of the side outside the frame.
    assert quad[:, 0].min() >= -0.01 * w and quad[:, 0].max() <= 1.01 * w
    assert quad[:, 1].min() >= -0.01 * h and quad[:, 1].max() <= 1.01 * h
    # The engine's text top-left corner (its corners rolled by its upright turn) is the truth's.
    upright = np.roll(quad, -(orientation.rotation // 90), axis=0)
    shifts = [np.linalg.norm(np.roll(upright, -s, axis=0) - truth, axis=1).sum() for s in range(4)]
    assert int(np.argmin(shifts)) == 0, (orientation, shifts)


@pytest.mark.parametrize("ident,least_iou", PLAIN_PAGES, ids=[p[0] for p in PLAIN_PAGES])
@pytest.mark.parametrize("k", [0, 1])
def test_page_corners_of_pages_without_text(ident, least_iou, k):
    image, meta = document_or_skip(ident)
    truth = turn_points_cw(np.asarray(meta["corners"], float), image.shape[:2], k)
    quad, found, _ = locate_page(turn_cw(image, k))
    assert found is not None
    assert quad_iou(quad, truth) >= least_iou, quad_iou(quad, truth)


# (photo id, quarter turns clockwise) where the profile finds no clear text lines (a whiteboard,
# a card held in a hand, mostly QR code) and the classifier alone decides; it measured 0.72-0.73
# for the right turn, under the 0.9 once required, and the page stayed as turned.
FEW_LINES = [("whiteboard-imagelabs-02", 1), ("card-zxing-qr-held", 2), ("card-zxing-qr-held", 3)]


@pytest.mark.parametrize("ident,k", FEW_LINES, ids=[f"{i}-{k}" for i, k in FEW_LINES])
def test_pages_with_few_text_lines_come_out_upright(ident, k):
    image, meta = document_or_skip(ident)
    truth = np.asarray(meta["corners"], float)
    crop = warp_quad(image, truth, output_size(truth, image.shape[:2]))
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    s = min(1.0, 1100 / max(grey.shape))  # the size locate_page's orientation step works at
    grey = cv2.resize(grey, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    assert estimate_orientation(turn_cw(grey, k)).rotation == 90 * k


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs the tesseract binary")
def test_type1_makes_a_printed_page_more_legible(monkeypatch):
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")  # tesseract's threads only fight on 2 cores
    image, meta = document_or_skip("page-dynamsoft-about-wood")
    truth = np.asarray(meta["corners"], float)
    crop = warp_quad(image, truth, output_size(truth, image.shape[:2]))

    def confident_words(img: np.ndarray) -> int:
        # Words read at confidence >= 80 that are made of letters: without a dictionary (the
        # bench uses one), a confident alphabetic word is the readable-text proxy.
        data = pytesseract.image_to_data(img, config="--psm 3", output_type=pytesseract.Output.DICT)
        words = [t.strip(".,;:!?\"'()") for t, c in zip(data["text"], data["conf"]) if float(c) >= 80]
        return sum(len(w) >= 2 and w.isalpha() for w in words)

    raw, enhanced = confident_words(crop), confident_words(enhance_text(crop))
    # Measured: 178 raw, 202 after type 1 with the dictionary; a type 1 that only copies the
    # crop, or loses text, fails here.
    assert raw >= 100, raw
    assert enhanced >= 1.07 * raw, (raw, enhanced)


# Pages cut by the frame, whose corners the engine holds at the 1 % limit outside it.
CUT_PAGES = ["page-boofcv-chessboard-desk2", "page-boofcv-chess-desk3"]


@pytest.mark.parametrize("ident", CUT_PAGES)
def test_no_corner_lies_more_than_one_percent_outside_the_frame(ident):
    # The limit was applied at the analysis size; scaled back to the photo, a corner held at
    # exactly 1 % came out at 1.000000000000002 %, one more photo past the limit in the bench.
    image, _ = document_or_skip(ident)
    for k in range(4):
        turned = turn_cw(image, k)
        h, w = turned.shape[:2]
        quad, found, _ = locate_page(turned)
        assert found is not None
        # As the bench measures it: in the frame's continuous coordinates (a found page's corners
        # are pixel centres, the frame's edges half a pixel outside the outer ones), the farthest
        # corner's distance outside, a share of its side.
        x, y = quad[:, 0] + 0.5, quad[:, 1] + 0.5
        outside = max(np.max(-x) / w, np.max(x - w) / w, np.max(-y) / h, np.max(y - h) / h)
        assert outside <= 0.01, (k, outside)


# The same photo turned by a quarter must give the same page. A receipt on a grey card whose
# bright region carries a thin strip of the card's lit edge: the four corners simplified from
# that region's hull depended on where the hull's point list began, which is the raster scan's
# first point and so moves with the turn (IoU 0.57 at 0 and 180 degrees, 0.98 at 90 and 270).
# A crumpled receipt laid against two edges of a scan, shaded along the right one: its bright
# region stopped a few pixels short of the border, the side there ran over plain paper with no
# edge, and the grey card around it won at every turn (IoU 0.27).
# A business card cut by the frame, its corner 6 % of the width outside: held at the 1 % limit,
# the two sides meeting there turned off the card's edges, the outline scored as held found no
# edge under them, and no page was found (IoU 0.62, the whole frame).
# White receipts on a white backing card, 2-4 levels apart (the card a little bluer): no side
# steps by the scorer's contrast, and the card's own outline, around the receipt, won (IoU 0.36).
# Its sides step faintly but all along, mostly in chroma; found walking out from the text block.
TURN_INVARIANT = [
    ("receipt-scan-softmatic-07", 0.95),
    ("receipt-scan-softmatic-12", 0.95),
    ("card-azure-bizcard-chris", 0.95),
    ("receipt-scan-softmatic-21", 0.95),
    ("receipt-scan-softmatic-17", 0.95),
    # A card held in a hand, mostly QR code: the code drew four lines stronger than the card's
    # blurred right edge, only the four strongest per side were combined, and the card was found
    # at two turns of four (0.54, 0.95, 0.95, 0.60); its bottom side has two lines, so the right
    # side may offer more within the same number of quads.
    ("card-zxing-qr-held", 0.90),
]


@pytest.mark.parametrize("ident,least_iou", TURN_INVARIANT, ids=[p[0] for p in TURN_INVARIANT])
def test_the_same_page_is_found_at_every_quarter_turn(ident, least_iou):
    image, meta = document_or_skip(ident)
    ious = []
    for k in range(4):
        truth = turn_points_cw(np.asarray(meta["corners"], float), image.shape[:2], k)
        quad, _, _ = locate_page(turn_cw(image, k))
        ious.append(quad_iou(quad, truth))
    assert min(ious) >= least_iou, ious
    assert max(ious) - min(ious) <= 0.02, ious


def test_brightness_regions_turn_with_the_photo():
    # The region proposer on a turned photo gives the turned outlines: OpenCV's elliptic opening
    # element is not symmetric under a quarter turn, and a hull simplified from the raster scan's
    # first point was not either; the sticky note's outlines moved by 2 px with the turn.
    image, _ = document_or_skip("note-gcloud-sticky-carpet")
    closed, _ = closed_small(image, 640)
    gray = grey_and_white(closed)[0]
    h = gray.shape[0]
    min_area = 0.045 * gray.size
    upright = propose_by_brightness(gray, min_area)
    turned = propose_by_brightness(turn_cw(gray, 1), min_area)
    assert len(upright) == len(turned) > 0
    # A pixel (x, y) of the turned image is the pixel (y, h - 1 - x) of the upright one.
    back = [order_quad(np.stack([q[:, 1], h - 1 - q[:, 0]], axis=1)) for q in turned]
    for a, b in zip(upright, back, strict=True):
        assert np.abs(a - b).max() <= 0.5, (a, b)


# Photos whose page depended on the turn through a tie that OpenCV breaks one way: Canny's
# non-maximum suppression keeps other pixels of an edge turned (4-13 % of them on the held card),
# and the Hough accumulator bins a turned line's distance differently; the lines proposer then
# took other sides. The held QR card: IoU 0.54, 0.95, 0.95, 0.60 at the four turns; the
# half-shaded target 0.72-0.73.
TURN_EXACT = ["card-zxing-qr-held", "page-boofcv-hexagonal-far", "receipt-scan-softmatic-08"]


@pytest.mark.parametrize("ident", TURN_EXACT)
def test_the_detection_does_not_depend_on_the_photos_turn(ident):
    image, _ = document_or_skip(ident)
    found = find_page_quad(image)
    for k in (1, 2, 3):
        turned = find_page_quad(turn_cw(image, k))
        assert (found is None) == (turned is None), k
        if found is not None and turned is not None:
            # The engine puts a pixel's centre at its index, turn_points_cw its corner: half apart.
            expected = order_quad(turn_points_cw(found.quad + 0.5, image.shape[:2], k) - 0.5)
            assert np.abs(turned.quad - expected).max() <= 0.01, (k, turned.quad, expected)
            assert turned.detector == found.detector and turned.score == pytest.approx(found.score)


# The whole type 0 result, not only the page: the orientation cues see the analysis copy of the
# page, which a turned photo gave a grey level apart here and there, and a whiteboard's text
# lines scored just over the line threshold at two turns and just under it at the two others
# (upright at 0 and 180 only). Worked out in the photo's canonical pose, every turn of a photo
# comes out the same.
WHOLE_RESULT_SAME = ["whiteboard-imagelabs-01", "card-zxing-qr-held"]


@pytest.mark.parametrize("ident", WHOLE_RESULT_SAME)
def test_type0_gives_the_same_page_whichever_way_the_photo_was_taken(ident):
    image, _ = document_or_skip(ident)
    first = crop_and_orient(image)
    for k in (1, 2, 3):
        other = crop_and_orient(turn_cw(image, k))
        assert other.shape == first.shape, k
        # The full-resolution warp samples a turned grid: a grey level or two apart at most.
        assert float(np.mean(cv2.absdiff(other, first))) < 2.0, k


def _oblique_page() -> tuple[np.ndarray, np.ndarray]:
    """A printed page (a committed photo's true crop) seen obliquely: its corners near the
    diagonals of the frame, as a page lies on a desk photographed from a corner. (photo, page)"""
    image, meta = document_or_skip("page-dynamsoft-about-wood")
    truth = np.asarray(meta["corners"], float)
    page = warp_quad(image, truth, output_size(truth, image.shape[:2]))
    s = 700 / max(page.shape[:2])
    page = cv2.resize(page, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    ph, pw = page.shape[:2]
    # The text's TL, TR, BR, BL: the page turned about 30 degrees, in perspective.
    corners = np.array([[161, 250], [511, 147], [887, 444], [415, 727]], np.float32)
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    h = cv2.getPerspectiveTransform(src, corners)
    photo = np.full((720, 960, 3), (70, 55, 40), np.uint8)
    inside = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), h, (960, 720)) > 127
    photo[inside] = cv2.warpPerspective(page, h, (960, 720))[inside]
    return photo, page


def test_a_page_seen_obliquely_comes_out_upright_at_every_turn():
    # Worked out in the canonical pose, the text's top-left corner was carried back by its
    # index: sorting the turned-back corners into TL, TR, BR, BL as seen need not move each by
    # the same number of places when the page's corners lie near the frame's diagonals, and
    # the page came out a quarter turn off at three turns of four.
    photo, page = _oblique_page()
    ref = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY).astype(np.float32)
    for k in range(4):
        out = cv2.cvtColor(crop_and_orient(turn_cw(photo, k)), cv2.COLOR_RGB2GRAY).astype(np.float32)
        scores = [
            float(
                np.corrcoef(
                    cv2.resize(np.ascontiguousarray(np.rot90(out, r)), ref.shape[::-1]).ravel(), ref.ravel()
                )[0, 1]
            )
            for r in range(4)
        ]
        assert int(np.argmax(scores)) == 0 and scores[0] > 0.8, (k, scores)
