"""Downloading ``image_url`` sources without becoming a proxy into the engine's own network.

Every hop (the first URL and each redirect) goes through the same guard, inside the
connection itself: the host name is resolved once, every address it resolves to must be
public (or inside a range the operator allowed), and the socket is opened to that checked
address, so a second lookup cannot swap it (DNS rebinding). TLS still verifies the host
name (SNI and certificate), because only the TCP connect is redirected to the address.
Numeric hosts must be written canonically (``127.1``, ``2130706433``, ``0x7f.1`` are
refused), so no spelling is read one way here and another way by a resolver.

Time and size are bounded: the whole download (all hops) must finish within
``url_fetch_deadline_seconds`` and within the task's own deadline. The deadline is enforced
inside the network layer, not between chunks: the name lookup, each connect attempt, the TLS
handshake and every read and write get at most what is left of it, so a source that drips its
headers (or a handshake, or a list of black-holed addresses) cannot hold a worker past it. No
cookie is ever kept: one client serves every tenant, so a stored cookie would leak between them.
The body is capped at the contract's 30 MB. Failures carry the contract's task state: -5 over the size cap, -3 for
everything else, with one message for every way of not reaching a source (refused address,
closed port, timeout, TLS), so answers cannot be used to map a network.
"""

from __future__ import annotations

import contextvars
import http.cookiejar
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from correction_core import contract
from correction_core.capped_body import AS_IS, BodyEncodingRefused, BodyTooLarge, capped_chunks

from .settings import EngineSettings

ALLOWED_SCHEMES = ("http", "https")
UNREACHABLE = "could not download the source"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

# Hosts made only of numbers (decimal, octal, hex, 1-4 parts): an address, however spelled.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class FetchError(Exception):
    state: int = contract.STATE_DOWNLOAD_FAILED


class SourceTooLarge(FetchError):
    state = contract.STATE_URL_IMAGE_TOO_LARGE


class AddressRefused(httpcore.ConnectError):
    """Raised inside the connection; httpx reports it as a ConnectError like any other."""


def is_fetchable_url(url: str) -> bool:
    """Absolute http(s) URL with a host that httpx can parse; anything else is a bad parameter (400)."""
    try:
        parts = urlsplit(url)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        return False
    return parts.scheme.lower() in ALLOWED_SCHEMES and bool(parts.hostname)


# --- which addresses may be reached -------------------------------------------------------------


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses carried inside an IPv6 one (mapped, 6to4, Teredo client, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [address.ipv4_mapped, address.sixtofour]
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in network for network in _NAT64):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast, and so is any IPv4 address it embeds."""
    if any(not is_public(inner) for inner in embedded_ipv4(address)):
        return False
    special = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )
    # is_global also excludes shared address space (CGNAT, 100.64.0.0/10).
    return address.is_global and not special


class AddressPolicy:
    """Public addresses, plus the ranges the operator named (e.g. 127.0.0.0/8 for tests)."""

    def __init__(self, allowed: Iterable[str | IPNetwork] = ()):
        self.allowed: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n, strict=False) for n in allowed)

    def permits(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # one address, one verdict, whichever way it is written
        if any(address.version == n.version and address in n for n in self.allowed):
            return True
        return is_public(address)


def refuses_host_spelling(host: str) -> bool:
    """Numeric hosts other than a canonical dotted quad (IPv6 literals arrive without brackets)."""
    if not _NUMERIC_HOST.match(host):
        return False
    try:
        return str(ipaddress.IPv4Address(host)) != host
    except ValueError:
        return True


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


# --- the fetch's deadline, seen by every network operation ---------------------------------------

# The monotonic instant the current fetch must end by. A context variable because the backend
# (and its pooled connections) is shared, while the deadline belongs to the fetch in this thread.
_ENDS: contextvars.ContextVar[float | None] = contextvars.ContextVar("fetch_ends", default=None)


def _bounded(timeout: float | None, exc: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the fetch's deadline; ``exc`` once nothing is left."""
    ends = _ENDS.get()
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise exc("fetch deadline passed")
    return left if timeout is None else min(timeout, left)


