"""Limits: upload size (413 before the body is read), rate limit, processing time, expiry, signed URLs."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from correction_core import contract
from correction_engine.server import EngineSettings, create_app, run_in_thread
from correction_engine.server.testing import BlockingOperation, FakeClock, identity, sample_image

CREATE = contract.CREATE_PATH
KEY = {contract.API_KEY_HEADER: "key-a"}


class FakeMonotonic(FakeClock):
    def __init__(self):
        super().__init__(start=1000.0)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def settings(clock):
    return EngineSettings(
        api_keys=("key-a",), rate_limit_qps=0, workers=2, clock=clock, operations={1: identity}
    )


@pytest.fixture
def server(settings):
    with run_in_thread(settings) as url:
        yield url


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server, headers=KEY, timeout=10) as c:
        yield c


def upload(data: bytes | None = None):
    return {contract.FIELD_IMAGE_FILE: ("page.png", data if data is not None else sample_image())}


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


# --- 413 ---------------------------------------------------------------------------------------


def test_declared_oversize_body_is_413_before_a_byte_is_sent(server):
    """Headers only, Content-Length far over the limit: the answer comes without the body."""
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST " + CREATE.encode() + b" HTTP/1.1\r\nHost: x\r\nX-API-KEY: key-a\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000\r\n\r\n"
        )
        answer = b""
        while b'"status":413' not in answer:  # the server closes the connection after answering
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"status":413' in answer


def test_streamed_oversize_upload_is_refused_before_it_is_read_whole(settings):
    """No Content-Length (chunked): the app stops pulling the body soon after the limit."""
    settings.max_upload_bytes = contract.MAX_UPLOAD_BYTES
    app = create_app(settings)
    chunk = b"\x00" * (1024 * 1024)
    head = (
        b'--b\r\nContent-Disposition: form-data; name="image_file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )
    pulled = {"bytes": 0}
    total_offered = 200 * len(chunk)  # 200 MB on offer

    async def receive():
        if pulled["bytes"] == 0:
            pulled["bytes"] += len(head)
            return {"type": "http.request", "body": head, "more_body": True}
        pulled["bytes"] += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pulled["bytes"] < total_offered}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": CREATE,
        "raw_path": CREATE.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"x-api-key", b"key-a"),
            (b"content-type", b"multipart/form-data; boundary=b"),
            (b"transfer-encoding", b"chunked"),
            (b"host", b"test"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    try:
        asyncio.run(app(scope, receive, send))
    finally:
        app.state.engine.close()
    assert sent[0]["status"] == 413
    assert pulled["bytes"] <= contract.MAX_UPLOAD_BYTES + 2 * len(chunk)
    assert app.state.engine.stats.snapshot()["totals"]["tasks_created"] == 0


def test_upload_just_over_the_limit_is_413_and_at_the_limit_is_accepted(client, settings):
    over = b"\x89PNG\r\n\x1a\n" + b"\x00" * (contract.MAX_UPLOAD_BYTES - 8 + 1)
    response = client.post(CREATE, files=upload(over))
    assert response.status_code == 413 and response.json()["status"] == 413
    at_limit = over[:-1]
    response = client.post(CREATE, files=upload(at_limit), data={"sync": "1"})
    assert response.status_code == 200
    assert response.json()["data"]["state"] == contract.STATE_INVALID_IMAGE  # accepted, then found corrupt


# --- rate limit --------------------------------------------------------------------------------


def test_rate_limit_counts_create_and_query_and_answers_429_with_retry_after(settings, client):
    tick = FakeMonotonic()
    settings.monotonic = tick
    settings.rate_limit_qps = contract.DEFAULT_QPS  # bucket of 2, refilled at 2 per second
    # monotonic is read through the settings on each request
    task_id = client.post(CREATE, files=upload()).json()["data"]["task_id"]
    assert client.get(contract.query_path(task_id)).status_code == 200
    limited = client.get(contract.query_path(task_id))
    assert limited.status_code == 429 and limited.json()["status"] == 429
    assert limited.headers["Retry-After"] == "1"
    assert client.post(CREATE, files=upload()).status_code == 429
    tick.advance(0.5)  # one token back
    assert client.get(contract.query_path(task_id)).status_code == 200
    assert client.get(contract.query_path(task_id)).status_code == 429
    tick.advance(10)  # refills to the bucket size only
    assert [client.get(contract.query_path(task_id)).status_code for _ in range(3)] == [200, 200, 429]
    stats = client.get("/_engine/stats").json()["data"]["key"]
    assert stats["rate_limited"] == 4 and stats["tasks_created"] == 1


def test_rate_limit_is_per_key_and_zero_turns_it_off(settings, server):
    settings.api_keys = ("key-a", "key-b")
    settings.monotonic = FakeMonotonic()
    settings.rate_limit_qps = 1
    a = httpx.get(server + contract.query_path("x"), headers=KEY)
    assert a.status_code == 404
    assert httpx.get(server + contract.query_path("x"), headers=KEY).status_code == 429
    assert (
        httpx.get(server + contract.query_path("x"), headers={contract.API_KEY_HEADER: "key-b"}).status_code
        == 404
    )
    settings.rate_limit_qps = 0
    assert {httpx.get(server + contract.query_path("x"), headers=KEY).status_code for _ in range(5)} == {404}


def test_unauthenticated_requests_do_not_spend_tokens(settings, server):
    settings.monotonic = FakeMonotonic()
    settings.rate_limit_qps = 1
    for _ in range(3):
        assert httpx.get(server + contract.query_path("x")).status_code == 401
    assert httpx.get(server + contract.query_path("x"), headers=KEY).status_code == 404


# --- processing time limit ------------------------------------------------------------------------


def test_processing_limit_async_is_minus_8_by_clock(settings, client, clock):
    gate = BlockingOperation()
    settings.operations = {1: gate}
    task_id = client.post(CREATE, files=upload()).json()["data"]["task_id"]
    assert gate.started.wait(5)
    assert client.get(contract.query_path(task_id)).json()["data"]["state"] == contract.STATE_PROCESSING
    clock.advance(contract.MAX_PROCESSING_SECONDS - 1)
    assert client.get(contract.query_path(task_id)).json()["data"]["state"] == contract.STATE_PROCESSING
    clock.advance(2)
    body = client.get(contract.query_path(task_id)).json()
    assert body["data"]["state"] == contract.STATE_PROCESSING_TIMEOUT
    assert body["message"].startswith(contract.TASK_STATE_MEANINGS[contract.STATE_PROCESSING_TIMEOUT])
    assert body["data"]["completed_at"] == str(int(clock.now)) and "image" not in body["data"]
    gate.release()
    wait_until(lambda: gate.calls == 1)
    time.sleep(0.05)  # the worker finishes late: its result must not overwrite -8
    assert (
        client.get(contract.query_path(task_id)).json()["data"]["state"] == contract.STATE_PROCESSING_TIMEOUT
    )


def test_processing_limit_sync_returns_minus_8(settings, client):
    settings.clock = time.time  # a real (short) limit for the sync wait
    settings.max_processing_seconds = 0.2
    settings.sync_wait_seconds = 1.0  # the wait ends at 1 s; by then the task is 0.8 s over its limit
    gate = BlockingOperation()
    settings.operations = {1: gate}
    started = time.monotonic()
    body = client.post(CREATE, files=upload(), data={"sync": "1"}).json()
    gate.release()
    assert body["data"]["state"] == contract.STATE_PROCESSING_TIMEOUT
    assert time.monotonic() - started < 3


# --- expiry ---------------------------------------------------------------------------------------


def _finished(client, **fields):
    return client.post(CREATE, files=upload(), data={"sync": "1", **fields}).json()["data"]


def test_task_expires_after_an_hour(client, clock):
    data = _finished(client)
    clock.advance(contract.RESULT_URL_TTL_SECONDS - 1)
    assert client.get(contract.query_path(data["task_id"])).status_code == 200
    clock.advance(1)
    response = client.get(contract.query_path(data["task_id"]))
    assert response.status_code == 404 and response.json()["status"] == 404


def test_unfinished_task_expires_an_hour_after_creation(settings, client, clock):
    gate = BlockingOperation()
    settings.operations = {1: gate}
    task_id = client.post(CREATE, files=upload()).json()["data"]["task_id"]
    assert gate.started.wait(5)
    settings.max_processing_seconds = 10 * contract.RESULT_URL_TTL_SECONDS
    clock.advance(contract.RESULT_URL_TTL_SECONDS)
    assert client.get(contract.query_path(task_id)).status_code == 404
    gate.release()


def test_result_url_is_signed_and_works_without_a_key(client):
    url = _finished(client)["image"]
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert set(query) == {"expires", "signature"}
    response = httpx.get(url)
    assert response.status_code == 200 and response.content.startswith(b"\xff\xd8\xff")


def test_result_url_expires_after_an_hour(client, clock):
    url = _finished(client)["image"]
    clock.advance(contract.RESULT_URL_TTL_SECONDS - 1)
    assert httpx.get(url).status_code == 200
    clock.advance(1)
    response = httpx.get(url)
    assert response.status_code == 403 and response.json()["status"] == 403


def test_tampered_result_urls_are_refused(client):
    url = _finished(client)["image"]
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{parts.scheme}://{parts.netloc}"
    token = parts.path.rsplit("/", 1)[1]
    later = {**query, "expires": str(int(query["expires"]) + 3600)}
    bad_sig = {
        **query,
        "signature": query["signature"][:-2] + ("AA" if query["signature"][-2:] != "AA" else "BB"),
    }
    for path, params in [
        (parts.path, later),
        (parts.path, bad_sig),
        (parts.path, {"expires": query["expires"]}),
        (parts.path, {}),
        (parts.path.replace(token, token[:-1] + ("x" if token[-1] != "x" else "y")), query),
    ]:
        response = httpx.get(f"{base}{path}?{urlencode(params)}")
        assert response.status_code == 403, (path, params)


def test_result_url_of_an_expired_task_is_gone(settings, client, clock):
    settings.result_url_ttl_seconds = 2 * contract.RESULT_URL_TTL_SECONDS  # URL outlives the task
    url = _finished(client)["image"]
    clock.advance(contract.RESULT_URL_TTL_SECONDS)
    assert httpx.get(url).status_code == 404


def test_public_base_url_is_used_for_result_urls(settings, client):
    settings.public_base_url = "https://engine.example.test/base"
    url = _finished(client)["image"]
    assert url.startswith("https://engine.example.test/base/results/")
