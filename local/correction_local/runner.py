"""The local runner: the engine on loopback, AWS in moto, the real pipeline, and what came out.

``run_local`` is what ``correction-local run`` calls and what the tests call in-process. It
starts the self-hosted engine (or points at the vendor's API), builds the stack from the real
template and state machine definition, uploads the inputs as a user's upload would arrive,
waits for every upload to end in a result or a failure record, downloads the destination
bucket, and measures each image: end to end from the upload, the execution's own start and
stop in Step Functions, and the engine's processing time for its task.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from correction_core.contract import ENHANCEMENT_TYPE_MEANINGS

from .inputs import InputFile
from .pipeline import RunReport, Upload, run_uploads

API_KEY_ENV = "CORRECTION_API_KEY"
DEFAULT_OUTPUT = Path("local-output")
DESTINATION_DIR = "destination"
INPUTS_DIR = "inputs"
SUMMARY_JSON = "summary.json"
PIPELINE_LOG = "pipeline.log"
#: Written into the output folder so a later run knows which subfolders it may replace.
MARKER = ".correction-local"

#: on_progress(phase, done, total): phase is "uploading", "processing" or "downloading".
ProgressCallback = Callable[[str, int, int], None]


class RunnerError(RuntimeError):
    """The run cannot start (bad configuration); nothing was uploaded."""


@dataclass
class RunConfig:
    output: Path = DEFAULT_OUTPUT
    #: None: start the self-hosted engine. Otherwise the vendor's (or any) API base URL.
    api_base_url: str | None = None
    api_key_env: str = API_KEY_ENV
    enhancement_type: int | None = None  # the run's DefaultType; per-file types win
    poll_interval: int = 1
    poll_cap: int = 30
    source_prefix: str = "incoming/"
    result_hosts: str | None = None  # None: 127.0.0.1 for the engine, .aoscdn.com otherwise
    engine_workers: int | None = None  # None: one per core
    #: The API key's requests per second: the pipeline's shared rate budget (ApiQps) and, for the
    #: engine, its rate limit. None: 0 (both off) for the engine, the template's default (2, the
    #: vendor's) for another API.
    qps: int | None = None
    timeout: float = 600.0
    one_at_a_time: bool = False  # settle each upload before the next (clean per-image timings)
    gallery: bool = True
    capture_logs: bool = True  # handlers' JSON logs go to <output>/pipeline.log
    extra_parameters: dict[str, str] = field(default_factory=dict)

    @property
    def uses_engine(self) -> bool:
        return self.api_base_url is None


@dataclass
class ImageOutcome:
    """What became of one input, with its timings (seconds; None when not measurable)."""

    name: str
    source_key: str
    enhancement_type: int | None  # None: the deployment's default
    effective_type: int
    outcome: str  # result | failure | lost | both
    reason: str = ""
    message: str = ""
    stage: str = ""
    task_id: str | None = None
    result_key: str | None = None
    result_path: Path | None = None
    failure_path: Path | None = None
    input_path: Path | None = None
    #: upload → execution stopped (rejections at submit: → their failure record was seen)
    seconds: float | None = None
    execution_seconds: float | None = None  # Step Functions startDate → stopDate
    execution_status: str | None = None
    engine_processing_seconds: float | None = None  # worker took the task → result ready
    engine_turnaround_seconds: float | None = None  # task created → result ready (incl. queue)
    description: str = ""
    expect: str | None = None
    #: Wall-clock moments (Unix seconds): uploaded, execution_started, execution_stopped and,
    #: from the engine, task_created, task_started, task_completed.
    timeline: dict[str, float] = field(default_factory=dict)
    #: From the execution's history: seconds spent in each Task state (summed over its visits),
    #: and how many times CheckStatus polled.
    state_seconds: dict[str, float] = field(default_factory=dict)
    polls: int | None = None
    #: The completion events published for this upload (detail-types, in order): one expected.
    events: list[str] = field(default_factory=list)

    @property
    def overhead_seconds(self) -> float | None:
        """End to end minus the engine's processing time: what the pipeline itself adds."""
        if self.seconds is None or self.engine_processing_seconds is None:
            return None
        return self.seconds - self.engine_processing_seconds

    def to_dict(self) -> dict[str, Any]:
        out = {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}
        out["overhead_seconds"] = self.overhead_seconds
        return out


