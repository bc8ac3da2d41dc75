"""RecordFailure: one JSON failure record for an object the state machine could not finish."""

from correction_core.completion_events import announce_failure
from correction_core.failures import count_failure, record_from_state, write_failure_record
from correction_core.objects import ObjectRef, is_superseded
from correction_core.observability import MetricUnit, logger, metrics, trace_handler
from correction_core.services import get_services


@logger.inject_lambda_context(clear_state=True)
@trace_handler
@metrics.log_metrics
def lambda_handler(event, context):
    services = get_services()
    ref = ObjectRef.from_dict(event["state"]["object"])
    if is_superseded(services.s3, ref):
        # A newer upload of the same key decides what the key shows; this one leaves no record.
        logger.info("superseded by a newer upload; no failure record", extra={"object_key": ref.key})
        return {"failure_key": None, "reason": "superseded"}
    record = record_from_state(event["state"], execution=event.get("execution"))
    key = write_failure_record(services.s3, services.settings, ref, record)
    metrics.add_metric(name="Failed", unit=MetricUnit.Count, value=1)
    count_failure(record.reason)
    logger.warning("failure recorded", extra={"reason": record.reason, "record_key": key, "task_id": record.task_id})
    # After the record is stored; never raises, so the state machine's Retry cannot repeat the record.
    announce_failure(services.completion_events, ref, record, record_bucket=services.settings.destination_bucket, record_key=key)
    return {"failure_key": key, "reason": record.reason}
