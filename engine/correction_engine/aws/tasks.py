"""Task records in DynamoDB: every transition a conditional write, so a task finishes exactly once.

One item per task (key ``task_id``), with the TTL attribute ``expires_at``: DynamoDB removes an
expired item within a day or two, so reads treat an item past ``expires_at`` as gone (the
contract's 404) without waiting for it. The API containers create and read tasks; the Lambda
workers claim and finish them. A claim is a random token written with the move to processing;
SQS may hand a task to a second attempt after the first one died, and the second attempt takes
the claim over, so only the latest attempt can finish the task, and a late first attempt's
result is dropped. Failing needs no claim: whoever fails a task first wins (a worker, the DLQ
handler, or the processing limit applied when the task is read).
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import fields
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from correction_core import contract

from ..server.faults import TaskFaults
from ..server.storage import BlobStore
from ..server.tasks import Task, TaskStore
from .clients import error_code, translated

TTL_ATTRIBUTE = "expires_at"
_STORED = (
    "task_id",
    "owner",
    "enhancement_type",
    "return_type",
    "created_at",
    "source_blob",
    "source_url",
    "source_digest",
    "state",
    "progress",
    "processed_at",
    "completed_at",
    "detail",
    "result_blob",
    "result_size",
    "result_content_type",
    "claim",
)
_INTEGERS = frozenset({"enhancement_type", "return_type", "state", "progress", "result_size"})
_MOMENTS = frozenset({"created_at", "processed_at", "completed_at"})
# Short plain words may be DynamoDB reserved words; expressions name them through aliases.
_NAMES = {"#state": "state", "#progress": "progress", "#claim": "claim", "#detail": "detail"}
_UNFINISHED = "(#state = :queued OR #state > :succeeded)"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _dynamo(value: Any) -> dict[str, Any]:
    if isinstance(value, float):
        value = Decimal(repr(value))
    elif isinstance(value, dict):
        value = {k: v for k, v in value.items() if v is not None}
    return dict(_serializer.serialize(value))


def _values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _dynamo(value) for name, value in values.items()}


class DynamoTaskStore(TaskStore):
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        clock: Callable[[], float],
        ttl_seconds: Callable[[], float],
        processing_limit_seconds: Callable[[], float],
        blobs: BlobStore,
        poll_seconds: float = 0.2,
    ):
        self._db = dynamodb
        self._table = table
        self._clock = clock
        self._ttl = ttl_seconds
        self._limit = processing_limit_seconds
        self._blobs = blobs
        self._poll = poll_seconds

    # --- records ------------------------------------------------------------------------------

    def _item(self, task: Task) -> dict[str, Any]:
        item = {name: getattr(task, name) for name in _STORED if getattr(task, name) is not None}
        item["faults"] = {f.name: getattr(task.faults, f.name) for f in fields(TaskFaults)}
        return {name: _dynamo(value) for name, value in item.items()}

    def _task(self, item: Mapping[str, Any]) -> Task:
        plain = {name: _deserializer.deserialize(value) for name, value in item.items()}
        values: dict[str, Any] = {}
        for name in _STORED:
            value = plain.get(name)
            if value is not None and name in _INTEGERS:
                value = int(value)
            elif value is not None and name in _MOMENTS:
                value = float(value)
            values[name] = value
        faults: dict[str, Any] = {
            k: (int(v) if isinstance(v, Decimal) else v) for k, v in plain.get("faults", {}).items()
        }
        values["faults"] = TaskFaults(**faults)
        values["detail"] = values["detail"] or ""
        values["source_digest"] = values["source_digest"] or ""
        values["progress"] = values["progress"] or 0
        values["result_size"] = values["result_size"] or 0
        return Task(**values)

    def _expires_at(self, moment: float) -> int:
        return math.ceil(moment + self._ttl())

    @staticmethod
    def _copy(task: Task, source: Task) -> None:
        for name in _STORED:
            if name != "claim":  # the claim in hand says which attempt we are
                setattr(task, name, getattr(source, name))

    def _key(self, task_id: str) -> dict[str, Any]:
        return {"task_id": {"S": task_id}}

    def _load(self, task_id: str) -> Task | None:
        with translated("reading a task"):
            item = self._db.get_item(TableName=self._table, Key=self._key(task_id), ConsistentRead=True).get(
                "Item"
            )
        if not item or TTL_ATTRIBUTE not in item or "owner" not in item:
            return None  # absent, or another kind of item in the table (a rate-limit bucket)
        if float(item[TTL_ATTRIBUTE]["N"]) <= self._clock():
            return None  # expired; DynamoDB's TTL removes the item later
        return self._task(item)

    def _update(self, task: Task, expression: str, condition: str, values: Mapping[str, Any]) -> bool:
        """One conditional write; on success ``task`` takes the stored values, else the caller reloads."""
        with translated("updating a task"):
            try:
                response = self._db.update_item(
                    TableName=self._table,
                    Key=self._key(task.task_id),
                    UpdateExpression=expression,
                    ConditionExpression=f"attribute_exists(task_id) AND {condition}",
                    ExpressionAttributeNames={
                        alias: name for alias, name in _NAMES.items() if alias in expression + condition
                    },
                    ExpressionAttributeValues=_values(values),
                    ReturnValues="ALL_NEW",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        self._copy(task, self._task(response["Attributes"]))
        return True

    def _reload(self, task: Task) -> None:
        fresh = self._load(task.task_id)
        if fresh is not None:
            self._copy(task, fresh)

    # --- the interface ----------------------------------------------------------------------------

    def new_task_id(self) -> str:
        return secrets.token_hex(16)

    def add(self, task: Task) -> None:
        item = self._item(task)
        item[TTL_ATTRIBUTE] = _dynamo(self._expires_at(task.created_at))
        with translated("recording a task"):
            self._db.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(task_id)"
            )

    def forget(self, task: Task) -> None:
        with translated("removing a task"):
            self._db.delete_item(TableName=self._table, Key=self._key(task.task_id))
        for name in (task.source_blob, task.result_blob):
            if name is not None:
                self._blobs.delete(name)

    def get(self, task_id: str, owner: str) -> Task | None:
        task = self._load(task_id)
        if task is None or task.owner != owner:
            return None
        self.refresh(task)
        return task

    def by_id(self, task_id: str) -> Task | None:
        task = self._load(task_id)
        if task is not None:
            self.refresh(task)
        return task

    def by_token(self, token: str) -> Task | None:
        return None  # results are served by S3 presigned URLs, never by the engine's own route

    def refresh(self, task: Task) -> None:
        if task.finished or task.faults.never_finish:
            return
        limit = self._limit()
        if self._clock() - task.created_at > limit:
            self.fail(task, contract.STATE_PROCESSING_TIMEOUT, f"processing exceeded {limit:g} s")

    def __len__(self) -> int:
        # DynamoDB's own estimate (refreshed every few hours): a figure for an operator, not a count.
        with translated("describing the tasks table"):
            return int(self._db.describe_table(TableName=self._table)["Table"].get("ItemCount", 0))

    def start(self, task: Task) -> bool:
        self.refresh(task)
        if task.finished:
            return False
        now = self._clock()
        claim = secrets.token_hex(8)
        started = self._update(
            task,
            "SET #state = :processing, processed_at = if_not_exists(processed_at, :now), "
            "#progress = :progress, #claim = :claim",
            "(#state = :queued OR #state = :processing) AND created_at > :oldest",
            {
                ":processing": contract.STATE_PROCESSING,
                ":queued": contract.STATE_QUEUED,
                ":now": now,
                ":progress": max(task.progress, 5),
                ":claim": claim,
                ":oldest": now - self._limit(),
            },
        )
        if started:
            task.claim = claim
        else:
            self._reload(task)
            self.refresh(task)
        return started

    def still_running(self, task: Task) -> bool:
        fresh = self._load(task.task_id)
        if fresh is None:
            return False
        self.refresh(fresh)
        self._copy(task, fresh)
        return fresh.state == contract.STATE_PROCESSING and fresh.claim == task.claim

    def deadline(self, task: Task) -> float:
        return task.created_at + self._limit()

    def set_progress(self, task: Task, progress: int) -> None:
        progress = min(int(progress), contract.PROGRESS_COMPLETE - 1)
        self._update(
            task,
            "SET #progress = :progress",
            "#state = :processing AND #claim = :claim AND #progress < :progress",
            {":progress": progress, ":processing": contract.STATE_PROCESSING, ":claim": task.claim},
        )

    def succeed(self, task: Task, result_blob: str, size: int, content_type: str) -> bool:
        now = self._clock()
        source = task.source_blob
        done = self._update(
            task,
            "SET #state = :succeeded, #progress = :complete, completed_at = :now, result_blob = :blob, "
            "result_size = :size, result_content_type = :type, expires_at = :expires REMOVE source_blob",
            "#state = :processing AND #claim = :claim AND created_at > :oldest",
            {
                ":succeeded": contract.STATE_SUCCEEDED,
                ":complete": contract.PROGRESS_COMPLETE,
                ":now": now,
                ":blob": result_blob,
                ":size": size,
                ":type": content_type,
                ":expires": self._expires_at(now),
                ":processing": contract.STATE_PROCESSING,
                ":claim": task.claim,
                ":oldest": now - self._limit(),
            },
        )
        if not done:
            self._reload(task)
            self.refresh(task)  # too late: the limit ends it -8 if nobody else ended it
            return False
        if source is not None:
            self._blobs.delete(source)
        return True

    def fail(self, task: Task, state: int, detail: str = "") -> bool:
        now = self._clock()
        source = task.source_blob
        done = self._update(
            task,
            "SET #state = :state, #detail = :detail, completed_at = :now, expires_at = :expires "
            "REMOVE source_blob",
            _UNFINISHED,
            {
                ":state": state,
                ":detail": detail,
                ":now": now,
                ":expires": self._expires_at(now),
                ":queued": contract.STATE_QUEUED,
                ":succeeded": contract.STATE_SUCCEEDED,
            },
        )
        if not done:
            self._reload(task)
            return False
        if source is not None:
            self._blobs.delete(source)
        return True

    async def wait(self, task: Task, timeout: float) -> None:
        """Poll the record until the task finishes or ``timeout`` real seconds pass (sync mode)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            fresh = await asyncio.to_thread(self._load, task.task_id)
            if fresh is None:
                return
            self._copy(task, fresh)
            remaining = deadline - loop.time()
            if task.finished or remaining <= 0:
                break
            await asyncio.sleep(min(self._poll, remaining))
        await asyncio.to_thread(self.refresh, task)
