"""``image_url`` sources, served by a real loopback HTTP server in the test."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from correction_core import contract
from correction_engine.server import EngineSettings, run_in_thread
from correction_engine.server.testing import FakeClock, identity, sample_image

CREATE = contract.CREATE_PATH
KEY = {contract.API_KEY_HEADER: "key-a"}
SMALL_CAP = 64 * 1024  # stands in for the contract's 30 MB, so the test moves kilobytes


class _Handler(BaseHTTPRequestHandler):
    image = sample_image()
    requests: list[str] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.requests.append(self.path)
        path = self.path.split("?", 1)[0]
        if path == "/page.png":
            self._send(200, self.image)
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/page.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/declared-too-big":
            self.send_response(200)
            self.send_header("Content-Length", str(SMALL_CAP + 1))
            self.end_headers()
            try:
                self.wfile.write(b"\x00" * 1024)
            except OSError:
                pass
        elif path == "/streams-too-big":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for _ in range(SMALL_CAP // 4096 + 4):
                    self.wfile.write(b"1000\r\n" + b"\x00" * 4096 + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
        elif path == "/not-an-image":
            self._send(200, b"<html>hello</html>")
        elif path == "/server-error":
            self._send(500, b"oops")
        else:
            self._send(404, b"missing")

    def _send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def source_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def engine():
    settings = EngineSettings(
        api_keys=("key-a",),
        rate_limit_qps=0,
        workers=2,
        clock=FakeClock(),
        operations={1: identity},
        max_url_image_bytes=SMALL_CAP,
        url_fetch_timeout_seconds=5,
        url_fetch_allowed_networks=("127.0.0.0/8",),  # the source server is on loopback
    )
    with run_in_thread(settings) as url:
        yield url


@pytest.fixture
def client(engine):
    with httpx.Client(base_url=engine, headers=KEY, timeout=15) as c:
        yield c


def _sync(client, url: str) -> dict:
    return client.post(CREATE, data={"image_url": url, "sync": "1"}, files={"unused": ("", b"")}).json()


def test_url_source_is_downloaded_and_processed(client, source_server):
    body = _sync(client, f"{source_server}/page.png?X-Amz-Signature=abc&X-Amz-Expires=60")
    assert body["data"]["state"] == 1
    assert any(p.startswith("/page.png?X-Amz-Signature=abc") for p in _Handler.requests)  # query kept intact


def test_url_source_async(client, source_server):
    task_id = client.post(CREATE, data={"image_url": f"{source_server}/page.png"}).json()["data"]["task_id"]
    for _ in range(500):
        data = client.get(contract.query_path(task_id)).json()["data"]
        if data["state"] not in (0, 4):
            break
    assert data["state"] == 1 and data["image"]


def test_redirects_are_followed(client, source_server):
    assert _sync(client, f"{source_server}/redirect")["data"]["state"] == 1


@pytest.mark.parametrize("path", ["/declared-too-big", "/streams-too-big"])
def test_oversized_url_image_is_minus_5(client, source_server, path):
    body = _sync(client, source_server + path)
    assert body["data"]["state"] == contract.STATE_URL_IMAGE_TOO_LARGE
    assert body["message"].startswith(contract.TASK_STATE_MEANINGS[contract.STATE_URL_IMAGE_TOO_LARGE])


@pytest.mark.parametrize("path", ["/missing", "/server-error"])
def test_http_error_status_is_minus_3(client, source_server, path):
    assert _sync(client, source_server + path)["data"]["state"] == contract.STATE_DOWNLOAD_FAILED


def test_unreachable_source_is_minus_3(client):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    body = _sync(client, f"http://127.0.0.1:{port}/page.png")
    assert body["data"]["state"] == contract.STATE_DOWNLOAD_FAILED
    assert body["message"].startswith(contract.TASK_STATE_MEANINGS[contract.STATE_DOWNLOAD_FAILED])


def test_tls_is_verified(client, source_server):
    # An https URL to a plain-http port fails the TLS handshake: a download failure, not a bypass.
    https = source_server.replace("http://", "https://")
    assert _sync(client, f"{https}/page.png")["data"]["state"] == contract.STATE_DOWNLOAD_FAILED


def test_downloaded_non_image_is_minus_7(client, source_server):
    assert _sync(client, f"{source_server}/not-an-image")["data"]["state"] == contract.STATE_INVALID_IMAGE


def test_tls_verification_cannot_be_disabled():
    with pytest.raises(ValueError):
        EngineSettings(api_keys=("k",), url_fetch_verify=False).validate()
