"""The pipeline's Logger, Tracer and Metrics, shared by every function (one service name)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from .redaction import redact_text

SERVICE = "photo-correction"
NAMESPACE = "PhotoCorrection"


logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def _redact_record(record):  # logging filter: never let a signature or the key reach a log line
    if isinstance(record.msg, str):
        record.msg = redact_text(record.msg)
    if record.args:
        record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in record.args)
    return True


logger.addFilter(_redact_record)

__all__ = ["logger", "tracer", "metrics", "MetricUnit", "SERVICE", "NAMESPACE"]
