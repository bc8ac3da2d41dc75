"""The engine's API in its AWS shape (DynamoDB, SQS, S3, Secrets Manager in a moto server on
loopback): create every way the contract allows, poll, presigned result URLs, expiry, the shared
rate limit, and what a client is told when the bucket or the queue fails."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image

from correction_core import contract
from correction_engine import cli
from correction_engine.aws.api import create_aws_app
from correction_engine.aws.blobs import S3BlobStore
from correction_engine.aws.queue import SqsWorkQueue
from correction_engine.aws.settings import (
    TASKS_TABLE_ENV,
)
from correction_engine.server.testing import sample_image

from .test_engine_aws_support import OTHER_KEY, AwsShape, FailingCall, moto_endpoint, stack_environment


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


@pytest.fixture
def shape(endpoint: str) -> Iterator[AwsShape]:
    engine = AwsShape(endpoint)
    yield engine
    engine.close()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def query(client: Any, task_id: str) -> Any:
    return client.get(contract.query_path(task_id))


def assert_same_picture(result: bytes, source: bytes) -> None:
    """The identity operation's result: the source's size, and its pixels within JPEG's error."""
    got, want = pixels(result)[..., :3].astype(float), pixels(source)[..., :3].astype(float)
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < 4.0


def test_async_upload_is_queued_then_finished_by_the_worker_with_a_presigned_url(shape: AwsShape) -> None:
    source = sample_image(80, 60)
    with shape.client() as client:
        created = shape.create(client, source, sync=0, type=3)
        assert created.status_code == 200
        task_id = created.json()["data"]["task_id"]
        assert shape.object_keys("sources/") == ["sources/src-" + task_id]

        waiting = query(client, task_id).json()["data"]
        assert waiting["state"] == contract.STATE_QUEUED and "image" not in waiting

        assert shape.events.poll_once() == 1
        body = query(client, task_id).json()
        assert body["status"] == 200 and body["data"]["state"] == contract.STATE_SUCCEEDED
        assert body["data"]["progress"] == contract.PROGRESS_COMPLETE

    url = body["data"]["image"]
    parts = urlsplit(url)
    assert parts.path.startswith(f"/{shape.settings.results_bucket}/results/")
    # SigV4 presigned: valid one hour from completion, fetched with a plain GET and no key.
    assert parse_qs(parts.query)["X-Amz-Expires"] == [str(contract.RESULT_URL_TTL_SECONDS)]
    downloaded = httpx.get(url)
    assert downloaded.status_code == 200
    assert_same_picture(downloaded.content, source)
    # The upload is released once the task is done; one result object remains.
    assert shape.object_keys("sources/") == []
    assert len(shape.object_keys("results/")) == 1
    assert shape.queued() == 0


@pytest.mark.parametrize(("sync", "return_type"), [(0, 2), (1, 1), (1, 2), (1, 3)])
def test_every_return_type_sync_and_async(shape: AwsShape, sync: int, return_type: int) -> None:
    source = sample_image(64, 48)
    with shape.client() as client:
        if sync:
            with shape.working_in_background():
                response = shape.create(client, source, sync=1, type=4, return_type=return_type)
        else:
            task_id = shape.create(client, source, sync=0, type=4, return_type=return_type).json()["data"][
                "task_id"
            ]
            shape.events.poll_once()
            response = query(client, task_id)
    assert response.status_code == 200
    if return_type == contract.ReturnType.BINARY:
        result = response.content
        assert response.headers["content-type"] == "image/png"
    else:
        data = response.json()["data"]
        assert data["state"] == contract.STATE_SUCCEEDED
        if return_type == contract.ReturnType.BASE64:
            result = base64.b64decode(data["image"])
        else:
            result = httpx.get(data["image"]).content
    # Type 4's stand-in operation makes the left half transparent: the alpha says it ran.
    alpha = pixels(result)[..., 3]
    assert alpha.shape == (48, 64)
    assert (alpha[:, :32] == 0).all() and (alpha[:, 32:] == 255).all()


