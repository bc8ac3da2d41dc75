"""CIEDE2000 and the RGB → Lab path against published values."""

import numpy as np
import pytest

from correction_engine.colour_difference import ciede2000, rgb_to_lab

# Sharma, Wu and Dalal (2005), table 1: pairs 1, 7, 13, 17, 19, 25, 31, 34 with their ΔE00.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (50.0, 3.1736, 0.5854), 1.0),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((90.8027, -2.0831, 1.441), (91.1528, -1.6435, 0.0447), 1.4441),
    ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA)
def test_ciede2000_matches_the_published_pairs(lab1, lab2, expected):
    assert ciede2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=1e-4)
    assert ciede2000(np.array(lab2), np.array(lab1)) == pytest.approx(expected, abs=1e-4)


def test_srgb_white_and_red_have_their_known_lab():
    white, red = rgb_to_lab(np.array([[255, 255, 255], [255, 0, 0]]))
    assert white == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    assert red == pytest.approx([53.24, 80.09, 67.20], abs=0.05)  # D65 CIELAB of sRGB red


def test_display_p3_red_is_outside_srgb():
    p3_red = rgb_to_lab(np.array([255, 0, 0]), "display-p3")
    srgb_red = rgb_to_lab(np.array([255, 0, 0]))
    assert ciede2000(p3_red, srgb_red) > 5
