"""Issue 12 item 6: a backfill larger than the intake queue can hold for its 14-day retention at
the allowed rate must be paced, or SQS deletes the oldest notifications unprocessed (they do not
go to the dead-letter queue: they are simply gone).

``backfill`` keeps the queue's depth under ``max_queued`` by waiting before each batch; the
sleep here stands in for the submit function draining the queue meanwhile.
"""

from __future__ import annotations

import pytest

from correction_ops.reprocess import backfill, default_max_queued
from correction_ops.targets import StackTargets

REGION = "us-east-1"


@pytest.fixture
def aws(reprocess_aws):
    s3, sqs, queue_url = reprocess_aws
    s3.put_bucket_versioning(Bucket="src", VersioningConfiguration={"Status": "Enabled"})
    for i in range(45):
        s3.put_object(Bucket="src", Key=f"incoming/old/{i:03d}.jpg", Body=b"\xff\xd8\xff" + bytes(20))
    return s3, sqs, StackTargets(source_bucket="src", destination_bucket="dst", intake_queue_url=queue_url)


def _depth(sqs, queue_url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_a_paced_backfill_never_lets_the_queue_exceed_its_limit_and_still_sends_everything(aws):
    s3, sqs, targets = aws
    url = targets.intake_queue_url
    depths: list[int] = []
    waits: list[float] = []

    def drain_a_little(seconds: float) -> None:
        """While the backfill waits, the pipeline takes 7 messages off the queue."""
        waits.append(seconds)
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=7).get("Messages", [])
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    original = sqs.send_message_batch

    def observed_send(**kwargs):
        response = original(**kwargs)
        depths.append(_depth(sqs, url))
        return response

    sqs.send_message_batch = observed_send
    summary = backfill(s3, sqs, targets, max_queued=15, sleep=drain_a_little)
    assert summary.sent == 45
    assert waits, "the backfill never waited: the limit was not applied"
    assert max(depths) <= 15


def test_without_a_limit_the_backfill_sends_at_once(aws):
    s3, sqs, targets = aws

    def never(seconds: float) -> None:
        raise AssertionError("an unpaced backfill must not wait")

    assert backfill(s3, sqs, targets, sleep=never).sent == 45
    assert _depth(sqs, targets.intake_queue_url) == 45


@pytest.mark.parametrize(("qps", "expected"), [(2, 302_400), (10, 1_512_000), (0, None)])
def test_the_default_limit_is_a_week_of_the_allowance_at_one_poll_per_second(qps, expected):
    """ApiQps / 4 images per second (1 create + 3 polls for the vendor's 2-5 s tasks) for half
    the queue's 14-day retention; no allowance (ApiQps 0), no derived limit."""
    assert default_max_queued(qps) == expected


def test_a_limit_under_one_batch_still_sends_everything(aws):
    """An empty queue always takes a batch of 10, or --max-queued 5 would wait forever."""
    s3, sqs, targets = aws
    url = targets.intake_queue_url
    waits: list[float] = []

    def drain_all(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 50:
            raise AssertionError("the backfill keeps waiting on a queue it has drained")
        while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in got:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    assert backfill(s3, sqs, targets, max_queued=5, sleep=drain_all).sent == 45
