"""Keeps secrets out of logs, failure records and exception text.

Signed URLs (presigned S3 sources, the API's result URLs) carry their signature in the query
string; the API key must never be written anywhere. Everything that leaves the process as text
goes through ``redact_text``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

_URL = re.compile(r"(?P<base>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#\"'<>]+)\?[^\s\"'<>]*")
_known_secrets: set[str] = set()
# A Secrets Manager request or response as botocore logs it at DEBUG ("Response body: b'{...
# "SecretString": ...}'", "Making request ... with params: {... 'body': ...}"). The value is
# logged before any of our code has seen it, so it cannot be masked by value: the whole text goes.
_SECRET_PAYLOAD = re.compile(r"Secret(?:String|Binary)")
_install_lock = threading.Lock()
_installed = False


def register_secret(value: str) -> None:
    """Remember a secret value (the API key) so that any text containing it is masked."""
    if value and len(value) >= 4:
        _known_secrets.add(value)


def redact_url(url: str) -> str:
    """The URL without its query string (where signatures live)."""
    return url.split("?", 1)[0] + ("?<redacted>" if "?" in url else "")


def _written_forms(secret: str) -> list[str]:
    """The ways a secret can appear in text: as it is, and as repr() or an escaping codec writes
    it (h11 quotes a refused header value as ``b'...\\n...'``, botocore logs reprs of dicts)."""
    forms = {secret, repr(secret)[1:-1], secret.encode("unicode_escape").decode("ascii")}
    try:
        forms.add(repr(secret.encode("utf-8"))[2:-1])
    except UnicodeEncodeError:  # lone surrogates: no bytes form exists to leak
        pass
    forms.add(secret.encode("ascii", "backslashreplace").decode("ascii"))
    # Longest first, so a form that contains another is masked whole.
    return sorted((form for form in forms if form), key=len, reverse=True)


def redact_text(text: str, extra_secrets: Iterable[str] = ()) -> str:
    text = _URL.sub(lambda m: m.group("base") + "?<redacted>", text)
    for secret in (*_known_secrets, *extra_secrets):
        if secret:
            for form in _written_forms(secret):
                text = text.replace(form, "<redacted>")
    return text


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        text = record.getMessage()
    except Exception:  # a malformed logging call: logging itself reports it, unchanged
        return
    if _SECRET_PAYLOAD.search(text):
        clean = f"<redacted: a message carrying a Secrets Manager payload ({len(text)} characters)>"
    else:
        clean = redact_text(text)
    if clean != text:
        record.msg, record.args = clean, ()


def install_log_redaction() -> None:
    """Scrub every log record of the process when it is created, whatever logger or level.

    A logging filter sees only the records of the logger it is attached to, not those that
    propagate from children (``botocore.parsers`` logs GetSecretValue's body at DEBUG); a record
    factory sees them all, before any handler or formatter. Idempotent.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
