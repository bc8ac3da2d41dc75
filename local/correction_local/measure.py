"""What became of each upload of a local run, and how long each part took.

Reads the emulated stack after the run (executions and their histories, the dead-letter queue,
the event bus) and the engine's own task moments through ``EngineHost.task_timings``; measures
each image end to end from the upload, the execution's start and stop in Step Functions, and the
engine's processing time for its task.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from .config import INPUTS_DIR
from .inputs import InputFile
from .pipeline import RunReport
from .results import ImageOutcome


@dataclass
class Observations:
    """What the run saw while it ran, which ``measure`` turns into one outcome per input."""

    local: Any  # the LocalStack of stack.build_stack
    report: RunReport
    inputs: Sequence[InputFile]
    uploaded_at: dict[str, float]  # source key → when its upload was put (Unix seconds)
    first_seen: dict[str, float]  # destination key → when the run first saw it
    downloaded: dict[str, tuple[Path, datetime]]  # destination key → (local copy, LastModified)
    output: Path
    #: The engine's moments of a task (EngineHost.task_timings): created, started, completed.
    task_timings: Callable[[str], dict[str, float]]


def destination_keys(local: Any) -> list[str]:
    """Keys in the destination bucket: each upload ends as exactly one (result or record)."""
    s3 = local.client("s3")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=local.destination_bucket):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def all_executions(local: Any) -> list[dict[str, Any]]:
    sfn = local.client("stepfunctions")
    out: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=local.state_machine_arn):
        out.extend(page["executions"])
    return out


def dead_lettered_keys(local: Any) -> set[str]:
    """Source keys whose notifications went to the intake's dead-letter queue (submit kept failing)."""
    sqs = local.client("sqs")
    keys: set[str] = set()
    for _ in range(100):  # bounded: each receive hides what it returned, so this ends
        messages = sqs.receive_message(
            QueueUrl=local.dead_letter_queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            try:
                records = json.loads(message["Body"]).get("Records", [])
                keys.update(unquote_plus(r["s3"]["object"]["key"]) for r in records)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return keys


def completion_events(local: Any, images: list[ImageOutcome]) -> dict[str, Any]:
    """What the stack's event bus carried (see completion_events): each upload should have one."""
    from .completion_events import summarise

    if local.events is None:
        return {}
    seen = local.events.drain()
    summary = summarise(seen, local.events.bus_name)
    for image in images:
        image.events = list(summary["per_upload"].get(image.source_key, []))
    return summary


def task_state_seconds(sfn: Any, execution_arn: str) -> tuple[dict[str, float], int]:
    """Seconds per Task state (entered → exited, summed) and the number of CheckStatus visits."""
    seconds: dict[str, float] = {}
    entered: dict[str, datetime] = {}
    current = ""
    polls = 0
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        for event in page["events"]:
            kind = event["type"]
            if kind == "TaskStateEntered":
                current = event["stateEnteredEventDetails"]["name"]
                entered[current] = event["timestamp"]
                polls += current == "CheckStatus"
            elif kind == "TaskStateExited" and current in entered:
                spent = (event["timestamp"] - entered.pop(current)).total_seconds()
                seconds[current] = seconds.get(current, 0.0) + spent
    return seconds, polls


def _executions_by_key(sfn: Any, report: RunReport) -> dict[str, dict[str, Any]]:
    """Each execution described, by the source key in its input (``_input``: that input)."""
    by_key: dict[str, dict[str, Any]] = {}
    for execution in report.executions:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        payload = json.loads(described.get("input") or "{}")
        key = payload.get("object", {}).get("key")
        if key:
            by_key[key] = {**described, "_input": payload}
    return by_key


def _record_outcome(image: ImageOutcome, seen: Observations) -> str | None:
    """Fill what the result or the failure record says; the record's key when there is one."""
    outcomes = seen.report.outcomes
    result = outcomes.results.get(image.source_key)
    if result is not None:
        image.result_key = result["key"]
        image.task_id = result.get("task_id") or image.task_id
        if result["key"] in seen.downloaded:
            image.result_path = seen.downloaded[result["key"]][0]
    failure = outcomes.failures.get(image.source_key)
    if failure is not None:
        image.reason = str(failure.get("reason") or "")
        image.message = str(failure.get("message") or "")
        image.stage = str(failure.get("stage") or "")
        image.task_id = image.task_id or failure.get("task_id")
        record = seen.downloaded.get(failure["record_key"])
        if record is not None:
            image.failure_path = record[0]
        return str(failure["record_key"])
    if image.outcome == "lost":
        image.reason = "lost"
        image.message = "neither a result nor a failure record was written"
    return None


def _engine_times(image: ImageOutcome, seen: Observations) -> None:
    if not image.task_id:
        return
    moments = seen.task_timings(image.task_id)
    image.timeline.update({f"task_{name}": moment for name, moment in moments.items()})
    if "completed" in moments:
        if "started" in moments:
            image.engine_processing_seconds = moments["completed"] - moments["started"]
        image.engine_turnaround_seconds = moments["completed"] - moments["created"]


def measure(seen: Observations) -> list[ImageOutcome]:
    """One outcome per input, in input order, with every timing the run could observe."""
    local = seen.local
    sfn = local.client("stepfunctions")
    by_key = _executions_by_key(sfn, seen.report)
    default_type = int(local.parameters["DefaultType"])
    prefix = local.parameters["SourcePrefix"]
    images: list[ImageOutcome] = []
    for item in seen.inputs:
        key = prefix + item.name
        image = ImageOutcome(
            name=item.name,
            source_key=key,
            enhancement_type=item.enhancement_type,
            effective_type=item.enhancement_type if item.enhancement_type is not None else default_type,
            outcome=seen.report.outcomes.outcome_of(key) or "lost",
            description=item.description,
            expect=item.expect,
        )
        finished_at: float | None = None
        execution = by_key.get(key)
        if key in seen.uploaded_at:
            image.timeline["uploaded"] = seen.uploaded_at[key]
        if execution is not None:
            image.task_id = execution["_input"].get("task", {}).get("task_id")
            image.execution_status = execution.get("status")
            start, stop = execution.get("startDate"), execution.get("stopDate")
            if start is not None:
                image.timeline["execution_started"] = start.timestamp()
            if start is not None and stop is not None:
                image.execution_seconds = (stop - start).total_seconds()
                finished_at = stop.timestamp()
                image.timeline["execution_stopped"] = finished_at
        record_key = _record_outcome(image, seen)
        if finished_at is None and record_key is not None:
            # Rejected at submit: no execution. moto's LastModified is whole seconds, so the
            # moment the runner first saw the record (polled every 0.2 s) stands in.
            finished_at = seen.first_seen.get(record_key)
        if finished_at is not None and key in seen.uploaded_at:
            image.seconds = max(0.0, finished_at - seen.uploaded_at[key])
        _engine_times(image, seen)
        if execution is not None:
            image.state_seconds, image.polls = task_state_seconds(sfn, execution["executionArn"])
        image.input_path = seen.output / INPUTS_DIR / item.name
        images.append(image)
    return images
