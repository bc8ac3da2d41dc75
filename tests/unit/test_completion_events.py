"""Completion events: what is published (checked against the committed schemas, as EventBridge
delivers it to a rule's SQS target in moto), and that a failing EventBridge never raises into
the outcome that was already stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from moto import mock_aws

from correction_core.completion_events import (
    DETAIL_TYPE_CORRECTED,
    DETAIL_TYPE_FAILED,
    EVENT_SOURCE,
    EventPublisher,
    StageTimes,
    announce_failure,
    announce_result,
    outcome_id,
)
from correction_core.failures import FailureRecord
from correction_core.objects import ObjectRef
from correction_core.observability import metrics

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
REGION = "us-east-1"
REF = ObjectRef("photos-in", "incoming/shop/March été + tax.jpg", version_id="v1", etag='"abc"', size=1234)


def schema(detail_type: str) -> dict[str, Any]:
    name = {DETAIL_TYPE_CORRECTED: "photo-corrected.json", DETAIL_TYPE_FAILED: "photo-correction-failed.json"}
    return json.loads((SCHEMAS / name[detail_type]).read_text())


def assert_matches_schema(event: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(schema(event["detail-type"])).validate(event)
    # jsonschema checks "format" only with optional packages: check the moments ourselves.
    detail = event["detail"]
    moments = [detail.get("failed_at"), detail.get("submitted_at"), *(detail.get("timings") or {}).values()]
    for value in moments:
        if isinstance(value, str):
            assert datetime.fromisoformat(value).tzinfo is not None, value


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str]]:
    """The default bus with a rule sending our events to a queue, as the README's example does."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        url = sqs.create_queue(QueueName="photo-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="photo-events", EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
        events.put_targets(Rule="photo-events", Targets=[{"Id": "queue", "Arn": arn}])
        yield events, sqs, url


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


@pytest.fixture(autouse=True)
def fresh_metrics() -> Iterator[None]:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def counted(name: str) -> float:
    return sum(metrics.metric_set.get(name, {}).get("Value", []))


def test_photo_corrected_event_matches_its_schema_and_says_where_everything_is(bus):
    events, sqs, url = bus
    publisher = EventPublisher(events, "default")
    times = StageTimes(
        uploaded=1_790_000_000.0,
        submitted=1_790_000_002.5,
        finished=1_790_000_006.0,
        written=1_790_000_006.75,
    )
    assert announce_result(
        publisher,
        REF,
        result_bucket="photos-out",
        result_key="results/shop/March été + tax.jpg.jpg",
        image_format="jpeg",
        content_type="image/jpeg",
        size=98765,
        task_id="t-1",
        enhancement_type="2",
        times=times,
    )
    (event,) = received(sqs, url)
    assert_matches_schema(event)
    assert event["source"] == EVENT_SOURCE and event["detail-type"] == DETAIL_TYPE_CORRECTED
    detail = event["detail"]
    assert detail["source"] == {
        "bucket": "photos-in",
        "key": REF.key,
        "version_id": "v1",
        "etag": '"abc"',
        "size": 1234,
    }
    assert detail["result"]["key"] == "results/shop/March été + tax.jpg.jpg"
    assert detail["result"]["bucket"] == "photos-out" and detail["result"]["size"] == 98765
    assert detail["task_id"] == "t-1" and detail["enhancement_type"] == 2
    timings = detail["timings"]
    assert timings["queued_seconds"] == 2.5
    assert timings["processing_seconds"] == 3.5
    assert timings["writing_seconds"] == 0.75
    assert timings["total_seconds"] == 6.75
    assert datetime.fromisoformat(timings["written_at"]).timestamp() == pytest.approx(1_790_000_006.75)
    assert counted("CompletionEventsPublished") == 1


def test_failure_event_matches_its_schema_and_names_the_record(bus):
    events, sqs, url = bus
    record = FailureRecord(
        source=REF.to_dict(),
        stage="poll",
        reason="task_failed",
        message="x" * 5000,
        state=-7,
        task_id="t-2",
        enhancement_type=0,
        submitted_at="2026-11-24T00:00:34+00:00",
        execution="arn:aws:states:e",
    )
    assert announce_failure(
        EventPublisher(events, "default"),
        REF,
        record,
        record_bucket="photos-out",
        record_key="failures/shop/x.json",
    )
    (event,) = received(sqs, url)
    assert_matches_schema(event)
    detail = event["detail"]
    assert event["detail-type"] == DETAIL_TYPE_FAILED
    assert detail["failure_record"] == {"bucket": "photos-out", "key": "failures/shop/x.json"}
    assert (detail["reason"], detail["stage"], detail["state"], detail["task_id"]) == (
        "task_failed",
        "poll",
        -7,
        "t-2",
    )
    assert detail["source"]["key"] == REF.key
    assert len(detail["message"]) == 1000  # the record keeps it whole


