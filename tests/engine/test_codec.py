"""Decoding every format the contract lists, refusing the rest, and encoding results."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from correction_core import contract
from correction_engine import codec


def _pixels(width=40, height=30):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 6, y * 8, np.full_like(x, 100)], axis=-1).astype(np.uint8)


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


LOSSLESS = [
    ("png", "PNG", {}),
    ("bmp", "BMP", {}),
    ("tiff", "TIFF", {}),
    ("tiff-lzw", "TIFF", {"compression": "tiff_lzw"}),
    ("tiff-deflate", "TIFF", {"compression": "tiff_adobe_deflate"}),
    ("tiff-packbits", "TIFF", {"compression": "packbits"}),
    ("webp-lossless", "WEBP", {"lossless": True}),
    ("sgi-rgb", "SGI", {}),
]


@pytest.mark.parametrize("name,fmt,options", LOSSLESS, ids=[c[0] for c in LOSSLESS])
def test_lossless_formats_decode_exactly(name, fmt, options):
    pixels = _pixels()
    decoded = codec.decode_image(_encode(Image.fromarray(pixels), fmt, **options))
    assert decoded.dtype == np.uint8 and decoded.shape == (30, 40, 3)
    np.testing.assert_array_equal(decoded, pixels)


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_lossy_formats_decode_close(fmt):
    pixels = _pixels()
    decoded = codec.decode_image(_encode(Image.fromarray(pixels), fmt, quality=95))
    assert decoded.shape == (30, 40, 3)
    assert np.abs(decoded.astype(int) - pixels).mean() < 4


def test_lzw_tiff_is_really_lzw():
    data = _encode(Image.fromarray(_pixels()), "TIFF", compression="tiff_lzw")
    with Image.open(io.BytesIO(data)) as img:
        assert img.info["compression"] == "tiff_lzw"
    assert codec.sniff_format(data) == "tiff"


def test_format_is_sniffed_from_bytes_not_names():
    assert codec.sniff_format(_encode(Image.fromarray(_pixels()), "JPEG")) == "jpeg"
    assert codec.sniff_format(_encode(Image.fromarray(_pixels()), "PNG")) == "png"
    assert codec.sniff_format(_encode(Image.fromarray(_pixels()), "BMP")) == "bmp"
    assert codec.sniff_format(_encode(Image.fromarray(_pixels()), "WEBP")) == "webp"
    assert codec.sniff_format(_encode(Image.fromarray(_pixels()), "SGI")) == "sgi"
    assert codec.sniff_format(b"GIF89a....") is None


def test_first_page_of_multipage_tiff():
    first = Image.fromarray(np.full((10, 12, 3), 200, np.uint8))
    second = Image.fromarray(np.full((20, 22, 3), 10, np.uint8))
    buffer = io.BytesIO()
    first.save(buffer, format="TIFF", save_all=True, append_images=[second])
    decoded = codec.decode_image(buffer.getvalue())
    assert decoded.shape == (10, 12, 3) and decoded[0, 0, 0] == 200


def test_exif_orientation_is_applied():
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[:, :10] = (255, 0, 0)  # left half red
    pixels[:, 10:] = (0, 0, 255)  # right half blue
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs 90 degrees clockwise
    data = _encode(image, "JPEG", quality=95, exif=exif.tobytes())
    decoded = codec.decode_image(data)
    assert decoded.shape == (20, 10, 3)
    assert decoded[2, 5, 0] > 200 and decoded[2, 5, 2] < 60  # the red half is now on top
    assert decoded[17, 5, 2] > 200 and decoded[17, 5, 0] < 60


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "1", "LA", "RGBA"])
def test_other_modes_become_rgb(mode):
    image = Image.fromarray(_pixels()).convert(mode)
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    decoded = codec.decode_image(_encode(image, fmt))
    assert decoded.dtype == np.uint8 and decoded.shape == (30, 40, 3)


def test_transparency_becomes_white():
    rgba = np.zeros((8, 8, 4), np.uint8)  # fully transparent black
    decoded = codec.decode_image(_encode(Image.fromarray(rgba), "PNG"))
    assert (decoded == 255).all()


def test_sixteen_bit_grey_is_scaled_not_clipped():
    grey = np.full((12, 14), 65535, np.uint16)
    grey[0, 0] = 0
    image = Image.fromarray(grey)
    assert image.mode.startswith("I;16")
    decoded = codec.decode_image(_encode(image, "PNG"))
    assert decoded[1, 1].tolist() == [255, 255, 255] and decoded[0, 0].tolist() == [0, 0, 0]


REJECTED = {
    "gif": lambda: _encode(Image.fromarray(_pixels()).convert("P"), "GIF"),
    "pdf": lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
    "heic": lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
    "avif": lambda: b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1" + b"\x00" * 64,
    "text": lambda: b"hello, I am not an image",
    "unix-compress-lzw": lambda: b"\x1f\x9d\x90" + b"\x00" * 32,
    "empty": lambda: b"",
}


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_unsupported_formats_are_invalid_images(name):
    with pytest.raises(codec.InvalidImageError) as info:
        codec.decode_image(REJECTED[name]())
    assert info.value.state == contract.STATE_INVALID_IMAGE


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "BMP"])
def test_truncated_files_are_invalid_images(fmt):
    data = _encode(Image.fromarray(_pixels(200, 150)), fmt)
    with pytest.raises(codec.InvalidImageError) as info:
        codec.decode_image(data[: len(data) // 2])
    assert info.value.state == contract.STATE_INVALID_IMAGE


def test_corrupt_header_is_invalid_image():
    data = bytearray(_encode(Image.fromarray(_pixels()), "PNG"))
    data[16:24] = b"\xff" * 8  # IHDR width/height garbage
    with pytest.raises(codec.CodecError) as info:
        codec.decode_image(bytes(data))
    assert info.value.state == contract.STATE_INVALID_IMAGE


def test_resolution_limit():
    thin = contract.MIN_DIMENSION
    ok = _encode(Image.new("RGB", (contract.MAX_DIMENSION, thin)), "PNG")
    assert codec.decode_image(ok).shape == (thin, contract.MAX_DIMENSION, 3)
    too_wide = _encode(Image.new("RGB", (contract.MAX_DIMENSION + 1, thin)), "PNG")
    with pytest.raises(codec.ImageTooLargeError) as info:
        codec.decode_image(too_wide)
    assert info.value.state == contract.STATE_INVALID_IMAGE
    too_tall = _encode(Image.new("L", (thin, contract.MAX_DIMENSION + 1)), "PNG")
    with pytest.raises(codec.ImageTooLargeError):
        codec.decode_image(too_tall)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_guard_warning_threshold_is_an_error(monkeypatch):
    data = _encode(Image.new("RGB", (40, 30)), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1200 px: Pillow would only warn
    with pytest.raises(codec.ImageTooLargeError):
        codec.decode_image(data)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # over 2x: Pillow raises itself
    with pytest.raises(codec.ImageTooLargeError):
        codec.decode_image(data)


def test_encode_rgb_as_jpeg_and_rgba_as_png():
    rgb = codec.encode_image(_pixels())
    assert rgb.content_type == "image/jpeg" and rgb.data.startswith(b"\xff\xd8\xff")
    with Image.open(io.BytesIO(rgb.data)) as img:
        assert img.size == (40, 30)
    rgba = codec.encode_image(np.dstack([_pixels(), np.full((30, 40), 128, np.uint8)]))
    assert rgba.content_type == "image/png" and rgba.data.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(rgba.data)) as img:
        assert img.mode == "RGBA"
    grey = codec.encode_image(np.zeros((5, 6), np.uint8))
    assert grey.content_type == "image/jpeg"


def test_encode_rejects_what_is_not_an_image():
    with pytest.raises(TypeError):
        codec.encode_image(np.zeros((5, 5, 3), np.float32))
    with pytest.raises(TypeError):
        codec.encode_image(np.zeros((5, 5, 2), np.uint8))
    with pytest.raises(ValueError):
        codec.encode_image(np.zeros((5, 5, 4), np.uint8), fmt="jpeg")


def test_jpeg_round_trip_quality():
    y, x = np.mgrid[0:150, 0:200]
    pixels = np.stack([x, y, np.full_like(x, 100)], axis=-1).astype(np.uint8)
    decoded = codec.decode_image(codec.encode_image(pixels).data)
    assert np.abs(decoded.astype(int) - pixels).mean() < 2.5


@pytest.mark.parametrize("size", [(1, 1), (1, 300), (300, 1), (4096, 1), (300, contract.MIN_DIMENSION - 1)])
def test_images_under_the_minimum_side_are_invalid_like_the_pipeline_says(size):
    """The pipeline refuses these before paying (resolution_too_small); the engine agrees (-7)
    instead of failing inside an operation (an OpenCV assertion, state -1)."""
    data = _encode(Image.new("RGB", size, (120, 130, 140)), "PNG")
    with pytest.raises(codec.InvalidImageError) as info:
        codec.decode_image(data)
    assert info.value.state == contract.STATE_INVALID_IMAGE


@pytest.mark.parametrize(
    "size",
    [
        (contract.MIN_DIMENSION,) * 2,
        (4096, contract.MIN_DIMENSION),
        (contract.MIN_DIMENSION, 4096),
        (300, contract.MIN_DIMENSION),
    ],
)
def test_every_type_processes_images_at_the_minimum_side(size):
    """What the pipeline sends, the engine processes: the minimum is where halving stops failing."""
    from correction_engine import operations

    rng = np.random.default_rng(size[0] * 7 + size[1])
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    decoded = codec.decode_image(_encode(Image.fromarray(pixels), "PNG"))
    for enhancement_type in contract.EnhancementType:
        result = operations.run_enhancement(decoded, enhancement_type)
        assert min(result.shape[:2]) >= 1
        codec.encode_image(result)


def _noise(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # reading it back
def test_the_largest_png_result_fits_what_the_pipeline_downloads():
    """4096 x 4096 RGBA noise: the worst a cut-out can be. Over 64 MB, so the old 50 MB cap
    refused it after the task was paid; the pipeline's cap and the encoder now agree."""
    from correction_core.result_fetch import DownloadPolicy
    from correction_core.settings import Settings

    side = contract.MAX_DIMENSION
    encoded = codec.encode_image(_noise(side, side, 4))
    assert encoded.content_type == "image/png"
    assert len(encoded.data) > 64 * 1024 * 1024
    assert len(encoded.data) <= Settings.from_env({}).max_result_bytes
    assert len(encoded.data) <= DownloadPolicy().max_bytes
    assert len(encoded.data) <= contract.png_size_bound(side, side)
    with Image.open(io.BytesIO(encoded.data)) as img:  # and it is the image, losslessly
        assert img.mode == "RGBA" and img.size == (side, side)
        np.testing.assert_array_equal(np.asarray(img)[::512, ::512], _noise(side, side, 4)[::512, ::512])


