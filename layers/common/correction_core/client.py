"""Client of the Photo Cropping and Enhancement API (the vendor's cloud or our engine).

Turns HTTP into the contract's types and the pipeline's exception tree: short retries with
backoff for 429, 5xx and transport trouble; everything else is raised for the caller to route.
A create (paid) is repeated only after answers that prove no task was made
(``proves_nothing_created``); any other failure is marked ``request_may_have_been_processed``.
"""

from __future__ import annotations

import contextvars
import logging
import math
import random as _random
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from os import PathLike
from typing import Any
from urllib.parse import quote

import httpx

from . import contract
from .errors import (
    ApiError,
    ApiTransportError,
    ApiUnavailable,
    BadApiResponse,
    BudgetExhausted,
    PayloadTooLarge,
    PollTimeout,
    RateLimited,
    RequestRejected,
    Unauthorized,
    error_for_status,
)
from .imageheader import CONTENT_TYPES, sniff_format
from .redaction import redact_text, redact_url
from .results import CreatedTask, TaskStatus, parse_int

__all__ = [
    "CorrectionClient",
    "DEFAULT_TIMEOUT",
    "NO_RETRY",
    "RetryPolicy",
    "parse_retry_after",
    "proves_nothing_created",
    "request_budget_seconds",
]

logger = logging.getLogger(__name__)

ApiKey = str | Callable[[], str]
ImageFile = bytes | bytearray | memoryview | tuple[str, bytes, str | None]

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)

# Errors where the request cannot have reached the server, so even a paid create is safe to repeat.
# LocalProtocolError: h11 refused to write our own request (an illegal header value), so no
# request line went out.
_NOT_SENT_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)

# What an API key may contain: visible ASCII, no spaces (what a header value carries verbatim).
_KEY_CHARACTERS = re.compile(r"[\x21-\x7e]+")


def proves_nothing_created(error: ApiError) -> bool:
    """Whether a failed create certainly made no task, so sending it again cannot pay twice.

    Only three answers prove it: the request never left (connection refused, connect or pool
    timeout), the API's rate limiter refused it (429, or our own budget before sending), or the
    contract's validations refused it (400, 401, 404, 413 and other 4xx: retrying would not help
    anyway). Anything else that came after the request was sent -- any 5xx (a gateway's 502/504
    can arrive after the backend created and charged for the task), a read timeout or dropped
    connection, a redirect, a 2xx whose body is not the contract's -- leaves the outcome unknown.
    """
    if isinstance(error, (RateLimited, RequestRejected)):
        return True
    if isinstance(error, ApiTransportError):
        # Only when the transport said so explicitly: an unlabelled one proves nothing.
        return error.details.get("request_may_have_been_processed") is False
    return False


_MESSAGE_MAX = 300


