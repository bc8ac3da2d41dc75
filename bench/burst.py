"""Burst benchmark: N uploads at once against an engine enforcing the QPS, through the pipeline.

Prints and writes docs/benchmarks/burst.md: images per second against the bound the QPS allows
for the requests each image needed (one create and its polls; a result query only for base64). Goal: ≥ 80 %.

    python bench/burst.py [--uploads 200] [--qps 10] [--runs 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from correction_local.burst import run_burst

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.80


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--qps", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks" / "burst.md")
    args = parser.parse_args()
    reports = []
    for run in range(args.runs):
        report = run_burst(args.uploads, args.qps)
        reports.append(report)
        print(f"run {run + 1}: {report.as_dict()}")
    load = os.getloadavg()[0]
    ratio = statistics.median(r.ratio_to_bound for r in reports)
    rows = [
        "| run | results | failures | lost | seconds | API requests | requests/image | bound (img/s) | achieved (img/s) | ratio | 429s | windows full / used | max used per window |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, r in enumerate(reports, 1):
        rows.append(
            f"| {i} | {r.results} | {r.failures} | {r.lost} | {r.seconds:.1f} | {r.api_requests} | {r.requests_per_image:.2f} "
            f"| {r.bound_images_per_second:.2f} | {r.images_per_second:.2f} | {r.ratio_to_bound:.2f} | {r.rejected_429} "
            f"| {r.budget_full_windows} / {r.budget_windows} | {r.budget_max_used} |"
        )
    text = "\n".join(
        [
            "# Burst: the QPS budget under load",
            "",
            f"{args.uploads} uploads at once through the whole local pipeline (moto, the real state machine, "
            f"the engine enforcing {args.qps} requests/s per key; time scaled 5x from the vendor's 2 QPS, "
            "ratios kept). Produced by `bench/burst.py`.",
            "",
            f"Median ratio to the bound: **{ratio:.2f}** (goal ≥ {GOAL:.2f}: {'met' if ratio >= GOAL else 'NOT met'}). "
            f"1-minute load average when the runs ended: {load:.1f} on {os.cpu_count()} cores; everything (moto, the interpreter's "
            "threads, the handlers, the engine) shares them, so a busy machine lowers the achieved rate, not the bound.",
            "",
            *rows,
            "",
            "The bound is QPS ÷ requests per image; the ratio equals the share of the budget's tokens "
            "that were used over the whole run, ramp-up and tail included.",
            *(
                [
                    "",
                    "Fewer than half the seconds used the whole budget: the budget was not what set the pace; "
                    "the local emulation was (one intake pump delivering to submit in turn, and one process for "
                    "moto, the handlers and the engine on 2 cores). In AWS, submit runs with up to two "
                    "concurrent invocations.",
                ]
                if sum(r.budget_full_windows for r in reports) * 2 < sum(r.budget_windows for r in reports)
                else []
            ),
        ]
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    print(f"wrote {args.output.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
