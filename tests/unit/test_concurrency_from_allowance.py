"""Issue 12 item 6: the submit function's concurrency follows the API allowance (ApiQps).

CloudFormation cannot compute a function of a parameter, so the template holds a table with one
entry per ApiQps value (``!Select``). These tests recompute every entry from the documented rule,
as the timeout test recomputes the timeout (test_definition_and_template.py), so neither the
table nor the rule can change alone. The rule (docs/scale.md):

    MaximumConcurrency(q) = max(2, ceil((q - RateBudget(q).reserve) x SUBMIT_RECORD_SECONDS))

Little's law: submits in flight = creates per second x seconds per create. The most creates per
second the budget ever grants is q minus the tokens it keeps for polls; one record's submit with
a token free (checks, idempotency records, the create, StartExecution) takes about
SUBMIT_RECORD_SECONDS against the vendor from us-east-1. 2 is the least SQS accepts.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from correction_core.rate_budget import RateBudget
from correction_local.template import TEMPLATE_PATH, Resolver, load_template

#: One record's submit with a budget token free, vendor from us-east-1 (a design figure: the
#: create's round trips to Hong Kong, ~0.2 s each, plus the API's own time, S3 and DynamoDB).
SUBMIT_RECORD_SECONDS = 1.5
SQS_MINIMUM_CONCURRENCY = 2
SQS_MAXIMUM_CONCURRENCY = 1000

TEMPLATE = load_template(TEMPLATE_PATH)


def rule(qps: int) -> int:
    reserve = RateBudget(table=None, qps=qps).reserve
    return max(SQS_MINIMUM_CONCURRENCY, math.ceil((qps - reserve) * SUBMIT_RECORD_SECONDS))


def submit_concurrency(template: dict[str, Any], parameters: dict[str, Any]) -> int:
    """The submit event source's MaximumConcurrency as CloudFormation resolves it."""
    events = template["Resources"]["SubmitFunction"]["Properties"]["Events"]
    (sqs,) = [e for e in events.values() if e["Type"] == "SQS"]
    node = sqs["Properties"]["ScalingConfig"]["MaximumConcurrency"]
    return int(Resolver.with_defaults(template, parameters).resolve(node))


def _qps_range(template: dict[str, Any]) -> range:
    spec = template["Parameters"]["ApiQps"]
    return range(int(spec["MinValue"]), int(spec["MaxValue"]) + 1)


def test_every_allowed_qps_gets_the_concurrency_the_rule_derives():
    qps_values = _qps_range(TEMPLATE)
    assert qps_values.start == 0 and qps_values.stop > 50  # 0 = no budget; 50 QPS must be allowed
    for qps in qps_values:
        if qps == 0:
            continue
        assert submit_concurrency(TEMPLATE, {"ApiQps": qps}) == rule(qps), qps


def test_the_table_has_an_entry_for_every_allowed_qps_and_no_more():
    """An ApiQps past the table's end would fail the deployment (Fn::Select out of bounds)."""
    events = TEMPLATE["Resources"]["SubmitFunction"]["Properties"]["Events"]
    (sqs,) = [e for e in events.values() if e["Type"] == "SQS"]
    _, _, select = sqs["Properties"]["ScalingConfig"]["MaximumConcurrency"]["Fn::If"]
    index, table = select["Fn::Select"]
    assert index == {"Ref": "ApiQps"}
    assert len(table) == len(_qps_range(TEMPLATE))
    assert all(SQS_MINIMUM_CONCURRENCY <= value <= SQS_MAXIMUM_CONCURRENCY for value in table)


@pytest.mark.parametrize("unlimited", [2, 20, 300])
def test_without_a_budget_the_concurrency_is_the_explicit_parameter(unlimited):
    """ApiQps 0 (our own engine, no limit): nothing to derive from, so the operator says."""
    spec = TEMPLATE["Parameters"]["UnlimitedSubmitConcurrency"]
    assert spec["MinValue"] == SQS_MINIMUM_CONCURRENCY and spec["MaxValue"] == SQS_MAXIMUM_CONCURRENCY
    found = submit_concurrency(TEMPLATE, {"ApiQps": 0, "UnlimitedSubmitConcurrency": unlimited})
    assert found == unlimited
    # ...and the parameter is ignored while there is an allowance.
    assert submit_concurrency(TEMPLATE, {"ApiQps": 10, "UnlimitedSubmitConcurrency": unlimited}) == rule(10)


def test_submit_never_caps_creates_below_what_the_budget_grants():
    """Creates per second submit can send (concurrency / seconds per record) >= the most the
    budget grants: the allowance, not the event source, is what limits a raised QPS."""
    for qps in _qps_range(TEMPLATE):
        if qps == 0:
            continue
        granted = qps - RateBudget(table=None, qps=qps).reserve
        assert submit_concurrency(TEMPLATE, {"ApiQps": qps}) / SUBMIT_RECORD_SECONDS >= granted, qps


def _budget_wait_seconds() -> float:
    submit = TEMPLATE["Resources"]["SubmitFunction"]["Properties"]
    return float(submit["Environment"]["Variables"]["BUDGET_WAIT_SECONDS"])


@pytest.mark.parametrize("task_seconds", [1, 3, 5])
def test_while_polls_hold_the_budget_waiting_submits_get_a_token_within_their_wait(task_seconds):
    """The other side: not so many submits that, while polls take most tokens, a waiting one
    gives up (its message then returns after the visibility timeout and counts towards the
    dead-letter queue's maxReceiveCount).

    At steady state each image costs 1 create + one poll per interval of its task, so creates
    are granted at qps / requests-per-image per second; C waiting submits wait about
    C / that rate minus their own record's time. Tasks up to 5 s at the 1 s interval are what
    this holds for; ApiQps 1 is excluded because SQS's minimum of 2 is above what it needs.
    """
    interval = float(TEMPLATE["Parameters"]["PollIntervalSeconds"]["Default"])
    requests_per_image = 1 + math.ceil(task_seconds / interval)
    for qps in _qps_range(TEMPLATE):
        if qps < 2:
            continue
        creates_per_second = qps / requests_per_image
        concurrency = submit_concurrency(TEMPLATE, {"ApiQps": qps})
        queueing = concurrency / creates_per_second - SUBMIT_RECORD_SECONDS
        assert queueing <= _budget_wait_seconds(), (qps, task_seconds, queueing)
