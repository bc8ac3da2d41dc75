"""Cold-start proxy: how long each Lambda handler module takes to import, in a fresh interpreter.

Each sample is a new Python process that imports one module and reports the seconds the import
took (interpreter start-up excluded). Handler and reference samples are interleaved so a busy
machine slows both alike; the figure that matters is the ratio of medians to the reference
``import boto3, httpx`` measured in the same run. Goal: submit ≤ 1.3× the reference (issue 13),
the other handlers ≤ 1.5×.

Two passes: as the environment runs Python (here PYTHONDONTWRITEBYTECODE=1, so the layer's own
modules compile from source each time, as on Lambda, whose /opt is read-only and a layer built
by ``sam build`` carries no bytecode), and with bytecode cached (what a layer shipped with
compiled ``.pyc`` files would load). Then one ``-X importtime`` of submit says where its time
beyond the reference goes.

    python bench/import_time.py [--runs 15]    # writes docs/benchmarks/cold-start.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ["submit", "check_status", "finalize", "record_failure"]
GOAL_RATIO = 1.5
GOALS = {"functions/submit/app.py": 1.3}  # issue 13's goal for the handler on every upload's path
REFERENCE = "reference: import boto3, httpx"

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
    statements = {REFERENCE: "import boto3, httpx"}
    statements.update({f"functions/{name}/app.py": _handler_statement(name) for name in FUNCTIONS})
    lines = [
        "# Cold-start proxy: handler import time",
        "",
        f"Median of {args.runs} fresh interpreters per row, interleaved; Python {sys.version.split()[0]} on "
        f"{os.cpu_count()} cores. Produced by `bench/import_time.py`. Goal: submit ≤ {GOALS[_SUBMIT]}× the "
        f"reference, the other handlers ≤ {GOAL_RATIO}×.",
    ]
    with tempfile.TemporaryDirectory() as cache:
        cached_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached_env["PYTHONPYCACHEPREFIX"] = cache  # bytecode outside the working tree
        for statement in statements.values():  # fill the cache before timing
            _sample(statement, cached_env)
        passes = [
            (_bytecode_caption(env), env),
            ("With bytecode cached (a layer shipped with compiled `.pyc` files)", cached_env),
        ]
        for caption, pass_env in passes:
            print(caption)
            lines += ["", f"## {caption}", "", *_table(statements, pass_env, args.runs)]
    lines += ["", *_where_submit_time_goes(env)]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output.relative_to(ROOT)}")


_SUBMIT = "functions/submit/app.py"


def _bytecode_caption(env: dict[str, str]) -> str:
    if env.get("PYTHONDONTWRITEBYTECODE"):
        return "As measured so far: no bytecode written, the layer compiles from source (as on Lambda)"
    return "As measured so far: bytecode as this interpreter writes it"


def _table(statements: dict[str, str], env: dict[str, str], runs: int) -> list[str]:
    samples: dict[str, list[float]] = {label: [] for label in statements}
    for _ in range(runs):
        for label, statement in statements.items():  # interleaved: noise hits every row alike
            samples[label].append(_sample(statement, env))
    reference = statistics.median(samples[REFERENCE])
    rows = [
        "| module | median import (ms) | ratio to reference | goal | met |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for label, values in samples.items():
        median = statistics.median(values)
        ratio = median / reference
        goal = GOALS.get(label, GOAL_RATIO)
        met = "—" if label == REFERENCE else ("yes" if ratio <= goal else "**no**")
        shown_goal = "—" if label == REFERENCE else f"{goal}×"
        rows.append(f"| {label} | {median * 1000:.0f} | {ratio:.2f} | {shown_goal} | {met} |")
        print(f"  {label:40s} {median * 1000:7.0f} ms  x{ratio:.2f}")
    return rows


def _self_times(statement: str, env: dict[str, str]) -> dict[str, int]:
    """Module -> its own import time in microseconds, from one ``-X importtime`` run."""
    code = _PROBE.format(layer=str(ROOT / "layers" / "common"), statement=statement)
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=env, check=True
    )
    times = {}
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, _cumulative, name = line.split(":", 1)[1].split("|")
            times[name.strip()] = int(own)
    return times


def _where_submit_time_goes(env: dict[str, str]) -> list[str]:
    """Submit's modules that ``import boto3, httpx`` does not load, by top-level package."""
    reference = _self_times("import boto3, httpx", env)
    handler = _self_times(_handler_statement("submit"), env)
    by_package: dict[str, int] = defaultdict(int)
    for name, own in handler.items():
        if name not in reference:
            by_package[name.split(".")[0]] += own
    rows = [
        "## Where submit's extra time goes (one `-X importtime` run, first pass's environment)",
        "",
        "| top-level package (modules the reference does not load) | self time (ms) |",
        "| --- | ---: |",
    ]
    for package, own in sorted(by_package.items(), key=lambda item: -item[1])[:8]:
        rows.append(f"| `{package}` | {own / 1000:.0f} |")
    return rows


if __name__ == "__main__":
    main()
