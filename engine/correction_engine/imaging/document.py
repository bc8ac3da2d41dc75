"""The document operations of the correction API: enhancement types 0, 1 and 2.

Type 0 finds the page, rectifies it to its true aspect ratio and turns it upright; type 1 makes
the text legible under uneven light; type 2 is type 0 then type 1.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from correction_core.contract import MIN_DIMENSION

from .geometry import downscale, order_quad, output_size, quarter_turn, warp_quad
from .orientation import Orientation, estimate_orientation, kept_as_taken
from .page_detection import PageQuad, canonical_turns, find_page_quad, turned, turned_back
from .page_regions import MAX_OUTSIDE, clamp_to_frame
from .text_enhance import enhance_text

__all__ = ["crop_and_orient", "enhance_text", "crop_orient_enhance", "locate_page"]

# Detection and orientation work on copies this size: the page's outline and its text lines are
# both clear at this scale, and a 12 MP photo costs no more than a small one.
ANALYSIS_SIDE = 1600
ORIENTATION_SIDE = 1100


def locate_page(image: np.ndarray) -> tuple[np.ndarray, PageQuad | None, Orientation]:
    """The page's corners in ``image`` (TL, TR, BR, BL as seen; the whole frame when no page
    outline is found), the detection (its quad at the analysis size), and the text orientation
    of the rectified page.

    All of it is worked out on the photo turned to its canonical pose
    (:func:`~correction_engine.imaging.page_detection.canonical_turns`) and turned back: the
    page's analysis copy and the orientation cues then see the same pixels whichever way the
    photo was taken, so a photo turned by a quarter gets the same page and the same upright
    result, not only nearly the same (a whiteboard's text lines scored just over the line
    threshold at two turns and just under it at the two others).
    """
    h, w = image.shape[:2]
    turns = canonical_turns(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    mid, scale = posed_copy(image, turns, ANALYSIS_SIDE)
    posed_shape = (w, h) if turns % 2 else (h, w)
    quad, found, orientation = _locate_in_pose(mid, scale, posed_shape)
    mid_shape = mid.shape[:2]
    if not turns:
        return quad, found, orientation
    # The text's top-left corner is carried back as a point, not as an index: sorting the
    # turned-back corners into TL, TR, BR, BL as seen need not move each by ``turns`` places
    # (a page seen obliquely, its corners near a diagonal, came out a quarter turn off).
    text_top_left = quad[orientation.rotation // 90]
    # A found page's corners are pixel positions (a pixel's centre at its index, as the
    # detectors measure them); the whole frame's are the frame's own corners.
    pixel = 0.0 if found is None else 1.0
    quad = order_quad(turned_back(quad, (h, w), turns, pixel=pixel))
    top_left_back = turned_back(text_top_left[None], (h, w), turns, pixel=pixel)
    first = int(np.argmin(np.linalg.norm(quad - top_left_back, axis=1)))
    if found is not None:
        quad = held_to_frame(quad, (h, w))
        mh, mw = mid_shape
        mid_unposed = (mw, mh) if turns % 2 else (mh, mw)
        found = PageQuad(order_quad(turned_back(found.quad, mid_unposed, turns)), found.score, found.detector)
    # A residual tilt is the same in both poses. What no cue decided was read in the canonical
    # pose, not the photo's: it stays as the photo was taken.
    return quad, found, replace(orientation, rotation=kept_as_taken(90 * first, orientation.cue))


def posed_copy(image: np.ndarray, turns: int, long_side: int) -> tuple[np.ndarray, float]:
    """``downscale(turned(image, turns), long_side)``, the same pixels, without turning the
    full-size photo (a 12 MP quarter turn is a 36 MB copy; the half-size copy's a quarter of it).

    The halvings that come first in :func:`~.geometry.downscale` are made before the turn while
    both sides are even: a 2x2 block average turns with the picture exactly, so the turned
    half-size copy is the half-size copy of the turned photo. Odd sides (whose halving drops a
    row or column on one side only) and the last, non-halving step stay after the turn, where
    ``downscale`` rounds them as it did. The scale is the copy's over the turned photo's."""
    small = image
    if turns % 4:
        while True:
            sh, sw = small.shape[:2]
            if max(sh, sw) < 2 * long_side or sh % 2 or sw % 2:
                break
            # One of downscale's own halving steps: asked for half the long side, it halves
            # once (both sides even) and has nothing left to do.
            small, _ = downscale(small, max(sh, sw) // 2)
    copy, _ = downscale(turned(small, turns), long_side)
    posed_w = image.shape[0] if turns % 2 else image.shape[1]
    return copy, copy.shape[1] / posed_w


def _locate_in_pose(
    mid: np.ndarray, scale: float, shape: tuple[int, int]
) -> tuple[np.ndarray, PageQuad | None, Orientation]:
    """:func:`locate_page`'s work in the canonical pose on ``mid``, the analysis copy of a photo
    of ``shape`` = (h, w) at ``scale``; the quad is in that photo's pixels."""
    h, w = shape
    found = find_page_quad(mid, refine_side=ANALYSIS_SIDE)
    if found is not None and min(output_size(found.quad / scale, (h, w))) < MIN_DIMENSION:
        # A "page" thinner than the contract's smallest side (a streak in a noise strip) is none.
        found = None
    if found is None:
        quad_mid = np.array(
            [[0, 0], [mid.shape[1], 0], [mid.shape[1], mid.shape[0]], [0, mid.shape[0]]], float
        )
    else:
        quad_mid = found.quad
    out_w, out_h = output_size(quad_mid, mid.shape[:2])
    s = min(1.0, ORIENTATION_SIDE / max(out_w, out_h))
    flat = warp_quad(mid, quad_mid, (max(1, round(out_w * s)), max(1, round(out_h * s))))
    orientation = estimate_orientation(cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY))
    if found is None:
        quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    else:
        # Held at the frame's limit again in the photo's pixels (a hair inside it): scaling back
        # from the analysis size rounds a corner held exactly at the limit to just past it.
        quad = held_to_frame(quad_mid / scale, (h, w))
    return quad, found, orientation


def held_to_frame(quad: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A found page's corners (pixel positions: a pixel's centre at its index) held a hair inside
    MAX_OUTSIDE of each side beyond the frame of ``size`` = (h, w). The frame's own edges lie half
    a pixel outside the outer pixels' centres, so the limit is measured from there: held in pixel
    positions alone, a corner could end half a pixel past it."""
    return clamp_to_frame(np.asarray(quad, np.float64) + 0.5, size, 0.999 * MAX_OUTSIDE) - 0.5


def crop_and_orient(image: np.ndarray) -> np.ndarray:
    """Type 0: the page cut out, rectified to a flat rectangle of its true aspect ratio, upright.

    When no page outline is found (a flat scan, a page filling the frame) the whole frame is kept
    and only turned upright.
    """
    quad, found, orientation = locate_page(image)
    turns = orientation.rotation // 90
    if found is None:
        # Nothing to rectify: a quarter turn is a copy, not a resampling.
        return quarter_turn(image, turns)
    out_w, out_h = output_size(quad, image.shape[:2])
    # Fold the turn into the one full-resolution warp: start the corner list at the corner that
    # is the text's top-left, and swap the output's sides for a quarter turn.
    upright = np.roll(quad, -turns, axis=0)
    size = (out_h, out_w) if turns % 2 else (out_w, out_h)
    return warp_quad(image, upright, size)


def crop_orient_enhance(image: np.ndarray) -> np.ndarray:
    """Type 2: type 0, then type 1 on the rectified page."""
    return enhance_text(crop_and_orient(image))
