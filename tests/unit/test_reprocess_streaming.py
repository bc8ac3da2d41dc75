"""backfill and redrive stream: they send while they list, and backfill decides "already has an
outcome" by merging sorted listings instead of holding the whole destination bucket in memory.

A bucket of millions of objects used to be listed completely (every destination key in a set,
then every message in a list) before the first message left: gigabytes of memory, and a crash
after hours of listing sent nothing. The listing here is cut into pages of a few keys, so "sent
before the last page was listed" is something the old code could not do.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from correction_core.objects import EXTENSION_BY_FORMAT, ObjectRef, failure_key, result_key
from correction_core.settings import Settings
from correction_ops.reprocess import backfill, redrive
from correction_ops.targets import StackTargets

REGION = "us-east-1"
SETTINGS = Settings(
    destination_bucket="dst",
    source_prefix="incoming/",
    destination_prefix="results/",
    failure_prefix="failures/",
)
PAGE = 3  # keys per listing page: many pages from a few dozen objects


class ListingLog:
    """Wraps a client's list_objects_v2: small pages, and how many messages had been sent when
    each page was listed."""

    def __init__(self, s3: Any, sqs: Any) -> None:
        self.pages: list[tuple[str, str, bool, int]] = []  # bucket, prefix, more to come, sent so far
        self.sent = 0
        original_list, original_send = s3.list_objects_v2, sqs.send_message_batch

        def listed(**kwargs: Any) -> dict[str, Any]:
            response = original_list(**{**kwargs, "MaxKeys": PAGE})
            self.pages.append(
                (kwargs["Bucket"], kwargs.get("Prefix", ""), response["IsTruncated"], self.sent)
            )
            return response

        def sent(**kwargs: Any) -> dict[str, Any]:
            response = original_send(**kwargs)
            self.sent += len(kwargs["Entries"])
            return response

        s3.list_objects_v2, sqs.send_message_batch = listed, sent

    def sent_when_last_page_listed(self, bucket: str, prefix: str) -> int:
        (last,) = [p for p in self.pages if p[:2] == (bucket, prefix) and not p[2]]
        return last[3]


@pytest.fixture
def aws(reprocess_aws):
    s3, sqs, queue_url = reprocess_aws
    return s3, sqs, StackTargets("src", "dst", queue_url, "incoming/", "results/", "failures/")


def _drain(sqs: Any, queue_url: str) -> list[str]:
    keys = []
    while got := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in got:
            keys.append(json.loads(message["Body"])["object"]["key"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return keys


def test_backfill_sends_before_it_has_listed_the_last_page(aws):
    s3, sqs, targets = aws
    keys = [f"incoming/old/{i:03d}.jpg" for i in range(60)]
    for i, key in enumerate(keys):
        s3.put_object(Bucket="src", Key=key, Body=b"\xff\xd8\xff")
        if i % 3 == 0:  # done ones, spread over the whole listing
            s3.put_object(Bucket="dst", Key=result_key(ObjectRef("src", key), SETTINGS, "jpeg"), Body=b"r")
    log = ListingLog(s3, sqs)

    summary = backfill(s3, sqs, targets)

    assert summary.sent == 40 and summary.skipped == {"already has a result": 20}
    assert sorted(_drain(sqs, targets.intake_queue_url)) == [k for i, k in enumerate(keys) if i % 3]
    # Neither listing is finished before messages leave: nothing waits for the whole bucket.
    assert log.sent_when_last_page_listed("src", "incoming/") > 0
    assert log.sent_when_last_page_listed("dst", "results/") > 0


def test_redrive_sends_before_it_has_listed_the_last_page(aws):
    s3, sqs, targets = aws
    for i in range(40):
        key = f"incoming/old/{i:03d}.jpg"
        s3.put_object(Bucket="src", Key=key, Body=b"\xff\xd8\xff")
        record = {"reason": "poll_timeout", "source": {"bucket": "src", "key": key, "attempt": 0}}
        s3.put_object(Bucket="dst", Key=failure_key(ObjectRef("src", key), SETTINGS), Body=json.dumps(record))
    log = ListingLog(s3, sqs)

    summary = redrive(s3, sqs, targets)

    assert (summary.considered, summary.sent) == (40, 40)
    assert len(_drain(sqs, targets.intake_queue_url)) == 40
    assert log.sent_when_last_page_listed("dst", "failures/") > 0


def test_dry_runs_stay_dry_and_count_what_would_be_sent(aws):
    s3, sqs, targets = aws
    for i in range(25):
        s3.put_object(Bucket="src", Key=f"incoming/{i:02d}.png", Body=b"\x89PNG")
    record = {"reason": "x", "source": {"bucket": "src", "key": "incoming/00.png"}}
    s3.put_object(Bucket="dst", Key="failures/00.png.json", Body=json.dumps(record))
    log = ListingLog(s3, sqs)

    assert backfill(s3, sqs, targets, dry_run=True).sent == 24
    assert redrive(s3, sqs, targets, dry_run=True).sent == 1
    assert log.sent == 0 and _drain(sqs, targets.intake_queue_url) == []


# Names whose outcomes sort awkwardly against each other: a name that is a prefix of others,
# characters that sort before and after ".", names differing only by extension, unicode (UTF-8
# byte order), a name that already ends like a shortened one, and names too long for S3.
AWKWARD = [
    "a",
    "a-b",
    "a b",
    "a.jpg",
    "a.jpg.jpg",
    "a.jpg-1",
    "a.jpgz",
    "a.webp",
    "a/",  # a folder marker: never sent
    "a/b",
    "ab",
    "photo",
    "photo.jpg",
    "photo.png",
    "photo.JPG",
    "é.png",
    "e.png",
    "日本.jpg",
    "\U0001f600.jpg",
    "zz~" + "0" * 32,
    "x" * (1024 - len("incoming/")),
    "x" * (1024 - len("incoming/") - 2) + "é",
    "y" * 1000 + ".jpg",
    # Shortened outcome names that sort below the name itself ("~" < "é") and below a shorter
    # neighbour's outcomes: only a lookup of their own finds them.
    "é" * 507,
    "é" * 489 + "~zz",
    "é" * 488 + "~zz",
]


def _expected(sources: list[str], destination: set[str]) -> tuple[list[str], dict[str, int]]:
    """What backfill must decide, by brute force over the whole destination listing."""
    sent, skipped = [], {}
    for key in sources:
        probe = ObjectRef("src", key)
        if key.endswith("/"):
            why = "folder marker"
        elif destination & {result_key(probe, SETTINGS, fmt) for fmt in EXTENSION_BY_FORMAT}:
            why = "already has a result"
        elif failure_key(probe, SETTINGS) in destination:
            why = "already has a failure record (use redrive)"
        else:
            sent.append(key)
            continue
        skipped[why] = skipped.get(why, 0) + 1
    return sorted(sent), skipped


@pytest.mark.parametrize("plan", ["every one has a result", "every one has a failure record", 1, 2, 3])
def test_the_merge_decides_like_a_lookup_in_the_whole_listing(aws, plan):
    s3, sqs, targets = aws
    rng = random.Random(plan)
    sources = ["incoming/" + name for name in AWKWARD]
    for key in sources:
        s3.put_object(Bucket="src", Key=key, Body=b"\xff\xd8\xff")
    destination = set()
    formats = list(EXTENSION_BY_FORMAT)
    for i, key in enumerate(sources):
        probe = ObjectRef("src", key)
        roll = {"every one has a result": 0.0, "every one has a failure record": 0.5}.get(plan, rng.random())
        if roll < 0.35:  # each format in turn, so the longest (.webp) and shortest endings both occur
            destination.add(result_key(probe, SETTINGS, formats[i % len(formats)]))
        elif roll < 0.55:
            destination.add(failure_key(probe, SETTINGS))
    # Outcomes of objects that are not in the source bucket sit between the real ones.
    for ghost in ("a.", "a-", "a-b.jpg", "photo.jpg.png", "é", "zz", "a.jpg.jpg.jpg"):
        destination.add(result_key(ObjectRef("src", "incoming/" + ghost), SETTINGS, "jpeg"))
        destination.add(failure_key(ObjectRef("src", "incoming/" + ghost + "x"), SETTINGS))
    for key in destination:
        s3.put_object(Bucket="dst", Key=key, Body=b"r")
    ListingLog(s3, sqs)

    summary = backfill(s3, sqs, targets)

    want_sent, want_skipped = _expected(sorted(sources), destination)
    assert sorted(_drain(sqs, targets.intake_queue_url)) == want_sent
    assert summary.skipped == want_skipped
    assert summary.considered == len(sources)


def test_a_key_prefix_narrows_every_listing_and_still_finds_outcomes(aws):
    s3, sqs, targets = aws
    for name in ("2026/a.jpg", "2026/b.jpg", "2026-old/c.jpg", "2025/d.jpg"):
        s3.put_object(Bucket="src", Key="incoming/" + name, Body=b"\xff\xd8\xff")
    s3.put_object(Bucket="dst", Key="results/2026/a.jpg.png", Body=b"r")
    s3.put_object(Bucket="dst", Key="failures/2026/b.jpg.json", Body=b"{}")
    log = ListingLog(s3, sqs)

    summary = backfill(s3, sqs, targets, key_prefix="2026")

    assert sorted(_drain(sqs, targets.intake_queue_url)) == ["incoming/2026-old/c.jpg"]
    assert summary.considered == 3
    assert {p[1] for p in log.pages} <= {"incoming/2026", "results/2026", "failures/2026"}
