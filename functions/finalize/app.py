"""Finalize: the finished task's result → the destination bucket."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from correction_core.finalization import AFTER_CALLS_SECONDS, finalize_task
from correction_core.observability import logger, metrics, trace_handler
from correction_core.services import get_services


@logger.inject_lambda_context(clear_state=True)
@trace_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    services = get_services()
    services.begin_invocation(context, after_calls_seconds=AFTER_CALLS_SECONDS)
    return finalize_task(services, event)
