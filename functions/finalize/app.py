"""Finalize: the finished task's result → the destination bucket."""

from correction_core.finalization import finalize_task
from correction_core.observability import logger, metrics, trace_handler
from correction_core.services import get_services


@logger.inject_lambda_context(clear_state=True)
@trace_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return finalize_task(get_services(), event)
