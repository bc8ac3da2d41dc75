"""Faults of the API, of S3 and of Lambda, end to end: every upload still ends in exactly one
result or one failure record, nothing is lost, nothing is done or paid for twice.

The engine's faults come from its seeded RNG. Where several executions poll at once the order
of the rolls varies between runs, so those tests use rates whose chance of exhausting every
retry is far below 1 in 1,000 and assert the invariant, not a particular sequence. moto's
interpreter really waits for Retry intervals (1 s, backoff 2, full jitter), so storms are short.

docs/reliability.md lists every fault with its outcome and the test that shows it.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_plus

import pytest

from correction_core import contract
from correction_local import lambda_bridge
from correction_local.intake import IntakeStats, pump_once
from correction_local.pipeline import Upload, upload_all

from .conftest import API_KEY
from .support import (
    PutObjectFaults,
    assert_accounted,
    assert_source_untouched,
    consume_test_event,
    encode,
    expected_failure_key,
    function_environment,
    function_services,
    limit_deliveries,
    page,
    read_destination,
    settle,
    submit_one_by_one,
)

pytestmark = pytest.mark.slow

# The pipeline's own request budget (ApiQps) is not the subject here; see test_burst.py.
UNTHROTTLED = {"ApiQps": 50}


def photos(n: int, prefix: str = "incoming/") -> list[Upload]:
    return [Upload(f"{prefix}photo-{i:02d}.jpg", encode(page(20 + i), "JPEG", quality=85)) for i in range(n)]


def counters(engine) -> dict:
    return engine.engine.stats.for_key(API_KEY)


def records_carry_no_secret(bucket) -> None:
    text = json.dumps(bucket.failures)
    assert API_KEY not in text
    assert not re.search(r"(signature|X-Amz-Signature)=", text), "a signed URL reached a failure record"


# --- the API misbehaving per request ------------------------------------------------------


def _weather_a_storm(make_stack, engine, faults: dict, count: int):
    """Upload ``count`` photos while the engine injects ``faults``; every one must end in a result."""
    engine.settings.faults.update(faults)
    engine.engine.faults.reseed(faults["seed"])  # the seeds are chosen so the first rolls hit
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    uploads = photos(count)
    upload_all(stack, uploads)
    intake, executions = settle(stack)

    bucket = read_destination(stack)
    outcomes = assert_accounted(bucket, [u.key for u in uploads])
    assert set(outcomes.values()) == {"result"}  # every injected error was retried away
    stats = counters(engine)
    assert stats["tasks_created"] == len(uploads) and stats["max_tasks_per_source"] == 1
    return stack, uploads, executions, stats


def test_429_storms_on_create_and_query_are_absorbed(make_stack, engine):
    # Seed 7: its first two rolls hit, so the first create gets two 429s.
    stack, uploads, executions, stats = _weather_a_storm(
        make_stack, engine, {"seed": 7, "error_429_rate": 0.35, "endpoints": ["create", "query"]}, 4
    )
    assert stats["injected_429"] >= 2  # the storm really happened
    assert sorted(e["status"] for e in executions) == ["SUCCEEDED"] * len(uploads)
    assert_source_untouched(stack, uploads)


def test_500_storms_on_query_and_result_download_are_absorbed(make_stack, engine):
    # Seed 28: its first two rolls hit. Creates are left out: a 5xx on a create proves nothing
    # (next test), while a query or a download may be repeated freely.
    _, _, _, stats = _weather_a_storm(
        make_stack, engine, {"seed": 28, "error_500_rate": 0.15, "endpoints": ["query", "result"]}, 5
    )
    assert stats["injected_500"] >= 2


def test_a_create_answered_with_a_5xx_is_not_repeated(make_stack, engine):
    """Issue 10 item 3: a gateway's 5xx can come after the task was made; never create again."""
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    (upload,) = photos(1)
    upload_all(stack, [upload])
    engine.settings.faults.update({"error_500_rate": 1.0, "endpoints": ["create"]})
    first = IntakeStats()
    pump_once(stack, first)
    engine.settings.faults.reset()
    settle(stack)
    assert (first.delivered, first.failed_items) == (1, 0)  # recorded and consumed, not redelivered
    bucket = read_destination(stack)
    assert assert_accounted(bucket, [upload.key]) == {upload.key: "failure"}
    record = bucket.failure_for(upload.key)
    assert (record["reason"], record["stage"]) == ("create_outcome_unknown", "submit")
    assert counters(engine)["create_requests"] == 1  # one request: no retry, no redelivery


