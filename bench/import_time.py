"""Cold-start proxy: how long each Lambda handler module takes to import, in a fresh interpreter.

Each sample is a new Python process that imports one module and reports the seconds the import
took (interpreter start-up excluded). Handler and reference samples are interleaved so a busy
machine slows both alike; the figure that matters is the ratio of medians to the reference
``import boto3, httpx`` measured in the same run. Goal: each handler ≤ 1.5× the reference.

    python bench/import_time.py [--runs 15]    # writes docs/benchmarks/cold-start.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ["submit", "check_status", "finalize", "record_failure"]
GOAL_RATIO = 1.5

_PROBE = """
import sys, time
sys.path.insert(0, {layer!r})
start = time.perf_counter()
{statement}
print(time.perf_counter() - start)
"""


def _sample(statement: str, env: dict[str, str]) -> float:
    code = _PROBE.format(layer=str(ROOT / "layers" / "common"), statement=statement)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _handler_statement(name: str) -> str:
    path = ROOT / "functions" / name / "app.py"
    return (
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('app', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks" / "cold-start.md")
    args = parser.parse_args()
    # The environment a deployed function has (what the template sets), minus anything secret.
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "photo-correction",
        "POWERTOOLS_METRICS_NAMESPACE": "PhotoCorrection",
        "DESTINATION_BUCKET": "bench-destination",
        "IDEMPOTENCY_TABLE": "bench-idempotency",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench",
    }
    statements = {"reference: import boto3, httpx": "import boto3, httpx"}
    statements.update({f"functions/{name}/app.py": _handler_statement(name) for name in FUNCTIONS})
    samples: dict[str, list[float]] = {label: [] for label in statements}
    for _ in range(args.runs):
        for label, statement in statements.items():  # interleaved: noise hits every row alike
            samples[label].append(_sample(statement, env))
    reference = statistics.median(samples["reference: import boto3, httpx"])
    lines = [
        "# Cold-start proxy: handler import time",
        "",
        f"Median of {args.runs} fresh interpreters per row, interleaved; Python {sys.version.split()[0]} on "
        f"{os.cpu_count()} cores. Produced by `bench/import_time.py`. Goal: each handler ≤ {GOAL_RATIO}× the reference.",
        "",
        "| module | median import (ms) | ratio to reference | goal met |",
        "| --- | ---: | ---: | --- |",
    ]
    for label, values in samples.items():
        median = statistics.median(values)
        ratio = median / reference
        met = "—" if label.startswith("reference") else ("yes" if ratio <= GOAL_RATIO else "**no**")
        lines.append(f"| {label} | {median * 1000:.0f} | {ratio:.2f} | {met} |")
        print(f"{label:40s} {median * 1000:7.0f} ms  x{ratio:.2f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
