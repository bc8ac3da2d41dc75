"""Completion events through the emulated stack: a rule on the stack's bus sends them to a queue
(correction_local.completion_events), as the README's example rule does on AWS. Every outcome
gives exactly one event with the right fields; a superseded upload gives none; an EventBridge
that refuses everything costs no image its outcome."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
from botocore.exceptions import ClientError

from correction_core.completion_events import DETAIL_TYPE_CORRECTED, DETAIL_TYPE_FAILED, EVENT_SOURCE
from correction_local.pipeline import Upload, upload_all

from .support import (
    assert_accounted,
    consume_test_event,
    encode,
    expected_failure_key,
    function_services,
    page,
    pdf_document,
    read_destination,
    settle,
    submit_one_by_one,
)

pytestmark = pytest.mark.slow

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
SCHEMA_FILES = {
    DETAIL_TYPE_CORRECTED: "photo-corrected.json",
    DETAIL_TYPE_FAILED: "photo-correction-failed.json",
}
UNTHROTTLED = {"ApiQps": 50}


def validate(event: dict) -> None:
    schema = json.loads((SCHEMAS / SCHEMA_FILES[event["detail-type"]]).read_text())
    jsonschema.Draft4Validator(schema).validate(event)


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_a_result_a_task_failure_and_a_refusal_each_publish_exactly_one_event(make_stack, engine):
    stack = make_stack(EventBusName="photo-events", **UNTHROTTLED)
    consume_test_event(stack)
    good = Upload("incoming/shop/receipt été.jpg", encode(page(30), "JPEG", quality=85))
    doomed = Upload("incoming/doomed.jpg", encode(page(31), "JPEG", quality=85))
    refused = Upload("incoming/contract.pdf", pdf_document())
    submit_one_by_one(
        stack,
        engine.settings.faults,
        [(good, {}), (doomed, {"failed_state_rate": 1.0, "failed_state": -7}), (refused, {})],
    )
    settle(stack)
    bucket = read_destination(stack)
    outcomes = assert_accounted(bucket, [good.key, doomed.key, refused.key])
    assert outcomes == {good.key: "result", doomed.key: "failure", refused.key: "failure"}

    events = stack.events.drain()
    assert stack.events.bus_name == "photo-events"  # the template's parameter chose the bus
    assert sorted(e["detail"]["source"]["key"] for e in events) == sorted([good.key, doomed.key, refused.key])
    for event in events:
        validate(event)
        assert event["source"] == EVENT_SOURCE
    # The upload as the pipeline knew it (moto's notifications carry the ETag, not the version).
    etags = {
        u.key: stack.client("s3").head_object(Bucket=stack.source_bucket, Key=u.key)["ETag"].strip('"')
        for u in (good, doomed, refused)
    }

    (corrected,) = stack.events.for_source(good.key)
    assert corrected["detail-type"] == DETAIL_TYPE_CORRECTED
    detail = corrected["detail"]
    result_key, head = bucket.result_for(good.key)
    assert detail["result"]["bucket"] == stack.destination_bucket and detail["result"]["key"] == result_key
    assert detail["result"]["size"] == head["ContentLength"] and detail["result"]["format"] == "jpeg"
    assert detail["source"]["bucket"] == stack.source_bucket
    assert detail["source"]["etag"].strip('"') == etags[good.key]
    assert detail["task_id"] == head["Metadata"]["task-id"]
    assert detail["enhancement_type"] == 0  # the stack's DefaultType
    timings = detail["timings"]
    moments = [timings[k] for k in ("uploaded_at", "submitted_at", "finished_at", "written_at")]
    assert all(moments), timings
    # moto's LastModified has whole seconds: the upload may read up to 1 s early, never late.
    assert at(moments[0]) <= at(moments[1]) + 1e-3 and at(moments[1]) <= at(moments[2]) <= at(moments[3])
    assert timings["processing_seconds"] == pytest.approx(at(moments[2]) - at(moments[1]), abs=2e-3)

    (failed,) = stack.events.for_source(doomed.key)
    assert failed["detail-type"] == DETAIL_TYPE_FAILED
    detail = failed["detail"]
    record = bucket.failure_for(doomed.key)
    assert detail["failure_record"] == {
        "bucket": stack.destination_bucket,
        "key": expected_failure_key(doomed.key),
    }
    assert (detail["reason"], detail["state"], detail["stage"]) == ("task_failed", -7, "poll")
    assert detail["task_id"] == record["task_id"] and detail["task_id"]
    assert detail["source"]["etag"].strip('"') == etags[doomed.key]

    (rejected,) = stack.events.for_source(refused.key)
    assert rejected["detail-type"] == DETAIL_TYPE_FAILED
    assert rejected["detail"]["reason"] == bucket.failure_for(refused.key)["reason"] == "invalid_input"
    assert rejected["detail"]["stage"] == "submit" and rejected["detail"]["task_id"] is None
    assert rejected["detail"]["failure_record"]["key"] == expected_failure_key(refused.key)


def test_a_superseded_upload_publishes_nothing(make_stack, engine):
    stack = make_stack(PollCapSeconds=4, **UNTHROTTLED)
    consume_test_event(stack)
    key = "incoming/receipt.jpg"
    first = Upload(key, encode(page(40), "JPEG", quality=85))
    second = Upload(key, encode(page(41), "JPEG", quality=85))
    # The first upload's task hangs until the poll cap; by then the second one has replaced it.
    submit_one_by_one(stack, engine.settings.faults, [(first, {"never_finish_rate": 1.0}), (second, {})])
    settle(stack)
    assert assert_accounted(read_destination(stack), [key]) == {key: "result"}
    newest = stack.client("s3").head_object(Bucket=stack.source_bucket, Key=key)["ETag"].strip('"')
    events = stack.events.for_source(key)
    assert [(e["detail-type"], e["detail"]["source"]["etag"].strip('"')) for e in events] == [
        (DETAIL_TYPE_CORRECTED, newest)
    ]


def test_an_eventbridge_that_refuses_everything_costs_no_image_its_outcome(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    refused_calls: list[str] = []

    def refuse(**kwargs):
        refused_calls.append(kwargs.get("model").name if kwargs.get("model") else "?")
        raise ClientError(
            {"Error": {"Code": "InternalException", "Message": "EventBridge is down"}}, "PutEvents"
        )

    for name in ("SubmitFunction", "FinalizeFunction", "RecordFailureFunction"):
        function_services(name).completion_events.client.meta.events.register(
            "before-call.events.PutEvents", refuse
        )
    good = Upload("incoming/a.jpg", encode(page(50), "JPEG", quality=85))
    refused = Upload("incoming/b.pdf", pdf_document())
    upload_all(stack, [good, refused])
    _, executions = settle(stack)

    outcomes = assert_accounted(read_destination(stack), [good.key, refused.key])
    assert outcomes == {good.key: "result", refused.key: "failure"}
    assert [e["status"] for e in executions] == ["SUCCEEDED"]  # not failed, not retried into a record
    assert stack.events.drain() == []
    assert len(refused_calls) == 6  # three bounded attempts for each of the two outcomes


def test_the_local_runner_summary_lists_the_events_it_saw(tmp_path):
    from correction_local.inputs import InputFile
    from correction_local.runner import RunConfig, run_local

    inputs = [
        InputFile("receipt.jpg", encode(page(60), "JPEG", quality=85), enhancement_type=0),
        InputFile("contract.pdf", pdf_document()),
    ]
    run = run_local(RunConfig(output=tmp_path / "out", gallery=False), inputs)
    assert {i.name: i.outcome for i in run.images} == {"receipt.jpg": "result", "contract.pdf": "failure"}
    assert {i.name: i.events for i in run.images} == {
        "receipt.jpg": [DETAIL_TYPE_CORRECTED],
        "contract.pdf": [DETAIL_TYPE_FAILED],
    }
    summary = json.loads(run.summary_json.read_text())
    assert summary["events"]["bus"] == "default"
    assert summary["events"]["by_detail_type"] == {DETAIL_TYPE_CORRECTED: 1, DETAIL_TYPE_FAILED: 1}
    assert summary["events"]["per_upload"] == {
        "incoming/receipt.jpg": [DETAIL_TYPE_CORRECTED],
        "incoming/contract.pdf": [DETAIL_TYPE_FAILED],
    }
