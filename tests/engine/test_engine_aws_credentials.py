"""Result URLs are signed with credentials that outlive them (issue 12: "results as URLs valid
one hour").

S3 refuses a presigned URL once the credentials that signed it expire. The credentials here come
the way an ECS task's do: botocore's own container provider reads them from a credentials
endpoint (``AWS_CONTAINER_CREDENTIALS_FULL_URI``), here a fake one on loopback whose sets expire
at times each test chooses, relative to the real clock (minutes apart from any threshold, so
nothing depends on how fast the test runs).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from correction_core import contract
from correction_engine.aws.blobs import S3BlobStore
from correction_engine.aws.clients import AwsClients
from correction_engine.aws.credentials import RETRY_SECONDS, url_signing_session
from correction_engine.aws.settings import AwsEngineSettings

SETTINGS = AwsEngineSettings(
    tasks_table="tasks",
    results_bucket="results",
    work_queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/work",
    keys_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys",
    region_name="eu-west-1",
)
HOUR = float(contract.RESULT_URL_TTL_SECONDS)


@dataclass
class CredentialsEndpoint:
    """An ECS-style credentials endpoint: each GET answers the next set (the last one repeats)."""

    sets: list[Callable[[int], dict[str, str]]]
    fetches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> dict[str, str]:
        with self.lock:
            self.fetches += 1
            number = self.fetches
        return self.sets[min(number, len(self.sets)) - 1](number)


def expiring_in(delta: timedelta, *, same_set: bool = False) -> Callable[[int], dict[str, str]]:
    """A set named after its fetch (ASIA...1, ASIA...2) that expires ``delta`` after it is served;
    ``same_set``: the one set the endpoint keeps answering until it rotates."""

    def make(number: int) -> dict[str, str]:
        expiry = datetime.now(UTC) + delta
        number = 0 if same_set else number
        return {
            "AccessKeyId": f"ASIAFAKESET{number:04d}",
            "SecretAccessKey": f"secret-{number}",
            "Token": f"token-{number}",
            "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    return make


def broken(number: int) -> dict[str, str]:
    """What a credentials endpoint in trouble answers: no keys at all."""
    return {}


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CredentialsEndpoint]:
    served = CredentialsEndpoint(sets=[])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(served.answer()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    # Only the container provider may answer: no keys, profiles or instance metadata from the host.
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"http://127.0.0.1:{server.server_port}/creds")
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


def signed_by(clients: AwsClients) -> str:
    """Sign one result URL valid for the contract's hour; the access key its signature names."""
    url = S3BlobStore(clients.s3, SETTINGS.results_bucket, clock=time.time).direct_url(
        "result-1.jpg", expires_at=time.time() + HOUR
    )
    assert url is not None
    credential = parse_qs(urlsplit(url).query)["X-Amz-Credential"][0]
    return credential.split("/")[0]


def test_a_url_signed_when_the_set_has_20_min_left_is_signed_with_a_fresh_set(
    endpoint: CredentialsEndpoint,
) -> None:
    # botocore alone renews only in the last 15 minutes: it would sign with set 1, dead in 20.
    endpoint.sets = [expiring_in(timedelta(minutes=20)), expiring_in(timedelta(hours=6))]
    clients = AwsClients.create(SETTINGS)
    assert signed_by(clients) == "ASIAFAKESET0002"
    assert signed_by(clients) == "ASIAFAKESET0002"
    assert endpoint.fetches == 2


def test_a_set_with_5_h_left_is_not_fetched_again(endpoint: CredentialsEndpoint) -> None:
    endpoint.sets = [expiring_in(timedelta(hours=5))]
    clients = AwsClients.create(SETTINGS)
    assert [signed_by(clients) for _ in range(3)] == ["ASIAFAKESET0001"] * 3
    assert endpoint.fetches == 1


class StepClock:
    """Monotonic time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def url_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "correction_engine.aws" and r.levelno == logging.WARNING
    ]


def test_when_no_set_outlives_the_url_the_newest_signs_and_the_chain_is_asked_once_a_minute(
    endpoint: CredentialsEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint.sets = [expiring_in(timedelta(minutes=20))]  # every set served has 20 min left
    clock = StepClock()
    clients = AwsClients.create(SETTINGS, url_signing_session(HOUR, SETTINGS.region_name, clock=clock))
    with caplog.at_level(logging.INFO, logger="correction_engine.aws"):
        # One fetch for the first URL, none for the next ones: no request storm on the endpoint.
        assert [signed_by(clients) for _ in range(5)] == ["ASIAFAKESET0002"] * 5
        assert endpoint.fetches == 2
        assert len(url_warnings(caplog)) == 1
        clock.now += RETRY_SECONDS
        assert [signed_by(clients) for _ in range(3)] == ["ASIAFAKESET0003"] * 3
        assert endpoint.fetches == 3
        assert len(url_warnings(caplog)) == 2  # once per set, not per URL


def test_an_endpoint_answering_the_same_short_set_is_warned_about_once(
    endpoint: CredentialsEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint.sets = [expiring_in(timedelta(minutes=20), same_set=True)]
    clock = StepClock()
    clients = AwsClients.create(SETTINGS, url_signing_session(HOUR, SETTINGS.region_name, clock=clock))
    with caplog.at_level(logging.INFO, logger="correction_engine.aws"):
        for _ in range(3):
            assert signed_by(clients) == "ASIAFAKESET0000"
            clock.now += RETRY_SECONDS
    assert endpoint.fetches == 4  # the first load, then one a minute
    assert len(url_warnings(caplog)) == 1


def test_a_failing_credentials_endpoint_leaves_the_set_in_hand_signing(
    endpoint: CredentialsEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint.sets = [expiring_in(timedelta(minutes=20)), broken]
    clients = AwsClients.create(SETTINGS)
    with caplog.at_level(logging.INFO, logger="correction_engine.aws"):
        assert [signed_by(clients) for _ in range(3)] == ["ASIAFAKESET0001"] * 3
    assert endpoint.fetches == 2
    (warning,) = url_warnings(caplog)
    assert "fetching a new set failed" in warning


def test_static_keys_sign_unchanged(monkeypatch: pytest.MonkeyPatch, endpoint: CredentialsEndpoint) -> None:
    # A user's own keys come before the container endpoint in the chain, and never expire.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASTATICUSERKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "static-secret")
    assert signed_by(AwsClients.create(SETTINGS)) == "AKIASTATICUSERKEY"
    # The emulator's session, given as it is.
    emulated = boto3.session.Session(
        aws_access_key_id="emulated", aws_secret_access_key="emulated", region_name="eu-west-1"
    )
    assert signed_by(AwsClients.create(SETTINGS, emulated)) == "emulated"
    assert endpoint.fetches == 0
