"""Shared helpers of the reliability suite: input files built from their specification, what the
destination bucket shows per upload, and AWS-side faults the emulator does not produce itself.

Every image is synthetic and built here, byte by byte where the point is a header (a
decompression bomb is a 70-byte PNG that *claims* 100,000 × 100,000 pixels; nothing that size
is ever allocated).
"""

from __future__ import annotations

import io
import json
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from botocore.exceptions import ClientError
from PIL import Image

from correction_core.objects import EXTENSION_BY_FORMAT, ObjectRef, failure_key, result_key
from correction_core.settings import Settings
from correction_engine.synth.documents import make_page_photo
from correction_local.intake import IntakeStats, drain
from correction_local.outcomes import wait_for_executions
from correction_local.pipeline import Upload, upload_all
from correction_local.stack import LocalStack
from correction_local.template import load_template

SOURCE_PREFIX = "incoming/"
FAILURE_PREFIX = "failures/"

# --- images ------------------------------------------------------------------------------


def page(seed: int = 3, size: tuple[int, int] = (240, 320), rotation: int = 0) -> np.ndarray:
    """A small photographed page (RGB uint8, height × width): cheap for the engine to correct."""
    return make_page_photo(seed, size=size, rotation=rotation, tilt_range_deg=4.0).image


def encode(pixels: np.ndarray | Image.Image, fmt: str, **kwargs: Any) -> bytes:
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A well-formed PNG whose IHDR claims ``width × height`` RGB pixels, with one tiny IDAT.

    Decoding it would need 30 GB; reading its header needs 24 bytes. Never allocated here.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)  # a few zero bytes of the first row, validly compressed
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def corrupt_png(width: int = 320, height: int = 240) -> bytes:
    """Valid signature, IHDR and IEND; the pixel data is noise that is not a zlib stream.

    Everything a header check can see is right, so only decoding (the API's, after the task
    was created and paid for) finds the problem: state -7.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    noise = np.random.default_rng(11).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    idat = png_chunk(b"IDAT", b"\x00\x00" + noise)
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + idat + png_chunk(b"IEND", b"")


def exif_rotated_jpeg(upright: np.ndarray) -> bytes:
    """The upright picture stored turned 90° counter-clockwise, with EXIF Orientation 6.

    Orientation 6 tells a viewer to turn the stored pixels 90° clockwise: what a phone held
    in portrait writes. A reader that ignores EXIF sees the page on its side.
    """
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(stored, "JPEG", quality=90, exif=exif.tobytes())


def sixteen_bit_png(pixels: np.ndarray) -> bytes:
    grey = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.uint16) * 257
    # A uint16 array becomes an "I;16" image by its dtype ("mode=" is deprecated in Pillow 12).
    image = Image.fromarray(grey)
    assert image.mode == "I;16", image.mode
    return encode(image, "PNG")


def alpha_png(pixels: np.ndarray) -> bytes:
    alpha = np.full(pixels.shape[:2], 255, dtype=np.uint8)
    alpha[:12, :] = 0  # a transparent band, as exported by an editor
    alpha[:, :12] = 128
    return encode(np.dstack([pixels, alpha]), "PNG")


def heic_header() -> bytes:
    """The first box of an iPhone HEIC file (ftyp, brand heic) and the start of the next."""
    ftyp = b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic"
    return struct.pack(">I", 8 + len(ftyp) - 4) + ftyp + b"\x00\x00\x00\x22meta" + b"\x00" * 200


def pdf_document() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def noise_png(side: int, seed: int = 5) -> bytes:
    """An incompressible RGB PNG of ``side × side`` pixels (≈ 3·side² bytes)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    return encode(pixels, "PNG", compress_level=0)


# --- what the destination bucket shows --------------------------------------------------


def relative(source_key: str) -> str:
    assert source_key.startswith(SOURCE_PREFIX), source_key
    return source_key[len(SOURCE_PREFIX) :]


# The template's default prefixes, as the functions see them: naming is the core's, not a copy.
RESULT_PREFIX = load_template()["Parameters"]["DestinationPrefix"]["Default"]
NAMING = Settings(
    source_prefix=SOURCE_PREFIX, failure_prefix=FAILURE_PREFIX, destination_prefix=RESULT_PREFIX
)


