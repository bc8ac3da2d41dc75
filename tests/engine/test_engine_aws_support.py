"""The engine in its AWS shape, stood up for a test: a moto server on loopback, the API app and
the Lambda worker driven the way Lambda's event source mapping drives it (no tests here).

The pieces are the local host's (``correction_local.engine_aws``): the same provisioning, the
same SQS event, the same delete-on-success; a test moves them one step at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import numpy as np
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from correction_core import contract
from correction_engine.aws.api import create_aws_app
from correction_engine.aws.settings import (
    KEYS_SECRET_ARN_ENV,
    RESULTS_BUCKET_ENV,
    TASKS_TABLE_ENV,
    WORK_QUEUE_URL_ENV,
)
from correction_engine.aws.worker import AwsWorker, handle_batch, handle_dead_letters
from correction_engine.server.background import run_in_thread
from correction_engine.server.settings import EngineSettings
from correction_engine.server.testing import FakeClock, identity, sample_image, to_rgba
from correction_local.engine_aws import (
    EventSourcePoller,
    dead_letter_queue_url,
    emulator_clients,
    provision,
)

KEY = "aws-shape-key-a"
OTHER_KEY = "aws-shape-key-b"


def identity_operations() -> dict[int, Any]:
    operations: dict[int, Any] = {t: identity for t in (0, 1, 2, 3)}
    operations[4] = to_rgba
    return operations


class WorkerDied(BaseException):
    """What a Lambda runtime killing the worker looks like from inside: nothing catches it."""


class DiesFirst:
    """An operation whose first ``times`` calls die mid-task, then runs like ``identity``."""

    def __init__(self, times: int):
        self.remaining = times
        self.calls = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.remaining > 0:
            self.remaining -= 1
            raise WorkerDied("killed mid-task")
        return image.copy()


class AwsShape:
    """One engine: its resources in the emulator, an API app, a worker and its event sources."""

    def __init__(
        self,
        endpoint: str,
        *,
        qps: float = 0.0,
        operations: Mapping[int, Any] | None = None,
        clock: FakeClock | None = None,
    ):
        # Visibility 0: a message left by a failed or dead attempt is visible again at once, as
        # it would be once the timeout passed; no test waits for real time.
        self.settings = provision(endpoint, [KEY, OTHER_KEY], rate_limit_qps=qps, visibility_seconds=0)
        self.clients = emulator_clients(self.settings)
        self.clock = clock or FakeClock(time.time())
        self.operations = dict(operations or identity_operations())
        self._stack = ExitStack()
        self._servers: dict[int, str] = {}
        self.app = self.new_app()
        self.engine: EngineSettings = self.app.state.settings
        self.worker = AwsWorker(self.settings, self.clients, engine=self.engine)
        self.events = EventSourcePoller(
            self.clients.sqs,
            self.settings.work_queue_url,
            lambda event, context: handle_batch(event, context, self.worker),
            function_name="engine-worker",
        )
        self.dead_letters = EventSourcePoller(
            self.clients.sqs,
            dead_letter_queue_url(self.clients, self.settings.work_queue_url),
            lambda event, context: handle_dead_letters(event, context, self.worker),
            function_name="engine-dlq",
        )

    def new_app(self) -> Any:
        """Another API container on the same table, queue, bucket and clock."""

        def tune(engine: EngineSettings) -> None:
            engine.clock = self.clock
            engine.operations = self.operations
            engine.url_fetch_allowed_networks = ("127.0.0.0/8",)
            engine.sync_wait_seconds = 15

        return create_aws_app(self.settings, clients=self.clients, tune=tune)

    @contextmanager
    def client(self, key: str = KEY, app: Any = None) -> Iterator[httpx.Client]:
        """A client of ``app`` (default: this shape's first), served on loopback until ``close``."""
        app = app or self.app
        if id(app) not in self._servers:
            self._servers[id(app)] = self._stack.enter_context(run_in_thread(app.state.settings, app=app))
        headers = {contract.API_KEY_HEADER: key}
        with httpx.Client(base_url=self._servers[id(app)], headers=headers, timeout=30) as client:
            yield client

    def close(self) -> None:
        self._stack.close()

    def create(self, client: httpx.Client, data: bytes | None = None, **fields: Any) -> Any:
        form = {name: str(value) for name, value in fields.items()}
        files = None
        if contract.FIELD_IMAGE_URL not in form:
            files = {contract.FIELD_IMAGE_FILE: ("photo.png", data or sample_image(), "image/png")}
        return client.post(contract.CREATE_PATH, data=form, files=files)

    @contextmanager
    def working_in_background(self) -> Iterator[None]:
        """The event source running while a sync create waits for its task."""
        stop = threading.Event()
        thread = threading.Thread(target=self.events.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(10)

    def object_keys(self, prefix: str) -> list[str]:
        listing = self.clients.s3.list_objects_v2(Bucket=self.settings.results_bucket, Prefix=prefix)
        return [o["Key"] for o in listing.get("Contents", [])]

    def task_item(self, task_id: str) -> dict[str, Any]:
        return self.clients.dynamodb.get_item(
            TableName=self.settings.tasks_table, Key={"task_id": {"S": task_id}}, ConsistentRead=True
        ).get("Item", {})

    def task_items(self) -> list[dict[str, Any]]:
        items = self.clients.dynamodb.scan(TableName=self.settings.tasks_table)["Items"]
        return [i for i in items if not i["task_id"]["S"].startswith("rate#")]

    def queued(self, queue_url: str | None = None) -> int:
        attributes = self.clients.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.settings.work_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """A moto server on a free loopback port (one per test module: it takes a moment to start)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per emulated call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    finally:
        server.stop()


class FailingCall:
    """An SDK client whose one named call fails with ``code``; everything else is the real client."""

    def __init__(self, real: Any, call: str, code: str):
        self._real, self._call, self._code = real, call, code

    def __getattr__(self, name: str) -> Any:
        if name != self._call:
            return getattr(self._real, name)

        def fail(**_kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": self._code, "Message": "injected"}}, name)

        return fail


def stack_environment(shape: AwsShape, *, worker: bool = False) -> dict[str, str]:
    """The variables the engine stack gives its API containers (or, ``worker``, its Lambda worker),
    with the emulator as the SDK's endpoint."""
    env = {
        TASKS_TABLE_ENV: shape.settings.tasks_table,
        RESULTS_BUCKET_ENV: shape.settings.results_bucket,
        "AWS_ENDPOINT_URL": shape.settings.endpoint_url or "",
        "AWS_ACCESS_KEY_ID": "emulated",
        "AWS_SECRET_ACCESS_KEY": "emulated",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    if not worker:
        env[WORK_QUEUE_URL_ENV] = shape.settings.work_queue_url
        env[KEYS_SECRET_ARN_ENV] = shape.settings.keys_secret_arn
    return env