@dataclass(frozen=True)
class RetryPolicy:
    """Short in-process retries (the state machine owns the long ones).

    Delays are "full jitter" exponential backoff: uniform(0, min(max_delay, base_delay * 2**n)).
    A server's Retry-After replaces the backoff but is capped at ``max_delay`` too, so one
    answer cannot park a Lambda for minutes. ``sleep`` and ``random`` are injectable for tests.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: bool = True
    #: Retry a create after a read timeout or a dropped response? The task may already exist and
    #: be charged (3 credits), so by default such a create is raised, not repeated.
    retry_ambiguous_create: bool = False
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = _random.random

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, retry_number: int) -> float:
        """Delay before retry ``retry_number`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return ceiling * self.random() if self.jitter else ceiling

    def delay(self, retry_number: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_delay))
        return self.backoff(retry_number)


# For callers that want no retries at all (a one-off script probing the API).
NO_RETRY = RetryPolicy(max_attempts=1)


def request_budget_seconds(timeout: httpx.Timeout, retry: RetryPolicy) -> float:
    """The longest one client call can take, retries included (not counting ``before_request``).

    Every attempt may spend each of its timeouts in full (pool, connect, write, read), and
    every retry waits at most ``max_delay`` (Retry-After is capped there too). httpx's timeouts
    bound each socket operation only (a trickling server or a slow upload passes them all), so
    the client enforces this sum as the call's total deadline (``_CallDeadline``): it is a
    real bound, not an estimate.
    """
    parts = (timeout.pool, timeout.connect, timeout.write, timeout.read)
    per_attempt = 0.0
    for part in parts:
        if part is None:
            raise ValueError("every timeout must be set for the call to have a budget")
        per_attempt += float(part)
    return retry.max_attempts * per_attempt + (retry.max_attempts - 1) * retry.max_delay


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now()
    if not math.isfinite(seconds):  # "nan"/"inf" parse as floats but mean nothing here
        return None
    return max(0.0, seconds)


class _CallDeadline:
    """The total time one client call may spend sending and waiting for answers.

    Time spent before a send that is not the call's own (fetching the key, waiting for a budget
    token: ``before_request``) is given back, so the bound is exactly ``request_budget_seconds``.
    """

    def __init__(self, budget: float | None) -> None:
        self.budget = budget
        self._end = None if budget is None else time.monotonic() + budget

    def give_back(self, seconds: float) -> None:
        if self._end is not None:
            self._end += max(0.0, seconds)

    def left(self) -> float | None:
        return None if self._end is None else max(0.0, self._end - time.monotonic())


class _SecretKey:
    """Holds the API key (or the callable that fetches it) without ever showing it."""

    __slots__ = ("_source",)

    def __init__(self, source: ApiKey) -> None:
        if not (isinstance(source, str) or callable(source)):
            raise TypeError("api_key must be a str or a zero-argument callable returning one")
        self._source = source

    def get(self) -> str:
        value = self._source() if callable(self._source) else self._source
        if not isinstance(value, str) or not value.strip():
            raise Unauthorized("no API key is configured (empty value)")
        value = value.strip()
        if not _KEY_CHARACTERS.fullmatch(value):
            # A secret pasted as two lines, or with a stray control or non-ASCII character: the
            # HTTP library would refuse the header and quote the value in its error. Say what is
            # wrong without any of the value, and send nothing.
            raise Unauthorized(
                f"the configured API key is not usable: it has {len(value)} characters, some outside "
                "printable ASCII (a line break, tab, control or non-ASCII character); fix the secret"
            )
        return value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__


class CorrectionClient:
    """Synchronous client; one per process (a Lambda container keeps it between invocations)."""

    def __init__(
        self,
        *,
        api_key: ApiKey,
        base_url: str = contract.BASE_URL_GLOBAL,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ca_bundle: str | PathLike[str] | None = None,
        before_request: Callable[[str], None] | None = None,
        before_send: Callable[[str, float], None] | None = None,
        time_left: Callable[[], float | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        user_agent: str = "photo-correction-pipeline",
    ) -> None:
        if not base_url or "://" not in base_url:
            raise ValueError("base_url must be an absolute URL such as contract.BASE_URL_GLOBAL")
        if not isinstance(timeout, httpx.Timeout):
            raise TypeError("timeout must be an httpx.Timeout with connect/read/write/pool set")
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._key = _SecretKey(api_key)
        self._before_request = before_request
        # Called immediately before each attempt goes out, with the most the call can still take
        # (seconds): the caller's last chance to refuse a send it could not see through.
        self._before_send = before_send
        # Reads (GET) also end when the caller's own deadline does (a Lambda's remaining time):
        # a function that times out fails with an error its state machine does not retry. A
        # create is not cut short this way: its caller refuses to send one it cannot see through.
        self._time_left = time_left
        self._clock = clock
        self._wall_clock = wall_clock
        try:
            self._call_budget: float | None = request_budget_seconds(timeout, retry)
        except ValueError:  # a timeout left unset: no total deadline can be derived
            self._call_budget = None
        verify = _verification(ssl_context, ca_bundle)

        def new_http() -> httpx.Client:
            return httpx.Client(
                timeout=timeout,
                transport=transport,
                verify=verify,
                follow_redirects=False,  # a redirect could carry the key header to another host
                headers={"User-Agent": user_agent},
            )

        self._new_http = new_http
        self._http = new_http()

    # --- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CorrectionClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CorrectionClient(base_url={self.base_url!r}, api_key=<hidden>)"

    __str__ = __repr__

    # --- the contract's two calls ------------------------------------------------------

    def create_task(
        self,
        *,
        image_url: str | None = None,
        image_file: ImageFile | None = None,
        enhancement_type: int | contract.EnhancementType,
        return_type: int | contract.ReturnType = contract.ReturnType.URL,
        sync: bool = False,
    ) -> CreatedTask | TaskStatus:
        """Create a task from exactly one source. Async: a CreatedTask; sync: its TaskStatus.

        A sync status is returned even when the task failed (check ``is_failed`` or call
        ``raise_for_failure``), the same as ``get_task``.
        """
        has_url = bool(image_url)
        has_file = image_file is not None and not _is_empty_file(image_file)
        if has_url == has_file:
            raise ValueError("exactly one of image_url and image_file must be given")
        type_code = _checked_code(enhancement_type, contract.ENHANCEMENT_TYPE_MEANINGS, "enhancement_type")
        return_code = _checked_code(return_type, contract.RETURN_TYPE_MEANINGS, "return_type")
        if return_code in contract.SYNC_ONLY_RETURN_TYPES and not sync:
            meaning = contract.RETURN_TYPE_MEANINGS[return_code]
            raise ValueError(f"return_type {return_code} ({meaning}) needs sync=True")

        # Plain fields go in as filename-less parts so the body is multipart/form-data even
        # when no file is uploaded, as the contract requires.
        fields: list[tuple[str, tuple[str | None, Any] | tuple[str, bytes, str]]] = [
            (contract.FIELD_SYNC, (None, str(int(contract.SyncMode(int(bool(sync))))))),
            (contract.FIELD_TYPE, (None, str(type_code))),
            (contract.FIELD_RETURN_TYPE, (None, str(return_code))),
        ]
        if has_url:
            assert image_url is not None
            if not isinstance(image_url, str) or not image_url.lower().startswith(("https://", "http://")):
                raise ValueError(f"image_url must be an http(s) URL, got {redact_url(str(image_url))!r}")
            fields.append((contract.FIELD_IMAGE_URL, (None, image_url)))
        else:
            assert image_file is not None
            fields.append((contract.FIELD_IMAGE_FILE, _file_part(image_file)))

        binary = return_code == contract.ReturnType.BINARY
        response = self._request("POST", contract.CREATE_PATH, files=fields, accept_image=binary)
        if isinstance(response, TaskStatus):
            return response
        data, message = response
        try:
            if sync:
                return TaskStatus.from_data(data, message=message)
            return CreatedTask.from_data(data)
        except BadApiResponse as unreadable:
            # The server answered 200 to a create: it may well have made (and charged) a task
            # whose id it failed to send. Unknown, like a lost answer; never repeated.
            unreadable.details["request_may_have_been_processed"] = True
            raise
        except Exception as exc:
            raise BadApiResponse(
                f"create answer could not be read ({type(exc).__name__})",
                request_may_have_been_processed=True,
            ) from None

    def get_task(self, task_id: str) -> TaskStatus:
        """Read a task once. Failed tasks are returned (``is_failed``), not raised."""
        task_id = _checked_task_id(task_id)
        response = self._request("GET", contract.query_path(quote(task_id, safe="")))
        assert not isinstance(response, TaskStatus)
        data, message = response
        return TaskStatus.from_data(data, message=message, task_id=task_id)

    def wait(self, task_id: str, *, interval: float = 1.0, timeout: float = 30.0) -> TaskStatus:
        """Poll until the task succeeds (returned), fails (TaskFailed) or ``timeout`` passes (PollTimeout).

        For scripts and the local runner; Lambdas leave waiting to the state machine.
        """
        if interval <= 0 or timeout < 0:
            raise ValueError("interval must be positive and timeout not negative")
        started = self._clock()
        deadline = started + timeout
        polls = 0
        while True:
            status = self.get_task(task_id)
            polls += 1
            if status.is_done:
                return status
            status.raise_for_failure()
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise PollTimeout(
                    f"task {status.task_id} still pending (state {status.state}: {status.state_meaning}) "
                    f"after {self._clock() - started:.1f}s and {polls} polls",
                    task_id=status.task_id,
                    state=status.state,
                    polls=polls,
                )
            self.retry.sleep(min(interval, remaining))

    # --- transport, retries, the three levels of success ------------------------------

    def _request(
        self, method: str, path: str, *, files: Any = None, accept_image: bool = False
    ) -> tuple[Mapping[str, Any], str] | TaskStatus:
        policy = self.retry
        deadline = _CallDeadline(self._budget_for(method, path))
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, path, files=files, accept_image=accept_image, deadline=deadline)
            except ApiError as error:
                if method == "POST" and not proves_nothing_created(error):
                    error.details["request_may_have_been_processed"] = True
                retryable = isinstance(error, (RateLimited, ApiUnavailable, ApiTransportError))
                out_of_time = deadline.left() == 0.0
                if (
                    not retryable
                    or out_of_time
                    or attempt >= policy.max_attempts
                    or not self._may_retry(method, error)
                ):
                    error.details["attempts"] = attempt
                    raise
                delay = policy.delay(attempt, getattr(error, "retry_after", None))
                logger.warning(
                    "correction API call will be retried",
                    extra={
                        "method": method,
                        "path": path,
                        "error": type(error).__name__,
                        "http_status": error.http_status,
                        "attempt": attempt,
                        "delay": round(delay, 3),
                    },
                )
                policy.sleep(delay)

    def _budget_for(self, method: str, path: str) -> float | None:
        budget = self._call_budget
        left = self._time_left() if method == "GET" and self._time_left is not None else None
        if left is None:
            return budget
        if left <= 0:
            raise ApiTransportError(
                f"{method} {path}: no time left in this invocation to send it",
                request_may_have_been_processed=False,
            )
        return left if budget is None else min(budget, left)

    def _send(
        self, method: str, path: str, *, files: Any, key: str, deadline: _CallDeadline
    ) -> httpx.Response:
        """One HTTP exchange, ended when the call's total deadline passes.

        httpx has no total timeout, so the exchange runs on a helper thread that this one waits
        for; at the deadline the connection pool is closed under it (its socket reads and
        writes then fail and the thread ends) and a fresh pool serves the next call.
        """
        http = self._http
        url = self.base_url + path
        headers = {contract.API_KEY_HEADER: key}
        left = deadline.left()
        if left is None:
            return http.request(method, url, files=files, headers=headers)
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def exchange() -> None:
            try:
                outcome["response"] = http.request(method, url, files=files, headers=headers)
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                done.set()

        # The caller's context variables (log keys, trace context) go along with the exchange.
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(exchange,), name="correction-api-exchange", daemon=True
        ).start()
        if not done.wait(left):
            self._http = self._new_http()
            try:
                http.close()
            except Exception:  # closing is only to free the stuck thread
                logger.debug("closing the connection pool of an overdue call failed", exc_info=True)
            raise ApiTransportError(
                f"{method} {path}: no complete answer within the call's deadline ({deadline.budget:.1f} s)",
                request_may_have_been_processed=True,
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]

    def _may_retry(self, method: str, error: ApiError) -> bool:
        if isinstance(error, BudgetExhausted):
            return False  # our own budget said no: whoever owns the waiting decides (see errors)
        if method == "GET" or self.retry.retry_ambiguous_create:
            return True
        # A create whose response was lost may have created (and charged) a task already.
        return not error.details.get("request_may_have_been_processed", False)

    def _attempt(
        self, method: str, path: str, *, files: Any, accept_image: bool, deadline: _CallDeadline
    ) -> tuple[Mapping[str, Any], str] | TaskStatus:
        paused = time.monotonic()
        key = self._key.get()
        if self._before_request is not None:
            self._before_request(method)  # may raise RateLimited: the shared budget is spent
        deadline.give_back(time.monotonic() - paused)
        if self._before_send is not None:
            left = deadline.left()  # None: a timeout is unset, so the call has no bound at all
            self._before_send(method, math.inf if left is None else left)  # may refuse: nothing sent
        try:
            response = self._send(method, path, files=files, key=key, deadline=deadline)
        except ApiError:
            raise
        except httpx.TransportError as exc:
            ambiguous = not isinstance(exc, _NOT_SENT_ERRORS)
            raise ApiTransportError(
                f"{method} {path}: {type(exc).__name__}: {self._scrub(str(exc), key)}",
                request_may_have_been_processed=ambiguous,
            ) from None  # the httpx error holds the request, whose headers carry the key
        except httpx.HTTPError as exc:  # e.g. a body that fails to decompress
            raise BadApiResponse(
                f"{method} {path}: {type(exc).__name__}: {self._scrub(str(exc), key)}"
            ) from None
        except Exception as exc:
            # Raised while the request was out: nothing shows it did not arrive, so a create
            # that ends here has an unknown outcome (the caller's rule), never "not sent".
            raise ApiTransportError(
                f"{method} {path}: {type(exc).__name__}: {self._scrub(str(exc), key)}",
                request_may_have_been_processed=True,
            ) from None

        status = response.status_code
        body = self._json_body(response)
        server_message = self._scrub(_message_of(body), key)

        if not 200 <= status < 300:
            if 300 <= status < 400:
                raise BadApiResponse(
                    f"{method} {path}: unexpected redirect (HTTP {status})", http_status=status
                )
            raise self._error(status, server_message, response)

        if body is None and accept_image:
            return self._binary_result(response)
        if not isinstance(body, dict):
            raise BadApiResponse(
                f"{method} {path}: HTTP {status} but the body is not a JSON object "
                f"({response.headers.get('content-type', 'no content type')})",
                http_status=status,
            )
        # Level two: the JSON status. An HTTP 200 can carry a failure here.
        json_status = parse_int(body.get("status"), field_name="status", required=True)
        assert json_status is not None
        if json_status != contract.HTTP_OK:
            raise self._error(json_status, server_message, response, http_status=status)
        data = body.get("data")
        if not isinstance(data, dict):
            raise BadApiResponse(f"{method} {path}: response has no data object", http_status=status)
        return data, server_message

    def _error(
        self, status: int, message: str, response: httpx.Response, *, http_status: int | None = None
    ) -> ApiError:
        error = error_for_status(status, message)
        if http_status is not None and http_status != status:
            error.details["json_status"] = status
            error.details["http_status"] = http_status
            error.http_status = http_status
        if isinstance(error, RateLimited):
            error.retry_after = parse_retry_after(response.headers.get("retry-after"), now=self._wall_clock)
            error.details["retry_after"] = error.retry_after
        return error

    def _binary_result(self, response: httpx.Response) -> TaskStatus:
        # return_type 3: the contract promises "binary image data" but not its envelope; a raw
        # image body is the only reading that needs no JSON, so accept exactly that.
        data = response.content
        fmt = sniff_format(data[:64])
        if fmt not in CONTENT_TYPES:
            raise BadApiResponse(
                "sync binary response is neither JSON nor a recognised image",
                http_status=response.status_code,
            )
        return TaskStatus(
            task_id=response.headers.get("x-task-id", ""),
            state=contract.STATE_SUCCEEDED,
            progress=contract.PROGRESS_COMPLETE,
            image_bytes=data,
        )

    @staticmethod
    def _json_body(response: httpx.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
            return None

    @staticmethod
    def _scrub(text: str, key: str) -> str:
        return redact_text(text, extra_secrets=(key,))[:_MESSAGE_MAX]


# --- helpers ----------------------------------------------------------------------------


def _verification(
    ssl_context: ssl.SSLContext | None, ca_bundle: str | PathLike[str] | None
) -> ssl.SSLContext | bool:
    """TLS verification is always on; callers may only choose what to trust."""
    if ssl_context is not None and ca_bundle is not None:
        raise ValueError("give ssl_context or ca_bundle, not both")
    if ca_bundle is not None:
        return ssl.create_default_context(cafile=str(ca_bundle))
    if ssl_context is not None:
        if ssl_context.verify_mode == ssl.CERT_NONE or not ssl_context.check_hostname:
            raise ValueError("TLS verification cannot be turned off (unlike the contract's curl examples)")
        return ssl_context
    return True


def _checked_code(value: Any, meanings: Mapping[int, str], name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or int(value) not in meanings:
        raise ValueError(f"{name} must be one of {sorted(meanings)}, got {value!r}")
    return int(value)


def _checked_task_id(task_id: Any) -> str:
    if not isinstance(task_id, str) or not task_id.strip():
        raise ValueError("task_id must be a non-empty string")
    return task_id.strip()


def _is_empty_file(image_file: Any) -> bool:
    if isinstance(image_file, tuple):
        return len(image_file) >= 2 and not image_file[1]
    return not image_file


def _file_part(image_file: ImageFile) -> tuple[str, bytes, str]:
    if isinstance(image_file, tuple):
        if len(image_file) != 3:
            raise ValueError("image_file tuple must be (filename, bytes, content_type)")
        filename, content, content_type = image_file
        content = bytes(content)
    elif isinstance(image_file, (bytes, bytearray, memoryview)):
        content, filename, content_type = bytes(image_file), None, None
    else:
        raise TypeError("image_file must be bytes or (filename, bytes, content_type)")
    if len(content) > contract.MAX_UPLOAD_BYTES:
        # The server would answer 413 after we uploaded every byte; refuse before sending.
        raise PayloadTooLarge(
            f"image_file is {len(content)} bytes, over the contract's {contract.MAX_UPLOAD_BYTES}-byte limit"
        )
    fmt = sniff_format(content[:64])
    if not content_type:
        content_type = CONTENT_TYPES.get(fmt or "", "application/octet-stream")
    if not filename:
        filename = "image." + {"jpeg": "jpg", "tiff": "tif"}.get(fmt or "", fmt or "bin")
    return filename, content, content_type


def _message_of(body: Any) -> str:
    if isinstance(body, dict):
        message = body.get("message")
        if message is not None:
            return str(message)
    return ""
