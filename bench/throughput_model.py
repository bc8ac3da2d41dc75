"""The scenarios bench/throughput.py runs and the bound each one's settings allow."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from correction_local.template import Resolver, load_template

TEMPLATE = load_template()
POLL_INTERVAL = float(TEMPLATE["Parameters"]["PollIntervalSeconds"]["Default"])
MIN_REQUESTS_PER_IMAGE = 2  # one create, one poll that finds the task done


@dataclass(frozen=True)
class Scenario:
    name: str
    qps: int  # ApiQps; 0 = no budget (our own engine)
    task_seconds: tuple[float, float]  # uniform range of one task's processing time (simulated s)
    create_seconds: float  # the API's answer to a create (simulated s)
    submit_seconds: float  # one submit record with a token free: the create + S3/DynamoDB/SFN
    engine_workers: int  # tasks processed at once (the vendor: effectively unlimited)
    concurrency: int | None = None  # None: the template's MaximumConcurrency for this ApiQps
    note: str = ""

    def template_concurrency(self) -> int:
        events = TEMPLATE["Resources"]["SubmitFunction"]["Properties"]["Events"]
        (sqs,) = [e for e in events.values() if e["Type"] == "SQS"]
        node = sqs["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        resolved = Resolver.with_defaults(TEMPLATE, {"ApiQps": self.qps}).resolve(node)
        return int(resolved) if self.concurrency is None else self.concurrency

    @property
    def requests_at_every_interval(self) -> float:
        """Requests per image if every execution polled at every interval until its task is done:
        1 create + ceil((task - create latency) / interval) polls, at least one (the task runs
        from the create; the first poll comes one interval after the create returned)."""
        low, high = self.task_seconds
        grid = np.linspace(low, high, 2001)
        polls = np.maximum(1, np.ceil((grid - self.create_seconds) / POLL_INTERVAL))
        return 1.0 + float(polls.mean())

    def bounds(self) -> dict[str, float]:
        """Images/s each stage allows at steady state; the least of them is the bound.

        The allowance: every image needs at least 1 create + 1 poll (URL results need no third
        request), so no schedule exceeds ApiQps / 2. Polling at every interval would need
        ``requests_at_every_interval``; while the budget is full, polls wait for tokens, so an
        image needs fewer of them and the rate lies between ApiQps / that and ApiQps / 2.
        """
        out = {"submit concurrency": self.template_concurrency() / self.submit_seconds}
        if self.qps > 0:
            out["API allowance"] = self.qps / MIN_REQUESTS_PER_IMAGE
        mean_task = sum(self.task_seconds) / 2
        out["engine workers"] = self.engine_workers / mean_task
        return out


# The vendor's task time is not published; its guide polls every second for up to 30 s. Assumed:
# 2-5 s, uniform; a create answered in 1 s from us-east-1 (Hong Kong endpoint); 1.5 s per submit
# record, the figure the template's concurrency rule uses. Our engine: 0.5-1.5 s per task (a small
# worker pool, 8 tasks at once, as one 8-vCPU box), created in 0.2 s in-region.
VENDOR = Scenario(
    "vendor-qps-2", qps=2, task_seconds=(2.0, 5.0), create_seconds=1.0, submit_seconds=1.5, engine_workers=512
)
SCENARIOS = [
    VENDOR,
    replace(VENDOR, name="vendor-qps-10", qps=10),
    replace(VENDOR, name="vendor-qps-50", qps=50),
    replace(
        VENDOR,
        name="vendor-qps-50-fixed-2",
        qps=50,
        concurrency=2,
        note="before: MaximumConcurrency fixed at 2",
    ),
    Scenario(
        "own-engine-unlimited",
        qps=0,
        task_seconds=(0.5, 1.5),
        create_seconds=0.2,
        submit_seconds=0.5,
        engine_workers=8,
    ),
]


def expected_rate(scenario: Scenario) -> float:
    """The rate if every execution polled at every interval: the low end of the expected range."""
    bound = min(scenario.bounds().values())
    return bound if scenario.qps == 0 else min(bound, scenario.qps / scenario.requests_at_every_interval)


def plan(scenario: Scenario, real_rate: float, min_images: int) -> tuple[float, int]:
    """The time scale that keeps the emulation at or below ``real_rate`` images per real second
    even at the bound, and enough images for a steady state in the middle of the run (Little's
    law: several times the images in flight at the expected rate)."""
    bound = min(scenario.bounds().values())
    rate = expected_rate(scenario)
    in_flight = rate * (scenario.submit_seconds + sum(scenario.task_seconds) / 2 + 2 * POLL_INTERVAL)
    return bound / real_rate, max(min_images, math.ceil(6 * in_flight))
