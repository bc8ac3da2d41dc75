"""Delivers the intake queue to the submit function the way Lambda's SQS event source does.

Batches of up to 10 messages become one ``aws:sqs`` event; the function's
``batchItemFailures`` decide which messages are deleted and which come back after the
visibility timeout (and, after the queue's maxReceiveCount, go to the dead-letter queue).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from .stack import REGION, LocalStack


def _sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


@dataclass
class IntakeStats:
    batches: int = 0
    delivered: int = 0
    failed_items: int = 0


def pump_once(stack: LocalStack, stats: IntakeStats | None = None) -> int:
    """Receive one batch and hand it to the submit function; returns how many messages it had."""
    sqs = stack.client("sqs")
    response = sqs.receive_message(
        QueueUrl=stack.queue_url,
        MaxNumberOfMessages=stack.intake_batch_size,
        AttributeNames=["All"],
        WaitTimeSeconds=0,
    )
    messages = response.get("Messages", [])
    if not messages:
        return 0
    queue_arn = stack.resolver.arns[next(k for k, v in stack.resolver.refs.items() if v == stack.queue_url)]
    event = {"Records": [_sqs_record(m, queue_arn) for m in messages]}
    result = stack.client("lambda").invoke(
        FunctionName=stack.submit_function, Payload=json.dumps(event).encode()
    )
    payload = json.loads(result["Payload"].read() or b"{}")
    if result.get("FunctionError"):
        failed = {m["MessageId"] for m in messages}  # the whole batch comes back
    else:
        failed = {item["itemIdentifier"] for item in payload.get("batchItemFailures", [])}
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=stack.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
        )
    if stats is not None:
        stats.batches += 1
        stats.delivered += len(messages)
        stats.failed_items += len(failed)
    return len(messages)


def queue_depth(stack: LocalStack) -> int:
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def drain(
    stack: LocalStack, *, timeout: float = 300.0, idle_sleep: float = 0.2, stats: IntakeStats | None = None
) -> None:
    """Pump until the queue is empty (messages in flight included) or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pump_once(stack, stats) == 0:
            if queue_depth(stack) == 0:
                return
            time.sleep(idle_sleep)  # failed messages are invisible until their timeout ends
    raise TimeoutError(f"intake queue not drained after {timeout} s")
