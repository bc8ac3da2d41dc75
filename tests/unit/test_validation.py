"""Pre-payment validation reads headers only and never touches the source object (moto S3)."""

import io
import struct
import zlib

import boto3
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
        (b"\0\0\0\x18ftypheic" + b"\0" * 100, "unsupported_format"),
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
