"""The failure branch's core step on moto S3: one record per object, none for a superseded upload."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from correction_core import contract
from correction_core.failure_recording import record_failure
from correction_core.objects import ObjectRef, failure_key
from correction_core.services import Services
from correction_core.settings import Settings


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="src")
        s3.create_bucket(Bucket="dst")
        etag = s3.put_object(Bucket="src", Key="incoming/a.jpg", Body=b"first")["ETag"].strip('"')
        settings = Settings(destination_bucket="dst", source_prefix="incoming/")
        yield s3, Services(settings=settings, api_key=lambda: "k-123456"), etag


def _failed_state(etag: str) -> dict:
    return {
        "object": {"bucket": "src", "key": "incoming/a.jpg", "etag": etag},
        "task": {"task_id": "t-9", "enhancement_type": 1},
        "status": {
            "task_id": "t-9",
            "state": contract.STATE_INVALID_IMAGE,
            "outcome": "failed",
            "message": "",
        },
    }


def test_a_failed_task_leaves_one_record_under_the_failure_prefix(world):
    s3, services, etag = world
    state = _failed_state(etag)
    out = record_failure(services, state, execution="arn:aws:states:us-east-1:1:execution:m:x")
    assert out["reason"] == "task_failed"
    assert out["failure_key"] == failure_key(ObjectRef.from_dict(state["object"]), services.settings)
    record = json.loads(s3.get_object(Bucket="dst", Key=out["failure_key"])["Body"].read())
    assert (record["task_id"], record["state"], record["stage"]) == (
        "t-9",
        contract.STATE_INVALID_IMAGE,
        "poll",
    )
    assert record["execution"].endswith(":x")
    listed = s3.list_objects_v2(Bucket="dst").get("Contents", [])
    assert [o["Key"] for o in listed] == [out["failure_key"]]


def test_an_upload_replaced_since_leaves_no_record(world):
    s3, services, etag = world
    s3.put_object(Bucket="src", Key="incoming/a.jpg", Body=b"second, newer")  # its own run decides
    out = record_failure(services, _failed_state(etag))
    assert out == {"failure_key": None, "reason": "superseded"}
    assert s3.list_objects_v2(Bucket="dst").get("KeyCount") == 0


def test_a_result_finalize_stored_before_failing_is_the_outcome(world):
    # Review: Finalize stored the result, then failed (its clean-up refused, a timeout); the
    # failure branch wrote a record beside the result: two outcomes for one upload.
    s3, services, etag = world
    ref = ObjectRef.from_dict(_failed_state(etag)["object"])
    stale = failure_key(ref, services.settings)
    s3.put_object(Bucket="dst", Key=stale, Body=b"{}")  # an earlier attempt's record
    meta = {"task-id": "t-9", "attempt": "0"}
    s3.put_object(Bucket="dst", Key="results/a.jpg.png", Body=b"png", Metadata=meta)
    out = record_failure(services, _failed_state(etag))
    assert out == {"failure_key": None, "reason": "result_stored"}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="dst")["Contents"]] == ["results/a.jpg.png"]


def test_a_result_of_another_task_or_attempt_does_not_stand_for_this_one(world):
    s3, services, etag = world
    s3.put_object(
        Bucket="dst", Key="results/a.jpg.jpg", Body=b"j", Metadata={"task-id": "t-1", "attempt": "0"}
    )
    s3.put_object(
        Bucket="dst", Key="results/a.jpg.png", Body=b"p", Metadata={"task-id": "t-9", "attempt": "2"}
    )
    out = record_failure(services, _failed_state(etag))
    assert out["reason"] == "task_failed" and out["failure_key"]
