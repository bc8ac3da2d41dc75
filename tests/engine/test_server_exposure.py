"""The engine exposed to hostile callers (issue 10, items 8-12): what it refuses and what it bounds.

Sources are real loopback servers started here; each stops with its fixture, and the slow one
stops dripping by itself after a few seconds.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pytest

from correction_core import contract
from correction_engine import cli
from correction_engine.server import EngineSettings, run_in_thread
from correction_engine.server.fetching import AddressPolicy, is_public
from correction_engine.server.testing import BlockingOperation, FakeClock, identity, sample_image

CREATE = contract.CREATE_PATH
KEY = {contract.API_KEY_HEADER: "key-a"}
KEY_B = {contract.API_KEY_HEADER: "key-b"}
ADMIN_KEY = "admin-0f3e9a"
LOOPBACK = ("127.0.0.0/8",)


# --- loopback sources ----------------------------------------------------------------------------


class _Source(BaseHTTPRequestHandler):
    image = sample_image()
    redirect_to = ""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.hits.append(self.path)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/drip"):
            # Headers at once, then one byte every 0.2 s: never idle long enough for a read timeout.
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            stop = time.monotonic() + 6.0  # bounded: the source gives up by itself
            try:
                while time.monotonic() < stop:
                    self.wfile.write(b"\x00")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.image)))
            self.end_headers()
            self.wfile.write(self.image)


def _serve(host: str = "127.0.0.1"):
    httpd = ThreadingHTTPServer((host, 0), _Source)
    httpd.daemon_threads = True
    httpd.hits = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return httpd


@pytest.fixture
def source():
    httpd = _serve()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _engine(**overrides) -> EngineSettings:
    base = dict(
        api_keys=("key-a", "key-b"),
        rate_limit_qps=0,
        workers=1,
        operations={1: identity},
        url_fetch_timeout_seconds=3,
        sync_wait_seconds=15,
    )
    return EngineSettings(**{**base, **overrides})


def _sync_url(url: str, engine: str) -> dict:
    response = httpx.post(
        engine + CREATE, headers=KEY, data={"image_url": url, "sync": "1", "type": "1"}, timeout=30
    )
    return {"http": response.status_code, **response.json()}


# --- 8: server-side request forgery ------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "127.0.0.1",
        "localhost",
        "2130706433",
        "0x7f000001",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "127.1",
        "127.0.0.1.",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
    ],
)
def test_loopback_is_refused_in_every_spelling_and_never_contacted(source, spelling):
    port = source.server_address[1]
    with run_in_thread(_engine()) as engine:
        body = _sync_url(f"http://{spelling}:{port}/page.png", engine)
    # Either refused as a bad URL (400) or a failed download (-3); never fetched.
    assert body["http"] == 400 or body["data"]["state"] == contract.STATE_DOWNLOAD_FAILED, body
    assert source.hits == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "192.0.0.170",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "2002:7f00:1::",
        "2002:a00:1::",  # 6to4 around loopback and 10/8
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
    ],
)
def test_non_public_addresses_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))
    assert not AddressPolicy().permits(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2002:5db8:d822::"])
def test_public_addresses_are_public(address):
    assert AddressPolicy().permits(ipaddress.ip_address(address))


def test_operator_allowed_range_covers_its_ipv4_mapped_form():
    policy = AddressPolicy(["127.0.0.0/8"])
    assert policy.permits(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not policy.permits(ipaddress.ip_address("10.0.0.1"))


def test_redirect_to_a_refused_address_is_not_followed(source):
    other = _serve("127.0.0.2")  # loopback too, but outside the one address the operator allowed
    try:
        source.redirect_to = f"http://127.0.0.2:{other.server_address[1]}/page.png"
        with run_in_thread(_engine(url_fetch_allowed_networks=("127.0.0.1/32",))) as engine:
            body = _sync_url(f"http://127.0.0.1:{source.server_address[1]}/redirect", engine)
        assert body["data"]["state"] == contract.STATE_DOWNLOAD_FAILED
        assert len(source.hits) == 1 and other.hits == []
    finally:
        other.shutdown()
        other.server_close()


def test_the_connection_goes_to_the_checked_address_without_a_second_lookup(source):
    lookups = []

    def resolver(host, port):
        lookups.append(host)
        return ["127.0.0.1"]  # a name the system resolver does not know

    settings = _engine(url_fetch_allowed_networks=LOOPBACK, url_fetch_resolver=resolver)
    with run_in_thread(settings) as engine:
        body = _sync_url(f"http://images.example.test:{source.server_address[1]}/page.png", engine)
    assert body["data"]["state"] == contract.STATE_SUCCEEDED
    assert lookups == ["images.example.test"]


def test_a_name_resolving_to_a_private_address_is_refused(source):
    settings = _engine(url_fetch_resolver=lambda host, port: ["93.184.216.34", "127.0.0.1"])
    with run_in_thread(settings) as engine:
        body = _sync_url(f"http://mixed.example.test:{source.server_address[1]}/page.png", engine)
    assert body["data"]["state"] == contract.STATE_DOWNLOAD_FAILED and source.hits == []


def test_failure_messages_do_not_tell_open_from_closed_ports(source):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    silent = socket.socket()  # accepts, then hangs up without a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    stop = threading.Event()

    def hang_up():
        silent.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = silent.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        with run_in_thread(_engine(url_fetch_allowed_networks=LOOPBACK)) as engine:
            messages = {
                _sync_url(f"http://127.0.0.1:{closed_port}/x", engine)["message"],
                _sync_url(f"http://127.0.0.1:{silent.getsockname()[1]}/x", engine)["message"],
            }
        with run_in_thread(_engine()) as engine:  # loopback not allowed: refused before connecting
            messages.add(_sync_url(f"http://127.0.0.1:{source.server_address[1]}/x", engine)["message"])
    finally:
        stop.set()
        thread.join(2)
        silent.close()
    assert len(messages) == 1, messages


# --- 9: admin endpoints ---------------------------------------------------------------------------


@pytest.fixture
def plain_engine():
    with run_in_thread(_engine(clock=FakeClock())) as engine:
        yield engine


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/_engine/faults"),
        ("PUT", "/_engine/faults"),
        ("POST", "/_engine/stats/reset"),
    ],
)
def test_admin_endpoints_are_absent_without_an_admin_key(plain_engine, method, path):
    response = httpx.request(method, plain_engine + path, headers=KEY, json={"error_500_rate": 1.0})
    assert response.status_code == 404
    assert (
        httpx.post(
            plain_engine + CREATE, headers=KEY, files={"image_file": ("a.png", sample_image())}
        ).status_code
        == 200
    )


def test_a_tenant_key_is_not_an_admin_key():
    with run_in_thread(_engine(admin_key=ADMIN_KEY, fault_injection=True)) as engine:
        assert (
            httpx.put(engine + "/_engine/faults", headers=KEY, json={"error_500_rate": 1.0}).status_code
            == 401
        )
        assert httpx.post(engine + "/_engine/stats/reset", headers=KEY).status_code == 401
        assert (
            httpx.post(
                engine + CREATE, headers=KEY_B, files={"image_file": ("a.png", sample_image())}
            ).status_code
            == 200
        )
        assert engine.engine.stats.tasks_created("key-b") == 1  # not reset by key-a
        wrong = {"X-ADMIN-KEY": "key-a"}
        assert httpx.get(engine + "/_engine/faults", headers=wrong).status_code == 401
        assert httpx.get(engine + "/_engine/faults", headers={"X-ADMIN-KEY": ADMIN_KEY}).status_code == 200


def test_fault_injection_is_inert_unless_enabled_at_start():
    with run_in_thread(_engine(admin_key=ADMIN_KEY)) as engine:
        engine.settings.faults.error_500_rate = 1.0  # as a leaked admin path or a stray setting would
        engine.settings.faults.failed_state_rate = 1.0
        assert httpx.get(engine + "/_engine/faults", headers={"X-ADMIN-KEY": ADMIN_KEY}).status_code == 404
        body = httpx.post(
            engine + CREATE,
            headers=KEY,
            data={"sync": "1", "type": "1"},
            files={"image_file": ("a.png", sample_image())},
            timeout=30,
        ).json()
        assert body["status"] == 200 and body["data"]["state"] == contract.STATE_SUCCEEDED


def test_statistics_are_per_tenant(plain_engine):
    for headers, width in ((KEY, 64), (KEY_B, 80)):
        httpx.post(
            plain_engine + CREATE, headers=headers, files={"image_file": ("a.png", sample_image(width=width))}
        )
    mine = httpx.get(plain_engine + "/_engine/stats", headers=KEY).json()["data"]
    theirs = plain_engine.engine.stats.for_key("key-b")
    assert mine["key"]["tasks_created"] == 1
    assert theirs["key"] not in str(mine)  # not even key-b's fingerprint
    assert not any(digest in str(mine) for digest in theirs["tasks_per_source"])  # nor its source hashes
    assert "totals" not in mine and "keys" not in mine


# --- 10: slow sources, the processing limit, the bounded queue -----------------------------------------


def test_a_slow_drip_source_cannot_hold_a_worker(source):
    # The other tenant waits at most 4 s (sync); the drip would hold the only worker for 6 s.
    settings = _engine(
        url_fetch_allowed_networks=LOOPBACK,
        url_fetch_deadline_seconds=1.0,
        url_fetch_timeout_seconds=1.0,
        sync_wait_seconds=4,
    )
    with run_in_thread(settings) as engine:
        slow = httpx.post(
            engine + CREATE,
            headers=KEY,
            data={"image_url": f"http://127.0.0.1:{source.server_address[1]}/drip", "type": "1"},
        )
        small = httpx.post(
            engine + CREATE,
            headers=KEY_B,
            data={"sync": "1", "type": "1"},
            files={"image_file": ("a.png", sample_image())},
            timeout=30,
        ).json()
        slow_state = httpx.get(
            engine + contract.query_path(slow.json()["data"]["task_id"]), headers=KEY
        ).json()["data"]["state"]
    # One worker: the other tenant's task finished only because the drip was cut off.
    assert small["data"]["state"] == contract.STATE_SUCCEEDED
    assert slow_state == contract.STATE_DOWNLOAD_FAILED


def test_the_processing_limit_holds_for_queued_work_which_is_then_never_started():
    clock = FakeClock()
    gate = BlockingOperation()
    with run_in_thread(_engine(clock=clock, operations={1: gate})) as engine:
        first = httpx.post(
            engine + CREATE, headers=KEY, data={"type": "1"}, files={"image_file": ("a.png", sample_image())}
        )
        assert gate.started.wait(10)
        queued = httpx.post(
            engine + CREATE, headers=KEY, data={"type": "1"}, files={"image_file": ("b.png", sample_image())}
        )
        queued_id = queued.json()["data"]["task_id"]
        clock.advance(contract.MAX_PROCESSING_SECONDS + 1)
        data = httpx.get(engine + contract.query_path(queued_id), headers=KEY).json()["data"]
        assert data["state"] == contract.STATE_PROCESSING_TIMEOUT
        first_id = first.json()["data"]["task_id"]
        assert httpx.get(engine + contract.query_path(first_id), headers=KEY).json()["data"]["state"] == -8
        gate.release()
        # One worker, first in first out: once a later task is done, the queued one was either
        # run or skipped.
        later = httpx.post(
            engine + CREATE,
            headers=KEY,
            data={"type": "1", "sync": "1"},
            files={"image_file": ("c.png", sample_image())},
            timeout=30,
        ).json()
        assert later["data"]["state"] == contract.STATE_SUCCEEDED
    assert gate.calls == 2  # the first and the later task: the queued one was abandoned after its -8


def test_a_full_queue_answers_429_with_retry_after_and_creates_nothing():
    gate = BlockingOperation()
    with run_in_thread(_engine(operations={1: gate}, max_queued_tasks=2)) as engine:

        def create():
            return httpx.post(
                engine + CREATE,
                headers=KEY,
                data={"type": "1"},
                files={"image_file": ("a.png", sample_image())},
            )

        assert create().status_code == 200
        assert gate.started.wait(10)  # the worker holds the first; the queue is empty again
        assert [create().status_code for _ in range(2)] == [200, 200]
        refused = create()
        try:
            assert refused.status_code == 429 and refused.json()["status"] == 429
            assert int(refused.headers["Retry-After"]) >= 1
            assert engine.engine.stats.tasks_created("key-a") == 3
        finally:
            gate.release()


# --- 11: results on disk, bounded, expiring; statistics bounded --------------------------------------------


def test_results_live_in_the_spool_under_a_byte_cap_and_expire(tmp_path):
    clock = FakeClock()
    spool = tmp_path / "spool"
    settings = _engine(clock=clock, spool_directory=str(spool))
    with run_in_thread(settings) as engine:
        body = httpx.post(
            engine + CREATE,
            headers=KEY,
            data={"sync": "1", "type": "1", "return_type": "1"},
            files={"image_file": ("a.png", sample_image())},
            timeout=30,
        ).json()
        result = httpx.get(body["data"]["image"]).content
        spool = engine.engine.blobs.directory  # the engine's own private directory inside the named one
        stored = [p.read_bytes() for p in spool.iterdir()]
        assert stored == [result]  # the result is a file (the upload was released), not process memory
        task = engine.engine.store.get(body["data"]["task_id"], engine.engine.authenticate("key-a"))
        assert not hasattr(task, "result") and task.result_size == len(result)
        clock.advance(contract.RESULT_URL_TTL_SECONDS + 2)
        assert (
            httpx.get(engine + contract.query_path(body["data"]["task_id"]), headers=KEY).status_code == 404
        )
        assert list(spool.iterdir()) == []


def test_an_upload_that_does_not_fit_the_spool_is_429(tmp_path):
    upload = sample_image(width=200, height=150, fmt="BMP")
    gate = BlockingOperation()
    settings = _engine(
        spool_directory=str(tmp_path),
        max_upload_bytes=len(upload),
        spool_max_bytes=len(upload) + 1000,
        operations={1: gate},
    )
    with run_in_thread(settings) as engine:
        first = httpx.post(
            engine + CREATE, headers=KEY, data={"type": "1"}, files={"image_file": ("a.bmp", upload)}
        )
        assert first.status_code == 200 and gate.started.wait(10)
        second = httpx.post(
            engine + CREATE, headers=KEY, data={"type": "1"}, files={"image_file": ("b.bmp", upload)}
        )
        gate.release()
        assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
        assert engine.engine.stats.tasks_created("key-a") == 1


def _noise_rgba(image):
    """An incompressible RGBA result (PNG), far larger than the small upload it came from."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (300, 300, 4), dtype=np.uint8)


