"""The cost bench's pricing model (bench/cost/model.py) against hand-computed figures.

Prices are the table's (bench/cost/prices.py): Lambda arm64 $0.0000133334 per GB-s and $0.20 per
1M requests; Express $1.00 per 1M requests and $0.00001667 per GB-s in 100 ms steps at 64 MB;
Standard $0.025 per 1,000 transitions; SQS $0.40 per 1M requests per 64 KB; S3 $0.005 per 1,000
PUT and $0.0004 per 1,000 GET; DynamoDB $0.625 per 1M WRU and $0.125 per 1M RRU; Secrets
Manager $0.05 per 10,000 calls.
"""

from __future__ import annotations

import json

import pytest

from bench.cost import model
from bench.cost.report import engine_rows, engine_section


def test_lambda_arm64_duration_and_request():
    # 250 ms at 512 MB = 0.125 GB-s → 0.125 × 0.0000133334 = 0.000001666675, plus $0.0000002
    assert model.lambda_invocation_cost(250, 512, 0.0000133334) == pytest.approx(0.000001866675, rel=1e-9)
    assert model.billed_lambda_ms(0.2501) == 251  # 1 ms steps, rounded up


def test_a_million_gb_seconds_cost_what_the_price_page_says():
    # Fails if ms/s or MB/GB is confused anywhere in the duration formula (a factor of 1000 or 1024).
    one_gb_second = model.lambda_duration_cost(1000, 1024, 0.0000133334)
    assert one_gb_second * 1_000_000 == pytest.approx(13.3334)
    assert model.data_transfer_out_cost(1_000_000_000) == pytest.approx(0.09)  # 1 GB, not 1 MB


def test_express_execution_duration_rounds_up_to_100_ms_at_64_mb():
    # 1.23 s → 1.3 s × 64/1024 GB × 0.00001667 = 0.00000135444; plus the $0.000001 request
    assert model.express_execution_cost(1.23) == pytest.approx(0.000001 + 1.3 * 0.0625 * 0.00001667, rel=1e-9)
    assert model.express_execution_cost(1.2) == pytest.approx(0.000001 + 1.2 * 0.0625 * 0.00001667, rel=1e-9)


def test_standard_execution_bills_transitions():
    assert model.standard_execution_cost(29) == pytest.approx(0.000725)


def test_sqs_requests_in_64_kb_chunks():
    assert model.sqs_requests_cost(3, 900) == pytest.approx(0.0000012)
    assert model.sqs_requests_cost(3, 100 * 1024) == pytest.approx(0.0000024)  # two chunks each


def test_s3_and_dynamodb_per_request():
    assert model.aws_call_cost("s3", "PutObject") == ("S3 requests", pytest.approx(0.000005))
    assert model.aws_call_cost("s3", "GetObject") == ("S3 requests", pytest.approx(0.0000004))
    assert model.aws_call_cost("s3", "DeleteObject") == ("S3 requests", 0.0)
    assert model.aws_call_cost("dynamodb", "UpdateItem") == ("DynamoDB", pytest.approx(0.000000625))
    assert model.aws_call_cost("dynamodb", "GetItem") == ("DynamoDB", pytest.approx(0.000000125))


def test_secrets_manager_reads_are_amortised_by_the_cache():
    # One read per container per 300 s: at 1 image/s one $0.000005 read is shared by 300 images.
    assert model.secret_cost_per_image(1.0) == pytest.approx(0.000005 / 300)
    assert model.secret_cost_per_image(1.0, containers=2) == pytest.approx(0.000005 / 150)
    assert model.secret_cost_per_image(0.001) == pytest.approx(0.000005)  # idle: a read per image


def test_engine_cost_per_1000_images_from_worker_duration_and_memory():
    # 2 s at 2048 MB = 4 GB-s → 0.0000533336, plus the request: × 1000 images
    assert model.engine_cost_per_1000(2.0, 2048) == pytest.approx(1000 * (4 * 0.0000133334 + 0.0000002))
    rows = engine_rows(
        {"3": {"median_seconds": 0.5, "memory_mb": 1024}, "0": {"median_seconds": 2, "memory_mb": 2048}}
    )
    assert [(kind, memory) for kind, _, memory, _ in rows] == [("0", 2048), ("3", 1024)]
    assert rows[1][3] == pytest.approx(1000 * (0.5 * 0.0000133334 + 0.0000002))
    assert engine_rows({"generated": "2026-11-30", "1": {"median_seconds": 1}}) == []  # context, not a type


def test_engine_section_says_when_there_is_nothing_measured(tmp_path):
    missing = engine_section(tmp_path / "engine-speed.json")
    assert any("Not measured yet" in line for line in missing)
    path = tmp_path / "engine-speed.json"
    path.write_text(json.dumps({"2": {"median_seconds": 1.0, "memory_mb": 1024}}))
    table = "\n".join(engine_section(path, orchestration_per_1000=0.03, worker_memory_mb=2048))
    # 1000 × (1 GB-s + request) = $0.0135334 at its peak; 2 GB-s at the stack's 2048 MB = $0.0268668;
    # plus $0.03 of orchestration; the vendor's 3 credits at $0.02-0.05 = $60-150 per 1,000.
    assert "| 2 | 1.000 | 1024 | $0.0135 | $0.0269 | $0.0569 | $60.00-$150.00 |" in table


def test_the_vendor_costs_three_credits_a_call():
    assert model.vendor_cost_per_1000(0.02) == pytest.approx(60.0)
    assert model.vendor_cost_per_1000(0.05) == pytest.approx(150.0)


def test_the_engine_worker_memory_is_read_from_the_engine_stack():
    from bench.cost.settings import engine_worker_memory_mb
    from correction_local.template import PROJECT_ROOT, load_template

    template = load_template(PROJECT_ROOT / "engine" / "template.yaml")
    assert engine_worker_memory_mb() == int(template["Parameters"]["WorkerMemoryMB"]["Default"]) >= 1024
