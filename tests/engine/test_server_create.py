"""The create and query endpoints over a real loopback server: fields, statuses and states."""

from __future__ import annotations

import base64
import io
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from correction_core import contract
from correction_engine import codec
from correction_engine.server import EngineSettings, run_in_thread
from correction_engine.server.testing import BlockingOperation, FakeClock, identity, sample_image, to_rgba

CREATE = contract.CREATE_PATH


def _default_operations():
    ops = {t: identity for t in (0, 1, 2, 3)}
    ops[4] = to_rgba
    return ops


@pytest.fixture(scope="module")
def running():
    # One server for the module (uvicorn takes ~0.2 s to stop); each test resets what it mutates.
    settings = EngineSettings(
        api_keys=("key-a", "key-b"),
        rate_limit_qps=0,
        workers=2,
        clock=FakeClock(),
        operations=_default_operations(),
    )
    with run_in_thread(settings) as url:
        yield url


@pytest.fixture
def settings(running):
    running.settings.operations = _default_operations()
    return running.settings


@pytest.fixture
def clock(settings):
    return settings.clock


@pytest.fixture
def server(running):
    return running


@pytest.fixture
def client(server, settings):
    with httpx.Client(base_url=server, headers={contract.API_KEY_HEADER: "key-a"}, timeout=10) as c:
        yield c


def upload(data: bytes | None = None, name: str = "page.png"):
    return {
        contract.FIELD_IMAGE_FILE: (
            name,
            data if data is not None else sample_image(),
            "application/octet-stream",
        )
    }