@dataclass
class LocalRun:
    config: RunConfig
    images: list[ImageOutcome]
    report: RunReport
    parameters: dict[str, str]
    api_base_url: str
    engine_started: bool
    wall_seconds: float
    output: Path
    gallery_html: Path | None = None
    contact_sheet: Path | None = None
    summary_json: Path | None = None
    #: Destination objects that are neither a result nor a failure record of this run → why.
    unexpected: dict[str, str] = field(default_factory=dict)
    #: The completion events the run saw on the bus: counts by detail-type and per upload.
    events: dict[str, Any] = field(default_factory=dict)

    @property
    def lost(self) -> list[str]:
        return [i.name for i in self.images if i.outcome in ("lost", "both")]

    def count(self, outcome: str) -> int:
        return sum(1 for i in self.images if i.outcome == outcome)


# --- configuration ----------------------------------------------------------------------------


def stack_parameters(config: RunConfig, api_base_url: str) -> dict[str, str]:
    """Template parameters for a local run (see the template for their meaning)."""
    if config.uses_engine:
        hosts, allow_http = config.result_hosts or "127.0.0.1", "true"
    else:
        hosts, allow_http = config.result_hosts or ".aoscdn.com", "false"
    params = {
        "ApiBaseUrl": api_base_url,
        # moto's presigned URLs are answered in-process only; the engine could not fetch them.
        "SourceMode": "file",
        "ResultHosts": hosts,
        "AllowHttpResults": allow_http,
        "PollIntervalSeconds": str(config.poll_interval),
        "PollCapSeconds": str(config.poll_cap),
        "SourcePrefix": _prefix(config.source_prefix),
    }
    if config.enhancement_type is not None:
        params["DefaultType"] = str(config.enhancement_type)
    qps = config.qps if config.qps is not None else (0 if config.uses_engine else None)
    if qps is not None:
        params["ApiQps"] = str(qps)
    params.update(config.extra_parameters)
    return params


def _prefix(raw: str) -> str:
    """A key prefix as the functions read it (no leading slash, trailing slash unless empty), so
    the keys uploaded under it are the keys the functions consider theirs."""
    raw = raw.strip().lstrip("/")
    return raw if not raw or raw.endswith("/") else raw + "/"


def _api_key(config: RunConfig) -> str:
    if config.uses_engine:
        return secrets.token_urlsafe(24)
    key = os.environ.get(config.api_key_env, "").strip()
    if not key:
        raise RunnerError(
            f"--api-base-url needs the API key in the environment variable {config.api_key_env} "
            "(it is put into the emulated Secrets Manager, never on the command line)"
        )
    if not config.api_base_url.startswith("https://"):  # type: ignore[union-attr]
        raise RunnerError("the vendor's API is served over https; --api-base-url must start with https://")
    return key


@contextmanager
def _engine(config: RunConfig, api_key: str) -> Iterator[Any]:
    if not config.uses_engine:
        yield None
        return
    from correction_engine.server.background import run_in_thread
    from correction_engine.server.settings import EngineSettings

    settings = EngineSettings(api_keys=[api_key], rate_limit_qps=float(config.qps or 0))
    if config.engine_workers:
        settings.workers = config.engine_workers
    with run_in_thread(settings) as running:
        yield running


@contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """Send the handlers' structured logs (and any library warnings) to ``path``, not the terminal.

    The Powertools Logger and Metrics write JSON lines to stdout, as in Lambda; here they would
    tear the progress bar apart, so they go to ``pipeline.log`` in the output folder for the
    duration (stdout included: callers that draw on the terminal must hold their own stream).
    """
    import logging

    from correction_core.observability import SERVICE

    with open(path, "a", encoding="utf-8") as sink:
        service = logging.getLogger(SERVICE)
        swapped = []
        for handler in service.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                swapped.append((handler, handler.setStream(sink)))
        root_handler = logging.StreamHandler(sink)
        root_handler.setLevel(logging.WARNING)
        root_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(root_handler)
        logging.captureWarnings(True)  # e.g. Powertools' warnings go to the log, not over the bar
        try:
            # Powertools Metrics prints its EMF lines (as Lambda would, for CloudWatch to pick up).
            with redirect_stdout(sink):
                yield
        finally:
            logging.captureWarnings(False)
            logging.getLogger().removeHandler(root_handler)
            for handler, previous in swapped:
                handler.setStream(previous)


@contextmanager
def _preserved_environment() -> Iterator[None]:
    """build_stack writes the functions' variables into os.environ; put them back afterwards."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def prepare_output(output: Path) -> Path:
    """Create the output folder; clear what an earlier run of ours left in it (and only that)."""
    output = Path(output).expanduser().resolve()
    if output.exists() and not output.is_dir():
        raise RunnerError(f"{output} exists and is not a folder")
    output.mkdir(parents=True, exist_ok=True)
    if (output / MARKER).exists():
        from .gallery import CONTACT_SHEET, GALLERY_DIR, GALLERY_HTML

        for sub in (DESTINATION_DIR, INPUTS_DIR, GALLERY_DIR):
            shutil.rmtree(output / sub, ignore_errors=True)
        for name in (GALLERY_HTML, CONTACT_SHEET, SUMMARY_JSON, PIPELINE_LOG):
            (output / name).unlink(missing_ok=True)
    (output / MARKER).write_text(
        "This folder is written by correction-local run; it replaces its own files here.\n"
    )
    return output


# --- the run ----------------------------------------------------------------------------------


def run_local(
    config: RunConfig,
    inputs: Sequence[InputFile],
    *,
    on_progress: ProgressCallback | None = None,
    on_ready: Callable[[str, Any], None] | None = None,
) -> LocalRun:
    """Run ``inputs`` through the whole pipeline on this machine; see the module docstring.

    ``on_ready(api_base_url, local_stack)`` is called once the engine and the stack stand.
    """
    from moto import mock_aws

    from correction_core.services import reset_services

    from . import lambda_bridge
    from .stack import MOTO_CONFIG, build_stack

    if not inputs:
        raise RunnerError("nothing to upload")
    names = [i.name for i in inputs]
    if len(set(names)) != len(names):
        raise RunnerError("two inputs have the same name")
    progress = on_progress or (lambda phase, done, total: None)
    api_key = _api_key(config)
    output = prepare_output(config.output)
    started = time.monotonic()
    with ExitStack() as stack_ctx:
        if config.capture_logs:
            stack_ctx.enter_context(_logs_to(output / PIPELINE_LOG))
        running = stack_ctx.enter_context(_engine(config, api_key))
        api_base_url = str(running) if running is not None else str(config.api_base_url).rstrip("/")
        params = stack_parameters(config, api_base_url)
        stack_ctx.enter_context(_preserved_environment())
        stack_ctx.enter_context(mock_aws(config=MOTO_CONFIG))
        stack_ctx.callback(reset_services)
        stack_ctx.callback(lambda_bridge.uninstall)
        local = build_stack(params, api_key=api_key)
        if on_ready is not None:
            on_ready(api_base_url, local)
        prefix = local.parameters["SourcePrefix"]
        uploaded_at: dict[str, float] = {}
        total = len(inputs)

        def uploads(batch: Sequence[InputFile]) -> Iterator[Upload]:
            for item in batch:
                key = prefix + item.name
                yield Upload(key=key, body=item.body, metadata=item.metadata)
                uploaded_at[key] = time.time()  # resumed only after upload_all put the object
                progress("uploading", len(uploaded_at), total)

        first_seen: dict[str, float] = {}  # destination key → when this process first saw it

        def report_progress() -> None:
            now = time.time()
            for key in _destination_keys(local):
                first_seen.setdefault(key, now)
            progress("processing", len(first_seen), total)

        progress("uploading", 0, total)
        if config.one_at_a_time:
            report = None
            for item in inputs:
                report = run_uploads(
                    local, uploads([item]), timeout=config.timeout, on_progress=report_progress
                )
            assert report is not None
            report.uploaded = [prefix + i.name for i in inputs]
            report.executions = _all_executions(local)
        else:
            report = run_uploads(local, uploads(inputs), timeout=config.timeout, on_progress=report_progress)
        report_progress()

        progress("downloading", 0, total)
        unexpected = dict(report.outcomes.unexpected)
        downloaded = download_bucket(local, output / DESTINATION_DIR, unexpected=unexpected)
        progress("downloading", total, total)
        images = _measure(
            local, report, inputs, uploaded_at, first_seen, running, api_key, output, downloaded
        )
        dead = dead_lettered_keys(local)
        for image in images:
            if image.outcome == "lost" and image.source_key in dead:
                image.message = (
                    "its upload notification ended in the dead-letter queue: every submit attempt failed "
                    "(see pipeline.log)"
                )
        events = _completion_events(local, images)
        wall = time.monotonic() - started
        parameters = dict(local.parameters)
    run = LocalRun(
        config=config,
        images=images,
        report=report,
        parameters=parameters,
        api_base_url=api_base_url,
        engine_started=running is not None,
        wall_seconds=wall,
        output=output,
        unexpected=unexpected,
        events=events,
    )
    _write_inputs(inputs, output / INPUTS_DIR, images)
    if config.gallery:
        run.gallery_html, run.contact_sheet = _gallery(run, inputs)
    run.summary_json = write_summary(run)
    return run


def _completion_events(local: Any, images: list[ImageOutcome]) -> dict[str, Any]:
    """What the stack's event bus carried (see completion_events): each upload should have one."""
    from .completion_events import summarise

    if local.events is None:
        return {}
    seen = local.events.drain()
    summary = summarise(seen, local.events.bus_name)
    for image in images:
        image.events = list(summary["per_upload"].get(image.source_key, []))
    return summary


