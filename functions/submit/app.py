"""Submit: an SQS batch of S3 upload notifications → one correction task per new object."""

import gc
import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

# Cold start (docs/benchmarks/cold-start.md): the imports so far leave tens of thousands of
# long-lived objects behind, and the core's imports below (boto3's among them) would otherwise
# set off a full collection that scans them all for nothing (~30 ms). Move what exists now out of
# the collector's view, as the gc docs suggest before forking; none of it is ever garbage.
gc.freeze()

from correction_core.objects import NotAnUploadEvent, refs_from_notification  # noqa: E402
from correction_core.observability import logger, metrics, trace_handler, trace_method  # noqa: E402
from correction_core.services import get_services  # noqa: E402
from correction_core.submission import bind_lambda_context, submit_object  # noqa: E402

processor = BatchProcessor(event_type=EventType.SQS)


@trace_method
def record_handler(record: SQSRecord) -> list[str]:
    try:
        refs = list(refs_from_notification(json.loads(record.body)))
    except NotAnUploadEvent as event:
        logger.info("not an upload, consumed", extra={"event": str(event)})
        return []
    # A raise here fails only this message: SQS redelivers it, the rest of the batch is done.
    try:
        return [submit_object(get_services(), ref).status for ref in refs]
    except Exception:
        # BatchProcessor reports the failure to SQS without a log line; leave one here.
        logger.exception(
            "submit failed; the message will be redelivered", extra={"message_id": record.message_id}
        )
        raise


@logger.inject_lambda_context(clear_state=True)
@trace_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    bind_lambda_context(context)
    get_services().begin_invocation()
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