def _short_read_timeout(monkeypatch, seconds: float) -> None:
    """API_READ_TIMEOUT is a setting the template does not expose as a parameter: put it in
    the environment before any function runs (each builds its settings once, at its first
    invocation); the submit function sets its own, so it is overridden there."""
    from correction_local import lambda_bridge

    monkeypatch.setenv("API_READ_TIMEOUT", str(seconds))
    lambda_bridge.override_environment("SubmitFunction", API_READ_TIMEOUT=str(seconds))
    for name in ("SubmitFunction", "CheckStatusFunction", "FinalizeFunction"):
        assert function_services(name).settings.read_timeout == seconds


def test_query_answers_slower_than_the_read_timeout_are_retried(make_stack, engine, monkeypatch):
    engine.settings.faults.update({"seed": 3, "slow_rate": 0.4, "slow_seconds": 1.0, "endpoints": ["query"]})
    engine.engine.faults.reseed(3)  # its first roll hits: the first poll is slow
    stack = make_stack(**UNTHROTTLED)
    _short_read_timeout(monkeypatch, 0.4)
    consume_test_event(stack)
    uploads = photos(4)
    upload_all(stack, uploads)
    intake, executions = settle(stack)

    bucket = read_destination(stack)
    assert set(assert_accounted(bucket, [u.key for u in uploads]).values()) == {"result"}
    stats = counters(engine)
    assert stats["injected_slow"] >= 1
    assert stats["tasks_created"] == len(uploads)


def _slow_first_create(make_stack, engine, monkeypatch):
    """The first delivery's create is answered after the client gave up (the task exists)."""
    stack = make_stack(**UNTHROTTLED)
    _short_read_timeout(monkeypatch, 0.4)
    consume_test_event(stack)
    (upload,) = photos(1)
    upload_all(stack, [upload])
    engine.settings.faults.update({"slow_rate": 1.0, "slow_seconds": 1.0, "endpoints": ["create"]})
    first = IntakeStats()
    pump_once(stack, first)
    engine.settings.faults.reset()  # the API is fast again for the redelivery
    intake, executions = settle(stack)
    return stack, upload, first, intake


def test_a_create_answered_after_the_timeout_is_not_paid_twice(make_stack, engine, monkeypatch):
    """The answer was lost, the task may exist: one record saying so, never a second task."""
    stack, upload, first, intake = _slow_first_create(make_stack, engine, monkeypatch)
    assert (first.delivered, first.failed_items) == (1, 0)  # handled, not redelivered
    bucket = read_destination(stack)
    assert assert_accounted(bucket, [upload.key]) == {upload.key: "failure"}
    record = bucket.failure_for(upload.key)
    assert (record["reason"], record["error_type"], record["stage"]) == (
        "create_outcome_unknown",
        "AmbiguousCreate",
        "submit",
    )
    assert counters(engine)["tasks_created"] == 1 and counters(engine)["injected_slow"] == 1

    # An operator who accepts the risk redrives it: a deliberate second attempt, and a result.
    from correction_ops.reprocess import redrive
    from correction_ops.targets import StackTargets

    targets = StackTargets(stack.source_bucket, stack.destination_bucket, stack.queue_url)
    assert redrive(stack.client("s3"), stack.client("sqs"), targets).sent == 1
    settle(stack)
    assert assert_accounted(read_destination(stack), [upload.key]) == {upload.key: "result"}
    assert counters(engine)["tasks_created"] == 2


