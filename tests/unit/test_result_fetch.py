"""Unit tests of result fetching: the download policy, streaming cap, base64 and format sniffing."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator

import httpx
import pytest

from correction_core.errors import (
    ApiTransportError,
    ApiUnavailable,
    ResultDownloadRefused,
    ResultUnavailable,
)
from correction_core.result_fetch import (
    DownloadPolicy,
    FetchedResult,
    check_url_allowed,
    decode_base64_result,
    fetch_result_to_file,
    host_allowed,
    redact_url,
    sniff_image,
)

SIGNATURE = "Signature=SIGSECRETabc%2Bdef"


def fetch_result(image: str, policy: DownloadPolicy | None = None, **kwargs) -> FetchedResult:
    """The production path, fetch_result_to_file, read back whole for the assertions."""
    spooled = fetch_result_to_file(image, policy or DownloadPolicy(), **kwargs)
    with spooled.file:
        return FetchedResult(spooled.file.read(), spooled.image_format, spooled.content_type)


URL = f"https://result.aoscdn.com/out/abc.png?Expires=1700003600&OSSAccessKeyId=AK&{SIGNATURE}"

PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR"  # signature, then a 16 x 16 RGBA header
    + b"\x00\x00\x00\x10" * 2
    + b"\x08\x06\x00\x00\x00"
    + b"\x00" * 8
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
TIFF_LE = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 32
TIFF_BE = b"MM\x00*\x00\x00\x00\x08" + b"\x00" * 32
BMP = b"BM" + b"\x00" * 40
GIF = b"GIF89a" + b"\x00" * 32
HTML = b"<html><body>AccessDenied</body></html>"

IMAGES = [
    (PNG, "png", "image/png"),
    (JPEG, "jpeg", "image/jpeg"),
    (WEBP, "webp", "image/webp"),
    (TIFF_LE, "tiff", "image/tiff"),
    (TIFF_BE, "tiff", "image/tiff"),
    (BMP, "bmp", "image/bmp"),
]


class Recorder:
    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


# --- formats --------------------------------------------------------------------------------------


@pytest.mark.parametrize("data, fmt, content_type", IMAGES)
def test_sniff_known_formats(data, fmt, content_type):
    assert sniff_image(data) == (fmt, content_type)


@pytest.mark.parametrize("data", [HTML, GIF, b"", b"\x00\x01\x02", b'{"status":200}'])
def test_non_images_are_unavailable(data):
    with pytest.raises(ResultUnavailable) as caught:
        sniff_image(data)
    assert not isinstance(caught.value, ResultDownloadRefused)


# --- URL downloads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("data, fmt, content_type", IMAGES)
def test_url_download_returns_bytes_format_and_type_from_the_bytes(data, fmt, content_type):
    # The server's content type is deliberately wrong: the bytes decide.
    rec = Recorder(httpx.Response(200, content=data, headers={"content-type": "application/octet-stream"}))
    result = fetch_result(URL, DownloadPolicy(), transport=rec.transport)
    assert isinstance(result, FetchedResult)
    assert result == (data, fmt, content_type)
    got_data, got_fmt, got_type = result  # unpacks as the (bytes, format, content_type) triple
    assert (got_fmt, got_type) == (fmt, content_type)
    assert str(len(data)) in repr(result) and "\\x" not in repr(result)


def test_signed_query_is_sent_byte_for_byte():
    rec = Recorder(httpx.Response(200, content=PNG))
    fetch_result(URL, transport=rec.transport)
    sent = rec.requests[0].url
    assert sent.host == "result.aoscdn.com"
    assert sent.raw_path.decode() == URL.split("result.aoscdn.com", 1)[1]


def test_http_refused_by_default_and_allowed_when_configured():
    rec = Recorder(httpx.Response(200, content=PNG))
    http_url = URL.replace("https://", "http://")
    with pytest.raises(ResultDownloadRefused):
        fetch_result(http_url, DownloadPolicy(), transport=rec.transport)
    assert rec.requests == []
    local = DownloadPolicy(allowed_hosts=("127.0.0.1",), allow_http=True)
    result = fetch_result("http://127.0.0.1:8080/results/a.png", local, transport=rec.transport)
    assert result.image_format == "png"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/a.png",
        "https://evilaoscdn.com/a.png",  # suffix match is on a label boundary
        "https://aoscdn.com.evil.example/a.png",
        "https://user:pw@result.aoscdn.com/a.png",
        "ftp://result.aoscdn.com/a.png",
        "file:///etc/passwd",
        "https:///nohost.png",
    ],
)
def test_urls_outside_the_policy_are_refused_without_a_request(url):
    rec = Recorder(httpx.Response(200, content=PNG))
    with pytest.raises(ResultDownloadRefused):
        fetch_result(url, DownloadPolicy(), transport=rec.transport)
    assert rec.requests == []


@pytest.mark.parametrize(
    "host, allowed, expected",
    [
        ("techhk.aoscdn.com", (".aoscdn.com",), True),
        ("a.b.aoscdn.com", ("*.aoscdn.com",), True),
        ("aoscdn.com", (".aoscdn.com",), True),
        ("AOSCDN.com.", (".aoscdn.com",), True),
        ("xaoscdn.com", (".aoscdn.com",), False),
        ("engine", ("engine",), True),
        ("engine2", ("engine",), False),
        ("anything.example", ("*",), True),
        ("techhk.aoscdn.com", (), False),  # an empty list fails closed
    ],
)
def test_host_allow_list(host, allowed, expected):
    assert host_allowed(host, allowed) is expected


def test_a_bare_string_allow_list_is_one_host_not_characters():
    policy = DownloadPolicy(allowed_hosts="engine")  # type: ignore[arg-type]
    assert check_url_allowed("https://engine/a.png", policy).host == "engine"


def test_oversized_result_is_refused_while_streaming():
    served: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield PNG
        for i in range(1000):  # 1000 x 1 KiB; the cap is 4 KiB
            served.append(i)
            yield b"\x00" * 1024

    rec = Recorder(httpx.Response(200, content=chunks()))
    with pytest.raises(ResultDownloadRefused, match="cap"):
        fetch_result(URL, DownloadPolicy(max_bytes=4096), transport=rec.transport)
    assert len(served) < 20  # stopped reading soon after the cap


def test_declared_oversize_is_refused_before_reading():
    rec = Recorder(httpx.Response(200, content=PNG, headers={"content-length": str(10**9)}))
    with pytest.raises(ResultDownloadRefused):
        fetch_result(URL, DownloadPolicy(max_bytes=1024), transport=rec.transport)


def test_slow_trickle_hits_the_total_timeout():
    now = [0.0]

    def clock() -> float:
        now[0] += 10.0
        return now[0]

    rec = Recorder(httpx.Response(200, content=iter([PNG, b"\x00" * 10, b"\x00" * 10])))
    with pytest.raises(ApiTransportError):
        fetch_result(URL, DownloadPolicy(total_timeout=15.0), transport=rec.transport, clock=clock)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_refused_by_default(status):
    rec = Recorder(
        httpx.Response(status, headers={"location": "https://result.aoscdn.com/b.png"}),
        httpx.Response(200, content=PNG),
    )
    with pytest.raises(ResultDownloadRefused, match="redirect"):
        fetch_result(URL, DownloadPolicy(), transport=rec.transport)
    assert len(rec.requests) == 1


def test_same_policy_redirect_is_followed_when_enabled():
    rec = Recorder(
        httpx.Response(302, headers={"location": "https://cdn2.aoscdn.com/b.png?sig=1"}),
        httpx.Response(200, content=JPEG),
    )
    result = fetch_result(URL, DownloadPolicy(follow_redirects=True), transport=rec.transport)
    assert result.image_format == "jpeg"
    assert str(rec.requests[1].url) == "https://cdn2.aoscdn.com/b.png?sig=1"


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.example.com/b.png",
        "http://result.aoscdn.com/b.png",  # scheme change is refused even if http were allowed
    ],
)
def test_redirect_outside_the_policy_is_refused_even_when_enabled(location):
    rec = Recorder(httpx.Response(302, headers={"location": location}), httpx.Response(200, content=PNG))
    policy = DownloadPolicy(follow_redirects=True, allow_http=True)
    with pytest.raises(ResultDownloadRefused):
        fetch_result(URL, policy, transport=rec.transport)
    assert len(rec.requests) == 1


def test_redirect_loops_are_bounded():
    rec = Recorder(httpx.Response(302, headers={"location": "https://result.aoscdn.com/again.png"}))
    with pytest.raises(ResultDownloadRefused):
        fetch_result(URL, DownloadPolicy(follow_redirects=True, max_redirects=2), transport=rec.transport)
    assert len(rec.requests) == 3


@pytest.mark.parametrize("status", [403, 404, 410, 400])
def test_missing_or_expired_results_are_unavailable(status):
    body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    rec = Recorder(httpx.Response(status, content=body))
    with pytest.raises(ResultUnavailable) as caught:
        fetch_result(URL, transport=rec.transport)
    assert not isinstance(caught.value, ResultDownloadRefused)
    assert SIGNATURE not in str(caught.value)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_storage_trouble_is_transient(status):
    rec = Recorder(httpx.Response(status))
    with pytest.raises(ApiUnavailable) as caught:
        fetch_result(URL, transport=rec.transport)
    assert caught.value.transient


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("reset")]
)
def test_transport_errors_while_downloading_are_transient(exc):
    rec = Recorder(exc)
    with pytest.raises(ApiTransportError) as caught:
        fetch_result(URL, transport=rec.transport)
    assert SIGNATURE not in str(caught.value)


def test_non_image_body_is_unavailable():
    rec = Recorder(httpx.Response(200, content=HTML, headers={"content-type": "image/png"}))
    with pytest.raises(ResultUnavailable):
        fetch_result(URL, transport=rec.transport)


def test_policy_refuses_insecure_tls_context():
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    with pytest.raises(ValueError):
        DownloadPolicy(ssl_context=insecure)


@pytest.mark.parametrize(
    "bad",
    [
        "https://evil.example.com/a.png?" + SIGNATURE,
        "http://result.aoscdn.com/a.png?" + SIGNATURE,
    ],
)
def test_refusals_never_show_the_signature(bad):
    with pytest.raises(ResultDownloadRefused) as caught:
        fetch_result(bad, transport=Recorder(httpx.Response(200, content=PNG)).transport)
    assert SIGNATURE not in str(caught.value)
    assert "SIGSECRET" not in repr(caught.value)


def test_redact_url_strips_the_query():
    assert "SIGSECRET" not in redact_url(URL)
    assert redact_url(URL).startswith("https://result.aoscdn.com/out/abc.png")
    assert redact_url("https://a.example/x.png") == "https://a.example/x.png"


# --- base64 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data, fmt, content_type", IMAGES)
@pytest.mark.parametrize("prefix", ["", "data:image/png;base64,", "DATA:image/whatever;charset=x;base64,"])
def test_base64_with_and_without_data_prefix(data, fmt, content_type, prefix):
    encoded = base64.b64encode(data).decode()
    assert fetch_result(prefix + encoded) == (data, fmt, content_type)


def test_base64_tolerates_whitespace_missing_padding_and_urlsafe_alphabet():
    encoded = base64.b64encode(PNG + b"\xfb\xff").decode()
    wrapped = "\n".join(encoded[i : i + 16] for i in range(0, len(encoded), 16))
    assert decode_base64_result("  " + wrapped + "\r\n").data == PNG + b"\xfb\xff"
    assert decode_base64_result(encoded.rstrip("=")).data == PNG + b"\xfb\xff"
    urlsafe = base64.urlsafe_b64encode(PNG + b"\xfb\xff").decode()
    assert "-" in urlsafe or "_" in urlsafe
    assert decode_base64_result(urlsafe).data == PNG + b"\xfb\xff"


@pytest.mark.parametrize(
    "text",
    [
        "not base64 at all!",
        "data:image/png,rawdata",
        "   ",
        base64.b64encode(HTML).decode(),
        "data:image/png;base64,",
    ],
)
def test_bad_base64_is_unavailable(text):
    with pytest.raises(ResultUnavailable):
        fetch_result(text)


def test_base64_over_the_cap_is_refused():
    encoded = base64.b64encode(PNG + b"\x00" * 5000).decode()
    with pytest.raises(ResultDownloadRefused):
        fetch_result(encoded, DownloadPolicy(max_bytes=1000))


def test_empty_result_is_unavailable():
    with pytest.raises(ResultUnavailable):
        fetch_result("")


def test_the_largest_result_the_api_can_return_is_accepted_by_the_pipelines_policy():
    """A 4096 x 4096 RGBA PNG of noise, stored without compression (what deflate falls back to
    when compressing would expand), is the largest result; Finalize's policy must take it."""
    import io
    from types import SimpleNamespace

    import numpy as np
    from PIL import Image

    from correction_core import contract
    from correction_core.finalization import download_policy
    from correction_core.settings import Settings

    side = contract.MAX_DIMENSION
    noise = np.random.default_rng(7).integers(0, 256, (side, side, 4), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG", compress_level=0)
    largest = buffer.getvalue()
    assert len(largest) > 64 * 1024 * 1024  # really past the old 50 MB cap
    pipeline_policy = download_policy(SimpleNamespace(settings=Settings.from_env({}), time_left=lambda: None))
    for policy in (pipeline_policy, DownloadPolicy()):
        rec = Recorder(httpx.Response(200, content=largest))
        fetched = fetch_result(URL, policy, transport=rec.transport)
        assert len(fetched.data) == len(largest) and fetched.image_format == "png"
    # The cap is derived from this bound; a real encoder's worst case must stay under it.
    assert len(largest) <= contract.png_size_bound(side, side) <= contract.MAX_RESULT_BYTES
