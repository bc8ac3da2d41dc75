"""The pipeline's Logger, Metrics and (opt-in) Tracer, shared by every function (one service name).

X-Ray: the functions run with Lambda's Active tracing, which records every invocation without
any SDK. Powertools Tracer adds subsegments for each boto3/httpx call, but its X-Ray recorder
builds botocore clients at import and roughly doubles each handler's cold start
(docs/benchmarks/cold-start.md), so it is on only when the template's XRaySdkTracing is true.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .redaction import install_log_redaction, redact_text

SERVICE = "photo-correction"
NAMESPACE = "PhotoCorrection"

F = TypeVar("F", bound=Callable[..., Any])

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

if os.environ.get("XRAY_SDK_TRACING", "false").strip().lower() == "true":
    from aws_lambda_powertools import Tracer

    tracer: Any = Tracer(service=SERVICE)
else:
    tracer = None


def trace_handler(handler: F) -> F:
    """Powertools' capture_lambda_handler when SDK tracing is on; the handler itself otherwise."""
    return tracer.capture_lambda_handler(handler) if tracer else handler


def trace_method(method: F) -> F:
    return tracer.capture_method(method) if tracer else method


def _redact_record(record: logging.LogRecord) -> bool:
    """Logging filter: no signature or API key reaches a log line, whatever the call site did."""
    if isinstance(record.msg, str):
        record.msg = redact_text(record.msg)
    if record.args:
        record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in record.args)
    return True


logger.addFilter(_redact_record)
# Every other logger too (botocore prints Secrets Manager bodies at DEBUG): see redaction.
install_log_redaction()

__all__ = ["logger", "metrics", "MetricUnit", "trace_handler", "trace_method", "SERVICE", "NAMESPACE"]
