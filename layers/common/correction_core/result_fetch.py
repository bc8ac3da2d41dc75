"""Fetches a finished task's result image (signed URL or base64) under a download policy.

The result URL comes from a third party, so it is treated as untrusted: scheme, host allow-list,
size cap enforced while streaming, redirects refused unless they satisfy the same policy. The
format is sniffed from the bytes because the API does not document it.
"""

from __future__ import annotations

import base64
import binascii
import re
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple, cast

import httpx

from . import contract
from .capped_body import AS_IS, BodyEncodingRefused, BodyTooLarge, capped_chunks
from .errors import ApiTransportError, ApiUnavailable, ResultDownloadRefused, ResultUnavailable
from .imageheader import CONTENT_TYPES, sniff_format
from .redaction import redact_text, redact_url

__all__ = [
    "DownloadPolicy",
    "FetchedResult",
    "RESULT_FORMATS",
    "check_url_allowed",
    "decode_base64_result",
    "fetch_result_to_file",
    "host_allowed",
    "redact_url",
    "sniff_image",
]

# Formats a result may have; the destination key's extension is derived from these names.
RESULT_FORMATS = frozenset({"png", "jpeg", "webp", "tiff", "bmp"})

_DATA_URI = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class DownloadPolicy:
    """Where results may come from and how much of them we accept.

    ``allowed_hosts`` entries are exact hosts ("engine.local") or suffix patterns starting with
    a dot (".aoscdn.com", which also matches "aoscdn.com"); "*" allows any host. An empty tuple
    allows none, so a misconfigured list fails closed.
    """

    allowed_hosts: tuple[str, ...] = (".aoscdn.com",)
    allow_http: bool = False  # only for a configured local engine on plain HTTP
    # The largest result the API can return (see the contract): a paid result is never refused.
    max_bytes: int = contract.MAX_RESULT_BYTES
    timeout: httpx.Timeout = field(
        default_factory=lambda: httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)
    )
    # Wall-clock cap for one download: a server trickling bytes must not hold a Lambda forever.
    total_timeout: float = 60.0
    follow_redirects: bool = False
    max_redirects: int = 3
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        if isinstance(self.allowed_hosts, str):  # a bare string would be iterated per character
            object.__setattr__(self, "allowed_hosts", (self.allowed_hosts,))
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if self.ssl_context is not None and (
            self.ssl_context.verify_mode == ssl.CERT_NONE or not self.ssl_context.check_hostname
        ):
            raise ValueError("TLS verification cannot be turned off for result downloads")


class FetchedResult(NamedTuple):
    """The result image: unpacks as (data, image_format, content_type)."""

    data: bytes
    image_format: str
    content_type: str

    def __repr__(self) -> str:  # never dump megabytes of image into a log line
        return (
            f"FetchedResult(<{len(self.data)} bytes>, image_format={self.image_format!r}, "
            f"content_type={self.content_type!r})"
        )


def sniff_image(data: bytes) -> tuple[str, str]:
    """(format, content type) of result bytes; ResultUnavailable if they are not a result image."""
    fmt = sniff_format(data[:64])
    if fmt not in RESULT_FORMATS:
        what = fmt.upper() if fmt else "unrecognised"
        raise ResultUnavailable(f"result is not a PNG, JPEG, WebP, TIFF or BMP image ({what} bytes)")
    return fmt, CONTENT_TYPES[fmt]


