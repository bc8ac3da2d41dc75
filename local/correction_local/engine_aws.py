"""The engine in its AWS shape on this machine: the deployed pieces, with an emulator for AWS.

What stands where (``correction_engine.aws`` says what runs where when deployed):

- the engine's table, queue (with its DLQ), bucket and key secret live in a moto server on
  loopback, in a process of its own (:class:`MotoServerProcess`): the pipeline's own emulated AWS
  runs in this process under ``mock_aws``, which resets moto's in-process state when it starts and
  stops, and whose interception would otherwise have to be told apart from the engine's calls. A
  separate endpoint keeps the two apart, and the engine's presigned result URLs are real loopback
  HTTP URLs the pipeline's Finalize downloads like any other;
- the API app (``create_aws_app``) runs on a uvicorn thread, as the Fargate container would;
- :class:`EventSourcePoller` threads stand in for Lambda's SQS event source mapping: receive,
  build the SQS event Lambda would, call the worker handler, delete what it did not report
  failed, leave the rest for redelivery; one more polls the DLQ for the dead-letter handler.

:class:`AwsShapeEngine` puts them behind the runner's engine-host interface
(``correction_local.engine_host``): ``correction-local run --engine-shape aws``. The engine's
tests drive the same pieces (``provision``, :class:`EventSourcePoller`) one step at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .engine_host import EngineEndpoint, InProcessEngine

if TYPE_CHECKING:
    from correction_engine.aws.clients import AwsClients
    from correction_engine.aws.settings import AwsEngineSettings

    from .config import RunConfig

REGION = "us-east-1"
MAX_RECEIVES = 3  # the work queue's redrive maxReceiveCount, as the stack sets it
VISIBILITY_SECONDS = 60  # how long a dead attempt keeps its message invisible
LIFECYCLE_DAYS = 1  # S3 expires objects in whole days; the task record decides what exists

# Runs in the child: a moto server on a free loopback port, which it prints; it stops when its
# standard input closes (the parent stopped, or died).
_SERVER_SCRIPT = """
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


class MotoServerProcess:
    """A moto server in a child process, on loopback; ``endpoint_url`` once started."""

    def __init__(self, startup_timeout: float = 30.0):
        self._timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self.endpoint_url = ""

    def start(self) -> str:
        # Credentials are the emulator's own (any value works); no real ones reach the child.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVER_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self._process.stdout is not None
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(self._process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(self._timeout)
        port = ready[0].strip() if ready else ""
        if not port.isdigit():
            self.stop()
            raise RuntimeError("the moto server for the engine did not start")
        self.endpoint_url = f"http://127.0.0.1:{port}"
        return self.endpoint_url

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


_clients: dict[str, AwsClients] = {}
_clients_lock = threading.Lock()


def emulator_clients(settings: AwsEngineSettings) -> AwsClients:
    """Clients for an emulator, one set per endpoint (loading the SDK's service models takes a
    while): fixed dummy credentials, never the environment's."""
    import boto3

    from correction_engine.aws.clients import AwsClients

    endpoint = settings.endpoint_url or ""
    with _clients_lock:
        if endpoint not in _clients:
            session = boto3.session.Session(
                aws_access_key_id="emulated", aws_secret_access_key="emulated", region_name=REGION
            )
            _clients[endpoint] = AwsClients.create(settings, session)
        return _clients[endpoint]


def provision(
    endpoint_url: str,
    api_keys: Sequence[str],
    *,
    admin_key: str | None = None,
    rate_limit_qps: float = 0.0,
    prefix: str | None = None,
    visibility_seconds: int = VISIBILITY_SECONDS,
) -> AwsEngineSettings:
    """Create the engine's table, queue + DLQ, bucket and secret as its stack does; their settings."""
    from correction_engine.aws.settings import AwsEngineSettings
    from correction_engine.aws.tasks import TTL_ATTRIBUTE

    name = prefix or f"correction-engine-{uuid.uuid4().hex[:10]}"
    draft = AwsEngineSettings(
        tasks_table=f"{name}-tasks",
        results_bucket=f"{name}-results",
        work_queue_url="",
        keys_secret_arn="",
        endpoint_url=endpoint_url,
        region_name=REGION,
    )
    clients = emulator_clients(draft)
    clients.dynamodb.create_table(
        TableName=draft.tasks_table,
        KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    clients.dynamodb.update_time_to_live(
        TableName=draft.tasks_table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    clients.s3.create_bucket(Bucket=draft.results_bucket)
    clients.s3.put_bucket_lifecycle_configuration(
        Bucket=draft.results_bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": prefix_name,
                    "Status": "Enabled",
                    "Filter": {"Prefix": prefix_name},
                    "Expiration": {"Days": LIFECYCLE_DAYS},
                }
                for prefix_name in ("sources/", "results/")
            ]
        },
    )
    dlq_url = clients.sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = clients.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = clients.sqs.create_queue(
        QueueName=f"{name}-work",
        Attributes={
            "VisibilityTimeout": str(visibility_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
            ),
        },
    )["QueueUrl"]
    secret: dict[str, Any] = {"api_keys": list(api_keys)}
    if admin_key is not None:
        secret["admin_key"] = admin_key
    secret_arn = clients.secretsmanager.create_secret(Name=f"{name}-keys", SecretString=json.dumps(secret))[
        "ARN"
    ]
    return AwsEngineSettings(
        tasks_table=draft.tasks_table,
        results_bucket=draft.results_bucket,
        work_queue_url=queue_url,
        keys_secret_arn=secret_arn,
        rate_limit_qps=rate_limit_qps,
        max_receives=MAX_RECEIVES,
        endpoint_url=endpoint_url,
        region_name=REGION,
    )


