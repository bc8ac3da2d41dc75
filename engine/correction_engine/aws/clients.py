"""boto3 clients for the engine's AWS backends, and the one place their errors are translated.

Every backend call goes through :func:`translated`, so an SDK error leaves the AWS package as
the server's :class:`~correction_engine.server.errors.BackendUnavailable` (throttling marked),
and the service and workers never import botocore.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..server.errors import BackendUnavailable
from .credentials import url_signing_session
from .settings import AwsEngineSettings

# Codes meaning "slow down", not "broken": answered 429 with Retry-After.
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "SlowDown",
        "TooManyRequestsException",
        "RequestThrottled",
        "AWS.SimpleQueueService.RequestThrottled",
    }
)
# Retries with backoff inside the SDK first; what still fails is the caller's to answer.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)


@dataclass(frozen=True)
class AwsClients:
    dynamodb: Any
    s3: Any
    sqs: Any
    secretsmanager: Any

    @classmethod
    def create(cls, settings: AwsEngineSettings, session: boto3.session.Session | None = None) -> AwsClients:
        # Result URLs live as long as the result: the credentials signing them must too. A given
        # session (the emulator's static keys) is used as it is.
        session = session or url_signing_session(settings.result_ttl_seconds, settings.region_name)

        def client(service: str, config: Config = _CONFIG) -> Any:
            return session.client(service, endpoint_url=settings.endpoint_url, config=config)

        # SigV4 presigned URLs (X-Amz-Expires), the only kind every region accepts.
        s3_config = _CONFIG.merge(Config(signature_version="s3v4"))
        s3_endpoint = (
            settings.endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        if s3_endpoint is None:
            # On AWS: result URLs name the bucket's regional host (<bucket>.s3.<region>.amazonaws.com,
            # the stack's EngineResultHost); the global host may redirect, which breaks a signature.
            s3_endpoint = f"https://s3.{session.region_name}.amazonaws.com"
            s3_config = s3_config.merge(Config(s3={"addressing_style": "virtual"}))
        return cls(
            dynamodb=client("dynamodb"),
            s3=session.client("s3", endpoint_url=s3_endpoint, config=s3_config),
            sqs=client("sqs"),
            secretsmanager=client("secretsmanager"),
        )


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Run one backend call; SDK errors become :class:`BackendUnavailable` naming ``what``."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        raise BackendUnavailable(
            f"{what} failed ({code or 'error'})", throttled=code in THROTTLING_CODES
        ) from exc
    except BotoCoreError as exc:
        raise BackendUnavailable(f"{what} failed ({type(exc).__name__})") from exc
