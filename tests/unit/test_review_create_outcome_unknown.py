"""Review of issue 10 item 3: a create is repeated only after an answer that proves no task was
made. Any other failure of the create call -- a 200 whose data has no task id, an unexpected
exception while the request was out -- is stored as "outcome unknown", never redelivered.

Real Powertools Idempotency on moto's DynamoDB and the real submit path; the API is an
httpx.MockTransport that counts the creates it would have charged for.
"""

from __future__ import annotations

import json

import boto3
import httpx
import pytest

from correction_core import submission
from correction_core.services import Services
from correction_core.settings import Settings

from .conftest import SubmitAws


@pytest.fixture
def stack(submit_aws: SubmitAws):
    settings = Settings(
        destination_bucket="dst",
        source_prefix="incoming/",
        idempotency_table=submit_aws.idempotency_table,
        state_machine_arn=submit_aws.state_machine_arn,
        source_mode="url",
    )
    return settings, submit_aws.ref


def _deliver(settings, ref, answer, deliveries=3):
    """Deliver one upload's message ``deliveries`` times (SQS redelivers a record that raised)."""
    creates: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        creates.append(request.url.path)  # the server made (and charged) a task each time
        return answer(request)

    services = Services(settings=settings, transport=httpx.MockTransport(api), api_key=lambda: "k-123456")
    outcomes = []
    for _ in range(deliveries):
        services.begin_invocation()
        try:
            outcomes.append(submission.submit_object(services, ref).status)
        except Exception as exc:
            outcomes.append(f"raised {type(exc).__name__}")
    return creates, outcomes


@pytest.mark.parametrize("data", [{}, {"task_id": None}, {"task_id": "  "}, {"task_id": ""}])
def test_a_create_answered_without_a_task_id_is_paid_once_and_recorded(stack, data):
    settings, ref = stack
    creates, outcomes = _deliver(
        settings, ref, lambda r: httpx.Response(200, json={"status": 200, "data": data})
    )
    assert len(creates) == 1, outcomes
    assert outcomes == ["rejected"] * 3  # the stored outcome: one create_outcome_unknown record
    record = json.loads(boto3.client("s3").get_object(Bucket="dst", Key="failures/a.jpg.json")["Body"].read())
    assert record["reason"] == "create_outcome_unknown"


def test_an_unexpected_error_while_the_create_is_out_is_not_sent_again(stack):
    settings, ref = stack

    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("the transport broke after writing the request")

    creates, outcomes = _deliver(settings, ref, broken)
    assert len(creates) == 1, outcomes
    assert outcomes == ["rejected"] * 3


def test_a_create_refused_by_a_429_is_still_sent_again_on_redelivery(stack):
    # The inverted default must not swallow the answers that do prove nothing was created.
    settings, ref = stack
    creates, outcomes = _deliver(
        settings,
        ref,
        lambda r: httpx.Response(429, json={"status": 429, "message": "slow down"}),
        deliveries=2,
    )
    assert all(o.startswith("raised") for o in outcomes) and len(creates) > 2
