"""The pipeline's exception tree.

Class names are part of the interface: a Lambda that raises one of these reports the class name
as ``errorType``, and the state machine's Retry and Catch match on it. Renaming a class means
changing ``statemachine/correction.asl.json`` too (a test checks every name it uses exists here).

The split follows httpx one level up: could not talk (``ApiTransportError``), talked and was told
to slow down (``RateLimited``) or that the server is broken (``ApiUnavailable``), talked and the
request was refused (``RequestRejected`` and subclasses), the task itself failed (``TaskFailed``).
"""

from __future__ import annotations

from typing import Any

from . import contract


class CorrectionError(Exception):
    """Root of every error this project raises on purpose."""

    #: Short machine-readable reason written into failure records and metrics.
    reason: str = "error"
    #: Whether the state machine (or SQS redelivery) should try again.
    transient: bool = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_record(self) -> dict[str, Any]:
        """The fields a failure record carries for this error."""
        return {"reason": self.reason, "error": type(self).__name__, "message": self.message, **self.details}


# --- Talking to the API -------------------------------------------------------------------


class ApiError(CorrectionError):
    """Anything that went wrong between us and the correction API."""

    reason = "api_error"

    def __init__(self, message: str, *, http_status: int | None = None, **details: Any) -> None:
        super().__init__(message, http_status=http_status, **details)
        self.http_status = http_status


class ApiTransportError(ApiError):
    """Could not talk: connection refused or reset, DNS, TLS, or a timeout."""

    reason = "api_transport"
    transient = True


class RateLimited(ApiError):
    """HTTP 429, or our own shared request budget is spent for this second."""

    reason = "rate_limited"
    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class BudgetExhausted(RateLimited):
    """Our own shared request budget refused the request before it was sent.

    Not retried inside a Lambda: the state machine retries it with jittered backoff (a Lambda
    must not sleep waiting for tokens), and submit waits only as long as its setting allows.
    """

    reason = "budget_exhausted"


class ApiUnavailable(ApiError):
    """HTTP 5xx: the server talked but is broken for now."""

    reason = "api_unavailable"
    transient = True


class AmbiguousCreate(ApiError):
    """The create request was sent and no answer proves that nothing was created.

    A lost answer (read timeout, reset), any 5xx (a gateway's 502/504 may come after the
    backend made the task), a redirect or a body that is not the contract's: see
    ``client.proves_nothing_created``.

    The task may exist and be charged. Trying again could pay twice, so the object gets a
    failure record instead; ``redrive`` retries it deliberately, as a new attempt.
    """

    reason = "create_outcome_unknown"


class NotEnoughTime(CorrectionError):
    """The invocation has too little time left to finish a create (and store its outcome).

    Raised before anything is sent: the message returns to the queue and a later invocation,
    with its full time, creates the task. Starting anyway could let Lambda end the invocation
    mid-create, after which nothing would stop a redelivery from paying a second time.
    """

    reason = "not_enough_time"
    transient = True


class BadApiResponse(ApiError):
    """The server answered with something that is not the contract's JSON."""

    reason = "bad_api_response"


class RequestRejected(ApiError):
    """HTTP 4xx (other than 429) or a JSON ``status`` other than 200: retrying will not help."""

    reason = "request_rejected"


class InvalidRequest(RequestRejected):
    reason = "invalid_request"  # 400


class Unauthorized(RequestRejected):
    reason = "unauthorized"  # 401


class TaskNotFound(RequestRejected):
    reason = "task_not_found"  # 404


class PayloadTooLarge(RequestRejected):
    reason = "payload_too_large"  # 413


_REJECTION_BY_STATUS: dict[int, type[RequestRejected]] = {
    contract.HTTP_BAD_REQUEST: InvalidRequest,
    contract.HTTP_UNAUTHORIZED: Unauthorized,
    contract.HTTP_NOT_FOUND: TaskNotFound,
    contract.HTTP_PAYLOAD_TOO_LARGE: PayloadTooLarge,
}


def error_for_status(status: int, message: str, **details: Any) -> ApiError:
    """Map a non-200 HTTP status (or JSON ``status``) to its exception, per the contract."""
    meaning = contract.HTTP_STATUS_MEANINGS.get(status, "")
    text = f"HTTP {status}: {message or meaning}".strip()
    if status == contract.HTTP_TOO_MANY_REQUESTS:
        return RateLimited(text, http_status=status, **details)
    if status >= 500:
        return ApiUnavailable(text, http_status=status, **details)
    cls = _REJECTION_BY_STATUS.get(status, RequestRejected)
    return cls(text, http_status=status, **details)


# --- The task -----------------------------------------------------------------------------


class TaskFailed(CorrectionError):
    """The task reached a negative state. Known or not, the code and message are kept."""

    reason = "task_failed"

    def __init__(self, state: int, message: str = "", *, task_id: str | None = None) -> None:
        text = f"task {task_id or '?'} failed with state {state}: {contract.state_meaning(state)}"
        if message:
            text += f" (server said: {message})"
        super().__init__(text, state=state, task_id=task_id)
        self.state = state
        self.task_id = task_id


class PollTimeout(CorrectionError):
    """The task was still pending when the poll cap ran out."""

    reason = "poll_timeout"


# --- Inputs and results -------------------------------------------------------------------


class InvalidInput(CorrectionError):
    """The uploaded object cannot be processed; visible before paying for a task."""

    reason = "invalid_input"

    def __init__(self, message: str, *, code: str, **details: Any) -> None:
        super().__init__(message, code=code, **details)
        self.code = code


class InvalidOption(InvalidInput):
    """A per-object option (S3 user metadata) is unknown or out of range."""

    reason = "invalid_option"


class ResultUnavailable(CorrectionError):
    """The result could not be fetched or is not an image: 404, expired URL, wrong bytes."""

    reason = "result_unavailable"


class ResultDownloadRefused(ResultUnavailable):
    """The result URL breaks our download policy (scheme, host allow-list, size, redirects)."""

    reason = "result_download_refused"


class DestinationWriteFailed(CorrectionError):
    """Writing the result to the destination bucket failed; the state machine retries it."""

    reason = "destination_write_failed"
    transient = True


#: Error names the state machine treats as transient (Retry with backoff and jitter).
TRANSIENT_ERROR_NAMES: tuple[str, ...] = (
    ApiTransportError.__name__,
    RateLimited.__name__,
    BudgetExhausted.__name__,
    ApiUnavailable.__name__,
    DestinationWriteFailed.__name__,
)