def test_a_result_over_the_byte_limit_fails_in_the_engine_not_after_download():
    pixels = _noise(200, 200, 4)
    with pytest.raises(codec.ResultTooLargeError) as info:
        codec.encode_image(pixels, max_bytes=100_000)
    assert info.value.state == contract.STATE_FAILED
    assert len(codec.encode_image(pixels, max_bytes=200_000).data) <= 200_000


@pytest.mark.parametrize("channels", [3, 4])
def test_png_encoding_is_lossless_and_keeps_channel_order(channels):
    pixels = _noise(37, 53, channels, seed=channels)
    encoded = codec.encode_image(pixels, fmt="png")
    with Image.open(io.BytesIO(encoded.data)) as img:
        np.testing.assert_array_equal(np.asarray(img), pixels)


def _tagged_png(pixels: np.ndarray, orientation: int | None) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    return _encode(Image.fromarray(pixels), "PNG", exif=exif.tobytes())


@pytest.mark.parametrize("orientation", [None, 1, 2, 3, 4, 5, 6, 7, 8])
def test_every_exif_orientation_is_honoured_and_upright_images_are_left_alone(orientation):
    # Skipping the transpose for upright images must not skip it for any other tag value:
    # the truth is each orientation's documented turn/flip of the stored pixels.
    pixels = _pixels(13, 9)
    ops = {
        None: lambda p: p,
        1: lambda p: p,
        2: lambda p: p[:, ::-1],
        3: lambda p: p[::-1, ::-1],
        4: lambda p: p[::-1, :],
        5: lambda p: p.transpose(1, 0, 2),
        6: lambda p: np.rot90(p, k=-1),
        7: lambda p: p.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda p: np.rot90(p, k=1),
    }
    decoded = codec.decode_image(_tagged_png(pixels, orientation))
    np.testing.assert_array_equal(decoded, ops[orientation](pixels))


