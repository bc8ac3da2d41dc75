"""Downscaling within the API's limits: size, orientation, transparency, and the bomb guard."""

import io

import numpy as np
import pytest
from PIL import Image

from correction_core.downscale import fit_within_limits
from correction_core.errors import InvalidInput


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_large_jpeg_fits_4096_and_keeps_its_aspect():
    data = encode(Image.new("RGB", (6000, 3000), (120, 30, 200)), "JPEG")
    fitted = fit_within_limits(data)
    assert fitted.size == (4096, 2048) and fitted.original_size == (6000, 3000)
    assert Image.open(io.BytesIO(fitted.data)).size == (4096, 2048)
    assert fitted.content_type == "image/jpeg"


def test_exif_orientation_is_applied_before_the_tag_is_dropped():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(Image.new("RGB", (5000, 2000)), "JPEG", exif=exif.tobytes())
    fitted = fit_within_limits(data)
    assert fitted.size == (1638, 4096)


def test_transparency_survives_as_png():
    image = Image.new("RGBA", (5000, 5000), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (1000, 1000, 4000, 4000))
    fitted = fit_within_limits(encode(image, "PNG"))
    out = np.asarray(Image.open(io.BytesIO(fitted.data)))
    assert fitted.content_type == "image/png" and out.shape == (4096, 4096, 4)
    assert out[0, 0, 3] == 0 and out[2048, 2048, 3] == 255


def test_byte_limit_lowers_quality_until_it_fits():
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (1500, 1500, 3), dtype=np.uint8))
    data = encode(noise, "PNG")
    fitted = fit_within_limits(data, max_side=1500, max_bytes=500_000)
    assert len(fitted.data) <= 500_000
    assert max(fitted.size) < 1500  # quality alone was not enough: fewer pixels too


def test_sources_beyond_the_pixel_guard_are_refused_without_decoding():
    blank = encode(Image.new("L", (5000, 5000)), "PNG")  # 25 MP
    for guard in (20_000_000, 10_000_000):  # under the guard, and under Pillow's own 2x bomb error
        with pytest.raises(InvalidInput) as info:
            fit_within_limits(blank, max_pixels=guard)
        assert info.value.code == "too_large_to_downscale"
