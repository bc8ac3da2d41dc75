"""``python -m bench.cost``: measure a run, price it, write docs/cost.md (see the package docstring)."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from . import __doc__ as PACKAGE_DOC
from .model import GOAL_EXPRESS_PER_1000
from .report import ROOT, build_report
from .run import make_inputs, run_pipeline
from .settings import read_template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(PACKAGE_DOC or "").split("\n\n")[0])
    parser.add_argument(
        "--images", type=int, default=12, help="uploads, including 1-2 broken files (default 12)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="6 smaller images: a check that the script works"
    )
    parser.add_argument(
        "--workflow-type",
        choices=["EXPRESS", "STANDARD"],
        default=None,
        help="the state machine type to run (default: the template's; counts are the same definition's)",
    )
    parser.add_argument(
        "--engine-qps",
        type=float,
        default=0,
        help="the engine's own rate limit (default off, as in the tests)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "cost.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.images = min(args.images, 6)
    args.size = (480, 640) if args.quick else (900, 1200)

    settings = read_template()
    started = time.monotonic()
    inputs = make_inputs(args.images, args.size)
    print(
        f"{len(inputs)} uploads generated in {time.monotonic() - started:.1f} s; running the pipeline…",
        file=sys.stderr,
    )
    measurement = run_pipeline(
        inputs, settings, workflow_type=args.workflow_type or settings.workflow_type, api_qps=args.engine_qps
    )
    outcomes = Counter(measurement.outcomes.values())
    if outcomes["lost"] or not outcomes["result"]:
        failures = Counter(i.outcome for i in measurement.recorder.invocations if i.outcome != "ok")
        print(
            f"the pipeline did not work: outcomes {dict(outcomes)}, handler errors {dict(failures)}; "
            f"{args.output} not written (a cost of a broken run means nothing)",
            file=sys.stderr,
        )
        return 1
    text, figures = build_report(measurement, settings, args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(
        f"wrote {args.output} in {time.monotonic() - started:.0f} s: Express orchestration "
        f"${figures['express_measured']:.4f} measured / ${figures['express_conservative']:.4f} conservative per 1,000 images "
        f"(goal ≤ ${GOAL_EXPRESS_PER_1000:.2f}: {'met' if figures['goal_met'] else 'NOT met'}); Standard "
        f"${figures['standard_measured']:.4f} / ${figures['standard_conservative']:.4f}; median polls {figures['polls_median']:.0f}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
