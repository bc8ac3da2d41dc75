"""Review of issue 10 item 2: ``request_budget_seconds`` must be a real bound on one call.

httpx's timeouts bound each socket operation, not the exchange: a server that trickles its
answer, or reads a 20 MB upload slowly, keeps every read and write inside its timeout while the
call as a whole runs on. The client ends such a call at its total deadline; the create's outcome
is then unknown (the request was out), so it is marked that way and not repeated.
"""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from correction_core.client import CorrectionClient, RetryPolicy, request_budget_seconds
from correction_core.errors import ApiTransportError

BODY = b'{"status":200,"data":{"task_id":"t-trickled"}}'
TIMEOUT = httpx.Timeout(connect=0.2, read=0.3, write=0.3, pool=0.2)
RETRY = RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.1, jitter=False)


def _server(behaviour):
    """A loopback server running ``behaviour(conn, finished)`` for each connection."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    finished = threading.Event()

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=behaviour, args=(conn, finished), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}", finished


def trickle_answer(conn: socket.socket, finished: threading.Event) -> None:
    """Reads the request, then answers one byte per 0.1 s: each read well inside its timeout."""
    try:
        conn.settimeout(5)
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)
        )
        for byte in BODY:
            conn.sendall(bytes([byte]))
            time.sleep(0.1)
        finished.set()
    except OSError:
        pass  # the client hung up: what the deadline is for
    finally:
        conn.close()


def slow_reader(conn: socket.socket, finished: threading.Event) -> None:
    """Accepts an upload 16 KB per 0.02 s (0.8 MB/s). Bounded before the fix too (httpx writes a
    bytes body in one sendall, whose timeout is a total), kept so that stays true."""
    try:
        conn.settimeout(5)
        while True:
            chunk = conn.recv(16384)
            if not chunk:
                return
            if b"--\r\n" in chunk[-64:]:  # the multipart body's closing boundary
                break
            time.sleep(0.02)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)
            + BODY
        )
        finished.set()
    except OSError:
        pass
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("behaviour", "source"),
    [
        (trickle_answer, {"image_url": "https://example.com/a.jpg"}),
        (slow_reader, {"image_file": ("a.jpg", b"\xff\xd8\xff" + bytes(8 * 1024 * 1024), "image/jpeg")}),
    ],
    ids=["trickled answer", "slowly read upload"],
)
def test_a_create_ends_at_its_total_deadline_with_an_unknown_outcome(behaviour, source):
    sock, base_url, finished = _server(behaviour)
    assert request_budget_seconds(TIMEOUT, RETRY) < 3.0  # the exchanges take 4.7 s and 10 s
    client = CorrectionClient(api_key="k-123456", base_url=base_url, timeout=TIMEOUT, retry=RETRY)
    try:
        with pytest.raises(ApiTransportError) as raised:
            client.create_task(enhancement_type=1, **source)
        # Ended by the client before the server had finished: not a socket timeout, the deadline.
        assert not finished.is_set()
        assert raised.value.details["request_may_have_been_processed"] is True
        assert raised.value.details["attempts"] == 1  # an unknown create is never sent again
    finally:
        sock.close()
        client.close()
