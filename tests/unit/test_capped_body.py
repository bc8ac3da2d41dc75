"""Downloads of images under a size cap that holds after decoding (review: nested gzip in a
3.5 KB body inflated to 4 GB inside httpx before any cap could be checked). Both downloads use
it: the engine fetching an ``image_url`` and Finalize fetching a result."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import httpx
import pytest

from correction_core.capped_body import BodyEncodingRefused, BodyTooLarge, capped_chunks
from correction_core.errors import ResultDownloadRefused
from correction_core.result_fetch import DownloadPolicy, fetch_result_to_file

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40


def _gzip_of_zeros(size: int) -> bytes:
    """``size`` zero bytes gzipped in pieces (a bomb: ~1000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [packer.compress(block[: min(len(block), size - i)]) for i in range(0, size, len(block))]
    return b"".join(parts) + packer.flush()


def _response(body: bytes, encoding: str | None) -> httpx.Response:
    headers = {"Content-Type": "image/jpeg"}
    if encoding:
        headers["Content-Encoding"] = encoding
    request = httpx.Request("GET", "https://result.aoscdn.com/x.jpg")
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body), request=request)


def _read(response: httpx.Response, cap: int) -> bytes:
    return b"".join(capped_chunks(response, cap))


def test_a_plain_body_and_a_gzipped_one_read_the_same():
    assert _read(_response(JPEG, None), 1 << 20) == JPEG
    assert _read(_response(gzip.compress(JPEG), "gzip"), 1 << 20) == JPEG
    assert _read(_response(zlib.compress(JPEG), "deflate"), 1 << 20) == JPEG
    assert _read(_response(JPEG, "identity"), 1 << 20) == JPEG


@pytest.mark.parametrize("encoding", ["none", "binary", "identity, none"])
def test_a_coding_that_names_no_compression_is_read_as_it_is(encoding):
    # Review: S3 returns whatever Content-Encoding the uploader stored; httpx reads these as is.
    assert _read(_response(JPEG, encoding), 1 << 20) == JPEG


def test_raw_deflate_without_the_zlib_header_is_read_too():
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = packer.compress(JPEG) + packer.flush()
    assert _read(_response(raw, "deflate"), 1 << 20) == JPEG


def test_a_gzip_bomb_is_stopped_at_the_cap_without_inflating_it():
    bomb = _gzip_of_zeros(400 << 20)  # 400 MB of zeros in ~400 KB
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            _read(_response(bomb, "gzip"), 10 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The cap and one network read, not the 400 MB (httpx's own decoding reached it whole).
    assert peak < 40 << 20, peak


@pytest.mark.parametrize("encoding", ["gzip, gzip", "br", "zstd", "compress", "gzip, br"])
def test_nested_or_unknown_encodings_are_refused_before_reading(encoding):
    with pytest.raises(BodyEncodingRefused):
        _read(_response(gzip.compress(gzip.compress(JPEG)), encoding), 1 << 20)


def test_a_cut_or_broken_compressed_body_is_refused():
    packed = gzip.compress(JPEG)
    with pytest.raises(BodyEncodingRefused):
        _read(_response(packed[: len(packed) // 2], "gzip"), 1 << 20)
    with pytest.raises(BodyEncodingRefused):
        _read(_response(b"not gzip at all" * 10, "gzip"), 1 << 20)


def test_finalize_asks_for_the_result_as_it_is_and_refuses_a_nested_bomb():
    seen: list[httpx.Request] = []
    bomb = gzip.compress(_gzip_of_zeros(200 << 20))

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"Content-Encoding": "gzip, gzip"}, stream=httpx.ByteStream(bomb))

    with pytest.raises(ResultDownloadRefused, match="gzip, gzip"):
        fetch_result_to_file(
            "https://result.aoscdn.com/out/a.jpg",
            DownloadPolicy(max_bytes=10 << 20),
            transport=httpx.MockTransport(handler),
        )
    assert seen[0].headers["accept-encoding"] == "identity"


def test_the_engine_asks_for_the_source_as_it_is_and_refuses_a_nested_bomb():
    from correction_engine.server.fetching import FetchError, SourceFetcher, SourceTooLarge
    from correction_engine.server.settings import EngineSettings

    seen: list[httpx.Request] = []
    bomb = gzip.compress(_gzip_of_zeros(200 << 20))
    single = _gzip_of_zeros(200 << 20)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        nested = request.url.path.endswith("nested.jpg")
        return httpx.Response(
            200,
            headers={"Content-Encoding": "gzip, gzip" if nested else "gzip"},
            content=bomb if nested else single,
        )

    fetcher = SourceFetcher(EngineSettings(api_keys=("k",), url_fetch_transport=httpx.MockTransport(handler)))
    try:
        with pytest.raises(FetchError, match="gzip, gzip"):
            fetcher.fetch("https://photos.example.com/nested.jpg")
        with pytest.raises(SourceTooLarge):
            fetcher.fetch("https://photos.example.com/single.jpg")
    finally:
        fetcher.close()
    assert [r.headers["accept-encoding"] for r in seen] == ["identity", "identity"]
