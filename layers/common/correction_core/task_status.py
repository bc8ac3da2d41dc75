"""One poll of a task, reduced to the small status the state machine branches on.

The result itself (a signed URL or base64) is deliberately left out: execution history is not
a place for signatures, and base64 would break the 256 KB state limit. A URL is handed to
Finalize through the result-refs table instead (result_refs.py); for base64 Finalize asks again.
"""

from __future__ import annotations

from typing import Any

from .observability import logger
from .redaction import redact_text
from .services import Services

OUTCOME_SUCCEEDED = "succeeded"
OUTCOME_FAILED = "failed"
OUTCOME_PENDING = "pending"

_MESSAGE_MAX = 500

#: CheckStatus's work after its poll: keeping the result URL (one DynamoDB write) and returning.
#: The poll ends this long before the function does (``Services.begin_invocation``).
AFTER_POLL_SECONDS = 3.0


def check_task(services: Services, task_id: str) -> dict[str, Any]:
    logger.append_keys(task_id=task_id)
    status = services.api.get_task(task_id)
    if status.is_done:
        outcome = OUTCOME_SUCCEEDED
        if services.result_refs is not None:
            services.result_refs.remember(task_id, status.image)
    elif status.is_failed:
        outcome = OUTCOME_FAILED
    else:
        outcome = OUTCOME_PENDING
    logger.debug("polled", extra={"state": status.state, "progress": status.progress})
    return {
        "task_id": task_id,
        "state": status.state,
        "progress": status.progress,
        "outcome": outcome,
        "message": redact_text(status.message or "")[:_MESSAGE_MAX],
    }