def test_image_url_source_is_downloaded_by_the_worker(shape: AwsShape) -> None:
    source = sample_image(50, 40)
    shape.clients.s3.put_object(Bucket=shape.settings.results_bucket, Key="public/photo.png", Body=source)
    # As a client would pass its own object: a presigned GET URL (here into the same emulator).
    source_url = shape.clients.s3.generate_presigned_url(
        "get_object", Params={"Bucket": shape.settings.results_bucket, "Key": "public/photo.png"}
    )
    with shape.client() as client:
        task_id = shape.create(client, sync=0, type=0, image_url=source_url).json()["data"]["task_id"]
        assert shape.object_keys("sources/") == []  # nothing stored for a URL source
        shape.events.poll_once()
        data = query(client, task_id).json()["data"]
    assert data["state"] == contract.STATE_SUCCEEDED
    assert_same_picture(httpx.get(data["image"]).content, source)


def test_a_task_past_its_ttl_answers_like_an_unknown_task(shape: AwsShape) -> None:
    with shape.client() as client:
        task_id = shape.create(client, sync=0, type=0).json()["data"]["task_id"]
        shape.events.poll_once()
        done = query(client, task_id).json()["data"]
        completed = float(shape.task_item(task_id)["completed_at"]["N"])
        # The TTL attribute DynamoDB removes the record by: one result TTL after completion.
        assert int(shape.task_item(task_id)["expires_at"]["N"]) == math.ceil(
            completed + contract.RESULT_URL_TTL_SECONDS
        )
        assert done["state"] == contract.STATE_SUCCEEDED

        shape.clock.advance(contract.RESULT_URL_TTL_SECONDS - 5)
        assert query(client, task_id).status_code == 200
        shape.clock.advance(10)
        expired = query(client, task_id)
        unknown = query(client, "0" * 32)
    assert expired.status_code == contract.HTTP_NOT_FOUND
    assert expired.json() == unknown.json()


def test_another_keys_task_is_not_found(shape: AwsShape) -> None:
    with shape.client() as client:
        task_id = shape.create(client, sync=0, type=0).json()["data"]["task_id"]
    with shape.client(OTHER_KEY) as other:
        assert query(other, task_id).status_code == contract.HTTP_NOT_FOUND
    with shape.client("not-a-key") as stranger:
        assert query(stranger, task_id).status_code == contract.HTTP_UNAUTHORIZED


def test_the_rate_limit_is_shared_by_two_api_containers(endpoint: str) -> None:
    shape = AwsShape(endpoint, qps=1)
    second_app = shape.new_app()
    with (
        shape.client() as first,
        shape.client(app=second_app) as second,
        shape.client(OTHER_KEY) as other,
    ):
        assert query(first, "0" * 32).status_code == contract.HTTP_NOT_FOUND  # allowed, then not found
        refused = query(second, "0" * 32)
        assert refused.status_code == contract.HTTP_TOO_MANY_REQUESTS
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["status"] == contract.HTTP_TOO_MANY_REQUESTS
        # Per key: another key's bucket is full.
        assert query(other, "0" * 32).status_code == contract.HTTP_NOT_FOUND
        shape.clock.advance(1.0)
        assert query(second, "0" * 32).status_code == contract.HTTP_NOT_FOUND
        assert query(first, "0" * 32).status_code == contract.HTTP_TOO_MANY_REQUESTS
    shape.close()


