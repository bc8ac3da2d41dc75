"""The Photo Cropping and Enhancement API contract, defined once.

Every table of ``docs/api/correction-api.md`` lives here: endpoints, enhancement and return
types, HTTP statuses, task states, limits and formats. The client, the engine and the tests
read them from this module; ``tests/unit/test_contract_tables.py`` checks them against the
document literally, so a change to either is caught.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Final

# --- Endpoints and authentication -------------------------------------------------------

BASE_URL_GLOBAL: Final = "https://techhk.aoscdn.com"
BASE_URL_MAINLAND_CHINA: Final = "https://techsz.aoscdn.com"
CREATE_PATH: Final = "/api/tasks/visual/correction"
QUERY_PATH_TEMPLATE: Final = "/api/tasks/visual/correction/{task_id}"
API_KEY_HEADER: Final = "X-API-KEY"
CREDITS_PER_TASK: Final = 3


def query_path(task_id: str) -> str:
    return QUERY_PATH_TEMPLATE.format(task_id=task_id)


# --- Request parameters ------------------------------------------------------------------


class EnhancementType(IntEnum):
    """``type`` body parameter."""

    DOCUMENT_CROP = 0
    DOCUMENT_ENHANCE = 1
    DOCUMENT_CROP_ENHANCE = 2
    PRODUCT_CROP = 3
    PRODUCT_CUTOUT = 4


ENHANCEMENT_TYPE_MEANINGS: Final[Mapping[int, str]] = {
    0: "crop and correct orientation for text/document images",
    1: "text enhancement for text/document images",
    2: "text enhancement plus crop and orientation correction for text/document images",
    3: "crop and correct orientation for product images",
    4: "crop and correct orientation plus background removal for product images",
}

# The vendor's own default when ``type`` is omitted; we always send it explicitly.
VENDOR_DEFAULT_TYPE: Final = EnhancementType.DOCUMENT_ENHANCE


class ReturnType(IntEnum):
    """``return_type`` body parameter."""

    URL = 1
    BASE64 = 2
    BINARY = 3  # only with sync=1


RETURN_TYPE_MEANINGS: Final[Mapping[int, str]] = {
    1: "image URL",
    2: "base64-encoded image",
    3: "binary image data, only available for synchronous requests",
}

SYNC_ONLY_RETURN_TYPES: Final = frozenset({ReturnType.BINARY})


class SyncMode(IntEnum):
    """``sync`` body parameter."""

    ASYNC = 0
    SYNC = 1


# Multipart field names of the create request.
FIELD_IMAGE_URL: Final = "image_url"
FIELD_IMAGE_FILE: Final = "image_file"
FIELD_SYNC: Final = "sync"
FIELD_TYPE: Final = "type"
FIELD_RETURN_TYPE: Final = "return_type"

# --- HTTP response statuses --------------------------------------------------------------

HTTP_OK: Final = 200
HTTP_BAD_REQUEST: Final = 400
HTTP_UNAUTHORIZED: Final = 401
HTTP_NOT_FOUND: Final = 404
HTTP_PAYLOAD_TOO_LARGE: Final = 413
HTTP_TOO_MANY_REQUESTS: Final = 429
HTTP_SERVER_ERROR: Final = 500

HTTP_STATUS_MEANINGS: Final[Mapping[int, str]] = {
    200: "The request is successful.",
    400: "Wrong parameter passed by the client. Check whether a parameter is missing or has an incorrect value.",
    401: "Unauthorized API key. Check that X-API-KEY is correct and the service is enabled.",
    404: "The requested URL or resource does not exist. Check that the URL or task_id is correct.",
    413: "The uploaded file exceeds the allowed size. Refer to the supported image size.",
    429: "Request frequency exceeds the QPS limit (default QPS is 2). Slow down or contact us to raise your QPS.",
    500: "Server-side exception. Please contact support.",
}

# --- Task states (data.state) ------------------------------------------------------------

STATE_QUEUED: Final = 0
STATE_SUCCEEDED: Final = 1
STATE_PROCESSING: Final = 4
STATE_FAILED: Final = -1
STATE_RESULT_UPLOAD_FAILED: Final = -2
STATE_DOWNLOAD_FAILED: Final = -3
STATE_URL_IMAGE_TOO_LARGE: Final = -5
STATE_INVALID_IMAGE: Final = -7
STATE_PROCESSING_TIMEOUT: Final = -8

TASK_STATE_MEANINGS: Final[Mapping[int, str]] = {
    -17: "Processing failed because the prompt is invalid.",
    -16: "Processing failed because a third-party review detected prohibited content.",
    -15: "Processing failed due to insufficient resources.",
    -14: "Processing failed because the input image content does not meet the requirements.",
    -13: "Processing failed because the task was canceled due to an exception.",
    -11: "Processing failed because the result is empty.",
    -10: "Processing failed because internal review detected prohibited content.",
    -9: "Processing failed because the internal program failed during loop processing.",
    -8: "Processing timed out. The maximum processing time is 180 seconds.",
    -7: "Invalid image file (e.g. corrupted image or incorrect format).",
    -5: "The image_url image exceeds the size limit (30MB).",
    -3: "The server failed to download your file. Check that the source image URL is available.",
    -2: "Processing completed, but uploading the result to OSS failed.",
    -1: "Processing failed.",
    0: "Queued. The task is waiting in the queue.",
    1: "Completed. Processing succeeded.",
    2: "Preparing.",
    3: "Waiting.",
    4: "Processing in progress.",
    5: "Internally publishing the result.",
    6: "Processing. Internal loop processing is in progress.",
}


def is_succeeded(state: int) -> bool:
    return state == STATE_SUCCEEDED


def is_failed(state: int) -> bool:
    """Any negative state is a failure, including codes the contract does not list."""
    return state < 0


def is_pending(state: int) -> bool:
    """0 is "queued" (not a failure, see vendor notes); anything above 1 is still working."""
    return state == STATE_QUEUED or state > STATE_SUCCEEDED


def state_meaning(state: int) -> str:
    if state in TASK_STATE_MEANINGS:
        return TASK_STATE_MEANINGS[state]
    if is_failed(state):
        return f"Processing failed with a state code the contract does not list ({state})."
    return f"Still processing (state {state})."


# --- Limits and formats ------------------------------------------------------------------

# Extensions the contract lists as accepted upload formats.
SUPPORTED_FORMATS: Final = (
    "jpg",
    "jpeg",
    "bmp",
    "png",
    "webp",
    "tiff",
    "tif",
    "bitmap",
    "raw",
    "rgb",
    "jfif",
    "lzw",
)
MAX_DIMENSION: Final = 4096  # pixels, each side
# Ours, not the vendor's: the smallest side we send or process. A 1-pixel row or column holds
# no page or product; the engine's operations halve images while analysing them, and under
# 8 px a side reaches 0 (an OpenCV assertion, state -1, paid). The pipeline refuses these
# before paying ("resolution_too_small") and the engine refuses them at decode (state -7).
MIN_DIMENSION: Final = 8
MAX_UPLOAD_BYTES: Final = 20 * 1024 * 1024  # "Up to 20MB"
MAX_URL_IMAGE_BYTES: Final = 30 * 1024 * 1024  # state -5
MAX_PROCESSING_SECONDS: Final = 180  # state -8


def png_size_bound(width: int, height: int, *, channels: int = 4, bit_depth: int = 8) -> int:
    """The largest PNG a zlib-family encoder writes for an image of this size, in bytes.

    Incompressible pixels (noise) cost their raw size: each row is one filter byte plus its
    samples, and deflate falls back to stored blocks when compressing would expand the data
    (zlib, zlib-ng, libdeflate and miniz all do), so the zlib stream is at most zlib's own
    ``compressBound``. The stream is framed in IDAT chunks of 12 bytes each; libpng splits at
    8 KiB, the smallest split in common use. Then the signature, IHDR and IEND.
    """
    raw = height * (1 + (width * channels * bit_depth + 7) // 8)
    zlib_stream = raw + (raw >> 12) + (raw >> 14) + (raw >> 25) + 13
    idat = zlib_stream + 12 * -(-zlib_stream // 8192)
    return 8 + 25 + idat + 12


# The largest result the API can return, which Finalize must accept (a paid result must never
# be refused for its size). Results are at most MAX_DIMENSION square; the largest lossless one
# is an 8-bit RGBA PNG of noise: png_size_bound(4096, 4096) = 67,231,853 bytes. 2 MiB more
# for metadata chunks (an ICC profile, EXIF, XMP), rounded up to whole MiB: 67 MiB. That also
# covers a 32-bit BMP or uncompressed TIFF (64 MiB of pixels) and a JPEG of noise at quality
# 100 without chroma subsampling (65.7 MiB measured). The engine's encoder checks its own
# output against this (correction_engine.codec), so the two cannot drift apart.
RESULT_METADATA_ALLOWANCE_BYTES: Final = 2 * 1024 * 1024
MAX_RESULT_BYTES: Final = -(
    -(png_size_bound(MAX_DIMENSION, MAX_DIMENSION) + RESULT_METADATA_ALLOWANCE_BYTES) // (1024 * 1024)
) * (1024 * 1024)
RESULT_URL_TTL_SECONDS: Final = 3600  # result URLs and results are kept 1 hour
RECOMMENDED_POLL_INTERVAL_SECONDS: Final = 1
RECOMMENDED_POLL_CAP_SECONDS: Final = 30
DEFAULT_QPS: Final = 2
PROGRESS_COMPLETE: Final = 100
