"""The engine keeps what the photographer saw: embedded colour profiles are converted, not dropped."""

import io

import numpy as np
from PIL import Image, ImageCms

from correction_core import colour_profiles
from correction_core.colour_profiles import SRGB_PRIMARIES, rgb_to_xyz_matrix
from correction_engine import codec
from correction_engine.colour_difference import ciede2000, rgb_to_lab, rgb_to_xyz
from correction_engine.synth.phone_photos import P3_PATCHES, p3_chart, p3_tagged


def patch_centres(pixels: np.ndarray, patch: int = 64, columns: int = 4) -> np.ndarray:
    return np.array(
        [
            pixels[(n // columns) * patch + patch // 2, (n % columns) * patch + patch // 2]
            for n in range(len(P3_PATCHES))
        ]
    )


def in_srgb_gamut() -> np.ndarray:
    """Which chart patches sRGB can show (their linear sRGB values lie within 0..1)."""
    xyz = rgb_to_xyz(np.array(P3_PATCHES), "display-p3")
    srgb_linear = xyz @ np.linalg.inv(np.array(rgb_to_xyz_matrix(SRGB_PRIMARIES))).T
    return np.all((srgb_linear >= -1e-3) & (srgb_linear <= 1 + 1e-3), axis=1)


def test_a_display_p3_photo_decodes_to_the_srgb_values_a_viewer_shows():
    truth = rgb_to_lab(np.array(P3_PATCHES), "display-p3")
    decoded = codec.decode_image(p3_tagged(p3_chart(), "PNG"))
    delta = ciede2000(truth, rgb_to_lab(patch_centres(decoded)))
    inside = in_srgb_gamut()
    assert inside.sum() >= 8
    assert delta[inside].max() < 1.0  # in-gamut colours survive within 8-bit rounding
    assert delta[~inside].max() < 12  # the saturated ones are clipped to sRGB's edge, not lost


def test_srgb_tagged_and_untagged_photos_are_left_as_they_are():
    pixels = p3_chart()
    srgb_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for extra in ({"icc_profile": srgb_profile}, {}):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG", **extra)
        assert np.array_equal(codec.decode_image(buffer.getvalue()), pixels)
    assert colour_profiles.is_srgb(srgb_profile)