def test_a_rejection_before_paying_has_no_task_and_still_matches(bus):
    events, sqs, url = bus
    record = FailureRecord(
        source=REF.to_dict(), stage="submit", reason="invalid_input", message="too big", code="too_large"
    )
    announce_failure(
        EventPublisher(events, "default"), REF, record, record_bucket="b-out", record_key="failures/k.json"
    )
    (event,) = received(sqs, url)
    assert_matches_schema(event)
    assert event["detail"]["task_id"] is None and event["detail"]["code"] == "too_large"


def test_outcome_id_is_the_same_for_copies_and_differs_between_outcomes():
    assert outcome_id(REF, DETAIL_TYPE_CORRECTED) == outcome_id(
        ObjectRef(**REF.to_dict()), DETAIL_TYPE_CORRECTED
    )
    others = {
        outcome_id(REF, DETAIL_TYPE_FAILED),
        outcome_id(ObjectRef(REF.bucket, REF.key, version_id="v2"), DETAIL_TYPE_CORRECTED),
        outcome_id(ObjectRef(**{**REF.to_dict(), "attempt": 1}), DETAIL_TYPE_CORRECTED),
    }
    assert outcome_id(REF, DETAIL_TYPE_CORRECTED) not in others and len(others) == 3


# --- publishing never raises ----------------------------------------------------------------


def stubbed_client() -> tuple[Any, Stubber]:
    client = boto3.client("events", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    return client, Stubber(client)


def test_throttling_is_retried_a_bounded_number_of_times_then_counted_not_raised():
    client, stub = stubbed_client()
    for _ in range(3):
        stub.add_client_error("put_events", service_error_code="ThrottlingException", http_status_code=400)
    slept: list[float] = []
    publisher = EventPublisher(client, "default", attempts=3, sleep=slept.append, jitter=lambda: 0.5)
    with stub:
        assert publisher.publish(DETAIL_TYPE_CORRECTED, {"outcome_id": "x"}) is False
        stub.assert_no_pending_responses()  # all three attempts were made, no more
    assert slept == [0.1, 0.2]  # short and bounded: the outcome is already stored
    assert counted("CompletionEventsFailed") == 1 and counted("CompletionEventsPublished") == 0


def test_a_failed_entry_is_retried_and_then_published_once():
    client, stub = stubbed_client()
    stub.add_response(
        "put_events",
        {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]},
    )
    stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]})
    with stub:
        assert EventPublisher(client, "default", sleep=lambda s: None).publish(DETAIL_TYPE_FAILED, {}) is True
        stub.assert_no_pending_responses()
    assert counted("CompletionEventsPublished") == 1 and counted("CompletionEventsFailed") == 0


def test_a_permanent_refusal_is_not_retried():
    client, stub = stubbed_client()
    stub.add_client_error("put_events", service_error_code="AccessDeniedException", http_status_code=400)
    slept: list[float] = []
    with stub:
        assert EventPublisher(client, "default", sleep=slept.append).publish(DETAIL_TYPE_FAILED, {}) is False
    assert slept == [] and counted("CompletionEventsFailed") == 1


def test_no_connection_to_eventbridge_never_raises():
    class Unreachable:
        calls = 0

        def put_events(self, **_: Any) -> dict[str, Any]:
            Unreachable.calls += 1
            raise EndpointConnectionError(endpoint_url="https://events.us-east-1.amazonaws.com")

    assert (
        EventPublisher(Unreachable(), "default", sleep=lambda s: None).publish(DETAIL_TYPE_CORRECTED, {})
        is False
    )
    assert Unreachable.calls == 3 and counted("CompletionEventsFailed") == 1


def test_no_bus_configured_publishes_nothing():
    record = FailureRecord(source=REF.to_dict(), stage="submit", reason="invalid_input", message="m")
    assert announce_failure(None, REF, record, record_bucket="b", record_key="k") is False