def _resolve_within(resolver: Resolver, host: str, port: int) -> Sequence[str]:
    """The lookup, waited on for at most the remaining deadline.

    getaddrinfo cannot be interrupted, so it runs in a daemon thread that is abandoned (it ends
    when the system resolver gives up) rather than holding the worker.
    """
    wait = _bounded(None, httpcore.ConnectTimeout)
    if wait is None:
        return resolver(host, port)
    outcome: list[Any] = []

    def lookup() -> None:
        try:
            outcome.append(resolver(host, port))
        except BaseException as exc:  # handed to the waiting thread
            outcome.append(exc)

    thread = threading.Thread(target=lookup, name="fetch-resolve", daemon=True)
    thread.start()
    thread.join(wait)
    if not outcome:
        raise httpcore.ConnectTimeout("name resolution timed out")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    result: Sequence[str] = outcome[0]
    return result


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every wait is cut to the current fetch's remaining deadline.

    The deadline is read at each call, not when the stream was opened, because a pooled
    connection can serve a later fetch with a later deadline.
    """

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # CPython's SSL handshake treats the socket timeout as a limit on the whole handshake,
        # not on each read, so cutting it to the remaining deadline bounds a dripped handshake
        # (test_a_dripped_tls_handshake_is_cut_off_at_the_deadline).
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _NoCookies(http.cookiejar.CookieJar):
    """A jar that never stores: sources' cookies must not follow one tenant's fetch into another's."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend with the address check between resolving and connecting."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None):
        self._policy = policy
        self._resolver = resolver or system_resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if refuses_host_spelling(host):
            raise AddressRefused("refused host spelling")
        try:
            names = _resolve_within(self._resolver, host, port)
            resolved = [ipaddress.ip_address(a.split("%", 1)[0]) for a in names]
        except (OSError, ValueError) as exc:
            raise httpcore.ConnectError("name resolution failed") from exc
        if not resolved or not all(self._policy.permits(a) for a in resolved):
            raise AddressRefused("refused address")
        last: Exception | None = None
        for address in dict.fromkeys(resolved):  # in resolver order, each once
            # Each attempt gets what is left, and none starts once the deadline has passed.
            attempt = _bounded(timeout, httpcore.ConnectTimeout)
            try:
                stream = super().connect_tcp(str(address), port, attempt, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            return DeadlineStream(stream)
        raise last if last is not None else AddressRefused("no address")


def guarded_transport(settings: EngineSettings) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(verify=settings.url_fetch_verify, trust_env=False)
    # httpx has no public hook for the network backend; the pool it builds is replaced with the
    # same pool over the guarded backend (same TLS context, so verification is unchanged).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=transport._pool._ssl_context,
        network_backend=GuardedBackend(
            AddressPolicy(settings.url_fetch_allowed_networks), settings.url_fetch_resolver
        ),
    )
    return transport


# --- the download ------------------------------------------------------------------------------


class SourceFetcher:
    def __init__(self, settings: EngineSettings):
        self._settings = settings
        self._client = httpx.Client(
            follow_redirects=False,  # hops are followed below, each within the total deadline
            transport=settings.url_fetch_transport or guarded_transport(settings),
            trust_env=False,  # no proxies from the environment: sources are fetched directly
            cookies=_NoCookies(),
        )

    def fetch(self, url: str, deadline: float | None = None) -> bytes:
        """The body at ``url``; ``deadline`` is on the settings' clock (the task's limit)."""
        settings = self._settings
        budget = settings.url_fetch_deadline_seconds
        if deadline is not None:
            budget = min(budget, deadline - settings.clock())
        ends = time.monotonic() + budget
        token = _ENDS.set(ends)
        try:
            return self._fetch(url, ends)
        except FetchError:
            raise
        except (
            httpx.HTTPError,
            httpx.InvalidURL,
            httpcore.NetworkError,
            httpcore.TimeoutException,
            OSError,
        ) as exc:
            raise FetchError(UNREACHABLE) from exc
        finally:
            _ENDS.reset(token)

    def _remaining(self, ends: float) -> float:
        left = ends - time.monotonic()
        if left <= 0:
            raise FetchError(UNREACHABLE)
        return left

    def _fetch(self, url: str, ends: float) -> bytes:
        settings = self._settings
        cap = settings.max_url_image_bytes
        request = self._client.build_request("GET", url, headers=AS_IS)
        for _hop in range(settings.url_fetch_max_redirects + 1):
            # The network layer also cuts every wait to what is left (see DeadlineStream).
            per_read = min(self._remaining(ends), settings.url_fetch_timeout_seconds)
            request.extensions["timeout"] = httpx.Timeout(per_read).as_dict()
            response = self._client.send(request, stream=True)
            try:
                if response.is_redirect and response.next_request is not None:
                    request = response.next_request
                    continue
                if response.status_code != 200:
                    raise FetchError(f"source answered HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > cap:
                    raise SourceTooLarge(f"source declares {declared} bytes, over the {cap}-byte limit")
                body = bytearray()
                try:
                    for chunk in capped_chunks(response, cap):
                        body += chunk
                        self._remaining(ends)
                except BodyTooLarge:
                    raise SourceTooLarge(f"source exceeds the {cap}-byte limit") from None
                except BodyEncodingRefused as exc:
                    raise FetchError(f"source refused: {exc}") from None
                return bytes(body)
            finally:
                response.close()
        raise FetchError(UNREACHABLE)

    def close(self) -> None:
        self._client.close()
