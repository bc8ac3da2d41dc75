"""Faint steps across a page's side, in Lab: their size and consistency, and whether a
quad's whole sides make them (page_faint's test of an outline).

A side steps off its paper by a few levels, the same way all along; one of a series of like
steps on the paper (the rules of lined paper under a glare's falloff) is no side.
"""

from __future__ import annotations

import cv2
import numpy as np

from .page_scoring import side_samples

# A side's mean Lab step (8-bit units, L, a and b alike) must be at least this: two or three
# levels of chroma or brightness, the difference between white paper and a white backing.
MIN_STEP = 2.0
# ...and this share of its samples must step the same way by at least half that mean (a side,
# not a patch of shading or the edge of a stain).
MIN_CONSISTENT = 0.8
# Across the side the step is measured between points this many pixels either side.
HALF_SPAN = 3.0
# Points along a side at which it is measured.
SAMPLES = 60
# The inside of a side is the paper's tone to within this (Lab, 8-bit units): shading and a
# tint, not print.
PAPER_DISTANCE = 20.0
# The walk outward from the text block moves by this many pixels a line.
WALK = 2.0
# Two like steps (each at most this many times the side's) within this many pixels beyond a side
# found make it one of a series, no side (see repeats): the rules of lined paper lie 10-25 px
# apart on the analysis copy (a sheet filling half to all of the frame's long side), a table's
# rows a little farther, so two of them lie within 60 px.
REPEAT_SPAN_SERIES = 60.0
REPEAT_RATIO = 2.0


def lab_of(image: np.ndarray) -> np.ndarray:
    """``image`` (RGB uint8) in Lab, float, smoothed over the noise of a pixel or two."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    return cv2.GaussianBlur(lab, (0, 0), 1.5)


def side_step(lab: np.ndarray, pts: np.ndarray, normal: np.ndarray) -> tuple[float, float]:
    """(mean step size, share of samples stepping the same way by half of it) across the line
    through ``pts`` (n x 2), from the inside to the outside along ``normal``."""
    mean, _, share = step_across(lab, pts, normal)
    size = float(np.linalg.norm(mean))
    return (0.0, 0.0) if size < 1e-6 else (size, share)


def step_across(lab: np.ndarray, pts: np.ndarray, normal: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean Lab step, mean Lab tone inside, share of samples stepping the mean's way by half of
    its size) across the line through ``pts`` (n x 2), from the inside to the outside along
    ``normal``."""
    inside = sample_lab(lab, pts - HALF_SPAN * normal[None, :])
    steps = sample_lab(lab, pts + HALF_SPAN * normal[None, :]) - inside  # (n, 3)
    mean = steps.mean(axis=0)
    size = float(np.linalg.norm(mean))
    share = 0.0 if size < 1e-6 else float((steps @ (mean / size) > 0.5 * size).mean())
    return mean, inside.mean(axis=0), share


def sample_lab(lab: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of the three channels at ``pts`` (n x 2): (n, 3)."""
    flat = pts.reshape(-1, 1, 2).astype(np.float32)
    out = cv2.remap(lab, flat[..., 0], flat[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, 3)


def in_frame(pts: np.ndarray, size: tuple[int, int]) -> bool:
    h, w = size
    margin = HALF_SPAN + 1
    return bool(
        (
            (pts[:, 0] >= margin)
            & (pts[:, 0] <= w - 1 - margin)
            & (pts[:, 1] >= margin)
            & (pts[:, 1] <= h - 1 - margin)
        ).all()
    )


def whole_sides_step(lab: np.ndarray, quad: np.ndarray) -> bool:
    """Whether each full side of ``quad`` (any order round it) steps consistently, but for
    sides along the frame's border (a page cut by the frame), of which there may be two."""
    pts, normals = side_samples(quad, SAMPLES, np.zeros(1))
    centre = quad.mean(axis=0)
    stepping = 0
    for i in range(4):
        side = pts[i, :, 0, :].astype(np.float64)
        normal = normals[i] if (side.mean(axis=0) - centre) @ normals[i] > 0 else -normals[i]
        if side_on_border(side, lab.shape[:2]):
            continue
        if not in_frame(side, lab.shape[:2]):
            return False
        step, share = side_step(lab, side, normal)
        if step < MIN_STEP or share < MIN_CONSISTENT or repeats(lab, side, normal):
            return False
        stepping += 1
    # Three sides on the border leave one side of evidence: a line across the frame, no page.
    return stepping >= 2


def repeats(lab: np.ndarray, side: np.ndarray, normal: np.ndarray) -> bool:
    """Whether a series of like steps (the same way, at most REPEAT_RATIO times as large, on
    the tone of its inside) follows the side ``side`` (n x 2, ``normal`` outwards): two more
    within REPEAT_SPAN_SERIES beyond it, each apart from the one before.

    The rules of lined paper or a table, under a glare's falloff, each leave a faint step of
    about the same size in the text-free copy (the closing fills a rule from its brighter
    side), and the walk stopped at the first. Beyond a page's side lies its backing: no like
    step on the paper's tone, or one, its own edge (a receipt near the edge of a notepad of
    nearly its tone, the desk beyond); one such step is no series (review of session 10: a
    single one refused the receipt's side and the whole pad was cropped)."""

    def step_at(offset: float) -> tuple[np.ndarray, np.ndarray, float] | None:
        """step_across the line ``offset`` beyond the side; None off the frame."""
        line = side + offset * normal[None, :]
        return step_across(lab, line, normal) if in_frame(line, lab.shape[:2]) else None

    first = step_at(0.0)
    if first is None:
        return False
    step, tone = float(np.linalg.norm(first[0])), first[1]
    # A soft edge steps over more than the span: a like step counts only once the one before
    # has died away (under MIN_STEP), as it does between two rules.
    apart = False
    like = 0
    for offset in np.arange(WALK, REPEAT_SPAN_SERIES + 1, WALK):
        found = step_at(float(offset))
        if found is None:
            return False
        mean, inside, share = found
        size = float(np.linalg.norm(mean))
        if size < MIN_STEP:
            apart = True
        elif (
            apart
            and size <= REPEAT_RATIO * step
            and share >= MIN_CONSISTENT
            and float(mean @ first[0]) >= 0.5 * size * step
            and float(np.linalg.norm(inside - tone)) <= PAPER_DISTANCE
        ):
            like += 1
            apart = False
            if like >= 2:
                return True
    return False


def side_on_border(side: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether the points ``side`` (n x 2) all lie on one border of a frame of ``size``, within
    the step's reach (HALF_SPAN + 1 pixels)."""
    h, w = size
    near = HALF_SPAN + 1
    x, y = side[:, 0], side[:, 1]
    return bool((x < near).all() or (x > w - 1 - near).all() or (y < near).all() or (y > h - 1 - near).all())
