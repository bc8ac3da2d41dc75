"""``correction-local``: run the whole pipeline on this machine and show what came out.

    correction-local run                      # generated sample photos, self-hosted engine
    correction-local run --input ~/photos --type 0
    CORRECTION_API_KEY=... correction-local run --input ~/photos --api-base-url https://techhk.aoscdn.com
    correction-local samples ./my-samples     # just write the sample photos to a folder

Exit status of ``run``: 0 when every upload ended in a result or a failure record, 1 when any
was lost (neither), 2 when the run could not start.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from correction_core.contract import ENHANCEMENT_TYPE_MEANINGS

from .inputs import TYPES_FILE, InputError, folder_inputs, sample_inputs
from .runner import API_KEY_ENV, DEFAULT_OUTPUT, LocalRun, RunConfig, RunnerError, run_local, type_label
from .samples import DEFAULT_NAMES

DISTRIBUTION = "photo-correction-pipeline"  # whose version --version prints

EXIT_OK, EXIT_LOST, EXIT_USAGE = 0, 1, 2

_TYPES_HELP = "; ".join(f"{k} = {v}" for k, v in ENHANCEMENT_TYPE_MEANINGS.items())


def _type(value: str) -> int:
    if not value.isdigit() or int(value) not in ENHANCEMENT_TYPE_MEANINGS:
        raise argparse.ArgumentTypeError(f"type must be one of 0-4 ({_TYPES_HELP})")
    return int(value)


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("must be a whole number of seconds, at least 1")
    return int(value)


def _qps(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError("must be a whole number of requests per second (0 = no limit)")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="correction-local",
        description="Run the photo correction pipeline on this machine: emulated AWS (moto, in-process), "
        "the real state machine and handlers, and the self-hosted engine. No AWS account, Docker or API key.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version(DISTRIBUTION)}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="upload photos through the pipeline and collect the results",
        description="Upload photos (default: generated samples) through the pipeline; write the destination "
        "bucket, a before/after gallery and a summary into the output folder.",
        epilog=f"Types: {_TYPES_HELP}. Per file, a {TYPES_FILE} in the input folder "
        '({"receipt.jpg": 0, "shoes/red.jpg": 4}) or a tag before the extension (receipt.type0.jpg) '
        "wins over --type. Exit status: 0 every upload ended in a result or a failure record, "
        "1 an upload was lost, 2 the run could not start.",
    )
    run.add_argument(
        "--input", type=Path, metavar="DIR", help="a folder of your photos (default: generated samples)"
    )
    run.add_argument(
        "--type",
        type=_type,
        dest="enhancement_type",
        metavar="N",
        help="enhancement type 0-4 for the files that do not choose their own",
    )
    run.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="DIR",
        help=f"where results, failure records and the gallery go (default: ./{DEFAULT_OUTPUT})",
    )
    run.add_argument(
        "--api-base-url",
        metavar="URL",
        help=f"use this API (e.g. the vendor's https://techhk.aoscdn.com) instead of starting the engine; "
        f"the key is read from ${API_KEY_ENV}",
    )
    run.add_argument(
        "--api-key-env",
        default=API_KEY_ENV,
        metavar="NAME",
        help=f"environment variable holding the API key for --api-base-url (default: {API_KEY_ENV})",
    )
    run.add_argument(
        "--result-hosts",
        metavar="HOSTS",
        help="hosts results may be downloaded from (default: 127.0.0.1 for the engine, .aoscdn.com otherwise)",
    )
    run.add_argument(
        "--poll-interval",
        type=_positive_int,
        default=1,
        metavar="S",
        help="the state machine's wait between polls (default: 1)",
    )
    run.add_argument(
        "--poll-cap",
        type=_positive_int,
        default=30,
        metavar="S",
        help="give up on a task after polling this long (default: 30)",
    )
    run.add_argument(
        "--source-prefix",
        default="incoming/",
        metavar="PREFIX",
        help="key prefix uploads go under in the source bucket (default: incoming/)",
    )
    run.add_argument(
        "--engine-workers",
        type=_positive_int,
        metavar="N",
        help="engine worker threads (default: one per core)",
    )
    run.add_argument(
        "--engine-shape",
        choices=("local", "aws"),
        default="local",
        help="local: the engine in one process (default); aws: the engine as deployed on AWS, its "
        "table, queue, bucket and secret in a moto server on loopback, its Lambda worker fed by a "
        "stand-in for the SQS event source (correction_local.engine_aws)",
    )
    run.add_argument(
        "--qps",
        type=_qps,
        metavar="N",
        help="the API key's requests per second: the pipeline's shared rate budget and the engine's "
        "rate limit (default: 0 = off with the engine; 2, the vendor's default, with --api-base-url)",
    )
    run.add_argument(
        "--samples",
        metavar="NAMES",
        help="comma-separated subset of the generated samples: " + ", ".join(DEFAULT_NAMES),
    )
    run.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="let each upload finish before the next (clean per-image timings)",
    )
    run.add_argument("--no-gallery", action="store_true", help="skip the gallery and contact sheet")
    run.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="give up waiting after this long (default: 600)",
    )

    samples = sub.add_parser("samples", help="write the generated sample photos (and types.json) to a folder")
    samples.add_argument("folder", type=Path)
    return parser


def _console():
    from rich.console import Console

    # Bound to the real stdout now: during a run, stdout is redirected into pipeline.log.
    return Console(file=sys.stdout, highlight=False)


def _inputs(args: argparse.Namespace, console) -> list:
    if args.input is not None:
        if args.samples:
            raise InputError("--samples chooses generated samples; it cannot be combined with --input")
        return folder_inputs(args.input, run_type=args.enhancement_type)
    names = [n.strip() for n in args.samples.split(",") if n.strip()] if args.samples else None
    with console.status("generating sample photos…"):
        try:
            return sample_inputs(names, run_type=args.enhancement_type)
        except KeyError as exc:
            raise InputError(str(exc.args[0])) from None


def _engine_host(shape: str):
    if shape == "aws":
        from .engine_aws import AwsShapeEngine

        return AwsShapeEngine
    return None  # the runner's default: the engine in this process


def command_run(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = _console()
    config = RunConfig(
        output=args.output,
        api_base_url=args.api_base_url,
        api_key_env=args.api_key_env,
        enhancement_type=args.enhancement_type,
        poll_interval=args.poll_interval,
        poll_cap=args.poll_cap,
        source_prefix=args.source_prefix,
        result_hosts=args.result_hosts,
        engine_workers=args.engine_workers,
        qps=args.qps,
        timeout=args.timeout,
        one_at_a_time=args.one_at_a_time,
        gallery=not args.no_gallery,
        engine_host=_engine_host(args.engine_shape),
    )
    if args.engine_shape != "local" and args.api_base_url:
        console.print(
            "[red]error:[/red] --engine-shape chooses how the engine runs; --api-base-url uses none"
        )
        return EXIT_USAGE
    try:
        inputs = _inputs(args, console)
    except InputError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return EXIT_USAGE

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    labels = {
        "uploading": "uploading to the source bucket",
        "processing": "through queue, API and state machine",
        "downloading": "downloading the destination bucket",
    }
    task_id = progress.add_task("starting engine and emulated AWS", total=len(inputs))

    def on_progress(phase: str, done: int, total: int) -> None:
        progress.update(task_id, description=labels.get(phase, phase), completed=done, total=total)

    def on_ready(url: str, local) -> None:
        parameters = local.parameters
        where = f"self-hosted engine at {url}" if config.uses_engine else f"API at {url}"
        progress.console.print(
            f"[dim]{where}; poll every {parameters['PollIntervalSeconds']} s for at most "
            f"{parameters['PollCapSeconds']} s; uploads go to s3://{local.source_bucket}/{parameters['SourcePrefix']}[/dim]"
        )

    try:
        with progress:
            run = run_local(config, inputs, on_progress=on_progress, on_ready=on_ready)
    except RunnerError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return EXIT_USAGE
    except TimeoutError as exc:  # the queue or an execution never finished: outcomes unknown
        console.print(
            f"[bold red]gave up waiting:[/] {exc} (raise --timeout, or see {config.output}/pipeline.log)"
        )
        return EXIT_LOST
    print_summary(run, console)
    return EXIT_LOST if run.lost else EXIT_OK


def _short(text: str, limit: int = 110) -> str:
    """The table shows the gist; the failure record in the output folder has the whole message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def print_summary(run: LocalRun, console) -> None:
    from rich.table import Table

    table = Table(title="What became of each upload", title_justify="left")
    table.add_column("file")
    table.add_column("type", justify="right")
    table.add_column("outcome")
    table.add_column("seconds", justify="right")
    table.add_column("event")  # the completion event(s) the bus carried for this upload
    table.add_column("failure reason", overflow="fold", max_width=70)
    styles = {"result": "green", "failure": "red", "lost": "bold magenta", "both": "bold magenta"}
    for image in run.images:
        seconds = f"{image.seconds:.1f}" if image.seconds is not None else "–"
        reason = ""
        if image.outcome != "result":
            reason = _short(f"{image.reason}: {image.message}" if image.message else image.reason)
        event = ", ".join(image.events) or "–"
        table.add_row(
            image.name,
            type_label(image),
            f"[{styles.get(image.outcome, '')}]{image.outcome}[/]",
            seconds,
            event,
            reason,
        )
    console.print(table)
    done = [i for i in run.images if i.outcome == "result"]
    e2e = [i.seconds for i in done if i.seconds is not None]
    processing = [i.engine_processing_seconds for i in done if i.engine_processing_seconds is not None]
    figures = ""
    if e2e:
        figures = f"; per result, median {statistics.median(e2e):.1f} s from upload to stored"
        if processing:
            figures += f", {statistics.median(processing):.1f} s of it the engine's processing"
    console.print(
        f"{run.count('result')} results, {run.count('failure')} failure records, {len(run.lost)} lost; "
        f"{run.wall_seconds:.1f} s in all{figures}."
    )
    if not run.config.one_at_a_time and len(run.images) > 1:
        console.print(
            "[dim]All uploads arrived at once, so their times include waiting for each other; "
            "--one-at-a-time (or bench/pipeline_overhead.py) measures each image alone.[/dim]"
        )
    if run.events:
        by_type = ", ".join(f"{n} {t}" for t, n in sorted(run.events["by_detail_type"].items())) or "none"
        console.print(
            f"completion events on bus {run.events['bus']!r}: {by_type} (per upload in the summary)"
        )
        odd = [i.name for i in run.images if i.outcome in ("result", "failure") and len(i.events) != 1]
        if odd:
            console.print(f"[yellow]uploads without exactly one completion event: {', '.join(odd)}[/]")
    out = run.output
    console.print(
        f"destination bucket: {out / 'destination'}  (results under {run.parameters.get('DestinationPrefix', '')}, "
        f"failure records under {run.parameters.get('FailurePrefix', '')})"
    )
    if run.gallery_html is not None:
        console.print(f"gallery:            {run.gallery_html.resolve()}")
        console.print(f"contact sheet:      {run.contact_sheet.resolve() if run.contact_sheet else '–'}")
    console.print(f"summary:            {run.summary_json}")
    if run.lost:
        console.print(f"[bold red]lost uploads (neither result nor failure record): {', '.join(run.lost)}[/]")
    if run.unexpected:
        console.print(
            f"[yellow]objects in the destination bucket that are not this pipeline's: {len(run.unexpected)} "
            '(listed in the summary under "unexpected")[/]'
        )


def command_samples(args: argparse.Namespace) -> int:
    import json

    folder: Path = args.folder
    folder.mkdir(parents=True, exist_ok=True)
    console = _console()
    with console.status("generating sample photos…"):
        inputs = sample_inputs()
    for item in inputs:
        (folder / item.name).write_bytes(item.body)
    (folder / TYPES_FILE).write_text(
        json.dumps({i.name: i.enhancement_type for i in inputs}, indent=2) + "\n"
    )
    console.print(f"wrote {len(inputs)} samples and {TYPES_FILE} to {folder}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return command_run(args)
    return command_samples(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
