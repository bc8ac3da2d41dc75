"""Signed, expiring result URLs (HMAC-SHA256 over token and expiry, in the query string).

The engine serves results itself at ``/results/{token}?expires=...&signature=...``; like the
vendor's signed storage URLs they need no API key and stop working after the TTL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from enum import Enum
from urllib.parse import urlencode

RESULT_PATH_PREFIX = "/results/"


class Verdict(Enum):
    VALID = "valid"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"


class ResultUrlSigner:
    def __init__(self, key: bytes, clock: Callable[[], float]):
        if len(key) < 16:
            raise ValueError("signing key must be at least 16 bytes")
        self._key = key
        self._clock = clock

    def _signature(self, token: str, expires: int) -> str:
        mac = hmac.new(self._key, f"{token}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def url(self, base_url: str, token: str, expires: int) -> str:
        query = urlencode({"expires": str(int(expires)), "signature": self._signature(token, int(expires))})
        return f"{base_url.rstrip('/')}{RESULT_PATH_PREFIX}{token}?{query}"

    def verify(self, token: str, expires: str | None, signature: str | None) -> Verdict:
        if not expires or not signature:
            return Verdict.BAD_SIGNATURE
        try:
            expires_at = int(expires)
        except ValueError:
            return Verdict.BAD_SIGNATURE
        if not hmac.compare_digest(self._signature(token, expires_at), signature):
            return Verdict.BAD_SIGNATURE
        if self._clock() >= expires_at:
            return Verdict.EXPIRED
        return Verdict.VALID
