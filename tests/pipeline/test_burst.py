"""200 uploads at once against an engine enforcing the QPS limit: nothing lost, nothing twice.

Time is scaled by raising the QPS to 10 (the ratio of requests each image needs to the budget
is what matters). Throughput against the bound is a benchmark figure (bench/burst.py), not an
assertion here: this machine's load is not the design's.
"""

import pytest

from correction_local.burst import run_burst

pytestmark = pytest.mark.slow


def test_a_burst_of_200_uploads_loses_nothing_and_respects_the_budget():
    report = run_burst(200, qps=10)
    assert report.lost == 0
    assert report.results == 200 and report.failures == 0  # every 429 was absorbed
    assert report.tasks_created == 200 and report.max_tasks_per_source == 1
    assert report.budget_max_used <= 10  # our side never sent more than the QPS in a second
    assert report.rejected_429 <= report.api_requests * 0.05  # window edges only, each retried
