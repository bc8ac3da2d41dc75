"""Pre-payment validation reads headers only and never touches the source object (moto S3)."""

import io
import struct
import zlib

import boto3
import numpy as np
import pytest
from moto import mock_aws
from PIL import Image

from correction_core import contract
from correction_core.errors import InvalidInput
from correction_core.objects import ObjectRef
from correction_core.validation import SourceGone, inspect_object

BUCKET = "src"


def jpeg(size=(640, 480)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\0\0\0\0IEND\xaeB`\x82"


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def put(s3, key, body, **meta):
    response = s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=meta)
    return ObjectRef(BUCKET, key, etag=response["ETag"].strip('"'))


def test_valid_jpeg_is_measured_from_its_header(s3):
    ref = put(s3, "a.jpg", jpeg((640, 480)), **{"correction-type": "0"})
    inspected = inspect_object(s3, ref)
    assert (inspected.image_format, inspected.width, inspected.height) == ("jpeg", 640, 480)
    assert inspected.metadata == {"correction-type": "0"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "empty_object"),
        (b"this is a text file named .jpg\n" * 3, "unrecognised_format"),
        (b"GIF89a" + b"\0" * 100, "unsupported_format"),
        (b"%PDF-1.4\n" + b"\0" * 100, "unsupported_format"),
        (b"\0\0\0\x18ftypheic" + b"\0" * 100, "corrupt_header"),  # converted, but no extents: not a HEIC
        (png_header_only(100_000, 100_000), "resolution_too_large"),
        (png_header_only(5000, 5000), "resolution_too_large"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\0" * 200, "corrupt_header"),
    ],
)
def test_bad_inputs_are_refused_with_a_code_and_left_untouched(s3, body, code):
    ref = put(s3, "bad.jpg", body)
    before = s3.get_object(Bucket=BUCKET, Key="bad.jpg")["Body"].read()
    with pytest.raises(InvalidInput) as info:
        inspect_object(s3, ref)
    assert info.value.code == code
    assert s3.get_object(Bucket=BUCKET, Key="bad.jpg")["Body"].read() == before


def test_truncated_jpeg_is_refused(s3):
    data = jpeg((800, 600))
    ref = put(s3, "cut.jpg", data[: len(data) * 2 // 3])
    with pytest.raises(InvalidInput) as info:
        inspect_object(s3, ref)
    assert info.value.code == "truncated_image"


def test_over_size_file_is_refused_before_any_read(s3):
    ref = put(s3, "big.jpg", jpeg())
    with pytest.raises(InvalidInput) as info:
        inspect_object(s3, ref, max_bytes=100)
    assert info.value.code == "file_too_large"
    assert contract.MAX_UPLOAD_BYTES == 20 * 1024 * 1024


def test_replaced_or_deleted_source_is_gone(s3):
    ref = put(s3, "x.jpg", jpeg())
    put(s3, "x.jpg", jpeg((10, 10)))
    with pytest.raises(SourceGone):
        inspect_object(s3, ref)
    s3.delete_object(Bucket=BUCKET, Key="x.jpg")
    with pytest.raises(SourceGone):
        inspect_object(s3, ObjectRef(BUCKET, "x.jpg"))


# --- A corpus of real-world file shapes ------------------------------------------------------
# Each shape is generated here with Pillow plus byte surgery where Pillow cannot write it. Valid
# shapes must be accepted with their true size; the broken ones refused with a clear code. The
# verdict is checked against a decoder too (Pillow, as the engine uses), so "valid" and
# "broken" are facts about the bytes, not opinions of this module.


def encoded(fmt: str, size=(321, 123), mode="RGB", colour=None, **options) -> bytes:
    rng = np.random.default_rng(sum(size))
    channels = {"RGB": 3, "RGBA": 4, "CMYK": 4}.get(mode)
    if channels:
        image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8), mode)
    else:
        image = Image.new(mode, size, colour if colour is not None else 1)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def segment(marker: int, payload: bytes) -> bytes:
    assert len(payload) <= 65533
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def after_soi(jpeg_bytes: bytes, *segments: bytes) -> bytes:
    """Insert segments right after SOI, before the encoder's own APP0 and the frame header."""
    return jpeg_bytes[:2] + b"".join(segments) + jpeg_bytes[2:]


def extended_xmp(total: int) -> list[bytes]:
    """APP1 extended-XMP segments of ~64 KB carrying ``total`` bytes (a portrait depth map)."""
    rng = np.random.default_rng(total)
    data = rng.integers(0, 256, total, dtype=np.uint8).tobytes()
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    head = b"http://ns.adobe.com/xmp/extension/\0" + guid
    step = 65533 - len(head) - 8
    return [
        segment(0xE1, head + struct.pack(">II", total, at) + data[at : at + step])
        for at in range(0, total, step)
    ]


def exif_with_thumbnail() -> bytes:
    """An Exif APP1 whose payload embeds a whole JPEG thumbnail (its own SOI, SOF 160x120, EOI)."""
    thumb = encoded("JPEG", (160, 120))
    return segment(0xE1, b"Exif\0\0II*\0\x08\0\0\0\0\0\0\0\0\0" + thumb)


def mpf_pair() -> bytes:
    """A primary JPEG with an APP2 MPF segment and a second image (depth or gain map) after EOI."""
    primary = after_soi(
        encoded("JPEG", (640, 480)), segment(0xE2, b"MPF\0" + b"MM\0*\0\0\0\x08" + b"\0" * 40)
    )
    return primary + encoded("JPEG", (320, 240))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_chunks_before_idat(*chunks: bytes) -> bytes:
    data = encoded("PNG", (300, 200))
    ihdr_end = 8 + 25
    return data[:ihdr_end] + b"".join(chunks) + data[ihdr_end:]


def bigtiff_directory_after_pixels(width=400, height=300) -> bytes:
    """Little-endian BigTIFF, 8-bit grey, one uncompressed strip, its IFD after the pixels."""
    pixels = (np.arange(width * height) % 251).astype(np.uint8).tobytes()
    ifd = 16 + len(pixels)
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 16, 1, 16),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 16, 1, len(pixels)),
    ]
    directory = struct.pack("<Q", len(entries))
    for tag, typ, count, value in entries:
        directory += struct.pack("<HHQQ", tag, typ, count, value)
    directory += struct.pack("<Q", 0)
    return b"II+\0\x08\0\0\0" + struct.pack("<Q", ifd) + pixels + directory


def bmp_top_down() -> bytes:
    data = bytearray(encoded("BMP", (57, 31)))
    struct.pack_into("<i", data, 22, -31)
    rows = [data[54 + r * 172 : 54 + (r + 1) * 172] for r in range(31)]  # 57*3 padded to 172
    data[54:] = b"".join(reversed(rows))
    return bytes(data)


def bmp_os2() -> bytes:
    """OS/2 1.x BITMAPCOREHEADER (12 bytes), 24-bit."""
    width, height = 45, 20
    row = (width * 3 + 3) // 4 * 4
    pixels = bytes(range(256)) * (row * height // 256 + 1)
    header = struct.pack("<IHHHH", 12, width, height, 1, 24)
    body = header + pixels[: row * height]
    return b"BM" + struct.pack("<IHHI", 14 + len(body), 0, 0, 26) + body


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (50, 40), (i * 60, 20, 30)) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


def jpeg_1() -> bytes:
    return encoded("JPEG", (640, 480), quality=90)


VALID_SHAPES = {
    "baseline JPEG": (lambda: jpeg_1(), "jpeg", (640, 480)),
    "progressive JPEG": (lambda: encoded("JPEG", (640, 480), progressive=True), "jpeg", (640, 480)),
    "CMYK JPEG": (lambda: encoded("JPEG", (300, 200), mode="CMYK"), "jpeg", (300, 200)),
    "JPEG with an Exif thumbnail": (lambda: after_soi(jpeg_1(), exif_with_thumbnail()), "jpeg", (640, 480)),
    "JPEG with 2 MB of extended XMP before the frame (portrait depth map)": (
        lambda: after_soi(jpeg_1(), *extended_xmp(2_000_000)),
        "jpeg",
        (640, 480),
    ),
    "JPEG with 8 KB after its end marker (editor padding)": (
        lambda: jpeg_1() + bytes(8192),
        "jpeg",
        (640, 480),
    ),
    "JPEG with 300 KB of trailing data (motion photo video without a marker)": (
        lambda: jpeg_1() + b"\x11\x22" * 150_000,
        "jpeg",
        (640, 480),
    ),
    "JPEG with restart markers": (
        lambda: encoded("JPEG", (640, 480), restart_marker_blocks=4),
        "jpeg",
        (640, 480),
    ),
    "JPEG + MPF second image": (mpf_pair, "jpeg", (640, 480)),
    "JPEG with junk bytes between segments": (
        lambda: jpeg_1()[:20] + b"\0\0junk" + jpeg_1()[20:],
        "jpeg",
        (640, 480),
    ),
    "16-bit PNG": (lambda: encoded("PNG", (300, 200), mode="I;16", colour=4000), "png", (300, 200)),
    "interlaced PNG (Adam7)": (lambda: _interlaced_png(), "png", (300, 200)),
    "PNG with a 300 KB iCCP and text chunks before IDAT": (
        lambda: png_with_chunks_before_idat(
            png_chunk(b"iCCP", b"big\0\0" + zlib.compress(bytes(300_000))[:1] + bytes(300_000)),
            png_chunk(b"tEXt", b"Comment\0" + b"x" * 100_000),
        ),
        "png",
        (300, 200),
    ),
    "PNG with data after IEND": (lambda: encoded("PNG", (300, 200)) + b"\0" * 4096, "png", (300, 200)),
    "classic TIFF": (lambda: encoded("TIFF", (300, 200)), "tiff", (300, 200)),
    "BigTIFF (Pillow)": (lambda: encoded("TIFF", (300, 200), big_tiff=True), "tiff", (300, 200)),
    "BigTIFF with its directory after 120 KB of pixels": (bigtiff_directory_after_pixels, "tiff", (400, 300)),
    "lossless WebP": (lambda: encoded("WEBP", (300, 200), lossless=True), "webp", (300, 200)),
    "lossy WebP": (lambda: encoded("WEBP", (300, 200), quality=80), "webp", (300, 200)),
    "WebP with alpha": (lambda: encoded("WEBP", (300, 200), mode="RGBA"), "webp", (300, 200)),
    "animated WebP (first frame)": (animated_webp, "webp", (50, 40)),
    "24-bit BMP": (lambda: encoded("BMP", (57, 31)), "bmp", (57, 31)),
    "32-bit BMP": (lambda: encoded("BMP", (57, 31), mode="RGBA"), "bmp", (57, 31)),
    "1-bit BMP": (lambda: encoded("BMP", (57, 31), mode="1"), "bmp", (57, 31)),
    "8-bit palette BMP": (lambda: encoded("BMP", (57, 31), mode="L", colour=90), "bmp", (57, 31)),
    "top-down BMP": (bmp_top_down, "bmp", (57, 31)),
    "OS/2 BMP": (bmp_os2, "bmp", (45, 20)),
    "thin strip at the minimum side": (
        lambda: encoded("PNG", (4000, contract.MIN_DIMENSION)),
        "png",
        (4000, 8),
    ),
}


def _interlaced_png() -> bytes:
    # Pillow cannot write Adam7; OpenCV (libpng) can't either, so the interlace bit is set on an
    # image whose IDAT is re-encoded in Adam7 order by hand: 8-bit grey, so passes are simple.
    width, height = 300, 200
    grey = (np.arange(width * height) % 253).astype(np.uint8).reshape(height, width)
    passes = [
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = grey[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\0" + row.tobytes() for row in sub)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


def _cut_scan() -> bytes:
    data = jpeg_1()
    return data[: len(data) * 2 // 3]


BROKEN_SHAPES = {
    "JPEG cut in its scan data": (_cut_scan, "truncated_image"),
    "JPEG cut in its scan data, with an MPF-style APP2 before": (
        lambda: after_soi(_cut_scan(), segment(0xE2, b"MPF\0" + b"\0" * 40)),
        "truncated_image",
    ),
    "PNG cut before IEND": (lambda: encoded("PNG", (300, 200))[:-200], "truncated_image"),
    "JPEG that ends inside its metadata (no frame header)": (
        lambda: (b"\xff\xd8" + b"".join(extended_xmp(200_000)))[:150_000],
        "corrupt_header",
    ),
    "JPEG with only metadata and an end marker": (
        lambda: b"\xff\xd8" + segment(0xE1, b"x" * 500) + b"\xff\xd9",
        "corrupt_header",
    ),
    "JPEG with scan data before any frame header": (
        lambda: b"\xff\xd8" + segment(0xDA, b"\x01\x01\0\0\x3f\0") + b"\x12" * 100 + b"\xff\xd9",
        "corrupt_header",
    ),
    "BigTIFF whose directory lies past the end": (
        lambda: bigtiff_directory_after_pixels()[:100_000],
        "corrupt_header",
    ),
    "one pixel wide": (lambda: encoded("PNG", (1, 300)), "resolution_too_small"),
    "one pixel tall JPEG": (lambda: encoded("JPEG", (300, 1)), "resolution_too_small"),
    "just under the minimum side": (
        lambda: encoded("PNG", (4000, contract.MIN_DIMENSION - 1)),
        "resolution_too_small",
    ),
}


def pillow_decodes(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.size


# Pillow warns about the odd shapes it still decodes (a minimal MPF, a damaged EXIF).
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(VALID_SHAPES))
def test_valid_file_shapes_are_accepted_with_their_true_size(s3, name):
    make, fmt, size = VALID_SHAPES[name]
    data = make()
    assert pillow_decodes(data) == size  # the shape really is a valid image of that size
    inspected = inspect_object(s3, put(s3, "shape", data))
    assert (inspected.image_format, inspected.width, inspected.height) == (fmt, *size)


# Pillow warns about the odd shapes it still decodes (a minimal MPF, a damaged EXIF).
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(BROKEN_SHAPES))
def test_broken_file_shapes_are_refused_with_a_clear_code(s3, name):
    make, code = BROKEN_SHAPES[name]
    data = make()
    if code != "resolution_too_small":  # those decode; refusing them is our limit, not damage
        with pytest.raises(Exception):  # noqa: B017 -- Pillow raises several types for damage
            pillow_decodes(data)
    with pytest.raises(InvalidInput) as info:
        inspect_object(s3, put(s3, "shape", data))
    assert info.value.code == code


class CountingS3:
    """Passes every call to the real (moto) client and counts the GETs."""

    def __init__(self, client):
        self._client = client
        self.gets = 0

    def get_object(self, **kwargs):
        self.gets += 1
        if self.gets > 50:  # a walk that reads on forever fails here instead of hanging
            raise AssertionError(f"{self.gets} reads of one object")
        return self._client.get_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_megabytes_of_metadata_before_the_frame_cost_a_few_reads_not_one_per_segment(s3):
    data = after_soi(jpeg_1(), *extended_xmp(6_000_000))  # ~92 segments of 64 KB
    counting = CountingS3(s3)
    inspected = inspect_object(counting, put(s3, "portrait.jpg", data))
    assert (inspected.width, inspected.height) == (640, 480)
    assert counting.gets <= 6


@pytest.mark.parametrize("cut", ["marker", "length", "frame"])
def test_a_jpeg_cut_inside_its_header_is_refused_after_a_read_or_two(s3, cut):
    # Review: cut after a marker's FF, inside a segment's length or inside the frame header, the
    # walk asked again for the bytes it had, forever (Lambda timeout, redelivery, no outcome).
    full = jpeg()
    end = {
        "marker": full.find(b"\xff\xdb") + 1,
        "length": full.find(b"\xff\xdb") + 3,
        "frame": full.find(b"\xff\xc0") + 7,
    }[cut]
    counting = CountingS3(s3)
    with pytest.raises(InvalidInput) as caught:
        inspect_object(counting, put(s3, f"cut-{cut}.jpg", full[:end]))
    assert caught.value.code == "corrupt_header"
    assert counting.gets <= 3, counting.gets


def test_a_strip_that_downscaling_would_thin_below_the_minimum_is_refused_before_paying(s3):
    ref = put(s3, "strip.png", png_header_only(8000, 12))  # 4096 x 6 once downscaled
    with pytest.raises(InvalidInput) as info:
        inspect_object(s3, ref, allow_downscale=True)
    assert info.value.code == "resolution_too_small"
    wide = put(s3, "wide.png", png_header_only(8000, 16))  # 4096 x 8: fine
    assert inspect_object(s3, wide, allow_downscale=True).needs_downscale


# --- issue 11: formats phones write, big photos, colour ------------------------------------


def phone_file(fmt: str, size=(640, 480), **options) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(buffer, format=fmt, quality=60, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, sniffed", [("HEIF", "heif"), ("AVIF", "avif")])
def test_heic_and_avif_are_measured_and_marked_for_conversion(s3, fmt, sniffed):
    inspected = inspect_object(s3, put(s3, "IMG_0001." + fmt.lower(), phone_file(fmt)))
    assert (inspected.image_format, inspected.width, inspected.height) == (sniffed, 640, 480)
    assert inspected.conversion_reasons == ("format",)


def test_a_heic_over_the_full_decode_limit_is_refused_before_paying(s3):
    from correction_core.source_conversion import MAX_FULL_DECODE_PIXELS

    data = phone_file("HEIF", (64, 64))
    big = data.replace(struct.pack(">II", 64, 64), struct.pack(">II", 9000, 8000))  # its ispe claims 72 MP
    assert MAX_FULL_DECODE_PIXELS < 9000 * 8000
    with pytest.raises(InvalidInput) as info:
        inspect_object(s3, put(s3, "huge.heic", big), allow_downscale=True)
    assert info.value.code == "too_large_to_downscale"


def test_a_200_megapixel_jpeg_is_accepted_for_fitting_and_a_bigger_one_refused(s3):
    from correction_engine.synth.phone_photos import flat_jpeg

    inspected = inspect_object(s3, put(s3, "200mp.jpg", flat_jpeg(16320, 12240)), allow_downscale=True)
    assert inspected.needs_downscale and inspected.conversion_reasons == ("size",)
    with pytest.raises(InvalidInput) as info:
        inspect_object(s3, put(s3, "201mp.jpg", flat_jpeg(16400, 12300)), allow_downscale=True)
    assert info.value.code == "too_large_to_downscale"
    with pytest.raises(InvalidInput) as info:  # the parameter keeps today's refusal
        inspect_object(s3, put(s3, "200mp.jpg", flat_jpeg(16320, 12240)), allow_downscale=False)
    assert info.value.code == "resolution_too_large"


def test_big_photos_are_fitted_by_default_and_the_parameter_keeps_the_refusal():
    from correction_core.settings import Settings

    assert Settings.from_env({}).downscale_oversize
    assert not Settings.from_env({"DOWNSCALE_OVERSIZE": "false"}).downscale_oversize


def test_a_display_p3_jpeg_is_marked_for_colour_conversion_and_an_srgb_one_is_not(s3):
    from PIL import ImageCms

    from correction_core.colour_profiles import display_p3_profile

    p3 = phone_file("JPEG", icc_profile=display_p3_profile())
    srgb = phone_file("JPEG", icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    assert inspect_object(s3, put(s3, "p3.jpg", p3)).conversion_reasons == ("colour",)
    assert inspect_object(s3, put(s3, "srgb.jpg", srgb)).conversion_reasons == ()
    assert inspect_object(s3, put(s3, "plain.jpg", jpeg())).conversion_reasons == ()
    p3_png = phone_file("PNG", icc_profile=display_p3_profile())
    assert inspect_object(s3, put(s3, "p3.png", p3_png)).wide_gamut


# --- issue 13: the 4096-px boundary on non-square photos ------------------------------------


@pytest.mark.parametrize(
    "size, accepted",
    [
        ((contract.MAX_DIMENSION, 3000), True),
        ((3000, contract.MAX_DIMENSION), True),
        ((contract.MAX_DIMENSION + 1, 3000), False),
        ((3000, contract.MAX_DIMENSION + 1), False),
    ],
)
def test_the_longest_legal_side_is_accepted_and_one_more_pixel_refused(s3, size, accepted):
    # DownscaleOversize=false: the API's own limit is the only one, so a photo exactly at it must
    # pass (a `>=` in the check would refuse a legal, paid-for 4096-px photo). Non-square, so a
    # check that mixed up width and height would show too.
    ref = put(s3, "edge.png", png_header_only(*size))
    if accepted:
        inspected = inspect_object(s3, ref, allow_downscale=False)
        assert (inspected.width, inspected.height) == size
        assert not inspected.needs_downscale
    else:
        with pytest.raises(InvalidInput) as info:
            inspect_object(s3, ref, allow_downscale=False)
        assert info.value.code == "resolution_too_large"
