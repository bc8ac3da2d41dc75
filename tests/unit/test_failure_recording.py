"""The failure branch's core step on moto S3: one record per object, none for a superseded upload;
and Finalize against a newer upload arriving while its result downloads."""

from __future__ import annotations

import io
import json
import tempfile

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from correction_core import contract, finalization, submission
from correction_core.failure_recording import record_failure
from correction_core.objects import ObjectRef, failure_key
from correction_core.result_fetch import SpooledResult
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
    published: list[tuple[str, dict]] = []

    class Bus:
        def publish(self, detail_type: str, detail: dict) -> bool:
            published.append((detail_type, detail))
            return True

    services.completion_events = Bus()
    out = record_failure(services, _failed_state(etag))
    assert out == {"failure_key": None, "reason": "result_stored"}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="dst")["Contents"]] == ["results/a.jpg.png"]
    # Its one event is the correction, as Finalize would have announced it (review: none was).
    assert [kind for kind, _ in published] == ["Photo Corrected"], published


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


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def _versioned_source(world, key: str):
    """The world's clients with the source bucket versioned, and a put of ``key`` that returns
    the new version's ObjectRef."""
    s3, services, _ = world
    services.s3 = s3
    s3.put_bucket_versioning(Bucket="src", VersioningConfiguration={"Status": "Enabled"})

    def put(body: bytes) -> ObjectRef:
        answer = s3.put_object(Bucket="src", Key=key, Body=body)
        return ObjectRef("src", key, version_id=answer["VersionId"], etag=answer["ETag"].strip('"'))

    return s3, services, put


def test_a_newer_upload_refused_during_finalizes_download_keeps_its_record_alone(world, monkeypatch):
    # Review: the older upload's Finalize checked "superseded" once, before a download that can
    # take seconds, then removed the key's failure record - the newer upload's, refused meanwhile
    # - and kept its own stale result: the newer upload had no outcome.
    s3, services, put = _versioned_source(world, "incoming/receipt.jpg")
    older = put(_jpeg((200, 200, 200)))

    def download_while_a_newer_upload_is_refused(_services, _task_id):
        cut = _jpeg((10, 10, 10))
        assert submission.submit_object(services, put(cut[: len(cut) // 2])).status == "rejected"
        return _spooled(_jpeg((250, 250, 250)))

    monkeypatch.setattr(finalization, "_fetch_result", download_while_a_newer_upload_is_refused)
    out = finalization.finalize_task(
        services, {"object": older.to_dict(), "task": {"task_id": "t1", "enhancement_type": 2}}
    )
    assert out["superseded"] is True
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="dst")["Contents"]] == ["failures/receipt.jpg.json"]


def _spooled(body: bytes) -> SpooledResult:
    spool = tempfile.SpooledTemporaryFile()  # noqa: SIM115 - finalize_task closes it
    spool.write(body)
    size = spool.tell()
    spool.seek(0)
    return SpooledResult(file=spool, image_format="jpeg", content_type="image/jpeg", size=size)


def test_a_newer_upload_finished_during_finalizes_download_keeps_its_result(world, monkeypatch):
    # Review of the fix above: removing the older result after storing it took the newer
    # upload's result, stored under the same key; the key showed nothing.
    s3, services, put = _versioned_source(world, "incoming/r.jpg")
    older = put(_jpeg((200, 200, 200)))

    def fetch(_services, task_id):
        if task_id == "t1":  # the older upload's slow download: the newer one is made and done
            newer = put(_jpeg((10, 10, 10)))
            task = {"task_id": "t2", "enhancement_type": 2}
            assert finalization.finalize_task(services, {"object": newer.to_dict(), "task": task})[
                "result_key"
            ]
            return _spooled(b"\xff\xd8\xff" + b"OLDER")
        return _spooled(b"\xff\xd8\xff" + b"NEWER")

    monkeypatch.setattr(finalization, "_fetch_result", fetch)
    out = finalization.finalize_task(
        services, {"object": older.to_dict(), "task": {"task_id": "t1", "enhancement_type": 2}}
    )
    assert out["superseded"] is True
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="dst")["Contents"]] == ["results/r.jpg.jpg"]
    assert s3.get_object(Bucket="dst", Key="results/r.jpg.jpg")["Body"].read().endswith(b"NEWER")