def expected_result_key(source_key: str, image_format: str) -> str:
    """Where the result must land (default DestinationPrefix): the whole relative name, plus the real extension."""
    relative(source_key)
    return result_key(ObjectRef("source", source_key), NAMING, image_format)


def expected_failure_key(source_key: str) -> str:
    relative(source_key)
    return failure_key(ObjectRef("source", source_key), NAMING)


@dataclass
class Bucket:
    """The destination bucket, read directly (not through the local runner's collector)."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → head_object
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → parsed record

    def result_for(self, source_key: str) -> tuple[str, dict[str, Any]] | None:
        for image_format in EXTENSION_BY_FORMAT:
            key = expected_result_key(source_key, image_format)
            if key in self.results:
                return key, self.results[key]
        return None

    def failure_for(self, source_key: str) -> dict[str, Any] | None:
        return self.failures.get(expected_failure_key(source_key))


def read_destination(stack: LocalStack) -> Bucket:
    s3 = stack.client("s3")
    bucket = Bucket()
    for page_ in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.destination_bucket):
        for item in page_.get("Contents", []):
            key = item["Key"]
            if key.startswith(FAILURE_PREFIX):
                body = s3.get_object(Bucket=stack.destination_bucket, Key=key)["Body"].read()
                bucket.failures[key] = json.loads(body)
            else:
                bucket.results[key] = s3.head_object(Bucket=stack.destination_bucket, Key=key)
    return bucket


def assert_accounted(
    bucket: Bucket, uploaded: Iterable[str], *, skipped: Iterable[str] = ()
) -> dict[str, str]:
    """Every upload has exactly one outcome (a result or a failure record, never both, never
    neither), skipped keys have none, and the bucket holds nothing else. Returns key → outcome."""
    outcomes: dict[str, str] = {}
    claimed: set[str] = set()
    for key in uploaded:
        result = bucket.result_for(key)
        failure = bucket.failure_for(key)
        assert not (result and failure), f"{key!r} has both a result {result[0]!r} and a failure record"
        assert result or failure, f"{key!r} was lost: neither a result nor a failure record"
        if result:
            outcomes[key] = "result"
            claimed.add(result[0])
        else:
            assert failure is not None
            assert failure["source"]["key"] == key, failure["source"]
            outcomes[key] = "failure"
            claimed.add(expected_failure_key(key))
    for key in skipped:
        assert bucket.result_for(key) is None, f"skipped {key!r} has a result"
        assert bucket.failure_for(key) is None, f"skipped {key!r} has a failure record"
    strays = (set(bucket.results) | set(bucket.failures)) - claimed
    assert not strays, f"objects no upload accounts for (duplicates or strays): {sorted(strays)}"
    return outcomes


def assert_source_untouched(stack: LocalStack, uploads: Iterable[Upload]) -> None:
    """Same bytes, still exactly one version: the pipeline never writes to the source."""
    s3 = stack.client("s3")
    for upload in uploads:
        stored = s3.get_object(Bucket=stack.source_bucket, Key=upload.key)["Body"].read()
        assert stored == upload.body, f"{upload.key!r} changed"
        versions = s3.list_object_versions(Bucket=stack.source_bucket, Prefix=upload.key).get("Versions", [])
        same_key = [v for v in versions if v["Key"] == upload.key]
        assert len(same_key) == 1, f"{upload.key!r} has {len(same_key)} versions"


# --- driving runs -----------------------------------------------------------------------


def consume_test_event(stack: LocalStack) -> None:
    """S3 queues an ``s3:TestEvent`` when notifications are configured: deliver it first, so
    the batches a test inspects hold only its own uploads."""
    drain(stack, timeout=30)


def settle(
    stack: LocalStack, *, timeout: float = 240.0, stats: IntakeStats | None = None
) -> tuple[IntakeStats, list[dict]]:
    stats = stats if stats is not None else IntakeStats()
    drain(stack, timeout=timeout, stats=stats)
    return stats, wait_for_executions(stack, timeout=timeout)


def limit_deliveries(stack: LocalStack, max_receive_count: int) -> None:
    """Lower the intake queue's maxReceiveCount (the template's is 20, 2 s apart locally).

    For tests whose subject is the route to the dead-letter queue, not its patience.
    """
    sqs = stack.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["RedrivePolicy"])
    policy = json.loads(attributes["Attributes"]["RedrivePolicy"])
    policy["maxReceiveCount"] = max_receive_count
    sqs.set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"RedrivePolicy": json.dumps(policy)})


def submit_one_by_one(
    stack: LocalStack, faults: Any, plan: Iterable[tuple[Upload, Mapping[str, Any]]]
) -> list[str]:
    """Upload each object with its own engine faults in force while its task is created.

    The engine rolls per-task faults when a task is created, so switching the knobs between
    deliveries gives every object its own fault in one run. Executions run meanwhile.
    """
    keys = []
    for upload, changes in plan:
        faults.reset()
        faults.update(dict(changes))
        keys += upload_all(stack, [upload])
        drain(stack, timeout=60)
    faults.reset()
    return keys


# --- AWS-side faults and limits ---------------------------------------------------------


def function_services(function_name: str) -> Any:
    """The core services one emulated function runs with (built from its own environment,
    once, like a container's). Hooks on their clients reach exactly that function.

    ``lambda_bridge`` has no public accessor for them yet; this is the one place that reaches in.
    """
    from correction_local import lambda_bridge

    return lambda_bridge._services_for(function_name)


def function_environment(stack: LocalStack, function_name: str) -> dict[str, str]:
    """The environment the template gave one function, as the (emulated) Lambda API reports it."""
    config = stack.client("lambda").get_function_configuration(FunctionName=function_name)
    return dict(config["Environment"]["Variables"])


WRITERS = ("SubmitFunction", "FinalizeFunction", "RecordFailureFunction")  # who puts objects
PUT_OBJECT_PARAMS_EVENT = "before-parameter-build.s3.PutObject"  # boto3's upload_fileobj ends here too


class PutObjectFaults:
    """Makes PutObject calls of some functions' S3 clients fail like S3 does.

    ``fail(key, attempt)`` gets the object key and how many PutObjects of that key these
    clients have attempted (1 for the first). The hook runs before the request is built, so a
    failed call never reaches the (emulated) service; the ClientError is what botocore raises
    once its own retries are spent.
    """

    def __init__(
        self,
        fail: Callable[[str, int], bool],
        code: str = "InternalError",
        functions: Iterable[str] = WRITERS,
    ):
        self.fail = fail
        self.code = code
        self.attempts: list[str] = []
        self.failed: list[str] = []
        self._lock = threading.Lock()
        for name in functions:
            function_services(name).s3.meta.events.register(PUT_OBJECT_PARAMS_EVENT, self._before)

    def _before(self, params: dict[str, Any], **_: Any) -> None:
        key = params.get("Key", "")
        with self._lock:
            self.attempts.append(key)
            if not self.fail(key, self.attempts.count(key)):
                return
            self.failed.append(key)
        raise ClientError(
            {
                "Error": {
                    "Code": self.code,
                    "Message": "We encountered an internal error. Please try again.",
                },
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            "PutObject",
        )


def enforce_s3_object_limits(functions: Iterable[str] = WRITERS) -> None:
    """Add S3's documented object limits, which moto does not enforce, to the functions' clients.

    A key is at most 1,024 bytes of UTF-8; user-defined metadata at most 2 KB, counted as
    the UTF-8 bytes of every name and value
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html).
    """

    def before_parameter_build(params: dict[str, Any], **_: Any) -> None:
        key = params.get("Key", "")
        if len(key.encode("utf-8")) > 1024:
            raise ClientError(
                {
                    "Error": {"Code": "KeyTooLongError", "Message": "Your key is too long"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "PutObject",
            )
        metadata = params.get("Metadata") or {}
        size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in metadata.items())
        if size > 2048:
            raise ClientError(
                {
                    "Error": {
                        "Code": "MetadataTooLarge",
                        "Message": "Your metadata headers exceed the maximum allowed metadata size",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "PutObject",
            )

    for name in functions:
        function_services(name).s3.meta.events.register(PUT_OBJECT_PARAMS_EVENT, before_parameter_build)
