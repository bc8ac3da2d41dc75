"""The Lambda worker of the engine's AWS shape, driven as Lambda's SQS event source drives it:
a worker that dies mid-task, a poisoned message, a backend that stays down, the claim that lets
a task finish once, and the handler wired from the stack's environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from correction_core import contract
from correction_engine.aws import worker as worker_module
from correction_engine.aws.settings import (
    KEYS_SECRET_ARN_ENV,
    RESULTS_BUCKET_ENV,
    TASKS_TABLE_ENV,
    WORK_QUEUE_URL_ENV,
    AwsEngineSettings,
    SettingsError,
)
from correction_engine.aws.worker import AwsWorker, handle_batch
from correction_engine.server.testing import BlockingOperation
from correction_local.engine_aws import EventSourcePoller

from .test_engine_aws_support import (
    AwsShape,
    DiesFirst,
    FailingCall,
    WorkerDied,
    identity_operations,
    moto_endpoint,
    stack_environment,
)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


def _shape(endpoint: str, operation: object) -> AwsShape:
    operations = identity_operations()
    operations[0] = operation
    return AwsShape(endpoint, operations=operations)


def _state(shape: AwsShape, task_id: str) -> int:
    return int(shape.task_item(task_id)["state"]["N"])


def test_a_worker_that_dies_mid_task_leaves_the_message_and_the_redelivery_finishes_it_once(
    endpoint: str,
) -> None:
    dies = DiesFirst(1)
    shape = _shape(endpoint, dies)
    with shape.client() as client:
        task_id = shape.create(client, sync=0, type=0).json()["data"]["task_id"]
        with pytest.raises(WorkerDied):
            shape.events.poll_once()  # the invocation never returns: nothing is deleted
        assert _state(shape, task_id) == contract.STATE_PROCESSING
        assert shape.queued() == 1

        assert shape.events.poll_once() == 1  # redelivered (second receive), claimed again
        body = client.get(contract.query_path(task_id)).json()
    shape.close()
    assert dies.calls == 2
    assert body["data"]["state"] == contract.STATE_SUCCEEDED
    assert len(shape.object_keys("results/")) == 1
    assert shape.object_keys("sources/") == []
    assert shape.queued() == 0
    assert shape.events.poll_once() == 0


def test_a_poisoned_message_goes_to_the_dlq_and_its_task_ends_failed(endpoint: str) -> None:
    dies = DiesFirst(99)
    shape = _shape(endpoint, dies)
    with shape.client() as client:
        task_id = shape.create(client, sync=0, type=0).json()["data"]["task_id"]
        for _ in range(3):  # maxReceiveCount
            with pytest.raises(WorkerDied):
                shape.events.poll_once()
        assert _state(shape, task_id) == contract.STATE_PROCESSING
        assert shape.events.poll_once() == 0  # the fourth receive moved it to the DLQ instead

        assert shape.dead_letters.poll_once() == 1
        body = client.get(contract.query_path(task_id)).json()
    shape.close()
    assert dies.calls == 3
    assert body["status"] == contract.HTTP_OK
    assert body["data"]["state"] == contract.STATE_FAILED
    assert body["message"].startswith(contract.state_meaning(contract.STATE_FAILED))
    assert shape.object_keys("sources/") == []
    assert shape.dead_letters.poll_once() == 0  # consumed


def test_a_backend_that_stays_down_returns_the_message_then_fails_the_task_on_the_last_receive(
    endpoint: str,
) -> None:
    shape = AwsShape(endpoint)
    with shape.client() as client:
        task_id = shape.create(client, sync=0, type=0).json()["data"]["task_id"]
    shape.close()
    # A worker whose bucket refuses every write (its reads still work).
    clients = dataclasses.replace(
        shape.clients, s3=FailingCall(shape.clients.s3, "put_object", "ServiceUnavailable")
    )
    worker = AwsWorker(shape.settings, clients, engine=shape.engine)
    events = EventSourcePoller(
        shape.clients.sqs,
        shape.settings.work_queue_url,
        lambda event, context: handle_batch(event, context, worker),
        function_name="worker",
    )
    outcomes = []
    for _ in range(3):
        assert events.poll_once() == 1
        outcomes.append(_state(shape, task_id))
    assert outcomes == [contract.STATE_PROCESSING, contract.STATE_PROCESSING, contract.STATE_FAILED]
    assert shape.queued() == 0  # the third receive ended it: consumed, not dead-lettered
    assert shape.dead_letters.poll_once() == 0
    assert shape.object_keys("results/") == []


def test_only_the_latest_attempt_can_finish_a_task(endpoint: str) -> None:
    shape = AwsShape(endpoint)
    with shape.client() as client:
        task_id = shape.create(client, sync=0, type=0).json()["data"]["task_id"]
    shape.close()
    store = shape.worker.store
    first, second = store.by_id(task_id), store.by_id(task_id)
    assert first is not None and second is not None
    assert store.start(first)
    assert store.start(second)  # a redelivery takes the task over from a stalled attempt
    assert store.succeed(second, "result-of-second", 10, "image/jpeg")
    assert not store.succeed(first, "result-of-first", 10, "image/jpeg")
    assert not store.fail(first, contract.STATE_FAILED, "late")
    finished = store.by_id(task_id)
    assert finished is not None
    assert finished.state == contract.STATE_SUCCEEDED and finished.result_blob == "result-of-second"


def test_a_task_nobody_started_within_the_limit_ends_minus_8_and_is_never_run(endpoint: str) -> None:
    blocking = BlockingOperation()
    shape = _shape(endpoint, blocking)
    with shape.client() as client:
        task_id = shape.create(client, sync=0, type=0).json()["data"]["task_id"]
        shape.clock.advance(contract.MAX_PROCESSING_SECONDS + 1)
        assert shape.events.poll_once() == 1
        body = client.get(contract.query_path(task_id)).json()
    shape.close()
    assert blocking.calls == 0
    assert body["data"]["state"] == contract.STATE_PROCESSING_TIMEOUT
    assert shape.queued() == 0


def test_the_lambda_handler_reads_its_stack_from_the_environment(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shape = AwsShape(endpoint)
    with shape.client() as client:
        task_id = shape.create(client, sync=0, type=0).json()["data"]["task_id"]
        for name, value in stack_environment(shape, worker=True).items():
            monkeypatch.setenv(name, value)
        for name in (WORK_QUEUE_URL_ENV, KEYS_SECRET_ARN_ENV):
            monkeypatch.delenv(name, raising=False)  # the worker needs neither
        monkeypatch.setattr(worker_module, "_worker", None)
        lambda_events = EventSourcePoller(
            shape.clients.sqs, shape.settings.work_queue_url, worker_module.handler, function_name="worker"
        )
        assert lambda_events.poll_once() == 1
        body = client.get(contract.query_path(task_id)).json()
    shape.close()
    # The environment's worker runs the real type 0 operation (the stand-ins are the test's own).
    assert body["data"]["state"] == contract.STATE_SUCCEEDED
    assert shape.queued() == 0


def test_settings_refuse_a_missing_variable() -> None:
    with pytest.raises(SettingsError, match=TASKS_TABLE_ENV):
        AwsEngineSettings.from_environment({RESULTS_BUCKET_ENV: "b"})
    settings = AwsEngineSettings.from_environment(
        {
            TASKS_TABLE_ENV: "t",
            RESULTS_BUCKET_ENV: "b",
            WORK_QUEUE_URL_ENV: "q",
            KEYS_SECRET_ARN_ENV: "s",
            "ENGINE_RATE_LIMIT_QPS": "5",
            "ENGINE_ALLOW_FETCH_NETWORKS": "10.0.0.0/8, 127.0.0.0/8",
        }
    )
    assert settings.rate_limit_qps == 5.0
    assert settings.allow_fetch_networks == ("10.0.0.0/8", "127.0.0.0/8")
    assert settings.result_ttl_seconds == contract.RESULT_URL_TTL_SECONDS


def test_a_failure_the_contract_names_ends_the_task_and_consumes_the_message(endpoint: str) -> None:
    shape = AwsShape(endpoint)
    with shape.client() as client:
        task_id = shape.create(client, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, sync=0, type=0).json()["data"][
            "task_id"
        ]
        assert shape.events.poll_once() == 1
        body = client.get(contract.query_path(task_id)).json()
    shape.close()
    assert body["data"]["state"] == contract.STATE_INVALID_IMAGE
    assert shape.queued() == 0  # no retry for a photo that cannot be decoded
    assert shape.object_keys("sources/") == [] and shape.object_keys("results/") == []
