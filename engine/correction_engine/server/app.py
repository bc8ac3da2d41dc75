"""HTTP face of the engine: the correction API's two endpoints, result URLs and admin routes.

Every answer, errors included, is JSON ``{"status": <code>, "message": ...}`` with the same
HTTP status, except result downloads and ``return_type=3`` results, which are image bytes.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from correction_core import contract

from .faults import ENDPOINT_CREATE, ENDPOINT_QUERY, ENDPOINT_RESULT
from .fetching import is_fetchable_url
from .forms import FormError, declared_length, read_create_form
from .ratelimit import retry_after_header
from .service import Busy, EngineBackends, EngineService
from .settings import EngineSettings
from .signing import RESULT_PATH_PREFIX, Verdict

HTTP_FORBIDDEN = 403  # result URLs only; the contract's API never answers it
ADMIN_KEY_HEADER = "X-ADMIN-KEY"
# ASCII digits only: \d and int() also take Arabic-Indic or full-width digits.
_INTEGER = re.compile(r"^[+-]?[0-9]{1,6}$", re.ASCII)
_RESULT_CHUNK = 256 * 1024
# str.strip() would also remove Unicode spaces (no-break, em, ideographic): a number written
# with them is not the ASCII number the contract asks for.
_ASCII_SPACE = " \t\r\n\x0b\x0c"
ADMIN_UNAUTHORIZED = "Unauthorized admin key. Check that X-ADMIN-KEY is correct."


def error_response(status: int, detail: str = "", headers: dict[str, str] | None = None) -> JSONResponse:
    meaning = contract.HTTP_STATUS_MEANINGS.get(
        status, "Forbidden." if status == HTTP_FORBIDDEN else "Error."
    )
    message = f"{meaning} {detail}".strip() if detail else meaning
    return JSONResponse({"status": status, "message": message}, status_code=status, headers=headers)


def ok_response(data: dict[str, Any], message: str = "success") -> JSONResponse:
    return JSONResponse({"status": contract.HTTP_OK, "message": message, "data": data})


class _Rejected(Exception):
    def __init__(self, response: Response):
        self.response = response


def _int_field(fields: dict[str, str], name: str, allowed: frozenset[int], default: int) -> int:
    raw = fields.get(name)
    if raw is None or raw.strip(_ASCII_SPACE) == "":
        return default
    raw = raw.strip(_ASCII_SPACE)
    if not _INTEGER.match(raw) or int(raw) not in allowed:
        raise _Rejected(
            error_response(
                contract.HTTP_BAD_REQUEST, f"{name} must be one of {sorted(allowed)}, got {raw[:20]!r}"
            )
        )
    return int(raw)


def create_app(settings: EngineSettings, backends: EngineBackends | None = None) -> FastAPI:
    """The engine's ASGI app. ``app.state.engine`` is its :class:`EngineService`; ``backends``
    default to this machine's (:func:`~.service.local_backends`)."""
    engine = EngineService(settings, backends)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        try:
            yield
        finally:
            engine.close()

    app = FastAPI(
        title="Photo correction engine", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.engine = engine
    app.state.settings = settings

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(
            exc.status_code, "" if exc.status_code in contract.HTTP_STATUS_MEANINGS else str(exc.detail)
        )

    @app.exception_handler(Exception)
    async def _crash(_request: Request, _exc: Exception) -> Response:
        return error_response(contract.HTTP_SERVER_ERROR)

    def _authorise(request: Request) -> str:
        owner = engine.authenticate(request.headers.get(contract.API_KEY_HEADER))
        if owner is None:
            raise _Rejected(error_response(contract.HTTP_UNAUTHORIZED))
        return owner

    def _gate(request: Request, endpoint: str, counter: str) -> str:
        """Key, rate limit and injected request faults, in the vendor's order."""
        owner = _authorise(request)
        wait = engine.limiter.acquire(owner)
        if wait > 0:
            engine.stats.incr(owner, "rate_limited")
            raise _Rejected(
                error_response(
                    contract.HTTP_TOO_MANY_REQUESTS, headers={"Retry-After": retry_after_header(wait)}
                )
            )
        engine.stats.incr(owner, counter)
        _request_fault(owner, endpoint)
        return owner

    def _request_fault(owner: str, endpoint: str) -> None:
        fault = engine.faults.request_fault(endpoint)
        if fault == "429":
            engine.stats.incr(owner, "injected_429")
            raise _Rejected(
                error_response(contract.HTTP_TOO_MANY_REQUESTS, "(injected)", headers={"Retry-After": "1"})
            )
        if fault == "500":
            engine.stats.incr(owner, "injected_500")
            raise _Rejected(error_response(contract.HTTP_SERVER_ERROR, "(injected)"))

    async def _slow(owner: str, endpoint: str) -> None:
        delay = engine.faults.slow_delay(endpoint)
        if delay > 0:
            engine.stats.incr(owner, "injected_slow")
            await asyncio.sleep(delay)

    def _base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @app.post(contract.CREATE_PATH)
    async def create_task(request: Request) -> Response:
        try:
            owner = await asyncio.to_thread(_gate, request, ENDPOINT_CREATE, "create_requests")
            response = await _create(request, owner)
        except _Rejected as rejected:
            return rejected.response
        await _slow(owner, ENDPOINT_CREATE)
        return response

    async def _create(request: Request, owner: str) -> Response:
        max_file = settings.max_upload_bytes
        max_body = max_file + settings.max_form_overhead_bytes
        try:
            length = declared_length(request.headers)
            if length is not None and length > max_body:
                # Refused on the header alone: not one byte of the body is read.
                return error_response(
                    contract.HTTP_PAYLOAD_TOO_LARGE, f"(Content-Length {length} > {max_body})"
                )
            # One limit for the whole body, not per read: a client that drips a byte a second
            # would otherwise hold the request (and a file handle) for as long as it likes.
            async with asyncio.timeout(settings.create_body_seconds):
                form = await read_create_form(
                    request.headers.get("content-type"),
                    request.stream(),
                    max_file_bytes=max_file,
                    max_body_bytes=max_body,
                )
        except FormError as exc:
            return error_response(exc.status, f"({exc})")
        except TimeoutError:
            # 400, not 408: the contract's codes are the only ones a client is told to expect,
            # and an incomplete body is a request the client got wrong; nothing was created.
            engine.stats.incr(owner, "body_timeouts")
            return error_response(
                contract.HTTP_BAD_REQUEST,
                f"(the request body did not arrive within {settings.create_body_seconds:g} s)",
                # Without it the server would go on reading (and discarding) the rest of the
                # dripped body on the same connection after answering.
                headers={"Connection": "close"},
            )
        except ClientDisconnect:
            # The client hung up mid-upload: ordinary on the internet, nothing to log as an
            # error, and nobody is left to read this answer.
            engine.stats.incr(owner, "client_disconnects")
            return error_response(contract.HTTP_BAD_REQUEST, "(the client disconnected)")

        sync = _int_field(form.fields, contract.FIELD_SYNC, frozenset(int(m) for m in contract.SyncMode), 0)
        etype = _int_field(
            form.fields,
            contract.FIELD_TYPE,
            frozenset(int(t) for t in contract.EnhancementType),
            int(contract.VENDOR_DEFAULT_TYPE),
        )
        rtype = _int_field(
            form.fields,
            contract.FIELD_RETURN_TYPE,
            frozenset(int(r) for r in contract.ReturnType),
            int(contract.ReturnType.URL),
        )
        if rtype in contract.SYNC_ONLY_RETURN_TYPES and sync != contract.SyncMode.SYNC:
            return error_response(contract.HTTP_BAD_REQUEST, f"(return_type {rtype} requires sync=1)")
        url = (form.fields.get(contract.FIELD_IMAGE_URL) or "").strip(_ASCII_SPACE) or None
        upload = form.file or None  # an empty file part counts as absent, like an empty URL
        if url is not None and upload is not None:
            return error_response(contract.HTTP_BAD_REQUEST, "(send image_url or image_file, not both)")
        if url is None and upload is None:
            return error_response(contract.HTTP_BAD_REQUEST, "(one of image_url or image_file is required)")
        if url is not None and not is_fetchable_url(url):
            return error_response(contract.HTTP_BAD_REQUEST, "(image_url must be an absolute http(s) URL)")

        try:
            # Off the event loop: storing a 20 MB upload in the spool is a disk write.
            task = await asyncio.to_thread(
                engine.create_task,
                owner,
                enhancement_type=etype,
                return_type=rtype,
                image_bytes=upload,
                image_url=url,
            )
        except Busy as busy:
            engine.stats.incr(owner, "refused_busy")
            return error_response(
                contract.HTTP_TOO_MANY_REQUESTS,
                f"({busy}; retry later)",
                headers={"Retry-After": retry_after_header(busy.retry_after)},
            )
        del upload, form
        if sync != contract.SyncMode.SYNC:
            return ok_response({"task_id": task.task_id})
        await engine.store.wait(task, settings.effective_sync_wait_seconds)
        if rtype == contract.ReturnType.BINARY and task.state == contract.STATE_SUCCEEDED:
            result = await asyncio.to_thread(engine.result_bytes, task)
            if result is not None:
                return Response(content=result, media_type=task.result_content_type)
        data = await asyncio.to_thread(engine.task_data, task, _base_url(request))
        return ok_response(data, engine.task_message(task))

    @app.get(contract.QUERY_PATH_TEMPLATE)
    async def query_task(task_id: str, request: Request) -> Response:
        try:
            # Off the event loop: with remote backends the key, the bucket and the task are reads.
            owner = await asyncio.to_thread(_gate, request, ENDPOINT_QUERY, "query_requests")
        except _Rejected as rejected:
            return rejected.response
        task = await asyncio.to_thread(engine.store.get, task_id, owner)
        if task is None:
            response: Response = error_response(
                contract.HTTP_NOT_FOUND, "(no such task for this key, or it expired)"
            )
        else:
            data = await asyncio.to_thread(engine.task_data, task, _base_url(request))
            response = ok_response(data, engine.task_message(task))
        await _slow(owner, ENDPOINT_QUERY)
        return response

    @app.get(RESULT_PATH_PREFIX + "{token}")
    async def download_result(token: str, request: Request) -> Response:
        # No key: the signature is the credential, as with the vendor's signed URLs.
        fault = engine.faults.request_fault(ENDPOINT_RESULT)
        if fault is not None:
            status = contract.HTTP_TOO_MANY_REQUESTS if fault == "429" else contract.HTTP_SERVER_ERROR
            return error_response(status, "(injected)")
        verdict = engine.signer.verify(
            token, request.query_params.get("expires"), request.query_params.get("signature")
        )
        if verdict is Verdict.BAD_SIGNATURE:
            return error_response(HTTP_FORBIDDEN, "(invalid signature)")
        if verdict is Verdict.EXPIRED:
            return error_response(HTTP_FORBIDDEN, "(the result URL has expired)")
        task = engine.store.by_token(token)
        handle = engine.open_result(task) if task is not None else None
        if task is None or handle is None:
            return error_response(contract.HTTP_NOT_FOUND, "(no such result, or it expired)")
        engine.stats.incr(task.owner, "result_downloads")
        delay = engine.faults.slow_delay(ENDPOINT_RESULT)
        if delay:
            await asyncio.sleep(delay)
        # Streamed from the spool in chunks: a 50 MB result never sits whole in memory, and the
        # open handle stays readable if the result expires mid-download.
        return StreamingResponse(
            _chunks(handle),
            media_type=task.result_content_type,
            headers={"Cache-Control": "private", "Content-Length": str(task.result_size)},
        )

    # --- operations: health (open), statistics (own key, or all with the admin key), and the
    # admin routes, which exist only when an admin key is configured ---

    @app.get("/_engine/health")
    async def health() -> Response:
        return ok_response({"workers": settings.workers})

    @app.exception_handler(_Rejected)
    async def rejected_response(request: Request, rejected: _Rejected) -> Response:
        """An operations endpoint's refused key (or any _Rejected left uncaught) answers as the contract does."""
        return rejected.response

    def _admin(request: Request, *, faults: bool = False) -> None:
        """404 (as if absent) unless an admin key is configured (and, for faults, injection enabled);
        401 unless the request carries it."""
        if settings.admin_key is None or (faults and not settings.fault_injection):
            raise _Rejected(error_response(contract.HTTP_NOT_FOUND))
        presented = request.headers.get(ADMIN_KEY_HEADER) or ""
        if not hmac.compare_digest(presented.encode(), settings.admin_key.encode()):
            # The contract's 401 text names X-API-KEY, which would send an operator to the wrong key.
            raise _Rejected(
                JSONResponse(
                    {"status": contract.HTTP_UNAUTHORIZED, "message": ADMIN_UNAUTHORIZED},
                    status_code=contract.HTTP_UNAUTHORIZED,
                )
            )

    @app.get("/_engine/stats")
    async def stats(request: Request) -> Response:
        """A tenant's own counters with its API key; every key's, and the engine's, with the admin key."""
        if request.headers.get(ADMIN_KEY_HEADER) is not None:
            _admin(request)
            return ok_response(
                {
                    **engine.stats.snapshot(),
                    "engine": {
                        "tasks": len(engine.store),
                        "queued": engine.work.depth(),
                        "queue_capacity": engine.work.capacity,
                        "spool_bytes": engine.blobs.used_bytes,
                        "spool_max_bytes": settings.spool_max_bytes,
                        "workers": settings.workers,
                    },
                }
            )
        owner = _authorise(request)  # a _Rejected becomes its response (handler above)
        return ok_response({"key": engine.stats.for_fingerprint(owner)})

    @app.post("/_engine/stats/reset")
    async def reset_stats(request: Request) -> Response:
        _admin(request)
        engine.stats.reset()
        return ok_response({})

    @app.get("/_engine/faults")
    async def get_faults(request: Request) -> Response:
        _admin(request, faults=True)
        return ok_response(settings.faults.as_dict())

    @app.put("/_engine/faults")
    async def put_faults(request: Request) -> Response:
        _admin(request, faults=True)
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            reset = bool(changes.pop("reset", False))
            if reset:
                settings.faults.reset()
            settings.faults.update(changes)
            if "seed" in changes:
                engine.faults.reseed(changes["seed"])
        except (ValueError, TypeError) as exc:
            return error_response(contract.HTTP_BAD_REQUEST, f"({exc})")
        return ok_response(settings.faults.as_dict())

    return app


def _chunks(handle):
    with handle:
        while True:
            chunk = handle.read(_RESULT_CHUNK)
            if not chunk:
                return
            yield chunk
