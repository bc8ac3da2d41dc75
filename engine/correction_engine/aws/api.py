"""The API container's app: the one FastAPI app of ``correction_engine.server``, on AWS backends.

``correction-engine serve --backend aws`` runs it with uvicorn; everything it needs comes from
the environment the stack sets (:class:`~.settings.AwsEngineSettings`).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from ..server.app import create_app
from ..server.service import EngineBackends
from ..server.settings import EngineSettings
from .blobs import S3BlobStore
from .clients import AwsClients
from .keys import KeySource
from .queue import LambdaWorkerPool, SqsWorkQueue
from .ratelimit import DynamoRateLimiter
from .settings import AwsEngineSettings
from .tasks import DynamoTaskStore


def aws_backends(
    settings: AwsEngineSettings, engine: EngineSettings, clients: AwsClients, keys: KeySource
) -> EngineBackends:
    """DynamoDB, S3 and SQS behind the service's interfaces, reading ``engine``'s live values."""
    blobs = S3BlobStore(clients.s3, settings.results_bucket, clock=lambda: engine.clock())
    return EngineBackends(
        blobs=blobs,
        store=task_store(settings, engine, clients, blobs),
        work=SqsWorkQueue(clients.sqs, settings.work_queue_url, capacity=engine.max_queued_tasks),
        workers=LambdaWorkerPool(),
        limiter=DynamoRateLimiter(
            clients.dynamodb,
            settings.tasks_table,
            rate=lambda: engine.rate_limit_qps,
            burst=lambda: engine.rate_limit_burst,
            clock=lambda: engine.clock(),
        ),
        api_keys=keys.api_keys,
    )


def task_store(
    settings: AwsEngineSettings, engine: EngineSettings, clients: AwsClients, blobs: S3BlobStore
) -> DynamoTaskStore:
    """The task table as the API and the workers both see it."""
    return DynamoTaskStore(
        clients.dynamodb,
        settings.tasks_table,
        clock=lambda: engine.clock(),
        ttl_seconds=lambda: engine.task_ttl_seconds,
        processing_limit_seconds=lambda: engine.max_processing_seconds,
        blobs=blobs,
    )


def create_aws_app(
    settings: AwsEngineSettings | None = None,
    *,
    clients: AwsClients | None = None,
    tune: Callable[[EngineSettings], None] | None = None,
) -> FastAPI:
    """The API app on AWS backends. ``tune`` adjusts the service's settings before it starts
    (tests inject a clock there; the local host turns on loopback sources)."""
    settings = settings or AwsEngineSettings.from_environment()
    clients = clients or AwsClients.create(settings)
    keys = KeySource(clients.secretsmanager, settings.keys_secret_arn, settings.keys_max_age_seconds)
    # Read at start: at least one key must exist, and the admin key decides which routes exist.
    engine = settings.engine_settings(keys.api_keys(), admin_key=keys.admin_key())
    if tune is not None:
        tune(engine)
    return create_app(engine, backends=aws_backends(settings, engine, clients, keys))
