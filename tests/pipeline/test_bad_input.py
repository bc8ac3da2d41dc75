"""Bad and unusual uploads, end to end: each ends in exactly one outcome the user can see.

Every run uses the real state machine definition in moto against the engine on loopback. Many
kinds share one stack and one upload batch, then are asserted key by key. What the pipeline can
see before paying (size, format, resolution, completeness, options) must create no task: the
engine's create counter proves it. What only decoding can find (corrupt pixels behind a valid
header) is paid for and ends with the API's state -7.

docs/reliability.md lists every kind with its outcome and the test that shows it.
"""

from __future__ import annotations

import io
import json
from urllib.parse import quote_plus

import numpy as np
import pytest
from PIL import Image

from correction_core import contract
from correction_local.pipeline import Upload, upload_all

from .conftest import API_KEY
from .support import (
    alpha_png,
    assert_accounted,
    assert_source_untouched,
    consume_test_event,
    corrupt_png,
    encode,
    enforce_s3_object_limits,
    exif_rotated_jpeg,
    expected_failure_key,
    expected_result_key,
    heic_header,
    limit_deliveries,
    noise_png,
    page,
    pdf_document,
    png_bomb,
    read_destination,
    settle,
    sixteen_bit_png,
)

pytestmark = pytest.mark.slow

# The pipeline's own request budget (ApiQps, default 2/s like the vendor's) is not the subject
# here and would make a batch of 14 take a minute; the engine on loopback has no QPS limit.
UNTHROTTLED = {"ApiQps": 50}


def good_jpeg(seed: int = 3) -> bytes:
    return encode(page(seed), "JPEG", quality=90)


