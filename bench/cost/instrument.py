"""What each function invocation of a local run did, counted through public hooks only.

- The runner's Lambda bridge (correction_local.lambda_bridge) calls an observer around every
  handler call (``observing``) and gives the functions an HTTP transport of our choosing
  (``api_transport``): invocations are timed there, and API requests counted by the transport.
- AWS calls: a ``before-parameter-build`` handler on botocore's event system, registered on
  boto3's default session and in ``botocore.handlers.BUILTIN_HANDLERS`` for sessions made later
  (Powertools Idempotency makes its own), the way moto hooks in.
- Log bytes and the API client's retries: handlers on the service's and the client's loggers.

Nothing of the runner, the core or a library is replaced: the budget's token taking, the API
client and the handlers run as deployed (the bridge gives each function its own environment, so
only submit waits for request tokens, as in AWS). The one thing no hook reaches is work a
handler hands to a thread pool: boto3's ``upload_fileobj`` puts Finalize's result from
s3transfer's threads. Those S3 calls are recorded with their object key and given back to the
Finalize invocation of that result afterwards (``attribute_result_uploads``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import httpx

#: The invocation being run. A context variable, not a thread-local: the API client sends each
#: exchange from a helper thread that runs in a copy of the caller's context.
_current_invocation: ContextVar[Invocation | None] = ContextVar("cost_invocation", default=None)

#: (service, operation, DynamoDB table or "")
CallKey = tuple[str, str, str]
#: What s3transfer sends for ``upload_fileobj`` (other outside calls on a result's key, e.g. the
#: runner's own reads of the destination bucket, stay outside).
TRANSFER_OPERATIONS = frozenset(
    {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload"}
)


@dataclass
class Invocation:
    function: str
    keys: list[str]
    seconds: float
    outcome: str
    cpu_seconds: float = 0.0  # the handler thread's own CPU time
    aws_calls: Counter[CallKey] = field(default_factory=Counter)
    http_calls: Counter[str] = field(default_factory=Counter)  # kind → n
    log_bytes: int = 0
    client_retries: int = 0  # the API client's own retries inside the invocation
    client_sleep: float = 0.0  # and the seconds it slept for them


@dataclass
class Recorder:
    invocations: list[Invocation] = field(default_factory=list)
    outside_aws_calls: Counter[CallKey] = field(default_factory=Counter)
    #: S3 calls made outside any invocation, by object key (a result put from a transfer thread).
    outside_object_calls: dict[str, Counter[CallKey]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _current() -> Invocation | None:
    return _current_invocation.get()


def keys_of(event: Any) -> list[str]:
    """The source keys an invocation's event is about (submit: its batch's; the rest: one)."""
    try:
        if "Records" in event:  # submit: an SQS batch of S3 notifications
            keys = []
            for record in event["Records"]:
                body = json.loads(record["body"])
                keys += [r["s3"]["object"]["key"] for r in body.get("Records", [])]
            return [unquote_plus(k) for k in keys]
        if "object" in event:
            return [event["object"]["key"]]
        if "state" in event:
            return [event["state"]["object"]["key"]]
    except (KeyError, TypeError, ValueError):
        pass
    return []


class CountingTransport(httpx.BaseTransport):
    """The functions' HTTP transport: counts each request by kind inside the current invocation.

    One instance serves every client the functions make, so a client closing it (a result
    download's ``with httpx.Client``, or the API client dropping a pool at a call's deadline)
    must not close it for the others: ``close`` is ignored, ``shutdown`` ends it after the run.
    The API's requests share one connection pool, as the API client's do; each result download
    gets a new one, as each download's own ``httpx.Client`` does in production (its TLS context
    is built every time, which is part of Finalize's cost).
    """

    def __init__(self, create_path: str) -> None:
        self._create_path = create_path
        self._api = httpx.HTTPTransport()  # httpx's own defaults: TLS verification on
        self._downloads: list[httpx.HTTPTransport] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path == self._create_path:
            kind = "create task"
        elif path.startswith(self._create_path + "/"):
            kind = "query task"
        else:
            kind = "result download"
        invocation = _current()
        if invocation is not None:
            invocation.http_calls[kind] += 1
        if kind != "result download":
            return self._api.handle_request(request)
        transport = httpx.HTTPTransport()  # kept until shutdown: the body is read after this returns
        self._downloads.append(transport)
        return transport.handle_request(request)

    def close(self) -> None:
        pass

    def shutdown(self) -> None:
        for transport in [self._api, *self._downloads]:
            transport.close()


def _observer(recorder: Recorder) -> Any:
    @contextmanager
    def observe(function: str, event: Any) -> Iterator[None]:
        invocation = Invocation(function, keys_of(event), 0.0, "ok")
        token = _current_invocation.set(invocation)
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            yield
        except Exception as exc:
            invocation.outcome = type(exc).__name__
            raise
        finally:
            invocation.seconds = time.perf_counter() - started
            invocation.cpu_seconds = time.thread_time() - cpu_started
            _current_invocation.reset(token)
            with recorder.lock:
                recorder.invocations.append(invocation)

    return observe


def _aws_call_counter(recorder: Recorder) -> Any:
    def count(params: Any = None, model: Any = None, **_: Any) -> None:
        if model is None:
            return
        service = model.service_model.service_name
        params = params if isinstance(params, dict) else {}
        call = (service, model.name, params.get("TableName", "") if service == "dynamodb" else "")
        invocation = _current()
        if invocation is not None:
            invocation.aws_calls[call] += 1
            return
        with recorder.lock:
            recorder.outside_aws_calls[call] += 1
            if service == "s3" and model.name in TRANSFER_OPERATIONS and params.get("Key"):
                recorder.outside_object_calls.setdefault(params["Key"], Counter())[call] += 1

    return count


@contextmanager
def _botocore_events(handler: Any) -> Iterator[None]:
    import boto3
    from botocore import handlers

    spec = ("before-parameter-build", handler)
    handlers.BUILTIN_HANDLERS.append(spec)  # sessions created from now on
    session = boto3.DEFAULT_SESSION
    if session is not None:
        session.events.register("before-parameter-build", handler)
    try:
        yield
    finally:
        handlers.BUILTIN_HANDLERS.remove(spec)
        if session is not None:
            session.events.unregister("before-parameter-build", handler)


class _LogBytes(logging.Handler):
    """The service logger's lines as Powertools prints them, counted per invocation."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(level=logging.DEBUG)
        self._format = formatter

    def emit(self, record: logging.LogRecord) -> None:
        invocation = _current()
        if invocation is None:
            return
        try:
            invocation.log_bytes += len(self._format.format(record)) + 1
        except Exception:  # counting must never break a handler
            pass