def dead_letter_queue_url(clients: AwsClients, queue_url: str) -> str:
    """The DLQ behind a work queue, from its redrive policy."""
    attributes = clients.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    arn = json.loads(attributes["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
    return str(clients.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"])


def sqs_event(messages: Sequence[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping builds from received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes", {})),
                "messageAttributes": dict(m.get("MessageAttributes", {})),
                "md5OfBody": m.get("MD5OfBody", hashlib.md5(m["Body"].encode()).hexdigest()),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@dataclass
class _Context:
    """What Powertools reads of a Lambda context."""

    function_name: str
    memory_limit_in_mb: int = 2048
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class EventSourcePoller:
    """Lambda's SQS event source mapping, one batch at a time: receive, invoke, delete what succeeded.

    A handler that raises (a crashed invocation) leaves every message of its batch; a message
    reported in ``batchItemFailures`` is left too. Left messages return after the queue's
    visibility timeout, as they do on AWS.
    """

    def __init__(
        self, sqs: Any, queue_url: str, handler: Handler, *, function_name: str, batch_size: int = 1
    ):
        self._sqs = sqs
        self._url = queue_url
        self._handler = handler
        self._function = function_name
        self._batch = batch_size
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        self._arn = attributes["QueueArn"]
        self.invocations = 0

    def poll_once(self, wait_seconds: int = 0) -> int:
        """One receive and, if anything came, one invocation; how many messages it carried."""
        messages = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self._batch,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        self.invocations += 1
        response = self._handler(sqs_event(messages, self._arn), _Context(self._function))
        failed = {item["itemIdentifier"] for item in (response or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception:
                # As on Lambda: a crashed invocation leaves its messages; the mapping carries on.
                time.sleep(0.2)


class AwsShapeEngine(InProcessEngine):
    """The runner's engine host for ``--engine-shape aws`` (see the module docstring); the key,
    the timings and the stop are the in-process host's, only what starts differs."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__(config)
        self._stop = threading.Event()

    def start(self) -> EngineEndpoint:
        from correction_engine.aws.api import create_aws_app
        from correction_engine.aws.worker import AwsWorker, handle_batch, handle_dead_letters
        from correction_engine.server.background import run_in_thread
        from correction_engine.server.settings import default_workers

        try:
            emulator = MotoServerProcess()
            self._stack.callback(emulator.stop)
            endpoint = emulator.start()
            settings = provision(endpoint, [self._api_key], rate_limit_qps=float(self._config.qps or 0))
            clients = emulator_clients(settings)
            app = create_aws_app(settings, clients=clients)
            running = self._stack.enter_context(run_in_thread(app.state.settings, app=app))
            self._store, self._stats = running.engine.store, running.engine.stats
            worker = AwsWorker(settings, clients)
            self._stack.callback(worker.runner.close)
            pollers = [
                EventSourcePoller(
                    clients.sqs,
                    settings.work_queue_url,
                    lambda event, context: handle_batch(event, context, worker),
                    function_name="correction-engine-worker",
                )
                for _ in range(self._config.engine_workers or default_workers())
            ]
            pollers.append(
                EventSourcePoller(
                    clients.sqs,
                    dead_letter_queue_url(clients, settings.work_queue_url),
                    lambda event, context: handle_dead_letters(event, context, worker),
                    function_name="correction-engine-dlq",
                )
            )
            threads = [
                threading.Thread(
                    target=poller.run, args=(self._stop,), name=f"engine-event-source-{number}", daemon=True
                )
                for number, poller in enumerate(pollers)
            ]
            for thread in threads:
                thread.start()
            # Last in, first out: the pollers stop before the API, the API before the emulator.
            self._stack.callback(self._halt, threads)
        except BaseException:
            self.stop()
            raise
        return EngineEndpoint(running.base_url, self._api_key)

    def _halt(self, threads: list[threading.Thread]) -> None:
        self._stop.set()
        for thread in threads:
            thread.join(5)
