"""CheckStatus and Finalize end their API and download work before their Lambda does.

A Lambda that times out reports an error the state machine does not retry (it is not one of the
API errors in the Retry lists): the execution goes to RecordFailure and a paid, finished result
is lost. With the template's client settings one poll could take 64 s (3 attempts of 2 + 2 + 8
+ 8 s, plus backoff) against CheckStatus's 20 s timeout. Each call now also ends when the
invocation's remaining time (less what the handler still needs afterwards) runs out, as an
``ApiTransportError``, which the state machine retries.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from correction_core.errors import ApiTransportError
from correction_core.finalization import AFTER_CALLS_SECONDS, download_policy
from correction_core.result_fetch import DownloadPolicy
from correction_core.services import Services
from correction_core.settings import Settings
from correction_core.task_status import AFTER_POLL_SECONDS, check_task

ROOT = Path(__file__).resolve().parents[2]


class _Context:
    """A Lambda context whose deadline is ``seconds`` from its creation, in real time."""

    def __init__(self, seconds: float) -> None:
        self._ends = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


def _settings() -> Settings:
    # The template's client timeouts (ConnectTimeoutSeconds 2, ReadTimeoutSeconds 8).
    return Settings(destination_bucket="dst", connect_timeout=2.0, read_timeout=8.0)


def test_a_poll_of_a_stalled_api_ends_before_the_invocation_does():
    release = threading.Event()

    def stalled(request: httpx.Request) -> httpx.Response:
        release.wait(30)  # an API that answers only after 30 s
        return httpx.Response(200, json={"status": 200, "data": {"task_id": "t-1", "state": 1}})

    services = Services(
        settings=_settings(), transport=httpx.MockTransport(stalled), api_key=lambda: "k-123456"
    )
    remaining = 4.0
    services.begin_invocation(_Context(remaining), after_calls_seconds=AFTER_POLL_SECONDS)
    started = time.monotonic()
    try:
        with pytest.raises(ApiTransportError):
            check_task(services, "t-1")
        assert time.monotonic() - started < remaining, "the poll outlived its invocation"
    finally:
        release.set()


def test_the_result_download_ends_before_the_invocation_does():
    services = Services(settings=_settings(), api_key=lambda: "k-123456")
    function_timeout = 60.0  # Finalize's
    services.begin_invocation(_Context(function_timeout), after_calls_seconds=AFTER_CALLS_SECONDS)
    policy = download_policy(services)
    # A read may overrun the download's deadline by one read timeout; storing the result follows.
    assert policy.total_timeout > 0
    assert policy.total_timeout + policy.timeout.read <= function_timeout - AFTER_CALLS_SECONDS
    # Outside Lambda (no context) the download keeps its own cap.
    assert download_policy(Services(settings=_settings())).total_timeout == DownloadPolicy().total_timeout


@pytest.mark.parametrize("state", ["CheckStatus", "Finalize"])
def test_a_timed_out_or_crashed_invocation_is_retried_not_recorded_as_a_failure(state):
    definition = json.loads((ROOT / "statemachine" / "correction.asl.json").read_text())
    retried = {name for rule in definition["States"][state]["Retry"] for name in rule["ErrorEquals"]}
    # How Step Functions reports a Lambda that timed out or ran out of memory.
    assert {"Sandbox.Timedout", "Lambda.Unknown"} <= retried
