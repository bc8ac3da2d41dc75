"""Listens to the completion events of a local stack, as a user's system would on AWS.

The stack's bus (the template's EventBusName; moto has the default bus already) gets a rule
matching ``source: photo-correction`` with an SQS queue as its target: the README's example
rule. Everything the functions publish arrives there, and ``EventListener.drain`` reads it.
Events are kept in the listener once read, so a test and the runner can both ask for them.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from correction_core.completion_events import DETAIL_TYPES, EVENT_SOURCE

RULE_NAME = "local-completion-events"
QUEUE_NAME = "local-completion-events"


@dataclass
class EventListener:
    sqs: Any
    queue_url: str
    bus_name: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def drain(self) -> list[dict[str, Any]]:
        """Every event delivered so far (moto delivers at PutEvents time, so nothing is in flight)."""
        with self._lock:
            while True:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                ).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    self.seen.append(json.loads(message["Body"]))
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            return list(self.seen)

    def for_source(self, source_key: str) -> list[dict[str, Any]]:
        return [e for e in self.drain() if e.get("detail", {}).get("source", {}).get("key") == source_key]


def listen(events: Any, sqs: Any, bus_name: str) -> EventListener:
    """Create the bus if it is not the default one, and a rule sending our events to a queue."""
    if bus_name != "default":
        existing = {b["Name"] for b in events.list_event_buses().get("EventBuses", [])}
        if bus_name not in existing:
            events.create_event_bus(Name=bus_name)
    url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [EVENT_SOURCE], "detail-type": list(DETAIL_TYPES)}
    events.put_rule(Name=RULE_NAME, EventBusName=bus_name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=RULE_NAME, EventBusName=bus_name, Targets=[{"Id": "local-queue", "Arn": arn}])
    return EventListener(sqs=sqs, queue_url=url, bus_name=bus_name)


def summarise(events: list[dict[str, Any]], bus_name: str | None = None) -> dict[str, Any]:
    """Counts by detail-type, and per upload (source key) the detail-types it produced, in order."""
    per_upload: dict[str, list[str]] = {}
    for event in events:
        key = str(event.get("detail", {}).get("source", {}).get("key", ""))
        per_upload.setdefault(key, []).append(str(event.get("detail-type")))
    return {
        "bus": bus_name,
        "total": len(events),
        "by_detail_type": dict(Counter(str(e.get("detail-type")) for e in events)),
        "per_upload": per_upload,
    }
