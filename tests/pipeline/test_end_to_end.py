"""Uploads through the whole pipeline: results and failure records, as a user would see them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from correction_engine.synth.documents import make_page_photo
from correction_engine.synth.products import make_product
from correction_local import lambda_bridge
from correction_local.pipeline import Upload, run_uploads

from .conftest import API_KEY, decode, encode

pytestmark = pytest.mark.slow


def checks_made() -> int:
    return sum(
        1
        for name, _, outcome in lambda_bridge.invocations
        if name == "CheckStatusFunction" and outcome == "ok"
    )


def page_jpeg(seed: int = 3, rotation: int = 0) -> tuple[bytes, object]:
    page = make_page_photo(seed, size=(900, 700), rotation=rotation)
    return encode(page.image, "JPEG", quality=90), page


def test_document_upload_becomes_a_corrected_result(make_stack, engine):
    stack = make_stack(DefaultType=0)
    body, page = page_jpeg(seed=3)
    key = "incoming/scans/March receipt + tax été.jpeg"
    report = run_uploads(stack, [Upload(key, body)])

    assert report.lost == []
    result = report.outcomes.results[key]
    assert result["key"] == "results/scans/March receipt + tax été.jpeg.jpg"  # whole name + real extension
    assert result["content_type"] == "image/jpeg"
    assert report.outcomes.failures == {}
    s3 = stack.client("s3")
    stored = s3.get_object(Bucket=stack.destination_bucket, Key=result["key"])
    image = decode(stored["Body"].read())
    # The page is cropped out of its background: the result has the page's aspect ratio.
    true_aspect = page.page.shape[1] / page.page.shape[0]
    got_aspect = image.width / image.height
    assert abs(got_aspect - true_aspect) / true_aspect < 0.06
    assert stored["Metadata"]["task-id"] == result["task_id"]
    assert stored["Metadata"]["source-bucket"] == stack.source_bucket
    # The source is untouched: same bytes, one version.
    assert s3.get_object(Bucket=stack.source_bucket, Key=key)["Body"].read() == body
    assert len(s3.list_object_versions(Bucket=stack.source_bucket, Prefix=key)["Versions"]) == 1
    assert [e["status"] for e in report.executions] == ["SUCCEEDED"]
    assert engine.engine.stats.tasks_created(API_KEY) == 1
    # Finalize took the URL CheckStatus kept: the API was asked once per poll, never again.
    assert engine.engine.stats.for_key(API_KEY)["query_requests"] == checks_made()


def test_product_cutout_by_metadata_is_a_png_with_alpha_via_base64(make_stack, engine):
    stack = make_stack()
    product = make_product(5, size=(600, 800), background="plain")
    key = "incoming/shop/shoe.jpg"
    report = run_uploads(
        stack, [Upload(key, encode(product.image), {"correction-type": "4", "correction-return-type": "2"})]
    )
    result = report.outcomes.results[key]
    assert result["key"] == "results/shop/shoe.jpg.png"  # the naming rule: whole name + real format
    image = decode(
        stack.client("s3").get_object(Bucket=stack.destination_bucket, Key=result["key"])["Body"].read()
    )
    assert image.mode == "RGBA"
    alpha = np.asarray(image)[..., 3]
    assert (alpha == 0).mean() > 0.05 and (alpha == 255).mean() > 0.3  # background gone, product kept
    # Base64 is too large to keep between states: Finalize asks the API once more.
    assert engine.engine.stats.for_key(API_KEY)["query_requests"] == checks_made() + 1


@pytest.mark.parametrize("failed_state", [-7, -13, -99])
def test_a_failed_task_ends_in_a_failure_record(make_stack, engine, failed_state):
    engine.settings.faults.update({"failed_state_rate": 1.0, "failed_state": failed_state})
    stack = make_stack()
    key = "incoming/doomed.jpg"
    report = run_uploads(stack, [Upload(key, page_jpeg()[0])])
    assert report.outcomes.results == {}
    record = report.outcomes.failures[key]
    assert record["reason"] == "task_failed"
    assert record["state"] == failed_state
    assert record["task_id"]
    assert record["record_key"] == "failures/doomed.jpg.json"
    assert [e["status"] for e in report.executions] == ["FAILED"]


def test_a_task_that_never_finishes_times_out_at_the_cap(make_stack, engine):
    engine.settings.faults.update({"never_finish_rate": 1.0})
    stack = make_stack(PollCapSeconds=2, PollIntervalSeconds=1)
    key = "incoming/stuck.jpg"
    report = run_uploads(stack, [Upload(key, page_jpeg()[0])])
    record = report.outcomes.failures[key]
    assert record["reason"] == "poll_timeout"
    assert record["details"]["elapsed_seconds"] == 2
    assert record["state"] == 4


def test_bad_inputs_end_as_failure_records_without_creating_tasks(make_stack, engine):
    stack = make_stack()
    good = page_jpeg()[0]
    bad = {
        "incoming/empty.jpg": (b"", {}),
        "incoming/text.jpg": (b"just some text, not a photo\n" * 4, {}),
        "incoming/anim.gif": (b"GIF89a" + b"\0" * 64, {}),
        "incoming/cut.jpg": (good[: len(good) // 2], {}),
        "incoming/badoption.jpg": (good, {"correction-type": "9"}),
    }
    report = run_uploads(stack, [Upload(k, body, meta) for k, (body, meta) in bad.items()])
    assert report.lost == []
    codes = {k: report.outcomes.failures[k]["code"] for k in bad}
    assert codes == {
        "incoming/empty.jpg": "empty_object",
        "incoming/text.jpg": "unrecognised_format",
        "incoming/anim.gif": "unsupported_format",
        "incoming/cut.jpg": "truncated_image",
        "incoming/badoption.jpg": "option_out_of_range",
    }
    assert all(r["stage"] == "submit" for r in report.outcomes.failures.values())
    assert engine.engine.stats.tasks_created(API_KEY) == 0
    assert report.executions == []


def test_folder_markers_and_other_prefixes_are_not_work(make_stack, engine):
    stack = make_stack()
    report = run_uploads(stack, [Upload("incoming/folder/", b""), Upload("incoming/x/", b"")])
    assert report.outcomes.results == {} and report.outcomes.failures == {}
    # Outside the source prefix no notification is even sent (the bucket's filter).
    stack.client("s3").put_object(Bucket=stack.source_bucket, Key="elsewhere/a.jpg", Body=page_jpeg()[0])
    assert run_uploads(stack, []).outcomes.results == {}
    assert engine.engine.stats.tasks_created(API_KEY) == 0


def test_the_same_event_delivered_three_times_creates_one_task(make_stack, engine):
    stack = make_stack()
    s3, sqs = stack.client("s3"), stack.client("sqs")
    key = "incoming/dup.jpg"
    s3.put_object(Bucket=stack.source_bucket, Key=key, Body=page_jpeg()[0])
    messages = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10)["Messages"]
    (message,) = [m for m in messages if '"Records"' in m["Body"]]  # S3 also queues a TestEvent
    for _ in range(2):  # two more deliveries of the very same notification
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=message["Body"])
    sqs.change_message_visibility(
        QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    report = run_uploads(stack, [])
    assert report.intake.delivered >= 3  # (plus the TestEvent when its visibility ends)
    assert engine.engine.stats.tasks_created(API_KEY) == 1
    assert len(report.executions) == 1
    assert list(report.outcomes.results) == [key]


def test_records_and_results_never_carry_the_api_key(make_stack, engine, caplog):
    engine.settings.faults.update({"failed_state_rate": 1.0, "failed_state": -1})
    stack = make_stack()
    report = run_uploads(stack, [Upload("incoming/a.jpg", page_jpeg()[0])])
    assert API_KEY not in json.dumps(report.outcomes.failures)
    assert API_KEY not in caplog.text


def test_oversize_photo_is_refused_by_default_and_downscaled_when_enabled(make_stack, engine):
    big = make_page_photo(4, size=(5000, 3750)).image  # 5000 x 3750: over 4096 px
    body = encode(big, "JPEG", quality=80)
    stack = make_stack(DownscaleOversize="true")
    report = run_uploads(stack, [Upload("incoming/huge.jpg", body)])
    result = report.outcomes.results["incoming/huge.jpg"]
    assert result["content_type"] == "image/jpeg"
    s3 = stack.client("s3")
    assert s3.get_object(Bucket=stack.source_bucket, Key="incoming/huge.jpg")["Body"].read() == body


def test_oversize_photo_without_the_option_is_a_failure_record(make_stack, engine):
    body = encode(np.zeros((4200, 300, 3), np.uint8) + 200, "JPEG")
    stack = make_stack(DownscaleOversize="false")  # fitting is the default since issue 11
    report = run_uploads(stack, [Upload("incoming/tall.jpg", body)])
    assert report.outcomes.failures["incoming/tall.jpg"]["code"] == "resolution_too_large"
    assert engine.engine.stats.tasks_created(API_KEY) == 0