@pytest.mark.parametrize(
    ("backend", "call", "code", "status"),
    [
        ("queue", "send_message", "AWS.SimpleQueueService.NonExistentQueue", contract.HTTP_SERVER_ERROR),
        ("queue", "send_message", "RequestThrottled", contract.HTTP_TOO_MANY_REQUESTS),
        ("storage", "put_object", "InternalError", contract.HTTP_SERVER_ERROR),
        ("storage", "put_object", "SlowDown", contract.HTTP_TOO_MANY_REQUESTS),
    ],
)
def test_storage_or_queue_failures_answer_as_the_contract_says_and_leave_nothing(
    shape: AwsShape, backend: str, call: str, code: str, status: int
) -> None:
    service = shape.app.state.engine
    if backend == "queue":
        service.work = SqsWorkQueue(
            FailingCall(shape.clients.sqs, call, code), shape.settings.work_queue_url, capacity=100
        )
    else:
        service.blobs = S3BlobStore(
            FailingCall(shape.clients.s3, call, code), shape.settings.results_bucket, clock=shape.clock
        )
    with shape.client() as client:
        response = shape.create(client, sync=0, type=0)
    assert response.status_code == status
    assert response.json()["status"] == status
    if status == contract.HTTP_TOO_MANY_REQUESTS:
        assert int(response.headers["Retry-After"]) >= 1
    # Nothing half-made stays behind: no task record, no stored upload, nothing queued.
    assert shape.task_items() == []
    assert shape.object_keys("sources/") == []
    assert shape.queued() == 0


def test_a_full_queue_answers_429(shape: AwsShape) -> None:
    service = shape.app.state.engine
    service.work = SqsWorkQueue(shape.clients.sqs, shape.settings.work_queue_url, capacity=1)
    with shape.client() as client:
        assert shape.create(client, sync=0, type=0).status_code == 200
        refused = shape.create(client, sync=0, type=0)
    assert refused.status_code == contract.HTTP_TOO_MANY_REQUESTS
    assert len(shape.task_items()) == 1


def test_the_api_app_reads_its_stack_from_the_environment(
    shape: AwsShape, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in stack_environment(shape).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ENGINE_RATE_LIMIT_QPS", "0")
    app = create_aws_app()  # as `correction-engine serve --backend aws` makes it
    with shape.client(app=app) as client:
        task_id = shape.create(client, sync=0, type=0).json()["data"]["task_id"]
    # The same table the shape's own worker reads: the environment named the stack's resources.
    assert shape.worker.store.by_id(task_id) is not None
    assert shape.events.poll_once() == 1


def test_serve_with_the_aws_backend_names_a_missing_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TASKS_TABLE_ENV, raising=False)
    assert cli.main(["serve", "--backend", "aws"]) == 2
    assert TASKS_TABLE_ENV in capsys.readouterr().err


def test_a_rate_limit_bucket_is_not_a_task(endpoint: str) -> None:
    shape = AwsShape(endpoint, qps=5)
    with shape.client() as client:
        query(client, "0" * 32)  # makes this key's bucket
        bucket_id = next(
            item["task_id"]["S"]
            for item in shape.clients.dynamodb.scan(TableName=shape.settings.tasks_table)["Items"]
            if item["task_id"]["S"].startswith("rate#")
        )
        response = query(client, quote(bucket_id, safe=""))
    shape.close()
    assert response.status_code == contract.HTTP_NOT_FOUND
    assert shape.worker.store.by_id(bucket_id) is None  # nor for a worker handed its id


def test_the_key_the_stack_generates_is_accepted_beside_the_listed_ones(endpoint: str) -> None:
    # The stack's generated secret holds one "api_key" (CloudFormation generates a string, not a
    # list); more keys go in "api_keys" beside it.
    shape = AwsShape(endpoint)
    shape.clients.secretsmanager.put_secret_value(
        SecretId=shape.settings.keys_secret_arn,
        SecretString='{"api_key": "generated-key-0123456789", "api_keys": ["listed-key-0123456789"]}',
    )
    app = shape.new_app()
    answers = {}
    for key in ("generated-key-0123456789", "listed-key-0123456789", "aws-shape-key-a"):
        with shape.client(key, app=app) as client:
            answers[key] = query(client, "0" * 32).status_code
    shape.close()
    assert answers == {
        "generated-key-0123456789": contract.HTTP_NOT_FOUND,
        "listed-key-0123456789": contract.HTTP_NOT_FOUND,
        "aws-shape-key-a": contract.HTTP_UNAUTHORIZED,  # no longer in the secret
    }
