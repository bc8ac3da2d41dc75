"""Typed, immutable views of the correction API's answers: a created task and a task's status.

Parsing is lenient where real servers differ from the contract (numbers sent as strings, extra
fields, empty timestamps) and strict only where the pipeline cannot go on without a value.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import contract
from .errors import BadApiResponse, TaskFailed
from .redaction import redact_text, redact_url

# Unix times above this are milliseconds (year 5138 in seconds); some task APIs send those.
_MILLISECONDS_THRESHOLD = 100_000_000_000


class ResultKind(enum.StrEnum):
    """What ``data.image`` (or the sync binary body) holds."""

    URL = "url"
    BASE64 = "base64"
    BINARY = "binary"  # return_type 3: the sync response body is the image itself
    NONE = "none"


def parse_int(value: Any, *, field_name: str, required: bool) -> int | None:
    """An integer from an int, an integral float or a numeric string ("4", " -7 ", "100.0")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadApiResponse(f"response field {field_name} is missing")
        return None
    if isinstance(value, bool):  # JSON true/false is not a state or a progress
        raise BadApiResponse(f"response field {field_name} is not a number")
    if isinstance(value, int):
        return value
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise BadApiResponse(f"response field {field_name} is not a number") from None
    if not math.isfinite(number) or number != int(number):
        raise BadApiResponse(f"response field {field_name} is not an integer")
    return int(number)


def parse_timestamp(value: Any) -> datetime | None:
    """A UTC datetime from a Unix time (int, float or numeric string, seconds or ms); else None.

    Timestamps are informational, so anything unparseable becomes None rather than an error.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    if number > _MILLISECONDS_THRESHOLD:
        number /= 1000.0
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class CreatedTask:
    """An asynchronous task the API accepted; poll it with ``get_task``."""

    task_id: str

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CreatedTask:
        task_id = data.get("task_id")
        if task_id is None or not str(task_id).strip():
            raise BadApiResponse("create response has no data.task_id")
        return cls(task_id=str(task_id).strip())


@dataclass(frozen=True)
class TaskStatus:
    """One reading of a task. ``image`` may be a signed URL: it is kept out of ``repr``."""

    task_id: str
    state: int
    progress: int | None = None
    image: str | None = field(default=None, repr=False)
    created_at: datetime | None = None
    processed_at: datetime | None = None
    completed_at: datetime | None = None
    message: str = ""
    image_bytes: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_data(
        cls, data: Mapping[str, Any], *, message: str = "", task_id: str | None = None
    ) -> TaskStatus:
        """Build from the JSON ``data`` object; ``task_id`` fills in when the server omits it."""
        state = parse_int(data.get("state"), field_name="data.state", required=True)
        assert state is not None  # required=True guarantees it; keeps type checkers quiet
        try:
            progress = parse_int(data.get("progress"), field_name="data.progress", required=False)
        except BadApiResponse:
            progress = None  # progress is cosmetic; an odd value must not fail a finished task
        raw_id = data.get("task_id")
        resolved_id = str(raw_id).strip() if raw_id is not None and str(raw_id).strip() else (task_id or "")
        if not resolved_id:
            raise BadApiResponse("task response has no data.task_id")
        image = data.get("image")
        if image is not None and not isinstance(image, str):
            raise BadApiResponse("response field data.image is not a string")
        return cls(
            task_id=resolved_id,
            state=state,
            progress=progress,
            image=image or None,
            created_at=parse_timestamp(data.get("created_at")),
            processed_at=parse_timestamp(data.get("processed_at")),
            completed_at=parse_timestamp(data.get("completed_at")),
            message=message or "",
        )

    @property
    def is_done(self) -> bool:
        return contract.is_succeeded(self.state)

    @property
    def is_failed(self) -> bool:
        return contract.is_failed(self.state)

    @property
    def is_pending(self) -> bool:
        return contract.is_pending(self.state)

    @property
    def state_meaning(self) -> str:
        return contract.state_meaning(self.state)

    @property
    def result_kind(self) -> ResultKind:
        if self.image_bytes:
            return ResultKind.BINARY
        if not self.image:
            return ResultKind.NONE
        if self.image.lstrip()[:8].lower().startswith(("https://", "http://")):
            return ResultKind.URL
        return ResultKind.BASE64

    def raise_for_failure(self) -> TaskStatus:
        """Raise TaskFailed if the task is in a failed state (any negative code); else self."""
        if self.is_failed:
            raise TaskFailed(self.state, redact_text(self.message), task_id=self.task_id)
        return self

    def __repr__(self) -> str:
        kind = self.result_kind
        shown = redact_url(self.image) if kind is ResultKind.URL and self.image else f"<{kind.value}>"
        return (
            f"TaskStatus(task_id={self.task_id!r}, state={self.state}, progress={self.progress}, "
            f"image={shown!r}, message={redact_text(self.message)!r})"
        )
