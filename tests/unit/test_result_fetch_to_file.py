"""fetch_result_to_file, the fetch Finalize calls: a URL streamed into a spooled file under the
download policy, or base64 decoded into one; the file is handed back at its start, or closed
when the fetch fails (a Lambda reused for thousands of results must not leak temporary files).
"""

from __future__ import annotations

import base64
import hashlib
import tempfile

import httpx
import pytest

from correction_core import result_fetch
from correction_core.errors import ApiUnavailable, ResultDownloadRefused, ResultUnavailable
from correction_core.result_fetch import SPOOL_MEMORY_BYTES, DownloadPolicy, fetch_result_to_file

SIGNED_URL = "https://result.aoscdn.com/out/abc.png?Expires=1700003600&OSSAccessKeyId=AK&Signature=S%2Bx"
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00\x00\x00\x10" * 2 + b"\x08\x06\x00\x00\x00"
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


def _body(head: bytes, size: int) -> bytes:
    # Not constant filler: a copy that dropped or reordered a chunk would not match the digest.
    filler = hashlib.sha256(b"seed").digest() * (size // 32 + 1)
    return (head + filler)[:size]


@pytest.fixture
def spools(monkeypatch):
    """Every spool the fetch opens, so a test can see whether it was closed."""
    opened: list[tempfile.SpooledTemporaryFile] = []

    class Recorded(tempfile.SpooledTemporaryFile):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(result_fetch.tempfile, "SpooledTemporaryFile", Recorded)
    return opened


def _serve(*responses: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return httpx.MockTransport(handler), seen


def test_a_result_larger_than_the_memory_spool_arrives_whole_and_rewound(spools):
    data = _body(PNG_HEAD, SPOOL_MEMORY_BYTES + 3 * 1024 * 1024 + 7)
    step = 1 << 20
    chunks = [data[i : i + step] for i in range(0, len(data), step)]
    transport, seen = _serve(httpx.Response(200, content=iter(chunks)))
    result = fetch_result_to_file(SIGNED_URL, transport=transport)
    try:
        assert (result.image_format, result.content_type, result.size) == ("png", "image/png", len(data))
        assert result.file.tell() == 0  # ready for upload_fileobj without a seek
        assert hashlib.sha256(result.file.read()).digest() == hashlib.sha256(data).digest()
    finally:
        result.file.close()
    # The signed query goes out exactly as the API gave it: re-encoding would break the signature.
    assert seen[0].url.raw_path.decode() == SIGNED_URL.split("result.aoscdn.com", 1)[1]


@pytest.mark.parametrize("wrap", [lambda b: b, lambda b: "data:image/jpeg;base64," + b])
def test_a_base64_result_is_decoded_into_the_file(spools, wrap):
    data = _body(JPEG_HEAD, 5000)
    result = fetch_result_to_file("  " + wrap(base64.b64encode(data).decode()) + "\n")
    try:
        assert (result.image_format, result.size) == ("jpeg", len(data))
        assert result.file.read() == data
    finally:
        result.file.close()


@pytest.mark.parametrize(
    "response, policy, error",
    [
        (httpx.Response(403, content=b"expired"), DownloadPolicy(), ResultUnavailable),
        (httpx.Response(503), DownloadPolicy(), ApiUnavailable),
        (httpx.Response(200, content=b"<html>AccessDenied</html>"), DownloadPolicy(), ResultUnavailable),
        (  # a body past the cap is refused while streaming, whatever it declares
            httpx.Response(200, content=iter([PNG_HEAD + b"\0" * 600, b"\0" * 600])),
            DownloadPolicy(max_bytes=1000),
            ResultDownloadRefused,
        ),
        (
            httpx.Response(302, headers={"location": "https://result.aoscdn.com/elsewhere.png"}),
            DownloadPolicy(),
            ResultDownloadRefused,
        ),
    ],
)
def test_a_failed_download_raises_its_class_and_closes_the_spool(spools, response, policy, error):
    transport, _ = _serve(response)
    with pytest.raises(error):
        fetch_result_to_file(SIGNED_URL, policy, transport=transport)
    assert len(spools) == 1 and spools[0].closed


def test_a_refused_host_sends_nothing_and_closes_the_spool(spools):
    transport, seen = _serve(httpx.Response(200, content=PNG_HEAD))
    with pytest.raises(ResultDownloadRefused):
        fetch_result_to_file("https://evil.example.com/a.png", transport=transport)
    assert seen == [] and all(spool.closed for spool in spools)


@pytest.mark.parametrize("image", ["", "   ", "not base64 at all!"])
def test_no_usable_result_is_unavailable(spools, image):
    with pytest.raises(ResultUnavailable):
        fetch_result_to_file(image)
    assert all(spool.closed for spool in spools)


def test_a_base64_result_over_the_cap_is_refused(spools):
    text = base64.b64encode(_body(PNG_HEAD, 2000)).decode()
    with pytest.raises(ResultDownloadRefused):
        fetch_result_to_file(text, DownloadPolicy(max_bytes=1000))
    assert spools and all(spool.closed for spool in spools)
