"""CheckStatus: one poll of the task; the state machine owns the waiting and the cap."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from correction_core.observability import logger, metrics, trace_handler
from correction_core.services import get_services
from correction_core.task_status import AFTER_POLL_SECONDS, check_task


@logger.inject_lambda_context(clear_state=True)
@trace_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(object_key=event["object"]["key"])
    services = get_services()
    services.begin_invocation(context, after_calls_seconds=AFTER_POLL_SECONDS)
    return check_task(services, event["task"]["task_id"])