def _destination_keys(local: Any) -> list[str]:
    """Keys in the destination bucket: each upload ends as exactly one (result or record)."""
    s3 = local.client("s3")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=local.destination_bucket):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _all_executions(local: Any) -> list[dict[str, Any]]:
    sfn = local.client("stepfunctions")
    out: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=local.state_machine_arn):
        out.extend(page["executions"])
    return out


def dead_lettered_keys(local: Any) -> set[str]:
    """Source keys whose notifications went to the intake's dead-letter queue (submit kept failing)."""
    from urllib.parse import unquote_plus

    sqs = local.client("sqs")
    keys: set[str] = set()
    for _ in range(100):  # bounded: each receive hides what it returned, so this ends
        messages = sqs.receive_message(
            QueueUrl=local.dead_letter_queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            try:
                records = json.loads(message["Body"]).get("Records", [])
                keys.update(unquote_plus(r["s3"]["object"]["key"]) for r in records)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return keys


def download_bucket(
    local: Any, folder: Path, *, unexpected: dict[str, str] | None = None
) -> dict[str, tuple[Path, datetime]]:
    """Mirror the destination bucket (results and failure records) into ``folder``.

    Returns key → (local path, LastModified). A key that cannot be mirrored (it would land
    outside ``folder``, or clashes with a folder) is left out and noted in ``unexpected``: a
    stray object must not cost the run its summary.
    """
    unexpected = {} if unexpected is None else unexpected
    s3 = local.client("s3")
    files: dict[str, tuple[Path, datetime]] = {}
    root = folder.resolve()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=local.destination_bucket):
        for item in page.get("Contents", []):
            key = item["Key"]
            path = (folder / key).resolve()
            if root not in path.parents:  # a key like "../x" must not escape the folder
                unexpected[key] = f"not downloaded: it would be written outside {folder}"
                continue
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket=local.destination_bucket, Key=key)["Body"].read())
            except OSError as exc:  # e.g. both "a" and "a/b" exist as keys
                unexpected[key] = f"not downloaded: {exc.strerror or exc}"
                continue
            files[key] = (path, item["LastModified"])
    return files


