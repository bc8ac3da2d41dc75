"""Reading the create request's form while it streams in, with the upload limit enforced early.

Starlette's ``request.form()`` would spool the whole body before we could count it; here the
body is fed chunk by chunk into python-multipart's push parser, the ``image_file`` part is
counted as it arrives and the request is refused with 413 the moment it passes the limit
(or at once, when Content-Length already says so). Unknown fields are ignored, as the vendor
does, without keeping their data. ``application/x-www-form-urlencoded`` bodies (an
``image_url`` request sent without files) are accepted too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from correction_core import contract

KNOWN_TEXT_FIELDS = (
    contract.FIELD_IMAGE_URL,
    contract.FIELD_SYNC,
    contract.FIELD_TYPE,
    contract.FIELD_RETURN_TYPE,
)
MAX_TEXT_FIELD_BYTES = 64 * 1024  # an image_url is long with a presigned query; not this long


class FormError(Exception):
    status: int = contract.HTTP_BAD_REQUEST


class BadForm(FormError):
    status = contract.HTTP_BAD_REQUEST


class UploadTooLarge(FormError):
    status = contract.HTTP_PAYLOAD_TOO_LARGE


@dataclass
class CreateForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: bytes | None = None  # None when no image_file part was sent
    bytes_read: int = 0


def declared_length(headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadForm("invalid Content-Length") from None
    if value < 0:
        raise BadForm("invalid Content-Length")
    return value


async def read_create_form(
    content_type: str | None,
    body: AsyncIterator[bytes],
    *,
    max_file_bytes: int,
    max_body_bytes: int,
) -> CreateForm:
    mime, options = parse_options_header(content_type or "")
    if mime == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise BadForm("multipart body without a boundary")
        return await _read_multipart(boundary, body, max_file_bytes, max_body_bytes)
    if mime == b"application/x-www-form-urlencoded":
        return await _read_urlencoded(body, max_body_bytes)
    raise BadForm("the body must be multipart/form-data")


class _MultipartCollector:
    def __init__(self, max_file_bytes: int):
        self.form = CreateForm()
        self.max_file_bytes = max_file_bytes
        self.ended = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._buffer: bytearray | None = None

    def callbacks(self) -> Any:  # python-multipart's MultipartCallbacks, a TypedDict of these
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._name = None
        self._buffer = None

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in params:
            raise BadForm("multipart part without a form-data name")
        name = params[b"name"].decode("utf-8", "replace")
        if name == contract.FIELD_IMAGE_FILE or name in KNOWN_TEXT_FIELDS:
            if name in self.form.fields or (name == contract.FIELD_IMAGE_FILE and self.form.file is not None):
                raise BadForm(f"field {name!r} given more than once")
            self._name = name
            self._buffer = bytearray()
        # unknown fields: _name stays None and their data is dropped

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._buffer is None:
            return
        self._buffer += data[start:end]
        if self._name == contract.FIELD_IMAGE_FILE:
            if len(self._buffer) > self.max_file_bytes:
                raise UploadTooLarge(f"image_file exceeds {self.max_file_bytes} bytes")
        elif len(self._buffer) > MAX_TEXT_FIELD_BYTES:
            raise BadForm(f"field {self._name!r} is too long")

    def _part_end(self) -> None:
        if self._buffer is None or self._name is None:
            return
        if self._name == contract.FIELD_IMAGE_FILE:
            self.form.file = bytes(self._buffer)
        else:
            try:
                self.form.fields[self._name] = self._buffer.decode("utf-8")
            except UnicodeDecodeError:
                raise BadForm(f"field {self._name!r} is not UTF-8 text") from None
        self._buffer = None

    def _end(self) -> None:
        self.ended = True


async def _read_multipart(
    boundary: bytes, body: AsyncIterator[bytes], max_file: int, max_body: int
) -> CreateForm:
    collector = _MultipartCollector(max_file)
    parser = MultipartParser(boundary, collector.callbacks())
    total = 0
    try:
        async for chunk in body:
            total += len(chunk)
            if total > max_body:
                raise UploadTooLarge(f"request body exceeds {max_body} bytes")
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadForm(f"malformed multipart body: {exc}") from None
    if not collector.ended:
        raise BadForm("multipart body ended before its closing boundary")
    collector.form.bytes_read = total
    return collector.form


async def _read_urlencoded(body: AsyncIterator[bytes], max_body: int) -> CreateForm:
    data = bytearray()
    async for chunk in body:
        data += chunk
        if len(data) > max_body:
            raise UploadTooLarge(f"request body exceeds {max_body} bytes")
    form = CreateForm(bytes_read=len(data))
    try:
        pairs = parse_qsl(data.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise BadForm("malformed form body") from None
    for name, value in pairs:
        if name == contract.FIELD_IMAGE_FILE:
            raise BadForm("image_file must be sent as multipart/form-data")
        if name in KNOWN_TEXT_FIELDS:
            if name in form.fields:
                raise BadForm(f"field {name!r} given more than once")
            form.fields[name] = value
    return form
