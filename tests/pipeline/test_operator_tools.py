"""redrive and backfill against the emulated stack: they finish the work and are safe to run twice."""

from __future__ import annotations

import pytest

from correction_engine.synth.documents import make_page_photo
from correction_local.pipeline import Upload, run_uploads
from correction_ops.reprocess import backfill, redrive
from correction_ops.targets import StackTargets

from .conftest import API_KEY, encode

pytestmark = pytest.mark.slow


def photo(seed: int) -> bytes:
    return encode(make_page_photo(seed, size=(600, 450)).image, "JPEG", quality=85)


def targets_of(stack) -> StackTargets:
    return StackTargets(
        source_bucket=stack.source_bucket,
        destination_bucket=stack.destination_bucket,
        intake_queue_url=stack.queue_url,
        source_prefix=stack.parameters["SourcePrefix"],
        destination_prefix=stack.parameters["DestinationPrefix"],
        failure_prefix=stack.parameters["FailurePrefix"],
    )


def test_redrive_retries_failed_objects_once_even_when_run_twice(make_stack, engine):
    engine.settings.faults.update({"failed_state_rate": 1.0, "failed_state": -15})
    stack = make_stack()
    keys = ["incoming/a.jpg", "incoming/sub/b.jpg"]
    first = run_uploads(stack, [Upload(k, photo(i)) for i, k in enumerate(keys)])
    assert set(first.outcomes.failures) == set(keys)
    assert engine.engine.stats.tasks_created(API_KEY) == 2

    engine.settings.faults.reset()  # the API recovered
    s3, sqs = stack.client("s3"), stack.client("sqs")
    once = redrive(s3, sqs, targets_of(stack))
    twice = redrive(s3, sqs, targets_of(stack))  # an impatient operator, before anything ran
    assert once.sent == twice.sent == 2
    after = run_uploads(stack, [])
    assert set(after.outcomes.results) == set(keys)
    assert after.outcomes.failures == {}  # a success removes the object's stale record
    assert engine.engine.stats.tasks_created(API_KEY) == 4  # two new attempts, not four
    assert redrive(s3, sqs, targets_of(stack)).considered == 0


def test_backfill_processes_objects_without_outcome_and_is_safe_twice(make_stack, engine):
    stack = make_stack()
    s3, sqs = stack.client("s3"), stack.client("sqs")
    done = run_uploads(stack, [Upload("incoming/old/done.jpg", photo(1))])
    assert list(done.outcomes.results) == ["incoming/old/done.jpg"]
    # Objects that were in the bucket before the pipeline existed: no notification for them.
    for i in range(3):
        s3.put_object(Bucket=stack.source_bucket, Key=f"incoming/old/{i}.jpg", Body=photo(10 + i))
    s3.put_object(Bucket=stack.source_bucket, Key="incoming/old/folder/", Body=b"")
    sqs.purge_queue(QueueUrl=stack.queue_url)

    first = backfill(s3, sqs, targets_of(stack), key_prefix="old/")
    second = backfill(s3, sqs, targets_of(stack), key_prefix="old/")
    assert first.sent == 3 and second.sent == 3  # nothing has finished yet: both send the three
    assert first.skipped == {"already has a result": 1, "folder marker": 1}
    report = run_uploads(stack, [])
    assert {f"incoming/old/{i}.jpg" for i in range(3)} <= set(report.outcomes.results)
    assert engine.engine.stats.tasks_created(API_KEY) == 4  # 1 upload + 3 backfilled, none twice
    assert backfill(s3, sqs, targets_of(stack), key_prefix="old/").sent == 0
