"""Runs our real Lambda handlers in-process when moto's Lambda is invoked.

moto would start a Docker container per invocation; there is no Docker daemon here, and the
handlers are plain Python anyway. This bridge swaps moto's container step for a call of the
handler module named by the function's CodeUri, and reports errors exactly as the Lambda runtime
does (``errorType`` = exception class name), which is what the state machine's Retry and Catch
match on. Everything else about the invocation (the API call, the payload, FunctionError) is
moto's own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.awslambda import models as lambda_models

Handler = Callable[[Any, Any], Any]
#: observer(function_name, event) -> a context manager entered around that handler call, in the
#: handler's thread (an exception from the handler passes through it). Benches time and count with it.
InvocationObserver = Callable[[str, Any], AbstractContextManager[Any]]

_handlers: dict[str, Handler] = {}
_environments: dict[str, dict[str, str]] = {}
_services: dict[str, Any] = {}
_lock = threading.Lock()
_observers: list[InvocationObserver] = []
_api_transport: list[Any] = []  # at most one httpx transport for the functions' API calls
_original_invoke = lambda_models.LambdaFunction._invoke_lambda
#: Every invocation, in order: (function name, event, outcome). Tests count API-facing calls with it.
invocations: list[tuple[str, Any, str]] = []


@dataclass
class LocalContext:
    """The attributes of a Lambda context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    timeout_seconds: int = 30

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        # Runs down like Lambda's: the submit step refuses a create it could not finish in time.
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(code_dir: Path, handler: str) -> Handler:
    """Import ``<code_dir>/<module>.py`` under a unique name and return its handler function."""
    module_name, _, function_name = handler.rpartition(".")
    path = code_dir / f"{module_name}.py"
    unique = f"lambda_{code_dir.name}_{module_name}"
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function_name)


def override_environment(function_name: str, **variables: str) -> None:
    """Change some of one function's variables (tests), as a redeploy would: new services."""
    with _lock:
        _environments.setdefault(function_name, {}).update(variables)
        _services.pop(function_name, None)


def register(function_name: str, handler: Handler, environment: dict[str, str] | None = None) -> None:
    """Route invocations of ``function_name`` to ``handler``, with that function's environment."""
    with _lock:
        _handlers[function_name] = handler
        _environments[function_name] = dict(environment or {})
        _services.pop(function_name, None)


@contextmanager
def observing(observer: InvocationObserver) -> Iterator[None]:
    """Call ``observer`` around every in-process invocation for the duration of the block."""
    with _lock:
        _observers.append(observer)
    try:
        yield
    finally:
        with _lock:
            _observers.remove(observer)


@contextmanager
def api_transport(transport: Any) -> Iterator[None]:
    """The functions' HTTP calls (the API and result downloads) go through ``transport`` (an
    ``httpx.BaseTransport``) for the duration: services built meanwhile are given it."""
    with _lock:
        _api_transport[:] = [transport]
        _services.clear()
    try:
        yield
    finally:
        with _lock:
            _api_transport.clear()
            _services.clear()


def _services_for(function_name: str) -> Any:
    """The function's own core services, from its own environment (built once, like a container)."""
    from correction_core.services import Services
    from correction_core.settings import Settings

    with _lock:
        if function_name not in _services:
            env = {**os.environ, **_environments.get(function_name, {})}
            transport = _api_transport[0] if _api_transport else None
            _services[function_name] = Services(settings=Settings.from_env(env), transport=transport)
        return _services[function_name]


def _invoke_in_process(self: Any, event: Any = None) -> tuple[str, bool, str]:
    handler = _handlers.get(self.function_name)
    if handler is None:
        return _original_invoke(self, event)
    payload = event if event is not None else {}
    if isinstance(payload, str):
        payload = json.loads(payload or "{}")
    context = LocalContext(self.function_name, timeout_seconds=int(self.timeout or 30))
    from correction_core.services import services_scope

    with _lock:
        observers = list(_observers)
    try:
        with services_scope(_services_for(self.function_name)), ExitStack() as observed:
            for observer in observers:
                observed.enter_context(observer(self.function_name, payload))
            result = handler(payload, context)
    except Exception as exc:  # the Lambda runtime turns any exception into an error payload
        invocations.append((self.function_name, payload, type(exc).__name__))
        error = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__)[-5:],
        }
        return json.dumps(error), True, ""
    invocations.append((self.function_name, payload, "ok"))
    return json.dumps(result, default=str), False, ""


def install() -> None:
    """Route moto's Lambda invocations of registered functions to their in-process handlers."""
    lambda_models.LambdaFunction._invoke_lambda = _invoke_in_process


def uninstall() -> None:
    lambda_models.LambdaFunction._invoke_lambda = _original_invoke
    with _lock:
        _handlers.clear()
        _environments.clear()
        _services.clear()
    invocations.clear()
