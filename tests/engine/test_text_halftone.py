"""Type 1's small-print enlargement and halftone screens: a printed photo's dot grid (newspaper,
magazine, flyer) stands in rows like letters in lines, but it is no print to make legible; small
print set beside such a photo still is."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from correction_engine.imaging.text_enhance import enhance_text

INK, PAPER = 30, 230


def halftone(tone: np.ndarray, pitch: float, *, angle: float = 0.0, elongation: float = 1.0) -> np.ndarray:
    """``tone`` (HxW, 0 paper .. 1 ink) screened as a printer does: ink where the tone exceeds a
    periodic spot function of period ``pitch`` px, turned by ``angle`` degrees, so each cell
    holds one dot that grows with the tone; ``elongation`` > 1 stretches the dots along one
    axis (an elliptical dot screen). Grey, lightly blurred like a camera's lens."""
    h, w = tone.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    a = np.deg2rad(angle)
    u, v = x * np.cos(a) + y * np.sin(a), -x * np.sin(a) + y * np.cos(a)
    spot = 0.5 - (np.cos(2 * np.pi * u / (pitch * elongation)) + np.cos(2 * np.pi * v / pitch)) / 4
    page = np.where(spot < tone, INK, PAPER).astype(np.uint8)
    return cv2.GaussianBlur(page, (0, 0), 0.7)


def photo_tone(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth picture's tones between light and mid grey: a few soft blobs."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.random((h, w)), (0, 0), min(h, w) / 8)
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-9)
    return 0.08 + 0.4 * field


def rgb(grey: np.ndarray) -> np.ndarray:
    return np.dstack([grey] * 3)


def small_print(page: np.ndarray, box: tuple[int, int, int, int], height: int = 7) -> None:
    """Lines of dark print, capitals ``height`` px high, in ``box`` (x0, y0, x1, y1) of ``page``."""
    x0, y0, x1, y1 = box
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, height, 1)
    text = "Price 4,20 EUR per week, delivered to your door on Saturday mornings; call 0171 " * 4
    width = cv2.getTextSize(text[:40], cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] / 40
    chars = int((x1 - x0) / width)
    for i, y in enumerate(range(y0 + 2 * height, y1, 2 * height)):
        line = text[i * 7 % 40 :][:chars]
        cv2.putText(page, line, (x0, y), cv2.FONT_HERSHEY_SIMPLEX, scale, INK, 1, cv2.LINE_AA)


SCREENS = {
    # The reviewer's case: 5 px dots at a 9 px pitch over the whole frame.
    "5px dots, 9px pitch": dict(pitch=9.0, tone=0.22),
    "3px dots, 6px pitch": dict(pitch=6.0, tone=0.2),
    "7px dots, 12px pitch": dict(pitch=12.0, tone=0.25),
    "elliptical dots": dict(pitch=9.0, tone=0.25, elongation=1.6),
    "screen at 45 degrees": dict(pitch=9.0, tone=0.22, angle=45.0),
    "screen at 15 degrees, elliptical": dict(pitch=10.0, tone=0.25, angle=15.0, elongation=1.4),
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_a_halftone_screen_is_not_enlarged_as_small_print(name):
    spec = dict(SCREENS[name])
    tone = np.full((900, 1200), spec.pop("tone"))
    image = rgb(halftone(tone, **spec))
    assert enhance_text(image).shape == image.shape


@pytest.mark.parametrize("seed", [1, 2])
def test_a_halftone_photo_is_not_enlarged_as_small_print(seed):
    image = rgb(halftone(photo_tone(900, 1200, seed), 8.0, angle=0.0 if seed == 1 else 45.0))
    assert enhance_text(image).shape == image.shape


def test_small_print_beside_a_halftone_photo_is_enlarged_as_the_print_alone():
    # The photo takes most of the page and its dots outnumber the letters ten to one; the
    # print is enlarged for its own letters' height, not for the dots'.
    alone = np.full((900, 1200), PAPER, np.uint8)
    small_print(alone, (30, 750, 1170, 880))
    page = alone.copy()
    page[30:730, 30:1170] = halftone(photo_tone(700, 1140, 3), 8.0)
    expected = enhance_text(rgb(alone)).shape
    assert expected[0] > 1.8 * page.shape[0], expected
    assert enhance_text(rgb(page)).shape == expected
