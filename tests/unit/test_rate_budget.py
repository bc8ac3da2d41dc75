"""The shared request budget: per-second windows, polls before creates (moto DynamoDB, fake clock)."""

import boto3
import pytest
from moto import mock_aws

from correction_core.errors import RateLimited
from correction_core.rate_budget import RateBudget


class Clock:
    def __init__(self, now: float = 1_000.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def table():
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name="us-east-1")
        yield resource.create_table(
            TableName="budget",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_at_most_qps_requests_per_window(table):
    clock = Clock()
    budget = RateBudget(table, qps=2, clock=clock)
    budget.acquire("POST")
    budget.acquire("GET")
    with pytest.raises(RateLimited) as refused:
        budget.acquire("GET")
    assert refused.value.retry_after == pytest.approx(0.75)
    clock.now += 1.0
    budget.acquire("GET")  # a new second, a new window


def test_creates_yield_when_polls_alone_filled_the_previous_second(table):
    clock = Clock()
    budget = RateBudget(table, qps=2, clock=clock)
    budget.acquire("GET")
    budget.acquire("GET")
    clock.now += 1.0
    with pytest.raises(RateLimited, match="polls of running tasks"):
        budget.acquire("POST")
    budget.acquire("GET")  # polls still get their tokens
    clock.now += 1.0  # the previous window had a spare token: creates may resume
    budget.acquire("POST")


def test_creates_that_filled_a_window_do_not_block_the_next_create(table):
    clock = Clock()
    budget = RateBudget(table, qps=5, clock=clock)
    for _ in range(4):
        budget.acquire("POST")
    clock.now += 1.0
    budget.acquire("POST")


@pytest.mark.parametrize(("qps", "reserve"), [(1, 0), (2, 1), (5, 1), (10, 2), (20, 4)])
def test_the_last_tokens_of_each_window_are_kept_for_polls(table, qps, reserve):
    clock = Clock()
    budget = RateBudget(table, qps=qps, clock=clock)
    assert budget.reserve == reserve
    for _ in range(qps - reserve):
        budget.acquire("POST")
    if reserve:
        with pytest.raises(RateLimited, match="creates already sent"):
            budget.acquire("POST")
    for _ in range(reserve):
        budget.acquire("GET")  # a poll still finds its token


def test_waiting_acquire_crosses_windows_then_gives_up(table):
    clock = Clock()
    budget = RateBudget(table, qps=1, clock=clock)
    budget.acquire("POST")
    budget.acquire_waiting("POST", give_up_after=2.0, sleep=clock.sleep)
    assert clock.now == pytest.approx(1001.0)
    with pytest.raises(RateLimited):
        budget.acquire_waiting("POST", give_up_after=0.5, sleep=clock.sleep)


def test_the_local_emulation_keeps_conditional_writes_atomic_under_threads(table):
    """Many threads racing for one window: the budget holds only if DynamoDB writes are atomic,
    as they are in AWS; the local stack makes moto's so (correction_local.stack)."""
    import sys
    import threading

    from correction_local.stack import make_dynamodb_writes_atomic

    make_dynamodb_writes_atomic()
    clock = Clock()
    budget = RateBudget(table, qps=3, clock=clock)
    granted = []

    def take() -> None:
        try:
            budget.acquire("GET")
            granted.append(1)
        except RateLimited:
            pass

    threads = [threading.Thread(target=take) for _ in range(40)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads constantly: without the lock this grants > 3
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert len(granted) == 3
