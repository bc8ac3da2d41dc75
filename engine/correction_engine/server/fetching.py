"""Downloading ``image_url`` sources: http(s) only, TLS verified, time- and size-capped.

Runs inside a worker thread, so at most ``workers`` downloads (each capped at the contract's
30 MB) are held in memory at once. Failures carry the contract's task state: -5 over the
size cap, -3 for everything else (DNS, refused, TLS, timeout, HTTP error status).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from correction_core import contract

from .settings import EngineSettings

ALLOWED_SCHEMES = ("http", "https")


class FetchError(Exception):
    state: int = contract.STATE_DOWNLOAD_FAILED


class SourceTooLarge(FetchError):
    state = contract.STATE_URL_IMAGE_TOO_LARGE


def is_fetchable_url(url: str) -> bool:
    """Absolute http(s) URL with a host; anything else is a bad parameter (400)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ALLOWED_SCHEMES and bool(parts.hostname)


class SourceFetcher:
    def __init__(self, settings: EngineSettings):
        self._settings = settings
        self._client = httpx.Client(
            verify=settings.url_fetch_verify,
            timeout=httpx.Timeout(settings.url_fetch_timeout_seconds),
            follow_redirects=True,
            max_redirects=settings.url_fetch_max_redirects,
            transport=settings.url_fetch_transport,
            trust_env=False,  # no proxies from the environment: sources are fetched directly
        )

    def fetch(self, url: str) -> bytes:
        cap = self._settings.max_url_image_bytes
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise FetchError(f"source answered HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > cap:
                    raise SourceTooLarge(f"source declares {declared} bytes, over the {cap}-byte limit")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > cap:
                        raise SourceTooLarge(f"source exceeds the {cap}-byte limit")
                return bytes(body)
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out downloading the source ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"could not download the source ({type(exc).__name__})") from exc

    def close(self) -> None:
        self._client.close()
