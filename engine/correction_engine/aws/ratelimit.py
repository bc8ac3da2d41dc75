"""Per-key token buckets in DynamoDB, shared by every API container behind the load balancer.

One item per key fingerprint (``task_id`` = ``rate#<fingerprint>``, in the tasks table, with the
same TTL attribute so idle buckets disappear) holding ``tokens``, ``updated`` and a ``version``.
A request reads the bucket, takes a token with the same arithmetic as the one-machine limiter
(:func:`~correction_engine.server.ratelimit.take_token`) and writes it back on condition that
the version is unchanged; a container that lost the race reads again. The clock is the wall
clock, the only one containers share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from ..server.errors import BackendUnavailable
from ..server.ratelimit import RateLimiter, bucket_capacity, take_token
from .clients import error_code, translated

log = logging.getLogger("correction_engine.aws")

KEY_PREFIX = "rate#"
_ATTEMPTS = 5
_IDLE_SECONDS = 3600  # a bucket untouched this long is full again anyway; TTL removes its item


class DynamoRateLimiter(RateLimiter):
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        rate: Callable[[], float],
        burst: Callable[[], float | None],
        clock: Callable[[], float],
    ):
        self._db = dynamodb
        self._table = table
        self._rate = rate
        self._burst = burst
        self._clock = clock

    def acquire(self, key: str) -> float:
        rate = float(self._rate())
        if rate <= 0:
            return 0.0
        capacity = bucket_capacity(rate, self._burst())
        try:
            for _ in range(_ATTEMPTS):
                wait = self._try(key, rate, capacity)
                if wait is not None:
                    return wait
        except BackendUnavailable as exc:
            # Failing open: a limiter that cannot be read must not take the whole API down with it.
            log.warning("rate limiter unavailable, request allowed: %s", exc)
            return 0.0
        return 1.0 / rate  # lost every race: the key is busier than its allowance

    def _try(self, key: str, rate: float, capacity: float) -> float | None:
        """The wait (0.0: a token taken), or None when another container wrote first."""
        item_key = {"task_id": {"S": KEY_PREFIX + key}}
        now = self._clock()
        with translated("reading a rate-limit bucket"):
            item = self._db.get_item(TableName=self._table, Key=item_key, ConsistentRead=True).get("Item")
        if item:
            tokens, updated, version = (
                float(item["tokens"]["N"]),
                float(item["updated"]["N"]),
                int(item["version"]["N"]),
            )
        else:
            tokens, updated, version = capacity, now, 0
        tokens, wait = take_token(tokens, updated, now, rate, capacity)
        if wait > 0:
            return wait  # nothing taken, nothing to write
        condition = "attribute_not_exists(task_id)" if not item else "version = :version"
        values: dict[str, Any] = {":version": {"N": str(version)}} if item else {}
        with translated("writing a rate-limit bucket"):
            try:
                self._db.put_item(
                    TableName=self._table,
                    Item={
                        **item_key,
                        "tokens": {"N": str(Decimal(repr(tokens)))},
                        "updated": {"N": str(Decimal(repr(max(now, updated))))},
                        "version": {"N": str(version + 1)},
                        "expires_at": {"N": str(int(now) + _IDLE_SECONDS)},
                    },
                    ConditionExpression=condition,
                    **({"ExpressionAttributeValues": values} if values else {}),
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return None
                raise
        return 0.0
