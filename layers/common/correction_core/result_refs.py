"""Where a finished task's result URL waits between CheckStatus and Finalize.

Not in the state machine's payload (execution history is readable by anyone who can see the
executions, and the URL's signature is a credential for an hour), and not by asking the API
again (that would spend a third of each image's share of the QPS budget). A DynamoDB item per
task, encrypted at rest and gone after the URL's own lifetime. Base64 results are too large
for an item: for those Finalize asks the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from . import contract

# Result URLs are signed links of a few hundred bytes; anything larger is not a URL we keep.
MAX_URL_LENGTH = 8 * 1024


def is_url(image: str | None) -> TypeGuard[str]:
    return bool(image) and image is not None and image.strip().lower().startswith(("https://", "http://"))


@dataclass
class ResultRefs:
    table: Any  # a boto3 DynamoDB Table resource
    clock: Callable[[], float] = time.time

    def remember(self, task_id: str, image: str | None) -> bool:
        """Keep the task's result URL for Finalize; returns whether it was kept."""
        if not is_url(image) or len(image) > MAX_URL_LENGTH:
            return False
        self.table.put_item(
            Item={
                "id": task_id,
                "url": image.strip(),
                "expiration": int(self.clock()) + contract.RESULT_URL_TTL_SECONDS,
            }
        )
        return True

    def recall(self, task_id: str) -> str | None:
        item = self.table.get_item(Key={"id": task_id}, ConsistentRead=True).get("Item")
        if not item or int(item.get("expiration", 0)) <= self.clock():
            return None
        return str(item["url"])
