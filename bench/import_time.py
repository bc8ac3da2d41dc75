"""Cold-start proxy: how long each Lambda handler module takes to import, in a fresh interpreter.

Each sample is a new Python process that imports one module and reports the seconds the import
took (interpreter start-up excluded). Handler and reference samples are interleaved so a busy
machine slows both alike; the figure that matters is the ratio of medians to the reference
``import boto3, httpx`` measured in the same run. Goal: submit ≤ 1.3× the reference (issue 13),
the other handlers ≤ 1.5×.

Two passes, both with PYTHONDONTWRITEBYTECODE=1 (Lambda's /opt is read-only: nothing is cached
between cold starts): the core as ``sam build`` ships it now (layers/common/Makefile's
``layer-code``: the modules with their bytecode, built here with this interpreter), and the core
as it shipped before, from source only (BuildMethod python3.12 copies no bytecode), so each cold
start compiled it. The dependencies load as installed here, with their bytecode in both. Then one
``-X importtime`` of submit says where its time beyond the reference goes.

    python bench/import_time.py [--runs 15]    # writes docs/benchmarks/cold-start.md
"""

from __future__ import annotations

import argparse
import os
import shutil
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

SOURCE_LAYER = ROOT / "layers" / "common"

_PROBE = """
import gc, sys, time
sys.path.insert(0, {layer!r})
start, cpu_start = time.perf_counter(), time.process_time()
{statement}
print(time.perf_counter() - start, time.process_time() - cpu_start, gc.get_stats()[2]["collections"])
"""


def _sample(statement: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one import in a fresh interpreter."""
    code = _PROBE.format(layer=env["_LAYER"], statement=statement)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    wall, cpu, _full_collections = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


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
    load_before = os.getloadavg()[0]
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory() as built:
        shipped_env = {**env, "_LAYER": _layer_as_shipped(Path(built))}
        passes = [
            (
                "As `sam build` ships the layer: the core with its bytecode (layers/common/Makefile)",
                shipped_env,
            ),
            (
                "As it shipped before: the core compiled from source at every cold start",
                {**env, "_LAYER": _layer_from_source(Path(built) / "source")},
            ),
        ]
        for caption, pass_env in passes:
            print(caption)
            lines += ["", f"## {caption}", "", *_table(statements, pass_env, args.runs)]
        lines += ["", *_where_submit_time_goes(shipped_env)]
    # A shared machine stretches wall times (a process waits for a core) far more than CPU times.
    load_after = os.getloadavg()[0]
    lines[2] += f" Load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at the end"
    if max(load_before, load_after) > (os.cpu_count() or 1):
        lines[2] += ": more than the cores, so wall times stretch; the CPU columns are the steadier measure"
    lines[2] += "."
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output.relative_to(ROOT)}")


_SUBMIT = "functions/submit/app.py"


def _layer_from_source(folder: Path) -> str:
    """The core's source alone (no bytecode a test run may have left), as sam build copied it."""
    shutil.copytree(
        SOURCE_LAYER / "correction_core",
        folder / "correction_core",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return str(folder)


def _layer_as_shipped(folder: Path) -> str:
    """The core as the layer's Makefile ships it (its ``layer-code`` target), compiled by this
    interpreter; the folder to put first on sys.path."""
    make = shutil.which("make")
    if make is None:
        raise SystemExit("make is needed to build the layer's code as sam build does")
    subprocess.run(
        [
            make,
            "-s",
            "-C",
            str(SOURCE_LAYER),
            "layer-code",
            f"ARTIFACTS_DIR={folder}",
            f"PYTHON={sys.executable}",
        ],
        check=True,
    )
    return str(folder / "python")


def _table(statements: dict[str, str], env: dict[str, str], runs: int) -> list[str]:
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in statements}
    for _ in range(runs):
        for label, statement in statements.items():  # interleaved: noise hits every row alike
            samples[label].append(_sample(statement, env))
    reference = statistics.median(wall for wall, _ in samples[REFERENCE])
    reference_cpu = statistics.median(cpu for _, cpu in samples[REFERENCE])
    # The goal is judged on wall time, as before; CPU time is beside it because a machine shared
    # with other work stretches wall time (waiting for a core) but not the work itself.
    rows = [
        "| module | median import (ms) | ratio to reference | goal | met | median CPU (ms) | CPU ratio |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for label, values in samples.items():
        median = statistics.median(wall for wall, _ in values)
        cpu = statistics.median(cpu for _, cpu in values)
        ratio = median / reference
        goal = GOALS.get(label, GOAL_RATIO)
        met = "—" if label == REFERENCE else ("yes" if ratio <= goal else "**no**")
        shown_goal = "—" if label == REFERENCE else f"{goal}×"
        rows.append(
            f"| {label} | {median * 1000:.0f} | {ratio:.2f} | {shown_goal} | {met} | {cpu * 1000:.0f} "
            f"| {cpu / reference_cpu:.2f} |"
        )
        print(
            f"  {label:40s} {median * 1000:7.0f} ms  x{ratio:.2f}   CPU {cpu * 1000:5.0f} ms  x{cpu / reference_cpu:.2f}"
        )
    return rows


def _self_times(statement: str, env: dict[str, str]) -> dict[str, int]:
    """Module -> its own import time in microseconds, from one ``-X importtime`` run."""
    code = _PROBE.format(layer=env["_LAYER"], statement=statement)
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
    collections = {
        label: _full_collections(statement, env)
        for label, statement in (
            ("the reference", "import boto3, httpx"),
            ("submit", _handler_statement("submit")),
        )
    }
    rows += [
        "",
        "Full garbage collections during the import: "
        + ", ".join(f"{label} {n}" for label, n in collections.items())
        + ". A module's self time includes any collection that ran while it was imported: the "
        "number of objects the imports leave behind decides when one runs, and it scans them all.",
    ]
    return rows


def _full_collections(statement: str, env: dict[str, str]) -> int:
    """How many gen-2 (full) garbage collections one import of ``statement`` ran."""
    code = _PROBE.format(layer=env["_LAYER"], statement=statement)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return int(out.stdout.strip().splitlines()[-1].split()[2])


if __name__ == "__main__":
    main()
