"""Finalize against a newer upload of the same key arriving while the result downloads (review:
the older upload's Finalize removed the newer one's failure record and kept its own result, so
the newer upload had no outcome and the key showed a stale result). Real finalize_task and
submit_object on moto; only the result download is stubbed, to let the newer upload in."""

from __future__ import annotations

import io
import tempfile

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from correction_core import finalization, submission
from correction_core.objects import ObjectRef
from correction_core.result_fetch import SpooledResult
from correction_core.services import Services
from correction_core.settings import Settings

KEY = "incoming/receipt.jpg"


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="src")
        s3.create_bucket(Bucket="dst")
        s3.put_bucket_versioning(Bucket="src", VersioningConfiguration={"Status": "Enabled"})
        settings = Settings(destination_bucket="dst", source_prefix="incoming/")
        services = Services(settings=settings, api_key=lambda: "k-123456")
        services.s3 = s3
        yield s3, services


def _ref(put: dict) -> ObjectRef:
    return ObjectRef("src", KEY, version_id=put["VersionId"], etag=put["ETag"].strip('"'))


def test_a_newer_upload_refused_during_the_download_keeps_its_record_alone(world, monkeypatch):
    s3, services = world
    older = _ref(s3.put_object(Bucket="src", Key=KEY, Body=_jpeg((200, 200, 200))))

    def download_while_a_newer_upload_is_refused(_services, _task_id):
        cut = _jpeg((10, 10, 10))
        newer = _ref(s3.put_object(Bucket="src", Key=KEY, Body=cut[: len(cut) // 2]))
        assert submission.submit_object(services, newer).status == "rejected"
        spool = tempfile.SpooledTemporaryFile()  # noqa: SIM115 - finalize_task closes it
        spool.write(_jpeg((250, 250, 250)))
        size = spool.tell()
        spool.seek(0)
        return SpooledResult(file=spool, image_format="jpeg", content_type="image/jpeg", size=size)

    monkeypatch.setattr(finalization, "_fetch_result", download_while_a_newer_upload_is_refused)
    out = finalization.finalize_task(
        services, {"object": older.to_dict(), "task": {"task_id": "t1", "enhancement_type": 2}}
    )
    assert out["superseded"] is True
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="dst")["Contents"]] == ["failures/receipt.jpg.json"]
