"""A Submit process killed while its create is out (out of memory, a runtime crash) must not
lead to a second paid create once its lock lapses.

Powertools Idempotency deletes its in-progress record when the wrapped function *raises*, but a
killed process raises nothing: the record stays "in progress" until the invocation's deadline,
then counts as expired, and SQS redelivers the message after its visibility timeout. Without a
durable note that a create went out, that redelivery creates (and pays for) the task again.

Real Powertools Idempotency on moto's DynamoDB and the real submit path; the API is an
httpx.MockTransport that counts the creates it would have charged for. The kill is a
BaseException raised from inside the transport: like a real kill, it skips every ``except
Exception`` clean-up on its way out.
"""

from __future__ import annotations

import json
import time

import boto3
import httpx
import pytest

from correction_core import submission
from correction_core.errors import NotEnoughTime, RateLimited
from correction_core.services import Services
from correction_core.settings import Settings

from .conftest import SubmitAws


class ProcessKilled(BaseException):
    """The runtime ending the process mid-call: no ``except Exception`` clean-up runs."""


class _Context:
    """A Lambda context with a fixed remaining time (enough for a create)."""

    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def _lapse_in_progress_locks(table_name: str) -> int:
    """What time does to a dead invocation's lock: its in-progress expiry passes."""
    table = boto3.resource("dynamodb").Table(table_name)
    past = int((time.time() - 60) * 1000)
    lapsed = 0
    for item in table.scan()["Items"]:
        if item.get("status") == "INPROGRESS":
            table.update_item(
                Key={"id": item["id"]},
                UpdateExpression="SET in_progress_expiration = :t",
                ExpressionAttributeValues={":t": past},
            )
            lapsed += 1
    return lapsed


@pytest.fixture
def settings(submit_aws: SubmitAws) -> Settings:
    return Settings(
        destination_bucket="dst",
        source_prefix="incoming/",
        idempotency_table=submit_aws.idempotency_table,
        state_machine_arn=submit_aws.state_machine_arn,
        source_mode="url",
    )


def _services(settings: Settings, answers: list) -> tuple[Services, list[str]]:
    creates: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        creates.append(request.url.path)  # the server made (and charged) a task each time
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    services = Services(settings=settings, transport=httpx.MockTransport(api), api_key=lambda: "k-123456")
    return services, creates


def _created(task_id: str) -> httpx.Response:
    return httpx.Response(200, json={"status": 200, "data": {"task_id": task_id}})


def test_a_process_killed_while_its_create_is_out_never_creates_again(submit_aws, settings):
    services, creates = _services(settings, [ProcessKilled(), _created("t-2")])
    submission.bind_lambda_context(_Context())

    services.begin_invocation()
    with pytest.raises(ProcessKilled):
        submission.submit_object(services, submit_aws.ref)
    assert _lapse_in_progress_locks(settings.idempotency_table) == 1

    services.begin_invocation()  # SQS redelivers after the visibility timeout
    outcome = submission.submit_object(services, submit_aws.ref)

    assert len(creates) == 1, "the redelivery created (and paid for) the task a second time"
    assert outcome.status == "rejected"
    record = json.loads(boto3.client("s3").get_object(Bucket="dst", Key="failures/a.jpg.json")["Body"].read())
    assert record["reason"] == "create_outcome_unknown"
    assert "ended before" in record["message"]

    services.begin_invocation()  # later deliveries find the stored outcome: no second record
    assert submission.submit_object(services, submit_aws.ref).status == "rejected"
    assert len(creates) == 1


def test_a_create_refused_by_a_429_leaves_no_note_so_the_redelivery_still_creates(submit_aws, settings):
    # The note must not turn answers that prove nothing was created into "outcome unknown".
    slow_down = httpx.Response(429, json={"status": 429, "message": "slow down"})
    answers: list = [slow_down] * 50
    services, creates = _services(settings, answers)
    submission.bind_lambda_context(_Context())

    services.begin_invocation()
    with pytest.raises(RateLimited):
        submission.submit_object(services, submit_aws.ref)
    first_attempts = len(creates)

    answers[:] = [_created("t-9")]  # the rate limit has passed by the redelivery
    services.begin_invocation()
    outcome = submission.submit_object(services, submit_aws.ref)
    assert outcome.status == "submitted" and outcome.task_id == "t-9"
    assert len(creates) > first_attempts


def test_a_create_retried_within_one_delivery_is_not_taken_for_a_lost_one(submit_aws, settings):
    # One 429 then a success inside the client's own retries: the same delivery sends twice.
    slow_down = httpx.Response(429, json={"status": 429, "message": "slow down"})
    services, creates = _services(settings, [slow_down, _created("t-3")])
    submission.bind_lambda_context(_Context())
    services.begin_invocation()
    outcome = submission.submit_object(services, submit_aws.ref)
    assert outcome.status == "submitted" and outcome.task_id == "t-3"
    assert len(creates) == 2


def test_running_out_of_time_before_a_retry_leaves_no_note(submit_aws, settings):
    # A 429, then too little time left to send the retry: nothing was made, so the next
    # delivery must still create.
    slow_down = httpx.Response(429, json={"status": 429, "message": "slow down"})
    answers: list = [slow_down] * 50
    services, creates = _services(settings, answers)

    class Draining(_Context):
        def get_remaining_time_in_millis(self) -> int:
            return 600_000 if not creates else 1_000  # the invocation is nearly over after one send

    submission.bind_lambda_context(Draining())
    services.begin_invocation()
    with pytest.raises(NotEnoughTime):
        submission.submit_object(services, submit_aws.ref)
    assert len(creates) == 1

    submission.bind_lambda_context(_Context())
    answers[:] = [_created("t-5")]
    services.begin_invocation()
    outcome = submission.submit_object(services, submit_aws.ref)
    assert outcome.status == "submitted" and outcome.task_id == "t-5"
