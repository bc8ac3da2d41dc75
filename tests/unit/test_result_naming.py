"""Issue 10 items 1 and 4: every source object has its own result key, and results never land
in the failure-record area (nor failure records among results)."""

from __future__ import annotations

import itertools
import json

import boto3
import pytest
from moto import mock_aws

from correction_core.objects import EXTENSION_BY_FORMAT, ObjectRef, failure_key, result_key
from correction_core.settings import Settings, SettingsError
from correction_ops.reprocess import backfill
from correction_ops.targets import StackTargets

TEMPLATE_DEFAULTS = Settings(
    source_prefix="incoming/", destination_prefix="results/", failure_prefix="failures/"
)

# Names that differ only by extension (or its case), in one folder: the report.
SIBLINGS = ["photo", "photo.jpg", "photo.JPG", "photo.png", "photo.jpeg", "photo.jpg.jpg", "photo.", ".jpg"]


def _keys(names, settings=TEMPLATE_DEFAULTS, folder="incoming/album/"):
    return [folder + name for name in names]


def test_names_that_differ_only_by_extension_get_distinct_result_keys():
    owner: dict[str, str] = {}
    for key, fmt in itertools.product(_keys(SIBLINGS), EXTENSION_BY_FORMAT):
        result = result_key(ObjectRef("src", key), TEMPLATE_DEFAULTS, fmt)
        assert owner.setdefault(result, key) == key, f"{key!r} and {owner[result]!r} share {result!r}"


def test_the_source_name_can_be_read_back_from_its_result_key():
    # The rule is invertible (hence injective): strip the prefix and the format's extension.
    for key, fmt in itertools.product(_keys(SIBLINGS), EXTENSION_BY_FORMAT):
        result = result_key(ObjectRef("src", key), TEMPLATE_DEFAULTS, fmt)
        ext = EXTENSION_BY_FORMAT[fmt]
        assert result.startswith("results/") and result.endswith(ext)
        assert "incoming/" + result[len("results/") : -len(ext)] == key


def test_a_source_under_the_failure_prefix_writes_nothing_into_the_failure_area():
    ref = ObjectRef("src", "incoming/failures/photo.jpg")
    for fmt in EXTENSION_BY_FORMAT:
        assert not result_key(ref, TEMPLATE_DEFAULTS, fmt).startswith(TEMPLATE_DEFAULTS.failure_prefix)
    assert failure_key(ref, TEMPLATE_DEFAULTS).startswith(TEMPLATE_DEFAULTS.failure_prefix)
    other = ObjectRef("src", "incoming/x.jpg")
    assert not failure_key(other, TEMPLATE_DEFAULTS).startswith(TEMPLATE_DEFAULTS.destination_prefix)


@pytest.mark.parametrize(
    ("destination", "failure"),
    [
        ("", "failures/"),
        ("out/", "out/failures/"),
        ("out/failures/", "out/"),
        ("same/", "same/"),
        ("out/", ""),
    ],
)
def test_settings_refuse_result_and_failure_areas_that_overlap(destination, failure):
    with pytest.raises(SettingsError):
        Settings.from_env({"DESTINATION_PREFIX": destination, "FAILURE_PREFIX": failure})


def test_the_default_settings_keep_the_areas_apart():
    settings = Settings.from_env({})
    assert settings.destination_prefix and settings.failure_prefix
    assert not settings.failure_prefix.startswith(settings.destination_prefix)
    assert not settings.destination_prefix.startswith(settings.failure_prefix)


@mock_aws
def test_backfill_sends_each_sibling_that_has_no_result_of_its_own(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket="src")
    s3.create_bucket(Bucket="dst")
    queue = sqs.create_queue(QueueName="intake")["QueueUrl"]
    targets = StackTargets("src", "dst", queue, "incoming/", "results/", "failures/")
    keys = _keys(["photo", "photo.jpg", "photo.JPG", "photo.png", "photo.jpeg"])
    for key in keys:
        s3.put_object(Bucket="src", Key=key, Body=b"\xff\xd8\xff")
    done = ObjectRef("src", "incoming/album/photo.jpg")
    s3.put_object(Bucket="dst", Key=result_key(done, TEMPLATE_DEFAULTS, "jpeg"), Body=b"result")

    summary = backfill(s3, sqs, targets)
    assert sorted(summary.sent_keys) == sorted(k for k in keys if k != done.key)
    assert summary.skipped == {"already has a result": 1}
    bodies = [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    ]
    assert sorted(b["object"]["key"] for b in bodies) == sorted(summary.sent_keys)


@mock_aws
def test_redrive_skips_objects_under_the_failure_prefix_that_are_not_records(monkeypatch):
    from correction_ops.reprocess import redrive

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket="src")
    s3.create_bucket(Bucket="dst")
    queue = sqs.create_queue(QueueName="intake")["QueueUrl"]
    s3.put_object(Bucket="dst", Key="failures/photo.json", Body=b"\xff\xd8\xff\xe0 a JPEG named .json")
    s3.put_object(Bucket="dst", Key="failures/list.json", Body=b"[1, 2]")
    summary = redrive(s3, sqs, StackTargets("src", "dst", queue))
    assert (summary.considered, summary.sent, summary.skipped) == (2, 0, {"not a failure record": 2})