def _task_times(running: Any, api_key: str, task_id: str | None) -> dict[str, float]:
    """The engine's own moments of a task (created, started, completed), from its task store.

    The API's timestamps are whole seconds, too coarse for a per-image overhead; the engine
    in this process keeps them as floats. Empty for the vendor's API (not ours to look into).
    """
    if running is None or not task_id:
        return {}
    from correction_engine.server.stats import key_fingerprint

    task = running.engine.store.get(task_id, key_fingerprint(api_key))
    if task is None:
        return {}
    moments = {
        "task_created": task.created_at,
        "task_started": task.processed_at,
        "task_completed": task.completed_at,
    }
    return {k: float(v) for k, v in moments.items() if v is not None}


def _task_state_seconds(sfn: Any, execution_arn: str) -> tuple[dict[str, float], int]:
    """Seconds per Task state (entered → exited, summed) and the number of CheckStatus visits."""
    seconds: dict[str, float] = {}
    entered: dict[str, datetime] = {}
    current = ""
    polls = 0
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        for event in page["events"]:
            kind = event["type"]
            if kind == "TaskStateEntered":
                current = event["stateEnteredEventDetails"]["name"]
                entered[current] = event["timestamp"]
                polls += current == "CheckStatus"
            elif kind == "TaskStateExited" and current in entered:
                spent = (event["timestamp"] - entered.pop(current)).total_seconds()
                seconds[current] = seconds.get(current, 0.0) + spent
    return seconds, polls