_PEAK_MEMORY_OF_DECODE = """
import io, re, sys
from PIL import Image
from correction_engine import codec

def kib(field):
    return int(re.search(field + r":\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))

data = open(sys.argv[1], "rb").read()
warm = io.BytesIO()
Image.new("RGB", (16, 16)).save(warm, "PNG")
codec.decode_image(warm.getvalue())  # imports and plugin set-up are not the frame's cost
# Reset the high-water mark: a forked child starts with its parent's (Linux clear_refs "5").
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = kib("VmRSS")
pixels = codec.decode_image(data)
print((kib("VmHWM") - before) * 1024 / pixels.nbytes)
"""


@pytest.mark.parametrize(
    "fmt,orientation,bound",
    [("JPEG", None, 2.8), ("JPEG", 1, 2.8), ("PNG", 1, 4.0)],
    ids=["jpeg-untagged", "jpeg-upright", "png-upright"],
)
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_decoding_an_upright_photo_peaks_at_few_frames(tmp_path, fmt, orientation, bound):
    # A 12 MP frame is 36 MB; every copy in decode is memory a worker pays per task. Through
    # Pillow: its frame (4 bytes a pixel), the packed RGB bytes and Pillow's chunk list while it
    # joins them, about 3.3 frames; turning an upright image would add 1.3 more (measured 4.7).
    # A plain JPEG is decoded by OpenCV straight into the array (measured 2.2). Peak RSS
    # (VmHWM) in a fresh process sees every allocator alike.
    import subprocess
    import sys

    image = Image.linear_gradient("L").resize((2000, 2000)).convert("RGB")
    path = tmp_path / f"upright.{fmt.lower()}"
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(path, format=fmt, exif=exif.tobytes())
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY_OF_DECODE, str(path)], capture_output=True, text=True, check=True
    )
    assert float(done.stdout) < bound


