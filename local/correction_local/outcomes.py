"""What became of each upload: a result, a failure record, or (never acceptable) nothing."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .stack import LocalStack


def wait_for_executions(
    stack: LocalStack,
    *,
    timeout: float = 300.0,
    poll: float = 0.2,
    on_poll: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Block until no execution is RUNNING; return every execution's description.

    ``on_poll`` is called once per poll (the local runner updates its progress bar from it).
    """
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        if on_poll is not None:
            on_poll()
        running = sfn.list_executions(stateMachineArn=stack.state_machine_arn, statusFilter="RUNNING")[
            "executions"
        ]
        if not running:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(running)} executions still running after {timeout} s")
        time.sleep(poll)
    executions = []
    paginator = sfn.get_paginator("list_executions")
    for page in paginator.paginate(stateMachineArn=stack.state_machine_arn):
        executions.extend(page["executions"])
    return executions


@dataclass
class Outcomes:
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # source key → result info
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)  # source key → failure record
    #: Destination keys that are neither a result nor a failure record of ours → why. Reported,
    #: never fatal: anyone with access to the bucket can put anything there.
    unexpected: dict[str, str] = field(default_factory=dict)

    def outcome_of(self, source_key: str) -> str | None:
        if source_key in self.results and source_key in self.failures:
            return "both"
        if source_key in self.results:
            return "result"
        if source_key in self.failures:
            return "failure"
        return None


def collect_outcomes(stack: LocalStack) -> Outcomes:
    """Read the destination bucket: results by their source-key metadata, failure records by content."""
    s3 = stack.client("s3")
    failure_prefix = stack.parameters["FailurePrefix"]
    outcomes = Outcomes()
    by_digest: dict[str, str] | None = None  # for results whose key was too long for metadata
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.destination_bucket):
        for item in page.get("Contents", []):
            key = item["Key"]
            if failure_prefix and key.startswith(failure_prefix):
                record = _failure_record(
                    s3.get_object(Bucket=stack.destination_bucket, Key=key)["Body"].read()
                )
                if record is None:
                    outcomes.unexpected[key] = "under the failure prefix but not a failure record"
                    continue
                outcomes.failures[record["source"]["key"]] = {**record, "record_key": key}
            else:
                head = s3.head_object(Bucket=stack.destination_bucket, Key=key)
                meta = head.get("Metadata", {})
                if "source-key" in meta:
                    source_key = unquote(meta["source-key"])
                else:
                    if by_digest is None:
                        by_digest = _source_keys_by_digest(stack)
                    source_key = by_digest.get(meta.get("source-key-sha256", ""), "")
                if not source_key:
                    outcomes.unexpected[key] = "names no source object (not written by the pipeline)"
                    continue
                outcomes.results[source_key] = {
                    "key": key,
                    "content_type": head["ContentType"],
                    "task_id": meta.get("task-id"),
                    "size": head["ContentLength"],
                }
    return outcomes


def _failure_record(body: bytes) -> dict[str, Any] | None:
    """The parsed record, or None when the bytes are not a failure record naming its source."""
    try:
        record = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return None
    source = record.get("source") if isinstance(record, dict) else None
    if not isinstance(source, dict) or not isinstance(source.get("key"), str):
        return None
    return record


def _source_keys_by_digest(stack: LocalStack) -> dict[str, str]:
    s3 = stack.client("s3")
    keys: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.source_bucket):
        for item in page.get("Contents", []):
            keys[hashlib.sha256(item["Key"].encode()).hexdigest()] = item["Key"]
    return keys
