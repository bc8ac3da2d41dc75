"""Review of issue 10 item 13: an API key with a control character inside (a secret pasted as
two lines) must not reach any error text, escaped or not, and must never be sent.

h11 refuses such a header value and quotes it with repr() (``b'...\\n...'``); masking the exact
value does not match that escaped form.
"""

from __future__ import annotations

import socket
import threading

import pytest

from correction_core.client import CorrectionClient, RetryPolicy, proves_nothing_created
from correction_core.errors import CorrectionError, Unauthorized
from correction_core.redaction import redact_text

HALVES = ("sk-live-AAAA1111", "BBBB2222")


@pytest.fixture
def listener():
    """A loopback server that accepts connections and counts them (a request would need one)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", accepted
    sock.close()


@pytest.mark.parametrize("separator", ["\n", "\r\n", "\t\x00", "\x7f", "\u2028"])
@pytest.mark.parametrize("call", ["get", "create"])
def test_a_key_with_a_control_character_is_refused_unsent_and_unechoed(listener, separator, call):
    base_url, accepted = listener
    key = separator.join(HALVES)
    client = CorrectionClient(
        api_key=key, base_url=base_url, retry=RetryPolicy(max_attempts=3, sleep=lambda s: None)
    )
    with pytest.raises(CorrectionError) as raised:
        if call == "get":
            client.get_task("t1")
        else:
            client.create_task(image_url="https://e.com/a.jpg", enhancement_type=1)
    error = raised.value
    text = f"{error} {error.details} {error.to_record()}"
    assert not any(half in text for half in HALVES), text
    assert isinstance(error, Unauthorized)  # a configuration problem: no retry, no redelivery loop
    assert proves_nothing_created(error) and not error.details.get("request_may_have_been_processed")
    assert accepted == []  # nothing left the process


@pytest.mark.parametrize("secret", ["sk-live-AAAA1111\nBBBB2222", "sk-é-1111\tBBBB", "sk-live-AAAA'1111"])
def test_escaped_forms_of_a_known_secret_are_masked(secret):
    forms = [secret, repr(secret), repr(secret.encode()), secret.encode("unicode_escape").decode()]
    for form in forms:
        text = redact_text(f"Illegal header value {form} here", extra_secrets=(secret,))
        assert "AAAA" not in text and "1111" not in text and "BBBB" not in text, text


def test_a_request_the_http_library_refused_to_write_counts_as_not_sent():
    import httpx

    sent: list[int] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        sent.append(1)
        if len(sent) == 1:
            raise httpx.LocalProtocolError("Illegal header value")  # h11 refused our own request
        return httpx.Response(200, json={"status": 200, "data": {"task_id": "t-1"}})

    client = CorrectionClient(
        api_key="k-123456",
        transport=httpx.MockTransport(refuse),
        retry=RetryPolicy(max_attempts=2, sleep=lambda s: None),
    )
    # Nothing went out, so the (paid) create may be sent again: it is, and succeeds.
    assert client.create_task(image_url="https://e.com/a.jpg", enhancement_type=1).task_id == "t-1"
    assert len(sent) == 2
