"""The engine stack's roles against the calls the engine's AWS code really makes.

The API app, the Lambda worker and the dead-letter handler run on emulated AWS (moto) with SDK
clients that note every call; each call must be allowed, on its resource, by the role the stack
gives that code. A missing permission is a 500 on AWS and nowhere else (the emulator allows
everything), so only this comparison finds it. test_engine_stack.py holds the exact lists.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from correction_core import contract
from correction_engine.aws.api import create_aws_app
from correction_engine.aws.clients import AwsClients
from correction_engine.aws.worker import AwsWorker, handle_batch, handle_dead_letters
from correction_engine.server.app import ADMIN_KEY_HEADER
from correction_engine.server.background import run_in_thread
from correction_engine.server.settings import EngineSettings
from correction_engine.server.testing import FakeClock, identity, sample_image
from correction_local.engine_aws import EventSourcePoller, dead_letter_queue_url, emulator_clients, provision
from tests.engine.test_engine_aws_support import FailingCall, moto_endpoint

from .test_engine_stack import _as_list, _statements

KEY = "stack-calls-key"
ADMIN = "stack-calls-admin"
# What each client's calls act on, as the template names it.
TABLE = str({"Fn::GetAtt": ["TasksTable", "Arn"]})
QUEUE = str({"Fn::GetAtt": ["WorkQueue", "Arn"]})
SECRET = str({"Ref": "KeysSecret"})


def _action(service: str, call: str) -> str:
    return f"{service}:" + "".join(part.capitalize() for part in call.split("_"))


class Noting:
    """An SDK client that notes (IAM action, resource) for each call, then makes it."""

    def __init__(self, real: Any, service: str, noted: set[tuple[str, str]], resource: str = ""):
        self._real, self._service, self._noted, self._resource = real, service, noted, resource

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if name.startswith("_") or name in {"meta", "exceptions", "get_paginator", "can_paginate"}:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if name == "generate_presigned_url":  # a URL carries the signer's permission for its call
                action, params = _action(self._service, args[0]), kwargs["Params"]
            else:
                action, params = _action(self._service, name), kwargs
            resource = self._resource
            if self._service == "s3":
                resource = str({"Fn::Sub": "${ResultsBucket.Arn}/" + params["Key"].split("/")[0] + "/*"})
            self._noted.add((action, resource))
            return attribute(*args, **kwargs)

        return call


def noting(clients: AwsClients, noted: set[tuple[str, str]]) -> AwsClients:
    return AwsClients(
        dynamodb=Noting(clients.dynamodb, "dynamodb", noted, TABLE),
        s3=Noting(clients.s3, "s3", noted),
        sqs=Noting(clients.sqs, "sqs", noted, QUEUE),
        secretsmanager=Noting(clients.secretsmanager, "secretsmanager", noted, SECRET),
    )


def allowed(role: str) -> set[tuple[str, str]]:
    return {
        (action, str(resource))
        for statement in _statements(role)
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


def test_the_api_worker_and_dead_letter_handler_make_only_calls_their_roles_allow(endpoint: str) -> None:
    settings = provision(endpoint, [KEY], admin_key=ADMIN, rate_limit_qps=50.0, visibility_seconds=0)
    raw = emulator_clients(settings)
    clock = FakeClock(1_800_000_000.0)
    api_calls: set[tuple[str, str]] = set()
    worker_calls: set[tuple[str, str]] = set()
    dead_letter_calls: set[tuple[str, str]] = set()

    def tune(engine: EngineSettings) -> None:
        engine.clock = clock
        engine.operations = {t: identity for t in range(5)}

    @contextmanager
    def api(clients: AwsClients) -> Iterator[httpx.Client]:
        """An API container on ``clients``, served on loopback."""
        app = create_aws_app(settings, clients=clients, tune=tune)
        with (
            run_in_thread(app.state.settings, app=app) as base_url,
            httpx.Client(base_url=base_url, headers={contract.API_KEY_HEADER: KEY}, timeout=30) as client,
        ):
            yield client

    def create(client: httpx.Client, **fields: Any) -> str:
        files = {contract.FIELD_IMAGE_FILE: ("photo.png", sample_image(), "image/png")}
        form = {contract.FIELD_TYPE: "1", **{name: str(value) for name, value in fields.items()}}
        response = client.post(contract.CREATE_PATH, data=form, files=files)
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["task_id"])

    def worker_for(noted: set[tuple[str, str]]) -> AwsWorker:
        worker = AwsWorker(settings, noting(raw, noted), engine=settings.engine_settings(api_keys=()))
        worker.engine.clock = clock
        worker.engine.operations = {t: identity for t in range(5)}
        return worker

    worker = worker_for(worker_calls)
    work = EventSourcePoller(
        raw.sqs, settings.work_queue_url, lambda e, c: handle_batch(e, c, worker), function_name="w"
    )
    with api(noting(raw, api_calls)) as client:
        # A URL result and a base64 one, made by the worker, then read; the admin's stats.
        by_url = create(client)
        in_base64 = create(client, **{contract.FIELD_RETURN_TYPE: int(contract.ReturnType.BASE64)})
        assert work.poll_once() == 1 and work.poll_once() == 1
        for task_id in (by_url, in_base64):
            data = client.get(contract.query_path(task_id)).json()["data"]
            assert data["state"] == contract.STATE_SUCCEEDED and data["image"]
        stats = client.get("/_engine/stats", headers={ADMIN_KEY_HEADER: ADMIN})
        assert stats.status_code == 200, stats.text
        # A task nobody starts ends -8 when read after the limit (its source goes with it).
        late = create(client)
        clock.advance(contract.MAX_PROCESSING_SECONDS + 1)
        assert (
            client.get(contract.query_path(late)).json()["data"]["state"] == contract.STATE_PROCESSING_TIMEOUT
        )
        # A task whose message the dead-letter handler gets (as after three crashed receives).
        dead = create(client)
    # A create the queue refuses is undone.
    refusing = dataclasses.replace(
        noting(raw, api_calls), sqs=FailingCall(raw.sqs, "send_message", "InternalError")
    )
    with api(refusing) as client:
        files = {contract.FIELD_IMAGE_FILE: ("photo.png", sample_image(), "image/png")}
        assert (
            client.post(contract.CREATE_PATH, data={contract.FIELD_TYPE: "1"}, files=files).status_code >= 500
        )
    dead_letter_queue = dead_letter_queue_url(raw, settings.work_queue_url)
    raw.sqs.send_message(QueueUrl=dead_letter_queue, MessageBody=json.dumps({"task_id": dead}))
    handler = worker_for(dead_letter_calls)
    dead_letters = EventSourcePoller(
        raw.sqs, dead_letter_queue, lambda e, c: handle_dead_letters(e, c, handler), function_name="d"
    )
    assert dead_letters.poll_once() == 1
    assert raw.dynamodb.get_item(TableName=settings.tasks_table, Key={"task_id": {"S": dead}})["Item"][
        "state"
    ] == {"N": str(contract.STATE_FAILED)}

    for role, calls in (
        ("ApiTaskRole", api_calls),
        ("WorkerRole", worker_calls),
        ("DeadLetterHandlerRole", dead_letter_calls),
    ):
        assert calls, role
        assert calls <= allowed(role), (role, sorted(calls - allowed(role)))
    # The calls this test was written for happened (a test that makes none proves nothing).
    assert ("dynamodb:DescribeTable", TABLE) in api_calls
    assert ("s3:PutObject", str({"Fn::Sub": "${ResultsBucket.Arn}/results/*"})) in worker_calls
    assert ("dynamodb:UpdateItem", TABLE) in dead_letter_calls
    assert ("dynamodb:DeleteItem", TABLE) in api_calls
