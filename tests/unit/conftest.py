"""Shared set-up for the unit tests of the submit path: one upload in moto's S3, the
idempotency table Powertools locks in, and a state machine to start -- so the tests that
exercise real Powertools Idempotency on the real submit code build the same world once."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from correction_core import submission
from correction_core.objects import ObjectRef

IDEMPOTENCY_TABLE = "idempotency"


@dataclass(frozen=True)
class SubmitAws:
    """What the emulated account holds: the upload's reference and the state machine's ARN."""

    ref: ObjectRef
    state_machine_arn: str
    idempotency_table: str = IDEMPOTENCY_TABLE


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 180, 160)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def submit_aws(monkeypatch) -> Iterator[SubmitAws]:
    """Buckets src/dst with src/incoming/a.jpg, the idempotency table and a trivial state machine,
    alive (inside mock_aws) for the whole test; the submit module's per-process caches are
    cleared around it so no test sees another's lock steps or Lambda context."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="src")
        s3.create_bucket(Bucket="dst")
        put = s3.put_object(Bucket="src", Key="incoming/a.jpg", Body=_jpeg())
        boto3.client("dynamodb").create_table(
            TableName=IDEMPOTENCY_TABLE,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        machine = boto3.client("stepfunctions").create_state_machine(
            name="m",
            roleArn="arn:aws:iam::123456789012:role/r",
            definition=json.dumps({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}),
        )["stateMachineArn"]
        submission._once_steps.cache_clear()
        submission.bind_lambda_context(None)
        yield SubmitAws(ObjectRef("src", "incoming/a.jpg", etag=put["ETag"].strip('"')), machine)
        submission.bind_lambda_context(None)
        submission._once_steps.cache_clear()


@pytest.fixture
def reprocess_aws() -> Iterator[tuple]:
    """What backfill and redrive talk to, emulated: source bucket ``src``, destination ``dst`` and
    an intake queue; yields (s3, sqs, queue_url) inside mock_aws for the whole test."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        s3.create_bucket(Bucket="src")
        s3.create_bucket(Bucket="dst")
        yield s3, sqs, sqs.create_queue(QueueName="intake")["QueueUrl"]
