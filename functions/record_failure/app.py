"""RecordFailure: one JSON failure record for an object the state machine could not finish."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from correction_core.failure_recording import record_failure
from correction_core.observability import logger, metrics, trace_handler
from correction_core.services import get_services


@logger.inject_lambda_context(clear_state=True)
@trace_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The Task state passes the whole execution state ($) and the execution's id.
    return record_failure(get_services(), event["state"], execution=event.get("execution"))