def host_allowed(host: str, allowed_hosts: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    if not host:
        return False
    for entry in allowed_hosts:
        pattern = entry.strip().lower().rstrip(".")
        if pattern == "*":
            return True
        if pattern.startswith("*."):
            pattern = pattern[1:]
        if pattern.startswith("."):
            if host.endswith(pattern) or host == pattern[1:]:
                return True
        elif pattern and host == pattern:
            return True
    return False


def check_url_allowed(url: str | httpx.URL, policy: DownloadPolicy) -> httpx.URL:
    """The parsed URL if the policy allows it; ResultDownloadRefused (with a redacted URL) if not."""
    shown = redact_url(str(url))
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ResultDownloadRefused(f"result URL cannot be parsed: {shown}") from None
    scheme = parsed.scheme.lower()
    if scheme != "https" and not (scheme == "http" and policy.allow_http):
        raise ResultDownloadRefused(f"result URL scheme {scheme or '(none)'!r} is not allowed: {shown}")
    if parsed.userinfo:
        raise ResultDownloadRefused(f"result URL carries credentials: {shown}")
    if not host_allowed(parsed.host, policy.allowed_hosts):
        raise ResultDownloadRefused(f"result host {parsed.host!r} is not in the allow-list: {shown}")
    return parsed


def decode_base64_result(text: str, *, max_bytes: int | None = None) -> FetchedResult:
    """Decode a base64 result, with or without a ``data:image/...;base64,`` prefix."""
    body = text.strip()
    match = _DATA_URI.match(body)
    if match:
        if "base64" not in match.group("params").lower():
            raise ResultUnavailable("result data URI is not base64-encoded")
        body = body[match.end() :]
    body = _WHITESPACE.sub("", body)
    if not body:
        raise ResultUnavailable("result base64 is empty")
    # Checked before decoding so an enormous string is refused without a second copy in memory.
    if max_bytes is not None and len(body) * 3 // 4 > max_bytes + 2:
        raise ResultDownloadRefused(f"base64 result exceeds {max_bytes} bytes")
    if "-" in body or "_" in body:  # URL-safe alphabet seen in some encoders
        body = body.replace("-", "+").replace("_", "/")
    body += "=" * (-len(body) % 4)
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ResultUnavailable("result is not valid base64") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise ResultDownloadRefused(f"base64 result exceeds {max_bytes} bytes")
    fmt, content_type = sniff_image(data)
    return FetchedResult(data, fmt, content_type)


def _download(
    url: str,
    policy: DownloadPolicy,
    sink: BinaryIO,
    *,
    transport: httpx.BaseTransport | None,
    clock: Callable[[], float],
) -> tuple[str, str, int]:
    """Stream the result into ``sink`` under the policy; returns (format, content type, size)."""
    current = check_url_allowed(url, policy)
    kwargs: dict = {"timeout": policy.timeout, "follow_redirects": False}
    if transport is not None:
        kwargs["transport"] = transport
    elif policy.ssl_context is not None:
        kwargs["verify"] = policy.ssl_context
    deadline = clock() + policy.total_timeout
    with httpx.Client(**kwargs) as client:
        for _hop in range(policy.max_redirects + 1):
            shown = redact_url(str(current))
            try:
                with client.stream("GET", current, headers=AS_IS) as response:
                    if response.is_redirect:
                        current = _next_hop(current, response, policy)
                        continue
                    _raise_for_download_status(response.status_code, shown)
                    size, head = _read_capped(response, policy.max_bytes, deadline, clock, shown, sink)
            except httpx.TransportError as exc:
                raise ApiTransportError(
                    f"downloading the result from {shown} failed: "
                    f"{type(exc).__name__}: {redact_text(str(exc))}"
                ) from None
            fmt, content_type = sniff_image(head)
            return fmt, content_type, size
    raise ResultDownloadRefused(f"more than {policy.max_redirects} redirects for {redact_url(str(url))}")


@dataclass
class SpooledResult:
    """A result held in a spooled temporary file (memory up to SPOOL_MEMORY_BYTES, then disk)."""

    file: BinaryIO
    image_format: str
    content_type: str
    size: int


SPOOL_MEMORY_BYTES = 8 * 1024 * 1024


def fetch_result_to_file(
    image: str,
    policy: DownloadPolicy = DownloadPolicy(),
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SpooledResult:
    """The result from ``data.image``: a URL is streamed to a spooled file under the policy (never
    held whole in memory), anything else decoded as base64.

    The caller closes ``file``; it is positioned at the start, ready for ``upload_fileobj``.
    """
    if not image or not image.strip():
        raise ResultUnavailable("task has no result image")
    text = image.strip()
    # SpooledTemporaryFile is a binary file in all but its declared type.
    # Closed here on failure, or by the caller through SpooledResult: no context manager fits.
    spool = cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES))  # noqa: SIM115
    try:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
            fmt, content_type, size = _download(text, policy, spool, transport=transport, clock=clock)
        else:
            decoded = decode_base64_result(text, max_bytes=policy.max_bytes)
            spool.write(decoded.data)
            fmt, content_type, size = decoded.image_format, decoded.content_type, len(decoded.data)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return SpooledResult(spool, fmt, content_type, size)


def _next_hop(current: httpx.URL, response: httpx.Response, policy: DownloadPolicy) -> httpx.URL:
    shown = redact_url(str(current))
    if not policy.follow_redirects:
        raise ResultDownloadRefused(
            f"result URL redirected (HTTP {response.status_code}); redirects are not followed: {shown}"
        )
    location = response.headers.get("location")
    if not location:
        raise ResultUnavailable(f"result URL redirected without a Location: {shown}")
    target = current.join(location)
    # Same policy, and never a change of scheme (an https result must not continue over http).
    if target.scheme.lower() != current.scheme.lower():
        raise ResultDownloadRefused(
            f"result redirect changes scheme to {target.scheme!r}: {redact_url(str(target))}"
        )
    return check_url_allowed(target, policy)


def _raise_for_download_status(status: int, shown: str) -> None:
    if 200 <= status < 300:
        if status != 200:
            raise ResultUnavailable(f"result download answered HTTP {status}, expected 200: {shown}")
        return
    if status >= 500 or status == 429:
        # The storage behind the URL is struggling: worth retrying, the URL is still valid.
        raise ApiUnavailable(f"result download answered HTTP {status}: {shown}", http_status=status)
    # 403 is what expired signed URLs answer; 404/410 a removed result. Retrying will not help.
    raise ResultUnavailable(f"result download answered HTTP {status} (missing or expired): {shown}")


def _read_capped(
    response: httpx.Response,
    max_bytes: int,
    deadline: float,
    clock: Callable[[], float],
    shown: str,
    sink: BinaryIO,
) -> tuple[int, bytes]:
    """Copy the body into ``sink`` under the cap; returns (size, its first bytes for sniffing)."""
    declared = response.headers.get("content-length")
    if declared and declared.strip().isdigit() and int(declared) > max_bytes:
        raise ResultDownloadRefused(
            f"result declares {int(declared)} bytes, over the {max_bytes}-byte cap: {shown}"
        )
    size = 0
    head = b""
    try:
        # Counted on decoded bytes, and never inflated past the cap (see capped_body).
        for chunk in capped_chunks(response, max_bytes):
            size += len(chunk)
            if len(head) < _SNIFF_BYTES:
                head += chunk[: _SNIFF_BYTES - len(head)]
            sink.write(chunk)
            if clock() > deadline:
                raise ApiTransportError(f"downloading the result took too long: {shown}")
    except BodyTooLarge:
        raise ResultDownloadRefused(f"result exceeds the {max_bytes}-byte cap: {shown}") from None
    except BodyEncodingRefused as exc:
        raise ResultDownloadRefused(f"result refused: {exc}: {shown}") from None
    return size, head


_SNIFF_BYTES = 64
