"""Fault injection knobs (settings object and admin endpoint) and the per-key counters."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from correction_core import contract
from correction_engine import codec
from correction_engine.server import EngineSettings, FaultSettings, run_in_thread
from correction_engine.server.faults import FaultInjector
from correction_engine.server.testing import FakeClock, identity, sample_image

CREATE = contract.CREATE_PATH
KEY = {contract.API_KEY_HEADER: "key-a"}
ADMIN_KEY = "admin-7d1f0c"
ADMIN = {"X-ADMIN-KEY": ADMIN_KEY}


@pytest.fixture(scope="module")
def running():
    settings = EngineSettings(
        api_keys=("key-a", "key-b"),
        rate_limit_qps=0,
        workers=2,
        clock=FakeClock(),
        operations={1: identity},
        admin_key=ADMIN_KEY,
        fault_injection=True,
    )
    with run_in_thread(settings) as url:
        yield url


@pytest.fixture
def settings(running):
    running.settings.faults.reset()
    running.engine.stats.reset()
    return running.settings


@pytest.fixture
def client(running, settings):
    with httpx.Client(base_url=running, headers=KEY, timeout=10) as c:
        yield c


def upload():
    return {contract.FIELD_IMAGE_FILE: ("page.png", sample_image())}


def created(client) -> int:
    return client.get("/_engine/stats").json()["data"]["key"]["tasks_created"]  # the key's own counters


def test_everything_is_off_by_default():
    faults = FaultSettings()
    assert all(getattr(faults, name) == 0.0 for name in FaultSettings.RATE_FIELDS)


def test_injected_429_creates_nothing(settings, client):
    settings.faults.error_429_rate = 1.0
    response = client.post(CREATE, files=upload())
    assert response.status_code == 429 and response.json()["status"] == 429
    assert response.headers["Retry-After"] == "1"
    assert client.get(contract.query_path("x")).status_code == 429
    assert created(client) == 0


def test_injected_500_creates_nothing(settings, client):
    settings.faults.error_500_rate = 1.0
    response = client.post(CREATE, files=upload())
    assert response.status_code == 500 and response.json() == {
        "status": 500,
        "message": contract.HTTP_STATUS_MEANINGS[500] + " (injected)",
    }
    stats = client.get("/_engine/stats").json()["data"]["key"]
    assert stats["tasks_created"] == 0 and stats["create_requests"] == 1 and stats["injected_500"] == 1


def test_faults_can_be_limited_to_one_endpoint(settings, client):
    settings.faults.error_500_rate = 1.0
    settings.faults.endpoints = frozenset({"query"})
    task_id = client.post(CREATE, files=upload()).json()["data"]["task_id"]
    assert client.get(contract.query_path(task_id)).status_code == 500


def test_slow_answer_still_creates_the_task(settings, client):
    settings.faults.slow_rate = 1.0
    settings.faults.slow_seconds = 0.3
    with pytest.raises(httpx.ReadTimeout):
        client.post(CREATE, files=upload(), timeout=httpx.Timeout(10, read=0.1))
    # The client gave up; the task exists anyway, like a real cloud API. The server does the
    # work before the injected wait, and on a loaded machine the work itself can outlast the
    # client's 0.1 s: wait for the counter (a deadline, not a timing assertion).
    deadline = time.monotonic() + 10.0
    while created(client) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert created(client) == 1
    started = time.monotonic()
    assert client.post(CREATE, files=upload()).status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("state", [-1, -9, -13, -42])
def test_failed_state_is_chosen(settings, client, state):
    settings.faults.failed_state_rate = 1.0
    settings.faults.failed_state = state
    body = client.post(CREATE, files=upload(), data={"sync": "1"}).json()
    assert body["status"] == 200 and body["data"]["state"] == state
    assert body["message"].startswith(contract.state_meaning(state))


def test_never_finishing_task_stays_processing(settings, client):
    settings.faults.never_finish_rate = 1.0
    task_id = client.post(CREATE, files=upload()).json()["data"]["task_id"]
    settings.clock.advance(contract.MAX_PROCESSING_SECONDS * 2)  # not even the -8 rule ends it
    data = client.get(contract.query_path(task_id)).json()["data"]
    assert data["state"] == contract.STATE_PROCESSING and 0 < data["progress"] < 100
    settings.clock.advance(contract.RESULT_URL_TTL_SECONDS)
    assert client.get(contract.query_path(task_id)).status_code == 404  # until it expires


def test_never_finishing_task_in_sync_mode_returns_processing(settings, client):
    settings.faults.never_finish_rate = 1.0
    settings.sync_wait_seconds = 0.1
    try:
        body = client.post(CREATE, files=upload(), data={"sync": "1"}).json()
    finally:
        settings.sync_wait_seconds = None
    assert body["data"]["state"] == contract.STATE_PROCESSING and "image" not in body["data"]


def test_expired_result_url(settings, client):
    settings.faults.expired_url_rate = 1.0
    url = client.post(CREATE, files=upload(), data={"sync": "1"}).json()["data"]["image"]
    assert httpx.get(url).status_code == 403


def test_broken_result_url(settings, client):
    settings.faults.broken_url_rate = 1.0
    url = client.post(CREATE, files=upload(), data={"sync": "1"}).json()["data"]["image"]
    response = httpx.get(url)
    assert response.status_code == 404 and response.json()["status"] == 404


@pytest.mark.parametrize("return_type", ["1", "2", "3"])
def test_corrupt_result_bytes(settings, client, return_type):
    settings.faults.corrupt_result_rate = 1.0
    response = client.post(CREATE, files=upload(), data={"sync": "1", "return_type": return_type})
    if return_type == "3":
        payload = response.content
    elif return_type == "2":
        payload = base64.b64decode(response.json()["data"]["image"])
    else:
        payload = httpx.get(response.json()["data"]["image"]).content
    assert payload and codec.sniff_format(payload) is None
    with pytest.raises(codec.InvalidImageError):
        codec.decode_image(payload)


def test_seeded_rng_is_deterministic():
    def outcomes(seed):
        injector = FaultInjector(FaultSettings(seed=seed, error_500_rate=0.5, failed_state_rate=0.3))
        return [injector.request_fault("create") for _ in range(20)] + [
            injector.task_faults().failed_state for _ in range(20)
        ]

    assert outcomes(7) == outcomes(7)
    assert outcomes(7) != outcomes(8)
    first = outcomes(7)[:20]
    assert "500" in first and None in first


def test_seeded_rates_over_http_are_repeatable(settings, client):
    def run():
        client.put("/_engine/faults", json={"seed": 1234, "error_500_rate": 0.5}, headers=ADMIN)
        return [client.post(CREATE, files=upload()).status_code for _ in range(12)]

    first = run()
    assert first == run() and set(first) == {200, 500}


def test_admin_endpoint_flips_knobs_at_runtime(settings, client, running):
    assert client.get("/_engine/faults", headers=ADMIN).json()["data"]["error_500_rate"] == 0.0
    body = client.put(
        "/_engine/faults", json={"error_500_rate": 1.0, "endpoints": ["create"]}, headers=ADMIN
    ).json()
    assert body["data"]["error_500_rate"] == 1.0 and settings.faults.error_500_rate == 1.0
    assert client.post(CREATE, files=upload()).status_code == 500
    assert (
        client.put("/_engine/faults", json={"reset": True}, headers=ADMIN).json()["data"]["error_500_rate"]
        == 0.0
    )
    assert client.post(CREATE, files=upload()).status_code == 200


@pytest.mark.parametrize(
    "body", [{"error_500_rate": 2}, {"failed_state": 3}, {"nonsense": 1}, {"endpoints": ["nowhere"]}, [1, 2]]
)
def test_admin_endpoint_rejects_bad_values(client, body):
    response = client.put("/_engine/faults", json=body, headers=ADMIN)
    assert response.status_code == 400 and response.json()["status"] == 400
    assert client.get("/_engine/faults", headers=ADMIN).json()["data"]["error_500_rate"] == 0.0


def test_admin_endpoints_need_a_key(running):
    assert httpx.get(running + "/_engine/faults").status_code == 401
    assert httpx.put(running + "/_engine/faults", json={"error_500_rate": 1}).status_code == 401
    assert httpx.get(running + "/_engine/stats").status_code == 401
    assert httpx.post(running + "/_engine/stats/reset").status_code == 401


def test_stats_count_per_key_and_per_source(settings, client, running):
    image = sample_image()
    other = sample_image(width=80)
    for data in (image, image, other):
        client.post(CREATE, files={"image_file": ("a.png", data)})
    client.get(contract.query_path("nope"))
    httpx.post(
        running + CREATE, headers={contract.API_KEY_HEADER: "key-b"}, files={"image_file": ("b.png", other)}
    )
    mine = client.get("/_engine/stats").json()["data"]["key"]
    assert mine["create_requests"] == 3 and mine["tasks_created"] == 3 and mine["query_requests"] == 1
    assert mine["distinct_sources"] == 2 and mine["max_tasks_per_source"] == 2
    body = client.get("/_engine/stats", headers=ADMIN).json()["data"]  # the operator sees every key
    assert body["totals"]["tasks_created"] == 4 and len(body["keys"]) == 2
    assert "key-a" not in str(body) and "key-b" not in str(body)  # keys are fingerprints only
    # In-process, the same counters:
    assert running.engine.stats.tasks_created("key-a") == 3
    assert running.engine.stats.tasks_created("key-b") == 1
    client.post("/_engine/stats/reset", headers=ADMIN)
    assert running.engine.stats.tasks_created("key-a") == 0


def test_stats_and_admin_are_not_rate_limited(settings, client):
    settings.rate_limit_qps = 1
    try:
        assert {client.get("/_engine/stats").status_code for _ in range(5)} == {200}
    finally:
        settings.rate_limit_qps = 0


def test_fault_flags_from_the_cli_reach_the_settings():
    from correction_engine.cli import build_parser

    args = build_parser().parse_args(
        [
            "serve",
            "--enable-fault-injection",
            "--fault-seed",
            "3",
            "--fault-500-rate",
            "0.25",
            "--fault-failed-state",
            "-9",
        ]
    )
    assert args.fault_seed == 3 and args.fault_500_rate == 0.25 and args.fault_failed_state == -9
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--fault-500-rate", "1.5"])