def test_query_500s_that_outlast_every_retry_end_in_one_record(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    (upload,) = photos(1)
    upload_all(stack, [upload])
    engine.settings.faults.update({"error_500_rate": 1.0, "endpoints": ["query"]})  # after the create
    intake, executions = settle(stack)

    bucket = read_destination(stack)
    assert assert_accounted(bucket, [upload.key]) == {upload.key: "failure"}
    record = bucket.failure_for(upload.key)
    assert (record["reason"], record["stage"], record["error_type"], record["http_status"]) == (
        "api_unavailable",
        "check_status",
        "ApiUnavailable",
        500,
    )
    assert record["task_id"]  # paid for: redrive it once the API is back
    # One CheckStatus try and its 4 retries, each with the client's 3 attempts.
    assert counters(engine)["injected_500"] == 5 * 3
    assert counters(engine)["tasks_created"] == 1


def test_a_task_the_api_no_longer_knows_ends_in_one_record(make_stack, engine):
    engine.settings.faults.update({"never_finish_rate": 1.0})
    engine.settings.task_ttl_seconds = 0.5  # the API forgets the task before the first poll
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    (upload,) = photos(1)
    upload_all(stack, [upload])
    intake, executions = settle(stack)

    bucket = read_destination(stack)
    assert assert_accounted(bucket, [upload.key]) == {upload.key: "failure"}
    record = bucket.failure_for(upload.key)
    assert (record["reason"], record["http_status"], record["error_type"]) == (
        "task_not_found",
        404,
        "TaskNotFound",
    )
    assert counters(engine)["query_requests"] == 1  # a 404 is not retried


def test_a_revoked_api_key_turns_uploads_into_records_without_tasks(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    engine.settings.api_keys = ("a-rotated-key-the-pipeline-does-not-have",)  # read live by the engine
    uploads = photos(2)
    upload_all(stack, uploads)
    intake, executions = settle(stack)

    bucket = read_destination(stack)
    assert set(assert_accounted(bucket, [u.key for u in uploads]).values()) == {"failure"}
    for upload in uploads:
        record = bucket.failure_for(upload.key)
        assert (record["reason"], record["stage"], record["http_status"]) == ("unauthorized", "submit", 401)
    records_carry_no_secret(bucket)
    assert intake.failed_items == 0 and executions == []  # refused is final: no redelivery loop
    assert engine.engine.stats.snapshot()["totals"]["tasks_created"] == 0


# --- tasks that fail, hang, or whose results are unusable ----------------------------------


NEGATIVE_STATES = sorted((code for code in contract.TASK_STATE_MEANINGS if code < 0), reverse=True) + [-99]


def test_every_failed_state_and_every_bad_result_ends_in_its_own_failure_record(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    faults = engine.settings.faults
    plan: list[tuple[Upload, dict]] = []
    pixels = encode(page(30), "JPEG", quality=85)
    for code in NEGATIVE_STATES:
        faults_of_task = {"failed_state_rate": 1.0, "failed_state": code}
        plan.append((Upload(f"incoming/state/{-code}.jpg", pixels), faults_of_task))
    bad_results = {
        "incoming/result/expired.jpg": ({"expired_url_rate": 1.0}, "HTTP 403 (missing or expired)"),
        "incoming/result/missing.jpg": ({"broken_url_rate": 1.0}, "HTTP 404 (missing or expired)"),
        "incoming/result/not-an-image.jpg": ({"corrupt_result_rate": 1.0}, "not a PNG, JPEG, WebP"),
    }
    for key, (changes, _) in bad_results.items():
        plan.append((Upload(key, pixels), changes))
    plan.append((Upload("incoming/control.jpg", pixels), {}))
    keys = submit_one_by_one(stack, faults, plan)
    intake, executions = settle(stack)

    bucket = read_destination(stack)
    outcomes = assert_accounted(bucket, keys)
    assert outcomes.pop("incoming/control.jpg") == "result"
    assert set(outcomes.values()) == {"failure"}
    task_ids = set()
    for code in NEGATIVE_STATES:
        record = bucket.failure_for(f"incoming/state/{-code}.jpg")
        assert (record["reason"], record["state"], record["stage"]) == ("task_failed", code, "poll")
        assert record["state_meaning"] == contract.state_meaning(code)
        assert record["error_type"] == "TaskFailed" and record["http_status"] == 200
        assert "injected fault" in record["message"]  # the server's message is kept
        task_ids.add(record["task_id"])
    assert "does not list" in bucket.failure_for("incoming/state/99.jpg")["state_meaning"]
    for key, (_, says) in bad_results.items():
        record = bucket.failure_for(key)
        assert (record["reason"], record["stage"], record["error_type"]) == (
            "result_unavailable",
            "finalize",
            "ResultUnavailable",
        ), key
        assert says in record["message"], (key, record["message"])
        assert record["state"] == contract.STATE_SUCCEEDED  # the task succeeded; its result is unusable
        task_ids.add(record["task_id"])
    assert len(task_ids) == len(keys) - 1 and None not in task_ids
    records_carry_no_secret(bucket)
    stats = counters(engine)
    assert stats["tasks_created"] == len(keys)  # each paid once; a failed task is not retried
    assert sorted(e["status"] for e in executions) == ["FAILED"] * (len(keys) - 1) + ["SUCCEEDED"]


def test_tasks_that_never_finish_are_cut_at_the_poll_cap(make_stack, engine):
    engine.settings.faults.update({"never_finish_rate": 1.0})
    stack = make_stack(PollCapSeconds=2, PollIntervalSeconds=1, **UNTHROTTLED)
    consume_test_event(stack)
    uploads = photos(3)
    upload_all(stack, uploads)
    intake, executions = settle(stack)

    bucket = read_destination(stack)
    assert set(assert_accounted(bucket, [u.key for u in uploads]).values()) == {"failure"}
    for upload in uploads:
        record = bucket.failure_for(upload.key)
        assert (record["reason"], record["stage"]) == ("poll_timeout", "poll")
        assert record["state"] == contract.STATE_PROCESSING
        assert record["details"]["elapsed_seconds"] == 2 and record["task_id"]
    assert counters(engine)["tasks_created"] == len(uploads)
    # One poll per interval up to the cap, no more (the state machine owns time).
    assert counters(engine)["query_requests"] == 2 * len(uploads)


def test_a_key_uploaded_twice_shows_only_the_newest_outcome(make_stack, engine):
    stack = make_stack(PollCapSeconds=4, **UNTHROTTLED)
    consume_test_event(stack)
    key = "incoming/receipt.jpg"
    first = Upload(key, encode(page(40), "JPEG", quality=85))
    second = Upload(key, encode(page(41), "JPEG", quality=85))  # the user re-uploads a better photo
    # The first upload's task hangs (poll timeout after 4 s); the second finishes in about 2 s.
    submit_one_by_one(stack, engine.settings.faults, [(first, {"never_finish_rate": 1.0}), (second, {})])
    settle(stack)
    assert counters(engine)["tasks_created"] == 2  # two versions, two units of work
    bucket = read_destination(stack)
    assert assert_accounted(bucket, [key]) == {key: "result"}


def _a_key_uploaded_twice(make_stack, key: str, second: bytes, **metadata: str):
    """The destination after ``key`` is uploaded, corrected, and uploaded again as ``second``."""
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    upload_all(stack, [Upload(key, encode(page(40), "JPEG", quality=85))])
    settle(stack)
    upload_all(stack, [Upload(key, second, metadata=metadata)])
    settle(stack)
    return read_destination(stack)


def test_a_newer_upload_refused_at_submit_leaves_the_older_result_beside_its_record(make_stack, engine):
    # The documented choice (docs/reliability.md, "Re-uploads"), reviewed again in session 13:
    # the older result is a correct result of the older photo and is not deleted.
    key = "incoming/receipt.jpg"
    good = encode(page(41), "JPEG", quality=85)
    bucket = _a_key_uploaded_twice(make_stack, key, good[: len(good) // 2])
    assert bucket.result_for(key) and bucket.failure_for(key)["code"] == "truncated_image"


def test_a_newer_upload_of_another_type_replaces_the_older_result(make_stack, engine):
    # Review: v1 as type 0 (results/x.jpg.jpg), v2 as type 4 (a cut-out, results/x.jpg.png):
    # both stayed.
    key = "incoming/shoe.jpg"
    bucket = _a_key_uploaded_twice(
        make_stack, key, encode(page(43), "JPEG", quality=85), **{"correction-type": "4"}
    )
    assert assert_accounted(bucket, [key]) == {key: "result"}
    assert [k.rsplit(".", 1)[1] for k in bucket.results] == ["png"]


# --- S3 refusing writes ---------------------------------------------------------------------


def test_destination_write_blips_are_absorbed_by_the_retry(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    faults = PutObjectFaults(lambda key, attempt: not key.startswith("failures/") and attempt <= 2)
    uploads = photos(3)
    upload_all(stack, uploads)
    intake, executions = settle(stack)

    bucket = read_destination(stack)
    assert set(assert_accounted(bucket, [u.key for u in uploads]).values()) == {"result"}
    result_puts = [k for k in faults.attempts if not k.startswith("failures/")]
    assert len(result_puts) == 3 * len(uploads)  # two refused, the third stored, per result
    assert counters(engine)["tasks_created"] == len(uploads)  # Finalize retries never re-create


def test_a_destination_that_refuses_writes_for_good_yields_one_failure_record(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    # Results are never accepted; the failure record is refused twice, then accepted.
    faults = PutObjectFaults(
        lambda key, attempt: not key.startswith("failures/") or attempt <= 2,
        code="AccessDenied",
    )
    (upload,) = photos(1)
    upload_all(stack, [upload])
    intake, executions = settle(stack)

    bucket = read_destination(stack)
    assert assert_accounted(bucket, [upload.key]) == {upload.key: "failure"}
    record = bucket.failure_for(upload.key)
    assert (record["reason"], record["stage"], record["error_type"]) == (
        "destination_write_failed",
        "finalize",
        "DestinationWriteFailed",
    )
    assert record["task_id"] and record["state"] == contract.STATE_SUCCEEDED
    result_puts = [k for k in faults.attempts if not k.startswith("failures/")]
    assert len(result_puts) == 5  # the first try and Finalize's four retries
    assert faults.attempts.count(expected_failure_key(upload.key)) == 3  # RecordFailure's retries
    assert [e["status"] for e in executions] == ["FAILED"]


def test_a_finalize_that_fails_after_storing_the_result_leaves_the_result_alone(make_stack, engine):
    # Review: the result is stored, then removing a stale record is refused (500) on every try;
    # the Catch sent the upload to RecordFailure, which wrote a record beside the result.
    from botocore.exceptions import ClientError

    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    deletes = []

    def refuse_delete(params, **_):
        deletes.append(params["Key"])
        raise ClientError(
            {
                "Error": {"Code": "InternalError", "Message": "internal"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            "DeleteObject",
        )

    function_services("FinalizeFunction").s3.meta.events.register(
        "before-parameter-build.s3.DeleteObject", refuse_delete
    )
    (upload,) = photos(1)
    upload_all(stack, [upload])
    _, executions = settle(stack)
    bucket = read_destination(stack)
    assert assert_accounted(bucket, [upload.key]) == {upload.key: "result"}
    assert deletes  # the fault was met
    assert counters(engine)["tasks_created"] == 1
    assert [e["status"] for e in executions] == ["SUCCEEDED"]  # announced as corrected


# --- Lambda and SQS: partial batch failures, crashes, and the dead-letter queue -------------


def test_a_create_storm_fails_only_the_messages_that_needed_the_api(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    # The template's BatchSize is 1; a deployment may raise it (the timeout then follows, see
    # submission.submit_timeout_seconds), and partial batch responses must hold there.
    stack.intake_batch_size = 10
    consume_test_event(stack)
    good = photos(3)
    bad = [Upload("incoming/empty.jpg", b""), Upload("incoming/notes.jpg", b"not a photo\n" * 10)]
    # Creates answer 429 (which proves nothing was made): the client tries each three times,
    # then submit raises for that message only. The bad inputs never reach the API and are
    # done in the same batch.
    engine.settings.faults.update({"error_429_rate": 1.0, "endpoints": ["create"]})
    upload_all(stack, good + bad)
    first = IntakeStats()
    assert pump_once(stack, first) == len(good + bad)
    assert first.failed_items == len(good)  # batchItemFailures named exactly the good ones
    early = read_destination(stack)
    assert [early.failure_for(u.key)["code"] for u in bad] == ["empty_object", "unrecognised_format"]
    engine.settings.faults.reset()  # the API recovered
    intake, executions = settle(stack)

    assert (intake.delivered, intake.failed_items) == (len(good), 0)  # each failed one redelivered once
    bucket = read_destination(stack)
    outcomes = assert_accounted(bucket, [u.key for u in good + bad])
    assert outcomes == {**{u.key: "result" for u in good}, **{u.key: "failure" for u in bad}}
    stats = counters(engine)
    assert stats["injected_429"] == 3 * len(good)  # LAMBDA_RETRY: three attempts per create
    assert stats["tasks_created"] == len(good)
    assert len(executions) == len(good)


def test_a_failure_record_refused_at_submit_is_written_on_redelivery(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    # The template's BatchSize is 1; a deployment may raise it (the timeout then follows, see
    # submission.submit_timeout_seconds), and partial batch responses must hold there.
    stack.intake_batch_size = 10
    consume_test_event(stack)
    good = photos(3)
    bad = [Upload("incoming/empty.jpg", b"")]
    # Only the empty file's failure record is refused: one message of the batch fails.
    s3_faults = PutObjectFaults(lambda key, attempt: key.startswith("failures/") and attempt == 1)
    upload_all(stack, good + bad)
    first = IntakeStats()
    pump_once(stack, first)
    assert (first.delivered, first.failed_items) == (4, 1)
    intake, executions = settle(stack)
    assert (intake.delivered, intake.failed_items) == (1, 0)  # only that one came back

    bucket = read_destination(stack)
    outcomes = assert_accounted(bucket, [u.key for u in good + bad])
    assert outcomes == {**{u.key: "result" for u in good}, "incoming/empty.jpg": "failure"}
    assert s3_faults.failed == ["failures/empty.jpg.json"]
    assert counters(engine)["tasks_created"] == len(good)
    assert len(executions) == len(good)


def test_a_submit_invocation_that_crashes_after_its_work_is_redelivered_without_paying_twice(
    make_stack, engine
):
    stack = make_stack(**UNTHROTTLED)
    # The template's BatchSize is 1; a deployment may raise it (the timeout then follows, see
    # submission.submit_timeout_seconds), and partial batch responses must hold there.
    stack.intake_batch_size = 10
    consume_test_event(stack)
    real = lambda_bridge._handlers[stack.submit_function]
    crashes = []

    def crash_once_after_the_work(event, context):
        response = real(event, context)
        if not crashes:  # e.g. the invocation timed out just before returning
            crashes.append(len(event["Records"]))
            raise TimeoutError("Task timed out after 60.00 seconds")
        return response

    lambda_bridge.register(
        stack.submit_function, crash_once_after_the_work, function_environment(stack, stack.submit_function)
    )
    good = photos(4)
    bad = [Upload("incoming/empty.jpg", b"")]
    upload_all(stack, good + bad)
    first = IntakeStats()
    pump_once(stack, first)
    assert first.failed_items == len(good + bad)  # the whole batch comes back
    intake, executions = settle(stack)
    assert intake.delivered == len(good + bad) and intake.failed_items == 0

    bucket = read_destination(stack)
    outcomes = assert_accounted(bucket, [u.key for u in good + bad])
    assert outcomes == {**{u.key: "result" for u in good}, "incoming/empty.jpg": "failure"}
    stats = counters(engine)
    assert stats["tasks_created"] == len(good) and stats["create_requests"] == len(good)
    assert len(executions) == len(good)  # one execution per object, not per delivery


def test_an_api_outage_during_submit_parks_the_upload_in_the_dlq_for_redrive(make_stack, engine):
    stack = make_stack(**UNTHROTTLED)
    consume_test_event(stack)
    sqs = stack.client("sqs")
    # The template lets a message come back 20 times (2 s apart here, 40 s); the route to the
    # dead-letter queue is the same after 3, which keeps this test short.
    limit_deliveries(stack, 3)
    # An outage that refuses every create (429 proves nothing was made, so it is retried; a
    # 5xx would instead end in a create_outcome_unknown record, see above).
    engine.settings.faults.update({"error_429_rate": 1.0, "endpoints": ["create"]})
    (upload,) = photos(1)
    upload_all(stack, [upload])
    intake, executions = settle(stack)

    # Every delivery failed; after maxReceiveCount SQS moved the message aside.
    assert intake.delivered == 3 and intake.failed_items == 3
    parked = sqs.receive_message(QueueUrl=stack.dead_letter_queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(parked) == 1
    notified_key = json.loads(parked[0]["Body"])["Records"][0]["s3"]["object"]["key"]  # URL-encoded
    assert unquote_plus(notified_key) == upload.key
    bucket = read_destination(stack)
    assert bucket.results == {} and bucket.failures == {}  # parked, not recorded: the DLQ alarm is the signal
    assert counters(engine)["tasks_created"] == 0 and executions == []

    # After the outage an operator moves the message back (SQS's DLQ redrive): it completes.
    engine.settings.faults.reset()
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody=parked[0]["Body"])
    sqs.delete_message(QueueUrl=stack.dead_letter_queue_url, ReceiptHandle=parked[0]["ReceiptHandle"])
    settle(stack)
    assert assert_accounted(read_destination(stack), [upload.key]) == {upload.key: "result"}
    assert counters(engine)["tasks_created"] == 1
