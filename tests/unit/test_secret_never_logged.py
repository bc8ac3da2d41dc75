"""Issue 10 item 13: the API key reaches no log record of any logger at any level.

botocore logs every response body at DEBUG, GetSecretValue's included. These tests turn the
root logger to DEBUG, read the secret through the code path the functions use (Powertools
Parameters → boto3 → moto), and look at every record any logger handled.
"""

from __future__ import annotations

import logging

import boto3
import httpx
import pytest
from moto import mock_aws

SENTINEL = "sk-live-SENTINEL-a9f3c27e51d4"


class Capture(list):
    """Every record handled by any logger (propagating or not), as the text a handler could
    write; capture (and DEBUG on the root logger) starts at ``start``, after a test's set-up."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        self._monkeypatch = monkeypatch

    def start(self) -> None:
        original = logging.Logger.callHandlers
        seen = self

        def capture(logger, record):
            seen.append(record.getMessage())
            seen.append(repr(record.__dict__))  # extras, args, exception text
            return original(logger, record)

        self._monkeypatch.setattr(logging.Logger, "callHandlers", capture)
        root = logging.getLogger()
        self._monkeypatch.setattr(root, "level", root.level)  # restored after the test
        root.setLevel(logging.DEBUG)
        for name in ("botocore", "boto3", "urllib3", "httpx", "httpcore", "aws_lambda_powertools"):
            self._monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)


@pytest.fixture
def every_record(monkeypatch):
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # a cached secret would skip the very call under test
    yield Capture(monkeypatch)
    parameters.clear_caches()


def _leaks(seen: list[str]) -> list[str]:
    return [text[:200] for text in seen if SENTINEL in text]


def test_reading_the_key_in_a_function_logs_it_nowhere(every_record, monkeypatch):
    from correction_core.services import Services
    from correction_core.settings import Settings

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="api-key-fn", SecretString=SENTINEL)["ARN"]
        every_record.start()
        seen_keys: list[str] = []

        def api(request: httpx.Request) -> httpx.Response:
            seen_keys.append(request.headers["X-API-KEY"])
            return httpx.Response(200, json={"status": 200, "data": {"task_id": "t1", "state": 4}})

        services = Services(settings=Settings(api_key_secret_id=arn), transport=httpx.MockTransport(api))
        services.api.get_task("t1")
    assert seen_keys == [SENTINEL]  # the real path did read the secret
    assert any(
        "GetSecretValue" in text or "secretsmanager" in text for text in every_record
    )  # botocore talked
    assert _leaks(every_record) == []


def test_the_local_runner_putting_and_reading_the_key_logs_it_nowhere(every_record, monkeypatch):
    from correction_local import lambda_bridge
    from correction_local.stack import MOTO_CONFIG, build_stack

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    every_record.start()
    with mock_aws(config=MOTO_CONFIG):
        try:
            stack = build_stack({"ApiBaseUrl": "http://127.0.0.1:9"}, api_key=SENTINEL)
            services = lambda_bridge._services_for(stack.submit_function)
            assert services.api._key.get() == SENTINEL  # the function's real key path
        finally:
            lambda_bridge.uninstall()
    assert _leaks(every_record) == []
