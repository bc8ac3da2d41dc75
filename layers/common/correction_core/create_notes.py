"""A durable note that a create request is going out, written just before each send.

Why: Powertools Idempotency guards the create with an in-progress lock that it deletes when the
create *raises* and that lapses at the invocation's deadline. A process killed mid-call (out of
memory, a runtime crash) deletes nothing and raises nothing; once the lock lapses, SQS's
redelivery would run the create again and pay twice. The note outlives the process: a delivery
that finds another delivery's note where no outcome was stored knows a task may have been made
and records "outcome unknown" (``AmbiguousCreate``) instead of sending.

A note is removed only when every answer so far proves nothing was created (``release``), so a
429 or a refused request can still be sent again by a later delivery. A crash between writing
the note and sending leaves a note for a create that never went out: the upload then gets an
"outcome unknown" record it did not strictly need, the safe side of paying twice.

The notes live in the idempotency table beside Powertools' records (own key prefix, the same
TTL attribute), so the function needs no new table and no new permission.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .errors import AmbiguousCreate
from .failures import utc_now
from .observability import logger

KEY_PREFIX = "create-sent#"


@dataclass(frozen=True)
class CreateNotes:
    """Create notes in a DynamoDB table keyed by ``id`` with TTL on ``expiration``."""

    table: Any  # a boto3 DynamoDB Table resource
    ttl_seconds: int

    def claim(self, identity: str, owner: str) -> None:
        """Note that ``owner`` (one delivery) is about to send the create for ``identity``.

        Raises ``AmbiguousCreate`` when another delivery's note is there: that delivery sent a
        create and ended before its outcome was stored.
        """
        from botocore.exceptions import ClientError

        try:
            self.table.put_item(
                Item={
                    "id": KEY_PREFIX + identity,
                    "owner": owner,
                    "sent_at": utc_now(),
                    "expiration": int(time.time()) + self.ttl_seconds,
                },
                ConditionExpression="attribute_not_exists(id) OR #owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": owner},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            earlier = self.table.get_item(Key={"id": KEY_PREFIX + identity}, ConsistentRead=True).get("Item")
            when = (earlier or {}).get("sent_at", "earlier")
            raise AmbiguousCreate(
                f"an earlier delivery sent this create ({when}) and ended before its answer was stored "
                "(its process was killed: out of memory or a crash)"
            ) from None

    def release(self, identity: str, owner: str) -> None:
        """Remove ``owner``'s note: every answer it got proves no task was made."""
        from botocore.exceptions import ClientError

        try:
            self.table.delete_item(
                Key={"id": KEY_PREFIX + identity},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": owner},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return  # not ours (or already gone): nothing to remove
            # Called while another error is on its way out: that error matters more. A note
            # left behind costs this upload an "outcome unknown" record, never a second charge.
            logger.warning("could not remove the create note", extra={"error": str(error)})
