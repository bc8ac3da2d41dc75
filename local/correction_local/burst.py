"""A burst of uploads against an engine that enforces the API's QPS limit, measured.

Used by the burst test (tests/pipeline/test_burst.py) and the benchmark (bench/burst.py). Time
is scaled by raising the QPS (the poll interval cannot go below the state machine's 1 s), so
the ratio that matters is kept: requests each image needs versus requests the budget allows.
"""

from __future__ import annotations

import io
import secrets
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
from moto import mock_aws
from PIL import Image

from correction_engine.server.background import run_in_thread
from correction_engine.server.settings import EngineSettings

from . import lambda_bridge
from .pipeline import Upload, run_uploads
from .stack import MOTO_CONFIG, build_stack


@dataclass
class BurstReport:
    uploads: int
    qps: int
    results: int
    failures: int
    lost: int
    seconds: float
    api_requests: int  # creates + polls + result queries the engine accepted
    rejected_429: int  # requests the engine's limiter refused (each was retried)
    tasks_created: int
    max_tasks_per_source: int
    budget_windows: int = 0  # one-second windows in which any request was sent
    budget_full_windows: int = 0  # windows that used the whole QPS
    budget_max_used: int = 0  # most requests sent in one window (must never exceed the QPS)
    poll_saturated_windows: int = 0
    failure_reasons: dict = field(default_factory=dict)  # reason → count, to say why

    @property
    def requests_per_image(self) -> float:
        return self.api_requests / max(1, self.results + self.failures)

    @property
    def bound_images_per_second(self) -> float:
        """What the QPS allows for the requests each image needed."""
        return self.qps / self.requests_per_image

    @property
    def images_per_second(self) -> float:
        return (self.results + self.failures) / self.seconds

    @property
    def ratio_to_bound(self) -> float:
        return self.images_per_second / self.bound_images_per_second

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "requests_per_image": round(self.requests_per_image, 2),
            "bound_images_per_second": round(self.bound_images_per_second, 3),
            "images_per_second": round(self.images_per_second, 3),
            "ratio_to_bound": round(self.ratio_to_bound, 3),
        }


def small_photo(seed: int, size: tuple[int, int] = (240, 320)) -> bytes:
    """A small, valid, distinct JPEG: the burst measures orchestration, not image processing."""
    rng = np.random.default_rng(seed)
    image = np.full((*size, 3), 235, np.uint8)
    image[40:-40:12, 30:-30] = rng.integers(0, 60, size=(len(range(40, size[0] - 40, 12)), size[1] - 60, 3))
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def run_burst(count: int, qps: int, *, enhancement_type: int = 1, timeout: float = 900.0) -> BurstReport:
    api_key = "burst-" + secrets.token_hex(8)
    settings = EngineSettings(api_keys=[api_key], rate_limit_qps=qps)
    uploads = [Upload(f"incoming/burst/{i:04d}.jpg", small_photo(i)) for i in range(count)]
    with run_in_thread(settings) as engine, mock_aws(config=MOTO_CONFIG):
        try:
            stack = build_stack(
                {
                    "ApiBaseUrl": str(engine),
                    "ApiQps": qps,
                    "SourceMode": "file",
                    "ResultHosts": "127.0.0.1",
                    "AllowHttpResults": "true",
                    "DefaultType": enhancement_type,
                },
                api_key=api_key,
            )
            started = time.monotonic()
            report = run_uploads(stack, uploads, timeout=timeout)
            seconds = time.monotonic() - started
            windows = _budget_windows(stack)
        finally:
            lambda_bridge.uninstall()
        stats = engine.engine.stats.for_key(api_key)
    return BurstReport(
        uploads=count,
        qps=qps,
        results=len(report.outcomes.results),
        failures=len(report.outcomes.failures),
        lost=len(report.lost),
        seconds=seconds,
        api_requests=stats["create_requests"] + stats["query_requests"],
        rejected_429=stats["rate_limited"],
        tasks_created=stats["tasks_created"],
        max_tasks_per_source=stats["max_tasks_per_source"],
        budget_windows=len(windows),
        budget_full_windows=sum(1 for used, _ in windows if used >= qps),
        budget_max_used=max((used for used, _ in windows), default=0),
        poll_saturated_windows=sum(1 for used, creates in windows if used - creates >= qps),
        failure_reasons=dict(
            Counter(f"{r['reason']}: {r.get('message', '')[:120]}" for r in report.outcomes.failures.values())
        ),
    )


def _budget_windows(stack) -> list[tuple[int, int]]:
    """(used, creates) of every one-second window the budget table recorded."""
    table_name = stack.environment["RATE_BUDGET_TABLE"]
    dynamodb = stack.client("dynamodb")
    rows = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table_name):
        for item in page["Items"]:
            rows.append((int(item["used"]["N"]), int(item.get("creates", {"N": "0"})["N"])))
    return rows
