"""Drives uploads through the emulated stack and reports what became of each one.

This is what a user's ``aws s3 cp`` plus a few seconds of AWS would do: put the object (S3
notifies the intake queue), let the queue deliver to submit, let executions finish, read the
destination bucket. Tests and the local runner both use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .intake import IntakeStats, drain
from .outcomes import Outcomes, collect_outcomes, wait_for_executions
from .stack import LocalStack


@dataclass(frozen=True)
class Upload:
    key: str  # full key in the source bucket (under the source prefix)
    body: bytes
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass
class RunReport:
    outcomes: Outcomes
    executions: list[dict]
    intake: IntakeStats
    seconds: float
    uploaded: list[str]

    @property
    def lost(self) -> list[str]:
        """Uploads under the source prefix that ended with neither a result nor a failure record."""
        return [key for key in self.uploaded if self.outcomes.outcome_of(key) is None]


def upload_all(stack: LocalStack, uploads: Iterable[Upload]) -> list[str]:
    s3 = stack.client("s3")
    keys = []
    for upload in uploads:
        s3.put_object(
            Bucket=stack.source_bucket, Key=upload.key, Body=upload.body, Metadata=dict(upload.metadata)
        )
        keys.append(upload.key)
    return keys


def settle(
    stack: LocalStack, *, timeout: float = 600.0, on_progress: Callable[[], None] | None = None
) -> tuple[IntakeStats, list[dict]]:
    """Deliver every queued notification, then wait for every execution to end."""
    stats = IntakeStats()
    deadline = time.monotonic() + timeout
    drain(stack, timeout=timeout, stats=stats)
    if on_progress is not None:
        on_progress()
    executions = wait_for_executions(
        stack, timeout=max(1.0, deadline - time.monotonic()), on_poll=on_progress
    )
    return stats, executions


def run_uploads(
    stack: LocalStack,
    uploads: Iterable[Upload],
    *,
    timeout: float = 600.0,
    on_progress: Callable[[], None] | None = None,
) -> RunReport:
    """Upload, settle, collect. ``on_progress`` is called after the queue drained and while waiting."""
    started = time.monotonic()
    keys = upload_all(stack, uploads)
    stats, executions = settle(stack, timeout=timeout, on_progress=on_progress)
    return RunReport(collect_outcomes(stack), executions, stats, time.monotonic() - started, keys)