def _jpeg_variants() -> dict[str, bytes]:
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:151, 0:203]
    pixels = np.stack([x % 256, y % 256, (x * y) % 256], axis=-1) + rng.integers(-20, 20, (151, 203, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    options: dict[str, dict] = {
        "default": {},
        "4:4:4 q95": {"quality": 95, "subsampling": 0},
        "4:2:2": {"subsampling": 1},
        "progressive": {"progressive": True},
        "optimised huffman": {"optimize": True},
        "restart markers": {"restart_marker_blocks": 4},
        "srgb tagged": {"icc_profile": ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()},
    }
    variants = {name: _encode(image, "JPEG", **kw) for name, kw in options.items()}
    variants["trailing padding"] = variants["default"] + b"\0" * 16
    variants["trailing bytes"] = variants["default"] + b"vendor trailer"
    real = sorted((Path(__file__).resolve().parents[2] / "datasets" / "real-products").glob("*.jpg"))[:3]
    variants.update({path.stem: path.read_bytes() for path in real})
    return variants


JPEG_VARIANTS = _jpeg_variants()


@pytest.mark.parametrize("name", sorted(JPEG_VARIANTS))
def test_jpeg_pixels_are_pillows_whichever_decoder_reads_them(name):
    # The truth is what Pillow alone decodes (the engine's only JPEG decoder before OpenCV
    # read plain JPEGs directly): every pixel the same, not merely close.
    data = JPEG_VARIANTS[name]
    with Image.open(io.BytesIO(data)) as img:
        truth = np.asarray(img.convert("RGB"))
    np.testing.assert_array_equal(codec.decode_image(data), truth)


def _pillow_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    return _encode(Image.fromarray(pixels), "JPEG", quality=quality)


@pytest.mark.parametrize("quality", [50, 75, codec.JPEG_QUALITY, 100])
@pytest.mark.parametrize("shape", [(9, 9, 3), (151, 203, 3), (480, 641, 3), (151, 203)], ids=str)
def test_jpeg_results_are_the_bytes_pillow_wrote(quality, shape):
    # The truth is the engine's encoder before OpenCV wrote its JPEGs: Pillow at the same
    # quality. Same bytes, so every result (and its size) is what it was.
    rng = np.random.default_rng(sum(shape) + quality)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    smooth = (x * 3 + y * 2) % 256
    pixels = np.clip(smooth[..., None] + rng.integers(-30, 30, shape[:2] + (3,)), 0, 255).astype(np.uint8)
    pixels = pixels[..., 0].copy() if len(shape) == 2 else pixels
    assert codec.encode_image(pixels, jpeg_quality=quality).data == _pillow_jpeg(pixels, quality)


def test_jpeg_results_of_a_non_contiguous_view_are_the_views_pixels():
    pixels = np.random.default_rng(2).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    view = pixels[::2, ::3]
    assert codec.encode_image(view).data == _pillow_jpeg(np.ascontiguousarray(view), codec.JPEG_QUALITY)


def _scan_bomb(scans: int, side: int = 512) -> bytes:
    """A progressive JPEG whose last (smallest) scan is repeated: each copy costs a pass over
    the whole frame when decoded (review: 259 KB held a worker 18.6 s at 4096 px)."""
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (128, 128, 128)).save(buffer, "JPEG", progressive=True, quality=90)
    data = buffer.getvalue()
    last, end = data.rfind(b"\xff\xda"), data.rfind(b"\xff\xd9")
    return data[:end] + data[last:end] * (scans - data.count(b"\xff\xda")) + b"\xff\xd9"


def test_a_progressive_jpeg_with_its_usual_scans_decodes_and_a_scan_bomb_is_refused():
    assert codec.decode_image(_scan_bomb(12)).shape == (512, 512, 3)
    with pytest.raises(codec.InvalidImageError, match="scans"):
        codec.decode_image(_scan_bomb(400))


def test_a_motion_photo_with_its_video_after_the_image_decodes():
    # Review: a phone's motion photo carries an MP4 after the JPEG's end; compressed video holds
    # the start-of-scan marker's two bytes every 50 KB or so, and counting them over the whole
    # file refused a 7 MB photo. Only the main image's own scans count.
    from correction_core import imageheader

    rng = np.random.default_rng(5)
    video = rng.integers(0, 256, 8 << 20, dtype=np.uint8).tobytes()
    assert video.count(b"\xff\xda") > imageheader.MAX_JPEG_SCANS
    photo = _scan_bomb(12) + video
    assert imageheader.jpeg_scans(photo) == 12
    assert codec.decode_image(photo).shape == (512, 512, 3)