def wait_finished(client: httpx.Client, task_id: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(contract.query_path(task_id)).json()
        if body["data"]["state"] == 1 or body["data"]["state"] < 0 or time.monotonic() > deadline:
            return body
        time.sleep(0.01)


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


# --- async and sync flows ---------------------------------------------------------------------


def test_async_create_returns_only_a_task_id(client):
    response = client.post(CREATE, files=upload(), data={"sync": "0", "type": "1"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == 200 and body["message"] == "success"
    assert set(body["data"]) == {"task_id"} and body["data"]["task_id"]


def test_async_task_goes_queued_processing_done_with_string_timestamps(settings, client, clock):
    # Two workers: block both, so the third task has to queue.
    gate = BlockingOperation()
    settings.operations = {1: gate}
    first = client.post(CREATE, files=upload(), data={"type": "1"}).json()["data"]["task_id"]
    assert gate.started.wait(5)
    second_gate = BlockingOperation()
    settings.operations = {1: second_gate}
    client.post(CREATE, files=upload(), data={"type": "1"}).json()["data"]["task_id"]
    assert second_gate.started.wait(5)
    third = client.post(CREATE, files=upload(), data={"type": "1"}).json()["data"]["task_id"]

    queued = client.get(contract.query_path(third)).json()
    assert queued["status"] == 200 and queued["message"] == "success"
    data = queued["data"]
    assert data["state"] == contract.STATE_QUEUED and data["progress"] == 0
    assert (
        data["created_at"] == str(int(clock.now))
        and data["processed_at"] == ""
        and data["completed_at"] == ""
    )
    assert "image" not in data

    processing = client.get(contract.query_path(first)).json()["data"]
    assert processing["state"] == contract.STATE_PROCESSING and 0 < processing["progress"] < 100
    assert processing["processed_at"].isdigit() and processing["completed_at"] == ""
    assert "image" not in processing

    clock.advance(7)
    gate.release()
    second_gate.release()
    done = wait_finished(client, first)["data"]
    assert done["state"] == 1 and done["progress"] == 100
    assert int(done["completed_at"]) == int(clock.now) and int(done["created_at"]) == int(clock.now) - 7
    assert done["image"].startswith(str(client.base_url).rstrip("/") + "/results/")
    assert wait_finished(client, third)["data"]["state"] == 1


def test_sync_returns_the_full_data_object(client):
    response = client.post(CREATE, files=upload(), data={"sync": "1", "type": "0", "return_type": "1"})
    assert response.status_code == 200
    body = response.json()
    data = body["data"]
    assert body["status"] == 200 and body["message"] == "success"
    for name in ("task_id", "created_at", "processed_at", "completed_at", "image", "progress", "state"):
        assert name in data
    assert data["state"] == 1 and data["progress"] == 100
    image = httpx.get(data["image"])  # no API key needed for the signed URL
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert codec.sniff_format(image.content) == "jpeg"


def test_return_type_2_is_base64(client):
    data = client.post(CREATE, files=upload(), data={"sync": "1", "return_type": "2"}).json()["data"]
    raw = base64.b64decode(data["image"], validate=True)
    assert codec.decode_image(raw).shape == (48, 64, 3)


def test_return_type_2_async_query_is_base64_too(client):
    task_id = client.post(CREATE, files=upload(), data={"return_type": "2"}).json()["data"]["task_id"]
    data = wait_finished(client, task_id)["data"]
    assert codec.sniff_format(base64.b64decode(data["image"])) == "jpeg"


def test_return_type_3_sync_is_raw_bytes(client):
    response = client.post(CREATE, files=upload(), data={"sync": "1", "return_type": "3", "type": "1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert codec.decode_image(response.content).shape == (48, 64, 3)


def test_type_4_result_is_png_with_alpha(client):
    response = client.post(CREATE, files=upload(), data={"sync": "1", "return_type": "3", "type": "4"})
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as img:
        assert img.mode == "RGBA" and img.getchannel("A").getextrema() == (0, 255)


def test_type_defaults_to_the_vendor_default_and_each_type_dispatches(settings, client):
    seen = []

    def recorder(kind):
        return lambda image: (seen.append(kind), image)[1]

    settings.operations = {t: recorder(t) for t in range(5)}
    client.post(CREATE, files=upload(), data={"sync": "1"})
    assert seen == [int(contract.VENDOR_DEFAULT_TYPE)]
    for kind in range(5):
        assert (
            client.post(CREATE, files=upload(), data={"sync": "1", "type": str(kind)}).json()["data"]["state"]
            == 1
        )
    assert seen[1:] == [0, 1, 2, 3, 4]


def test_unknown_fields_are_ignored(client):
    response = client.post(
        CREATE, files={**upload(), "extra_file": ("x.bin", b"123")}, data={"sync": "1", "colour": "blue"}
    )
    assert response.status_code == 200 and response.json()["data"]["state"] == 1


def test_urlencoded_body_is_accepted_for_image_url(client):
    # No file: a client may send a urlencoded form; the field checks still apply.
    response = client.post(CREATE, data={"image_url": "ftp://example.invalid/a.png"})
    assert response.status_code == 400 and "http" in response.json()["message"]


# --- parameters -------------------------------------------------------------------------------


def _assert_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["message"].startswith(contract.HTTP_STATUS_MEANINGS[status])
    return body


@pytest.mark.parametrize(
    "fields",
    [
        {"sync": "2"},
        {"sync": "yes"},
        {"sync": "-1"},
        {"type": "5"},
        {"type": "-1"},
        {"type": "1.0"},
        {"type": "abc"},
        {"return_type": "0"},
        {"return_type": "4"},
        {"return_type": "3"},
        {"return_type": "3", "sync": "0"},
    ],
)
def test_out_of_range_parameters_are_400(client, fields):
    _assert_error(client.post(CREATE, files=upload(), data=fields), 400)


def test_integer_strings_with_spaces_and_empty_values_are_accepted(client):
    response = client.post(CREATE, files=upload(), data={"sync": " 1 ", "type": "", "return_type": "+2"})
    assert response.status_code == 200 and response.json()["data"]["state"] == 1


def test_both_sources_is_400(client):
    body = _assert_error(
        client.post(CREATE, files=upload(), data={"image_url": "http://127.0.0.1:9/a.png"}), 400
    )
    assert "not both" in body["message"]


def test_neither_source_is_400(client):
    _assert_error(client.post(CREATE, data={"sync": "0"}, files={"other": ("a", b"1")}), 400)
    _assert_error(client.post(CREATE, data={"image_url": "  "}, files={"image_file": ("a.png", b"")}), 400)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/a.png", "not a url", "http:///nohost"])
def test_non_http_image_url_is_400(client, url):
    _assert_error(client.post(CREATE, data={"image_url": url}), 400)


def test_field_given_twice_is_400(client):
    files = [("image_file", ("a.png", sample_image())), ("image_file", ("b.png", sample_image()))]
    _assert_error(client.post(CREATE, files=files), 400)


@pytest.mark.parametrize(
    "content_type,body",
    [
        ("multipart/form-data", b"--x\r\n"),  # no boundary
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="sync"\r\n\r\n1',
        ),
        ("multipart/form-data; boundary=xyz", b"this is not multipart at all"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Type: text/plain\r\n\r\n1\r\n--xyz--\r\n"),
        ("application/json", b'{"image_url": "http://a/b.png"}'),
        (None, b""),
    ],
    ids=["no-boundary", "truncated", "garbage", "part-without-name", "json", "no-content-type"],
)
def test_bad_multipart_is_400(client, content_type, body):
    headers = {"content-type": content_type} if content_type else {}
    _assert_error(client.post(CREATE, content=body, headers=headers), 400)


# --- authentication and ownership ---------------------------------------------------------------


def test_missing_or_wrong_key_is_401(server):
    for headers in (
        {},
        {contract.API_KEY_HEADER: "nope"},
        {contract.API_KEY_HEADER: ""},
        {contract.API_KEY_HEADER: "KEY-A"},
    ):
        _assert_error(httpx.post(server + CREATE, files=upload(), headers=headers), 401)
        _assert_error(httpx.get(server + contract.query_path("x"), headers=headers), 401)


def test_any_configured_key_works_and_tasks_are_private_to_their_key(server, client):
    task_id = client.post(CREATE, files=upload()).json()["data"]["task_id"]
    other = httpx.get(server + contract.query_path(task_id), headers={contract.API_KEY_HEADER: "key-b"})
    _assert_error(other, 404)
    assert client.get(contract.query_path(task_id)).status_code == 200


def test_unknown_task_is_404(client):
    _assert_error(client.get(contract.query_path("0" * 32)), 404)


def test_unknown_route_is_json_404(client):
    _assert_error(client.get("/api/tasks/visual/nothing/here/at/all"), 404)


# --- task failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"definitely not an image", sample_image(fmt="GIF"), sample_image(fmt="PNG")[:100]],
    ids=["text", "gif", "truncated-png"],
)
def test_invalid_image_is_state_minus_7(client, data):
    body = client.post(CREATE, files=upload(data), data={"sync": "1"}).json()
    assert body["status"] == 200
    assert body["data"]["state"] == contract.STATE_INVALID_IMAGE
    assert body["message"].startswith(contract.TASK_STATE_MEANINGS[contract.STATE_INVALID_IMAGE])
    assert body["data"]["completed_at"].isdigit() and "image" not in body["data"]


def test_over_resolution_is_state_minus_7(client):
    wide = sample_image(width=contract.MAX_DIMENSION + 1, height=4)
    body = client.post(CREATE, files=upload(wide), data={"sync": "1"}).json()
    assert body["data"]["state"] == contract.STATE_INVALID_IMAGE and "4096" in body["message"]


def test_operation_error_is_state_minus_1_and_empty_result_minus_11(settings, client):
    def broken(image):
        raise RuntimeError("boom")

    settings.operations = {1: broken, 2: lambda image: image[:0], 3: lambda image: image.astype(np.float32)}
    assert client.post(CREATE, files=upload(), data={"sync": "1"}).json()["data"]["state"] == -1
    assert client.post(CREATE, files=upload(), data={"sync": "1", "type": "2"}).json()["data"]["state"] == -11
    assert client.post(CREATE, files=upload(), data={"sync": "1", "type": "3"}).json()["data"]["state"] == -1
    assert -11 in contract.TASK_STATE_MEANINGS  # the code we use for an empty result is the contract's


def test_missing_operation_module_is_a_failed_task_not_a_crash(settings, client):
    settings.operations = {1: "correction_engine.imaging.does_not_exist:nothing"}
    body = client.post(CREATE, files=upload(), data={"sync": "1"}).json()
    assert body["data"]["state"] == contract.STATE_FAILED and "unavailable" in body["message"]


# --- the real operations ------------------------------------------------------------------------


def _real_operation_or_skip(kind: int):
    from correction_engine import operations

    try:
        return operations.resolve_operation(kind)
    except operations.OperationUnavailable as exc:
        pytest.skip(f"operation for type {kind} not available yet: {exc}")


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
def test_real_operations_through_the_server(kind):
    _real_operation_or_skip(kind)
    settings = EngineSettings(api_keys=("k",), rate_limit_qps=0, workers=1)  # default dispatch table
    page = np.full((300, 240, 3), 235, np.uint8)
    page[60:240, 40:200] = 250
    page[100:110, 60:180] = 30
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, format="JPEG", quality=90)
    with run_in_thread(settings) as url:
        response = httpx.post(
            url + CREATE,
            headers={contract.API_KEY_HEADER: "k"},
            timeout=60,
            files=upload(buffer.getvalue(), "page.jpg"),
            data={"sync": "1", "type": str(kind), "return_type": "3"},
        )
    assert response.status_code == 200, response.text
    expected = "image/png" if kind == 4 else "image/jpeg"
    assert response.headers["content-type"] == expected, response.text[:300]
    assert codec.sniff_format(response.content) in ("png", "jpeg")