def test_a_result_that_does_not_fit_the_spool_fails_the_task_with_minus_2(tmp_path):
    settings = _engine(
        spool_directory=str(tmp_path),
        max_upload_bytes=50_000,
        spool_max_bytes=60_000,
        operations={1: _noise_rgba},
    )
    with run_in_thread(settings) as engine:
        body = httpx.post(
            engine + CREATE,
            headers=KEY,
            data={"type": "1", "sync": "1"},
            files={"image_file": ("a.png", sample_image())},
            timeout=30,
        ).json()
        assert body["data"]["state"] == contract.STATE_RESULT_UPLOAD_FAILED
        assert engine.engine.blobs.used_bytes == 0


def test_per_source_statistics_are_bounded(plain_engine):
    plain_engine.engine.stats._max_sources = 3
    for width in range(40, 45):
        httpx.post(
            plain_engine + CREATE, headers=KEY, files={"image_file": ("a.png", sample_image(width=width))}
        )
    counters = plain_engine.engine.stats.for_key("key-a")
    assert counters["tasks_created"] == 5 and counters["distinct_sources"] == 3


# --- 12: ASCII digits only; keys never on the command line ------------------------------------------------


@pytest.mark.parametrize(
    "field,value",
    [
        ("type", "\u0661"),
        ("type", "\uff11"),
        ("sync", "\u0661"),
        ("return_type", "\u0662"),
        ("type", "\u09e7"),
    ],
)
def test_non_ascii_digits_are_400(plain_engine, field, value):
    response = httpx.post(
        plain_engine + CREATE,
        headers=KEY,
        data={field: value},
        files={"image_file": ("a.png", sample_image())},
    )
    assert response.status_code == 400 and response.json()["status"] == 400
    assert plain_engine.engine.stats.tasks_created("key-a") == 0


