"""The report's figures that depend on where uploads fail and on polls per image (a model
built from the run's measured per-poll and per-image costs)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any

from .figures import median, usd
from .model import (
    GOAL_EXPRESS_PER_1000,
    Costs,
    express_execution_cost,
    lambda_billed_ms,
    lambda_invocation_cost,
    orchestration,
    standard_execution_cost,
)
from .prices import (
    DYNAMODB_PER_WRU,
    SFN_EXPRESS_GB_SECOND,
    SFN_EXPRESS_MEMORY_CHUNK_MB,
)
from .run import Measurement
from .settings import TemplateSettings


def failure_paths(
    m: Measurement, costs: dict[tuple[str, bool], Costs], failed: list[str], executions: dict[str, Any]
) -> str:
    """One sentence on what the uploads that failed cost, by where they failed."""
    parts = []
    at_api = [k for k in failed if k in executions]
    at_submit = [k for k in failed if k not in executions]
    if at_api:
        e = orchestration(costs[("EXPRESS", True)].mean(at_api)) * 1000
        s = orchestration(costs[("STANDARD", True)].mean(at_api)) * 1000
        parts.append(
            f"An upload the API fails (a paid task, then the failure branch and RecordFailure) costs {usd(e)} Express / "
            f"{usd(s)} Standard orchestration per 1,000 (conservative)"
        )
    if at_submit:
        e = orchestration(costs[("EXPRESS", True)].mean(at_submit)) * 1000
        parts.append(
            f"an upload submit rejects before any task exists costs {usd(e)} per 1,000 (its share of a submit batch)"
        )
    return ("; ".join(parts) + ".") if parts else ""


def sensitivity(
    m: Measurement,
    settings: TemplateSettings,
    costs: dict[tuple[str, bool], Costs],
    succeeded: list[str],
    polls: Counter[str],
    check_fn: str,
    loop: list[str],
) -> tuple[list[str], int | None]:
    """Orchestration per 1,000 images as a function of polls per image (≈ processing time / interval).

    ``polls`` counts CheckStatus invocations that answered; refused ones (RateLimited) stay in the
    per-image rest, as measured.
    """
    interval = settings.poll_interval
    ex_ok = [e for e in m.executions if e.key in succeeded]
    base_transitions = median(e.transitions - len(loop) * polls[e.key] for e in ex_ok)
    overhead_s = median(e.seconds - interval * polls[e.key] for e in ex_ok)
    check = settings.functions[check_fn]
    submit = settings.functions[settings.submit_function]
    inv = m.recorder.invocations
    # Budgeted API requests per image besides the polls (the create, Finalize's re-query), measured.
    other_requests = median(
        sum(
            (i.http_calls["create task"] + i.http_calls["query task"]) / len(i.keys)
            for i in inv
            if k in i.keys and i.function != check_fn
        )
        for k in succeeded
    )
    results = {}
    for cons in (False, True):
        answered = [
            i
            for i in inv
            if i.function == check_fn and i.outcome == "ok" and i.keys and i.keys[0] in succeeded
        ]
        per_poll = (
            statistics.mean(
                lambda_invocation_cost(lambda_billed_ms(i, cons), check.memory_mb, check.gb_second_price)
                for i in answered
            )
            if answered
            else 0.0
        )
        c = costs[("EXPRESS", cons)].mean(succeeded)
        lambda_total = sum(v for k, v in c.items() if k.startswith("Lambda "))
        mean_polls = statistics.mean(polls[k] for k in succeeded)
        lambda_rest = lambda_total - per_poll * mean_polls  # submit, finalize, refused polls
        results[cons] = (per_poll, lambda_rest, c[f"Lambda duration: {settings.submit_function}"])

    def row_for(p: int) -> list[float]:
        row = []
        for wf in ("EXPRESS", "STANDARD"):
            for cons in (False, True):
                per_poll, rest, _ = results[cons]
                if wf == "EXPRESS":
                    sfn = express_execution_cost(p * interval + overhead_s)
                else:
                    sfn = standard_execution_cost(base_transitions + len(loop) * p)
                row.append(rest + per_poll * p + sfn)
        # During a backlog the submit functions wait for tokens the whole time: each image costs
        # MaximumConcurrency × (its budgeted requests / ApiQps) seconds of submit at its memory.
        per_poll, rest, submit_measured = results[True]
        requests = other_requests + p
        backlog_submit = (
            (submit.max_concurrency or 1)
            * requests
            / settings.api_qps
            * submit.memory_mb
            / 1024
            * submit.gb_second_price
        )
        row.append(row[1] - submit_measured + backlog_submit)
        return row

    ps = [2, 5, 10, settings.poll_cap // interval]
    per_poll_cons = results[True][0] + SFN_EXPRESS_GB_SECOND * interval * SFN_EXPRESS_MEMORY_CHUNK_MB / 1024
    at_zero = row_for(0)[1]
    break_even = (GOAL_EXPRESS_PER_1000 / 1000 - at_zero) / per_poll_cons if per_poll_cons else float("inf")
    lines = [
        "## Sensitivity: polls per image",
        "",
        f"Each poll is {len(loop)} state transitions, one {check_fn} invocation and, for the request budget, one "
        f"DynamoDB write (${DYNAMODB_PER_WRU * 1000:.6f} per 1,000 images per poll, not in the orchestration figures). "
        f"Express bills the wall time, ≈ polls × interval + {overhead_s:.1f} s (the median rest, measured). At the "
        f"template's {interval} s interval, polls ≈ the API's processing time in seconds; the cap ({settings.poll_cap} s) "
        f"allows at most {settings.poll_cap // interval}. Measured here: median {median(polls[k] for k in succeeded):.0f} "
        f"poll(s) per image. Per-poll and other per-image costs are this run's means; transitions = "
        f"{base_transitions:.0f} + {len(loop)} × polls.",
        "",
        "| polls per image | ≈ processing time | Express, measured | Express, conservative | Standard, measured "
        "| Standard, conservative | Express, conservative, during a backlog (model) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in ps:
        row = row_for(p)
        cells = [
            usd(v * 1000) + (" ✗" if i in (0, 1, 4) and v * 1000 > GOAL_EXPRESS_PER_1000 else "")
            for i, v in enumerate(row)
        ]
        lines.append(f"| {p} | ~{p * interval} s | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"✗ = over the goal. In the conservative scenario Express orchestration stays within "
        f"${GOAL_EXPRESS_PER_1000:.2f} per 1,000 images up to about {max(0, math.floor(break_even))} polls per image "
        "(≈ that many seconds of processing at the template's interval).",
        "",
        f"**During a backlog (model, not measured):** the request budget allows {settings.api_qps} API requests/s for the "
        f"whole stack and each image needs about {other_requests:.0f} + polls of them, so a burst drains at no more than "
        f"{settings.api_qps} / ({other_requests:.0f} + polls) images per second; meanwhile the "
        f"{submit.max_concurrency or 1} concurrent {settings.submit_function} invocations (MaximumConcurrency) spend "
        f"their time waiting for tokens, billed at {submit.memory_mb} MB. The last column replaces the measured submit "
        f"duration by that waiting time. This small run holds no backlog, so its submit figure is the low end.",
        "",
        "A longer interval cuts polls (Lambda invocations, Standard's transitions, budget writes and the backlog "
        "term) but not Express's duration, which follows the processing time; it adds half an interval of latency "
        "per image on average.",
        "",
    ]
    over = [
        p for p in range(0, settings.poll_cap // interval + 1) if row_for(p)[4] * 1000 > GOAL_EXPRESS_PER_1000
    ]
    return lines, (over[0] if over else None)