def _measure(
    local: Any,
    report: RunReport,
    inputs: Sequence[InputFile],
    uploaded_at: dict[str, float],
    first_seen: dict[str, float],
    running: Any,
    api_key: str,
    output: Path,
    downloaded: dict[str, tuple[Path, datetime]],
) -> list[ImageOutcome]:
    sfn = local.client("stepfunctions")
    by_key: dict[str, dict[str, Any]] = {}
    for execution in report.executions:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        payload = json.loads(described.get("input") or "{}")
        key = payload.get("object", {}).get("key")
        if key:
            by_key[key] = {**described, "_input": payload}
    default_type = int(local.parameters["DefaultType"])
    prefix = local.parameters["SourcePrefix"]
    images: list[ImageOutcome] = []
    for item in inputs:
        key = prefix + item.name
        outcome = report.outcomes.outcome_of(key) or "lost"
        image = ImageOutcome(
            name=item.name,
            source_key=key,
            enhancement_type=item.enhancement_type,
            effective_type=item.enhancement_type if item.enhancement_type is not None else default_type,
            outcome=outcome,
            description=item.description,
            expect=item.expect,
        )
        finished_at: float | None = None
        execution = by_key.get(key)
        if execution is not None:
            image.task_id = execution["_input"].get("task", {}).get("task_id")
            image.execution_status = execution.get("status")
            start, stop = execution.get("startDate"), execution.get("stopDate")
            if start is not None and stop is not None:
                image.execution_seconds = (stop - start).total_seconds()
                finished_at = stop.timestamp()
        result = report.outcomes.results.get(key)
        if result is not None:
            image.result_key = result["key"]
            image.task_id = result.get("task_id") or image.task_id
            if result["key"] in downloaded:
                image.result_path = downloaded[result["key"]][0]
        failure = report.outcomes.failures.get(key)
        if failure is not None:
            image.reason = str(failure.get("reason") or "")
            image.message = str(failure.get("message") or "")
            image.stage = str(failure.get("stage") or "")
            image.task_id = image.task_id or failure.get("task_id")
            record = downloaded.get(failure["record_key"])
            if record is not None:
                image.failure_path = record[0]
            if finished_at is None:
                # Rejected at submit: no execution. moto's LastModified is whole seconds, so
                # the moment the runner first saw the record (polled every 0.2 s) stands in.
                finished_at = first_seen.get(failure["record_key"])
        elif outcome == "lost":
            image.reason = "lost"
            image.message = "neither a result nor a failure record was written"
        if finished_at is not None and key in uploaded_at:
            image.seconds = max(0.0, finished_at - uploaded_at[key])
        timeline = image.timeline
        if key in uploaded_at:
            timeline["uploaded"] = uploaded_at[key]
        if execution is not None and execution.get("startDate") is not None:
            timeline["execution_started"] = execution["startDate"].timestamp()
            if execution.get("stopDate") is not None:
                timeline["execution_stopped"] = execution["stopDate"].timestamp()
        timeline.update(_task_times(running, api_key, image.task_id))
        if execution is not None:
            image.state_seconds, image.polls = _task_state_seconds(sfn, execution["executionArn"])
        if "task_completed" in timeline:
            if "task_started" in timeline:
                image.engine_processing_seconds = timeline["task_completed"] - timeline["task_started"]
            image.engine_turnaround_seconds = timeline["task_completed"] - timeline["task_created"]
        image.input_path = output / INPUTS_DIR / item.name
        images.append(image)
    return images


def _write_inputs(inputs: Sequence[InputFile], folder: Path, images: list[ImageOutcome]) -> None:
    """Keep a copy of what was uploaded (the generated samples exist nowhere else)."""
    for item in inputs:
        path = folder / item.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(item.body)


def type_label(image: ImageOutcome) -> str:
    return f"{image.effective_type}" + ("" if image.enhancement_type is not None else " (default)")


def _gallery(run: LocalRun, inputs: Sequence[InputFile]) -> tuple[Path, Path]:
    from .gallery import GalleryEntry, write_gallery

    bodies = {i.name: i.body for i in inputs}
    entries = [
        GalleryEntry(
            name=image.name,
            type_label=type_label(image),
            outcome=image.outcome,
            seconds=image.seconds,
            before=bodies[image.name],
            after=image.result_path,
            reason=(f"{image.reason}: {image.message}" if image.message else image.reason),
            description=image.description,
            record=image.failure_path.relative_to(run.output).as_posix() if image.failure_path else None,
        )
        for image in run.images
    ]
    where = "the self-hosted engine" if run.engine_started else run.api_base_url
    subtitle = (
        f"{len(run.images)} uploads through the real state machine (moto) and {where}: "
        f"{run.count('result')} results, {run.count('failure')} failure records, {len(run.lost)} lost; "
        f"{run.wall_seconds:.0f} s in all."
    )
    return write_gallery(entries, run.output, title="Photo correction: before and after", subtitle=subtitle)


def write_summary(run: LocalRun) -> Path:
    path = run.output / SUMMARY_JSON
    data = {
        "api_base_url": run.api_base_url,
        "engine_started": run.engine_started,
        "parameters": run.parameters,
        "wall_seconds": run.wall_seconds,
        "counts": {k: run.count(k) for k in ("result", "failure", "lost", "both")},
        "lost": run.lost,
        "unexpected": run.unexpected,
        "events": run.events,
        "types": {str(k): v for k, v in ENHANCEMENT_TYPE_MEANINGS.items()},
        "images": [i.to_dict() for i in run.images],
    }
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path