def test_api_key_value_on_the_command_line_is_refused(monkeypatch, capsys):
    monkeypatch.delenv("CORRECTION_ENGINE_API_KEYS", raising=False)
    assert cli.main(["serve", "--api-key", "visible-in-ps", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "process list" in err and "visible-in-ps" not in err


def test_help_says_where_keys_come_from(capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "CORRECTION_ENGINE_API_KEYS" in text and "--api-key-file" in text and "process list" in text


def test_fault_flags_need_fault_injection_enabled(monkeypatch, capsys):
    monkeypatch.setenv("CORRECTION_ENGINE_API_KEYS", "k")
    assert cli.main(["serve", "--fault-500-rate", "1", "--port", "0"]) == 2
    assert "--enable-fault-injection" in capsys.readouterr().err


# --- 8, TLS: the connection goes to the checked address, the certificate is checked for the name ----------


def _self_signed(tmp_path, name: str):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_tls_is_verified_against_the_host_name_while_connecting_to_the_checked_address(tmp_path):
    import ssl

    cert_path, key_path = _self_signed(tmp_path, "images.example.test")
    httpd = _serve()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    trust = ssl.create_default_context(cafile=str(cert_path))
    settings = _engine(
        url_fetch_allowed_networks=LOOPBACK,
        url_fetch_verify=trust,
        url_fetch_resolver=lambda host, port: ["127.0.0.1"],
    )
    port = httpd.server_address[1]
    try:
        with run_in_thread(settings) as engine:
            good = _sync_url(f"https://images.example.test:{port}/page.png", engine)
            wrong_name = _sync_url(f"https://other.example.test:{port}/page.png", engine)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert good["data"]["state"] == contract.STATE_SUCCEEDED
    assert (
        wrong_name["data"]["state"] == contract.STATE_DOWNLOAD_FAILED
    )  # same address, name not in the certificate