def broken_jpeg_segments() -> bytes:
    """SOI, an APP0 whose length points into bytes that are not a marker, then an EOI."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + b"\x00\x13\x37" * 60 + b"\xff\xd9"


OUT_OF_RANGE = "option_out_of_range"


# key → (upload, reason, code): everything here is refused before a task is created.
def rejected_before_paying() -> dict[str, tuple[Upload, str, str]]:
    jpeg = good_jpeg()
    png = encode(page(4), "PNG")
    gif = encode(Image.fromarray(page(5)).convert("P"), "GIF")
    big = np.tile(np.linspace(0, 255, 5000, dtype=np.uint8), (5000, 1))  # a real 5000 × 5000 JPEG
    cases = {
        "incoming/empty.jpg": (b"", {}, "invalid_input", "empty_object"),
        "incoming/notes.jpg": (b"Milk, eggs.\n" * 40, {}, "invalid_input", "unrecognised_format"),
        "incoming/cut-off.jpg": (jpeg[: len(jpeg) * 2 // 3], {}, "invalid_input", "truncated_image"),
        "incoming/cut-off.png": (png[: len(png) // 2], {}, "invalid_input", "truncated_image"),
        "incoming/broken-segments.jpg": (broken_jpeg_segments(), {}, "invalid_input", "corrupt_header"),
        "incoming/bomb.png": (png_bomb(100_000, 100_000), {}, "invalid_input", "resolution_too_large"),
        "incoming/huge-5000.jpg": (encode(big, "JPEG"), {}, "invalid_input", "resolution_too_large"),
        "incoming/noise-21mb.png": (noise_png(2650), {}, "invalid_input", "file_too_large"),
        # HEIC is converted (issue 11); a header with no image extents is corrupt.
        "incoming/iphone.heic": (heic_header(), {}, "invalid_input", "corrupt_header"),
        "incoming/scan.pdf": (pdf_document(), {}, "invalid_input", "unsupported_format"),
        "incoming/anim.gif": (gif, {}, "invalid_input", "unsupported_format"),
        "incoming/type-9.jpg": (jpeg, {"correction-type": "9"}, "invalid_option", OUT_OF_RANGE),
        "incoming/return-3.jpg": (jpeg, {"correction-return-type": "3"}, "invalid_option", OUT_OF_RANGE),
        "incoming/ftp.jpg": (jpeg, {"correction-source-mode": "ftp"}, "invalid_option", OUT_OF_RANGE),
    }
    return {key: (Upload(key, body, meta), reason, code) for key, (body, meta, reason, code) in cases.items()}


def test_bad_input_visible_before_paying_ends_in_one_record_each_and_creates_no_task(make_stack, engine):
    # Fitting big photos is on by default (issue 11); off, the over-limit cases here are refused.
    stack = make_stack(**UNTHROTTLED, DownscaleOversize="false")
    consume_test_event(stack)
    s3, sqs = stack.client("s3"), stack.client("sqs")
    cases = rejected_before_paying()
    uploads = [upload for upload, _, _ in cases.values()]
    assert len(cases["incoming/noise-21mb.png"][0].body) > contract.MAX_UPLOAD_BYTES  # really over the limit
    folder_markers = [Upload("incoming/albums/", b""), Upload("incoming/albums/2024/", b"")]
    upload_all(stack, uploads + folder_markers)

    # Not work at all: outside the source prefix (no notification is sent), in the destination
    # bucket (no notification either), and a notification about the destination bucket that
    # reaches the queue anyway (a hand-added rule): submit must skip it, not recurse.
    jpeg = good_jpeg()
    s3.put_object(Bucket=stack.source_bucket, Key="elsewhere/holiday.jpg", Body=jpeg)
    s3.put_object(Bucket=stack.destination_bucket, Key="incoming/planted.jpg", Body=jpeg)
    head = s3.head_object(Bucket=stack.destination_bucket, Key="incoming/planted.jpg")
    planted = {"key": quote_plus("incoming/planted.jpg"), "size": len(jpeg), "eTag": head["ETag"].strip('"')}
    misrouted = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "eventSource": "aws:s3",
                "s3": {"bucket": {"name": stack.destination_bucket}, "object": planted},
            }
        ]
    }
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(misrouted))

    intake, executions = settle(stack)

    bucket = read_destination(stack)
    # The planted object is left as it is, and no result or record is made from it.
    assert bucket.results.pop("incoming/planted.jpg")["ETag"] == head["ETag"]
    outcomes = assert_accounted(
        bucket, cases, skipped=[m.key for m in folder_markers] + ["incoming/planted.jpg"]
    )
    assert set(outcomes.values()) == {"failure"}
    for key, (_upload, reason, code) in cases.items():
        record = bucket.failure_for(key)
        assert (record["reason"], record["code"], record["stage"]) == (reason, code, "submit"), key
        assert record["task_id"] is None and record["state"] is None, key
        assert record["message"] and record["error_type"] in ("InvalidInput", "InvalidOption"), key
        assert record["source"]["bucket"] == stack.source_bucket
    bomb = bucket.failure_for("incoming/bomb.png")
    assert (bomb["details"]["width"], bomb["details"]["height"]) == (100_000, 100_000)
    huge = bucket.failure_for("incoming/huge-5000.jpg")
    assert (huge["details"]["width"], huge["details"]["height"]) == (5000, 5000)
    assert bucket.failure_for("incoming/noise-21mb.png")["details"]["limit"] == contract.MAX_UPLOAD_BYTES
    options = {bucket.failure_for(k)["details"].get("option") for k in cases} - {None}
    assert options == {"correction-type", "correction-return-type", "correction-source-mode"}

    assert_source_untouched(stack, uploads + folder_markers)
    # Nothing was paid for, nothing was started, and no message needed a second delivery.
    counters = engine.engine.stats.for_key(API_KEY)
    assert counters["tasks_created"] == 0 and counters["create_requests"] == 0
    assert executions == []
    assert intake.failed_items == 0
    assert intake.delivered == len(uploads) + len(folder_markers) + 1  # + the misrouted notification


def accepted_uploads() -> dict[str, tuple[Upload, str]]:
    """key → (upload, expected outcome): "result", or "state -7" for corrupt pixels."""
    pixels = page(6)
    jpeg = good_jpeg(7)
    long_name = "incoming/" + "very-long-folder-name/" * 20 + "a-photo-with-" + "a-long-name-" * 46 + ".jpg"
    assert 990 < len(long_name.encode()) <= 1019, len(long_name.encode())  # S3 allows 1,024 bytes
    cases = {
        "incoming/my holiday photo.jpeg": (jpeg, "result"),
        "incoming/tax+receipts/a+b=c.jpg": (jpeg, "result"),
        "incoming/50% off (final).jpg": (jpeg, "result"),
        "incoming/фото/日本語 été ñ.jpg": (jpeg, "result"),
        long_name: (jpeg, "result"),
        "incoming/formats/scan.bmp": (encode(pixels, "BMP"), "result"),
        "incoming/formats/scan.tif": (encode(pixels, "TIFF", compression="tiff_lzw"), "result"),
        "incoming/formats/scan.webp": (encode(pixels, "WEBP", quality=90), "result"),
        "incoming/formats/exif-rotated.jpg": (exif_rotated_jpeg(page(8)), "result"),
        "incoming/formats/cmyk.jpg": (encode(Image.fromarray(pixels).convert("CMYK"), "JPEG"), "result"),
        "incoming/formats/deep-16bit.png": (sixteen_bit_png(pixels), "result"),
        "incoming/formats/grey.png": (encode(Image.fromarray(pixels).convert("L"), "PNG"), "result"),
        "incoming/formats/alpha.png": (alpha_png(pixels), "result"),
        "incoming/formats/corrupt-pixels.png": (corrupt_png(), "state -7"),
    }
    return {key: (Upload(key, body), outcome) for key, (body, outcome) in cases.items()}


def test_odd_names_and_every_accepted_format_get_one_outcome_and_one_task_each(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    enforce_s3_object_limits()  # real S3's key and metadata limits
    cases = accepted_uploads()
    uploads = [upload for upload, _ in cases.values()]
    upload_all(stack, uploads)
    intake, executions = settle(stack)

    bucket = read_destination(stack)
    outcomes = assert_accounted(bucket, cases)
    s3 = stack.client("s3")
    for key, (_upload, expected) in cases.items():
        if expected == "result":
            assert outcomes[key] == "result", (key, bucket.failure_for(key))
            result_key, head = bucket.result_for(key)
            assert result_key == expected_result_key(key, "jpeg"), key  # results are JPEG for RGB output
            assert head["ContentType"] == "image/jpeg"
            assert head["Metadata"]["task-id"]
            stored = s3.get_object(Bucket=stack.destination_bucket, Key=result_key)["Body"].read()
            image = Image.open(io.BytesIO(stored))
            image.load()
            assert image.width > 50 and image.height > 50, key
        else:
            record = bucket.failure_for(key)
            assert record is not None, key
            assert (record["reason"], record["state"], record["stage"]) == ("task_failed", -7, "poll")
            assert record["state_meaning"] == contract.TASK_STATE_MEANINGS[-7]
            assert record["task_id"] and record["error_type"] == "TaskFailed"
            assert expected_failure_key(key) == "failures/formats/corrupt-pixels.png.json"

    assert_source_untouched(stack, uploads)
    # Every one was paid for exactly once: the corrupt one too (only decoding can tell).
    counters = engine.engine.stats.for_key(API_KEY)
    assert counters["tasks_created"] == len(cases)
    assert len(executions) == len(cases)
    statuses = sorted(e["status"] for e in executions)
    assert statuses == ["FAILED"] + ["SUCCEEDED"] * (len(cases) - 1)
    assert intake.failed_items == 0


# --- valid photos the header check refuses (bugs, reported; remove xfail when fixed) ----------


def test_motion_photo_with_a_video_after_the_jpeg_is_processed(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    jpeg = good_jpeg(9)
    ftyp = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    video = ftyp + b"\x00\x04\x00\x08mdat" + bytes(range(256)) * 1024  # 256 KB of "video"
    key = "incoming/PXL_20240601_motion.jpg"
    upload = Upload(key, jpeg + video)
    upload_all(stack, [upload])
    settle(stack)
    bucket = read_destination(stack)
    assert_accounted(bucket, [key])
    assert bucket.failure_for(key) is None, bucket.failure_for(key)
    assert engine.engine.stats.tasks_created(API_KEY) == 1


def test_tiff_whose_directory_follows_its_pixels_is_processed(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    body = encode(page(10, size=(900, 1200)), "TIFF", compression="tiff_lzw")
    ifd_offset = int.from_bytes(body[4:8], "little")
    assert ifd_offset > 1024 * 1024  # the layout every libtiff-based scanner writes
    key = "incoming/scanner/page-001.tif"
    upload_all(stack, [Upload(key, body)])
    settle(stack)
    bucket = read_destination(stack)
    assert_accounted(bucket, [key])
    assert bucket.failure_for(key) is None, bucket.failure_for(key)


# --- names at S3's limits (moto does not enforce them; enforce_s3_object_limits does) ---------


def test_a_long_non_ascii_name_within_s3s_key_limit_gets_its_result(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    enforce_s3_object_limits()
    key = "incoming/家族旅行/" + "北海道の雪まつりで撮った写真" * 21 + ".jpg"
    assert len(key.encode()) <= 1024
    upload_all(stack, [Upload(key, good_jpeg(12))])
    settle(stack)
    bucket = read_destination(stack)
    assert_accounted(bucket, [key])
    assert bucket.failure_for(key) is None, bucket.failure_for(key)


def test_a_bad_upload_with_a_name_at_s3s_key_limit_still_gets_its_failure_record(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    limit_deliveries(stack, 2)  # where it ends today; 2 deliveries show the route as well as 20
    enforce_s3_object_limits()
    key = "incoming/" + "n" * (1024 - len("incoming/") - len(".jpg")) + ".jpg"
    assert len(key.encode()) == 1024
    upload_all(stack, [Upload(key, b"")])  # zero bytes: rejected at submit
    settle(stack)
    bucket = read_destination(stack)
    records = [r for r in bucket.failures.values() if r["source"]["key"] == key]
    assert len(records) == 1 and records[0]["code"] == "empty_object"


# --- what a result says about its source ---------------------------------------------------


def test_the_result_metadata_names_its_source_unambiguously(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    keys = ["incoming/%C3%A9.jpg", "incoming/é.jpg"]
    upload_all(stack, [Upload(k, good_jpeg(13)) for k in keys])
    settle(stack)
    bucket = read_destination(stack)
    assert_accounted(bucket, keys)
    names = {bucket.result_for(k)[1]["Metadata"]["source-key"] for k in keys}
    assert len(names) == 2, names


def test_names_that_differ_only_by_extension_each_get_their_own_result(make_stack, engine):
    """Issue 10 item 1: four paid tasks used to leave one result (the extension was dropped)."""
    stack = make_stack(**UNTHROTTLED)
    names = ["photo", "photo.jpg", "photo.JPG", "photo.png", "photo.jpeg"]
    uploads = [
        Upload(f"incoming/same/{n}", encode(page(20 + i), "PNG" if n.endswith("png") else "JPEG"))
        for i, n in enumerate(names)
    ]
    upload_all(stack, uploads)
    settle(stack)
    bucket = read_destination(stack)
    outcomes = assert_accounted(bucket, [u.key for u in uploads])
    assert set(outcomes.values()) == {"result"}
    from urllib.parse import unquote

    owners = {unquote(bucket.result_for(u.key)[1]["Metadata"]["source-key"]) for u in uploads}
    assert owners == {u.key for u in uploads}  # no result was overwritten by a sibling's


def test_a_source_under_the_failure_prefix_gets_its_result_outside_the_failure_area(make_stack, engine):
    """Issue 10 item 4: ``incoming/failures/x.jpg`` wrote its result among the failure records."""
    stack = make_stack(**UNTHROTTLED)
    upload = Upload("incoming/failures/x.jpg", good_jpeg(21))
    upload_all(stack, [upload])
    settle(stack)
    bucket = read_destination(stack)  # parses every object under failures/ as a record
    assert assert_accounted(bucket, [upload.key]) == {upload.key: "result"}
    assert not bucket.result_for(upload.key)[0].startswith(stack.parameters["FailurePrefix"])
