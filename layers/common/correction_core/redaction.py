"""Keeps secrets out of logs, failure records and exception text.

Signed URLs (presigned S3 sources, the API's result URLs) carry their signature in the query
string; the API key must never be written anywhere. Everything that leaves the process as text
goes through ``redact_text``.
"""

from __future__ import annotations

import re
from typing import Iterable

_URL = re.compile(r"(?P<base>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#\"'<>]+)\?[^\s\"'<>]*")
_known_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Remember a secret value (the API key) so that any text containing it is masked."""
    if value and len(value) >= 4:
        _known_secrets.add(value)


def redact_url(url: str) -> str:
    """The URL without its query string (where signatures live)."""
    return url.split("?", 1)[0] + ("?<redacted>" if "?" in url else "")


def redact_text(text: str, extra_secrets: Iterable[str] = ()) -> str:
    text = _URL.sub(lambda m: m.group("base") + "?<redacted>", text)
    for secret in (*_known_secrets, *extra_secrets):
        if secret:
            text = text.replace(secret, "<redacted>")
    return text