class _Retries(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        invocation = _current()
        if invocation is not None and record.getMessage() == "correction API call will be retried":
            invocation.client_retries += 1
            invocation.client_sleep += float(getattr(record, "delay", 0) or 0)


@contextmanager
def _log_counters() -> Iterator[None]:
    from correction_core.observability import SERVICE
    from correction_core.observability import logger as service_logger

    service = logging.getLogger(SERVICE)
    client = logging.getLogger("correction_core.client")
    counting, retries = _LogBytes(service_logger.registered_formatter), _Retries(level=logging.DEBUG)
    service.addHandler(counting)
    client.addHandler(retries)
    propagate, client.propagate = client.propagate, False  # counted, not printed
    try:
        yield
    finally:
        service.removeHandler(counting)
        client.removeHandler(retries)
        client.propagate = propagate


@contextmanager
def instrumented(recorder: Recorder) -> Iterator[None]:
    """Record every invocation of the stack's functions into ``recorder`` for the duration.

    Enter it once the stack stands (the runner's ``on_ready``), leave it once the run settled.
    """
    from correction_core import contract
    from correction_local import lambda_bridge

    transport = CountingTransport(contract.CREATE_PATH)
    with ExitStack() as stack:
        stack.callback(transport.shutdown)
        stack.enter_context(lambda_bridge.observing(_observer(recorder)))
        stack.enter_context(lambda_bridge.api_transport(transport))
        stack.enter_context(_botocore_events(_aws_call_counter(recorder)))
        stack.enter_context(_log_counters())
        yield


def attribute_result_uploads(recorder: Recorder, result_keys: Mapping[str, str]) -> None:
    """Give the S3 calls of each result's upload (made from transfer threads) to the Finalize
    invocation that wrote it: ``result_keys`` maps source key → result key."""
    by_result = {result: source for source, result in result_keys.items()}
    for object_key, calls in list(recorder.outside_object_calls.items()):
        source = by_result.get(object_key)
        writers = [
            i
            for i in recorder.invocations
            if source in i.keys and i.outcome == "ok" and "Finaliz" in i.function
        ]
        if source is None or not writers:
            continue
        writers[-1].aws_calls.update(calls)
        recorder.outside_aws_calls.subtract(calls)
        del recorder.outside_object_calls[object_key]
