"""Issue 10 item 2: a create never starts without time to finish, and the idempotency lock
outlives every create in flight (else a timed-out invocation's redelivery pays again).

Real Powertools Idempotency on moto's DynamoDB; the API is an httpx.MockTransport that, at the
moment a create arrives, reads the lock the submit step holds.
"""

from __future__ import annotations

import time

import boto3
import httpx
import pytest

from correction_core import submission
from correction_core.errors import CorrectionError
from correction_core.services import Services, create_call_seconds
from correction_core.settings import Settings

from .conftest import IDEMPOTENCY_TABLE, SubmitAws

TABLE = IDEMPOTENCY_TABLE


class Context:
    """A Lambda context whose remaining time runs down with the wall clock, as Lambda's does."""

    def __init__(self, remaining_seconds: float) -> None:
        self._deadline = time.monotonic() + remaining_seconds
        self.function_name = "SubmitFunction"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:SubmitFunction"
        self.aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@pytest.fixture
def world(submit_aws: SubmitAws):
    creates: list[tuple[float, float | None]] = []  # (sent at, lock expiry) per create request

    def api(request: httpx.Request) -> httpx.Response:
        items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
        expiries = [
            float(i["in_progress_expiration"]["N"]) / 1000 for i in items if "in_progress_expiration" in i
        ]
        creates.append((time.time(), min(expiries) if expiries else None))
        return httpx.Response(200, json={"status": 200, "data": {"task_id": "t-1"}})

    settings = Settings(
        destination_bucket="dst",
        source_prefix="incoming/",
        idempotency_table=TABLE,
        state_machine_arn=submit_aws.state_machine_arn,
        source_mode="file",
        budget_wait_seconds=10,
        connect_timeout=2,
        read_timeout=8,
    )
    services = Services(settings=settings, transport=httpx.MockTransport(api), api_key=lambda: "k-123456")
    return services, submit_aws.ref, creates


@pytest.mark.parametrize("remaining", [3.0, 30.0, 600.0])
def test_every_create_sent_is_covered_by_the_lock_until_its_worst_case_end(world, remaining):
    services, ref, creates = world
    submission.bind_lambda_context(Context(remaining))
    services.begin_invocation()
    budget = services.create_budget_seconds()
    try:
        outcome = submission.submit_object(services, ref)
    except CorrectionError as refused:
        # Not enough time: nothing was sent, and the message goes back to the queue.
        assert refused.transient and creates == []
    else:
        assert outcome.status == "submitted" and len(creates) == 1
    for sent_at, lock_expiry in creates:
        assert lock_expiry is not None and lock_expiry >= sent_at + budget
    # Too little time must never be "solved" by sending anyway.
    assert creates or remaining < budget + submission.AFTER_CREATE_SECONDS


def test_a_create_refused_for_time_leaves_no_lock_behind(world):
    services, ref, creates = world
    submission.bind_lambda_context(Context(5.0))
    services.begin_invocation()
    with pytest.raises(CorrectionError):
        submission.submit_object(services, ref)
    # The redelivery (a fresh invocation with its full time) creates exactly once.
    submission.bind_lambda_context(Context(600.0))
    services.begin_invocation()
    assert submission.submit_object(services, ref).status == "submitted"
    assert len(creates) == 1


# --- review of item 2: time spent after the check ------------------------------------------


class FrozenContext(Context):
    """A Lambda context on a clock that moves only when a test moves it (no real waiting)."""

    def __init__(self, remaining_seconds: float) -> None:
        super().__init__(remaining_seconds)
        self.remaining = remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.remaining * 1000))


@pytest.mark.parametrize("key_fetch_seconds", [0.0, 2.0])
def test_time_spent_fetching_the_key_counts_against_the_create(world, key_fetch_seconds):
    """A cold container's Secrets Manager read happens after the old check and before the POST:
    the check must see the time it took, so a POST never goes out without time to finish."""
    services, ref, creates = world
    context = FrozenContext(0.0)

    def slow_key() -> str:
        context.remaining -= key_fetch_seconds  # the fetch uses up invocation time
        return "k-123456"

    services.api_key = slow_key
    submission.bind_lambda_context(context)
    services.begin_invocation()
    needed = create_call_seconds(services.settings) + submission.AFTER_CREATE_SECONDS
    context.remaining = needed + 0.5  # just enough when the submit step starts
    sent_with: list[float] = []
    original = services.api._http.request

    def observed(*args, **kwargs):
        sent_with.append(context.remaining)
        return original(*args, **kwargs)

    services.api._http.request = observed
    try:
        outcome = submission.submit_object(services, ref)
    except CorrectionError as refused:
        assert refused.transient and sent_with == [] and creates == []
    else:
        assert outcome.status == "submitted"
    assert all(left >= needed for left in sent_with), (sent_with, needed)
    # Without the delay the create is sent: the check is not simply refusing everything.
    assert bool(sent_with) == (key_fetch_seconds == 0.0)


# --- issue 13: the create step is idempotent (a fast test of what only the slow suite showed) ---


def test_the_same_upload_delivered_twice_creates_one_task(world):
    """SQS delivers at least once: the second delivery must find the stored create outcome in
    DynamoDB and reuse its task, never pay for a second one."""
    services, ref, creates = world
    outcomes = []
    for _delivery in range(2):
        submission.bind_lambda_context(Context(600.0))
        services.begin_invocation()
        outcomes.append(submission.submit_object(services, ref))
    assert [o.status for o in outcomes] == ["submitted", "submitted"]
    assert outcomes[0].task_id == outcomes[1].task_id == "t-1"
    assert len(creates) == 1
    # The record that made it so is in the table, keyed by the object's identity.
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert any(item.get("status", {}).get("S") == "COMPLETED" for item in items)
