"""One request budget per API key, shared by every function that calls the API.

The vendor allows ``qps`` requests per second per key (2 by default) and counts creates and
polls alike. Buffering uploads in SQS limits creates only; polls of tasks already paid for
would then compete with new creates, and a burst would end in poll timeouts: paid tasks whose
results are never fetched. So every request takes a token from a shared budget first:

* The budget is a DynamoDB item per one-second window, incremented atomically under the
  condition ``used < qps``. A request that finds its window full is not sent: the caller gets
  ``BudgetExhausted`` (a RateLimited) and the state machine retries it with jittered backoff (no 429 is spent).
* Polls and result fetches may use any free token. A create may use one only while polls
  alone did not fill the previous window (when paid tasks need the whole budget to be
  watched, no new task is created until they drain), and never the last ``reserve`` tokens
  of a window, which stay for polls even while creates are busy. Creates thereby fill the
  capacity polls leave, which keeps the budget busy (throughput at the bound), and a poll
  always finds a token within a few windows.

The burst figures are in docs/benchmarks/burst.md (bench/burst.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .errors import BudgetExhausted

WINDOW_TTL_SECONDS = 300
CREATE_METHOD = "POST"


@dataclass
class RateBudget:
    table: Any  # a boto3 DynamoDB Table resource
    qps: int
    clock: Callable[[], float] = time.time

    @property
    def reserve(self) -> int:
        """Tokens per window only polls and result fetches may take (a fifth, at least one)."""
        return 0 if self.qps <= 1 else max(1, self.qps // 5)

    def _window(self, now: float) -> int:
        return int(math.floor(now))

    def _polls_saturated(self, window: int) -> bool:
        item = self.table.get_item(Key={"id": f"qps#{window}"}, ConsistentRead=True).get("Item")
        if not item:
            return False
        return int(item.get("used", 0)) - int(item.get("creates", 0)) >= self.qps

    def acquire(self, method: str) -> None:
        """Take one token for a request of this HTTP method, or raise BudgetExhausted."""
        now = self.clock()
        window = self._window(now)
        retry_after = max(0.05, window + 1 - now)
        is_create = method.upper() == CREATE_METHOD
        if is_create and self._polls_saturated(window - 1):
            raise BudgetExhausted(
                "request budget: polls of running tasks are using every token; no new task for now",
                retry_after=retry_after,
            )
        update = "ADD used :one, creates :creates SET expiration = if_not_exists(expiration, :ttl)"
        limit = self.qps - self.reserve if is_create else self.qps
        try:
            self.table.update_item(
                Key={"id": f"qps#{window}"},
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(used) OR used < :limit",
                ExpressionAttributeValues={
                    ":one": 1,
                    ":creates": 1 if is_create else 0,
                    ":limit": limit,
                    ":ttl": window + WINDOW_TTL_SECONDS,
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise BudgetExhausted(
                    f"request budget: {limit} {'creates' if is_create else 'requests'} already sent this second",
                    retry_after=retry_after,
                ) from None
            raise

    def acquire_waiting(
        self, method: str, *, give_up_after: float, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        """Acquire, waiting across windows for at most ``give_up_after`` seconds.

        For the submit function only: it is fed by SQS, where a refused message would come back
        after the queue's visibility timeout (minutes), so it waits for the next window instead.
        """
        deadline = self.clock() + give_up_after
        while True:
            try:
                return self.acquire(method)
            except BudgetExhausted as limited:
                wait = limited.retry_after or 0.1
                if self.clock() + wait > deadline:
                    raise
                sleep(wait)
