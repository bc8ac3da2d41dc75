"""The local runner: an engine (or the vendor's API), AWS in moto, the real pipeline, and what came out.

``run_local`` is what ``correction-local run`` calls and what the tests call in-process. It
starts whatever answers the API (engine_host: the self-hosted engine on loopback by default),
builds the stack from the real template and state machine definition, uploads the inputs as a
user's upload would arrive, waits for every upload to end in a result or a failure record,
downloads the destination bucket (outputs), and measures each image (measure).

The modules by role: config (RunConfig, template parameters, RunnerError), engine_host (the
API's host behind a small interface), capture (logs and environment), outputs (the output
folder), measure (timings), results (ImageOutcome, LocalRun). The names callers use are
importable from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from typing import Any

from .capture import logs_to, preserved_environment
from .config import (
    API_KEY_ENV,
    DEFAULT_OUTPUT,
    DESTINATION_DIR,
    INPUTS_DIR,
    PIPELINE_LOG,
    ProgressCallback,
    RunConfig,
    RunnerError,
    stack_parameters,
)
from .engine_host import EngineHost, host_for, hosted
from .inputs import InputFile
from .measure import (
    Observations,
    all_executions,
    completion_events,
    dead_lettered_keys,
    destination_keys,
    measure,
)
from .outputs import download_bucket, prepare_output, write_gallery, write_inputs, write_summary
from .pipeline import Upload, run_uploads
from .results import ImageOutcome, LocalRun, type_label

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_OUTPUT",
    "EngineHost",
    "ImageOutcome",
    "LocalRun",
    "ProgressCallback",
    "RunConfig",
    "RunnerError",
    "run_local",
    "stack_parameters",
    "type_label",
]


def run_local(
    config: RunConfig,
    inputs: Sequence[InputFile],
    *,
    on_progress: ProgressCallback | None = None,
    on_ready: Callable[[str, Any], None] | None = None,
    on_settled: Callable[[Any], None] | None = None,
) -> LocalRun:
    """Run ``inputs`` through the whole pipeline on this machine; see the module docstring.

    ``on_ready(api_base_url, local_stack)`` is called once the engine and the stack stand;
    ``on_settled(local_stack)`` once every upload has settled, before the stack is taken down
    (benches read the stack's records there).
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
    host = host_for(config)  # refuses an unfit API URL or key before anything is written
    output = prepare_output(config.output)
    started = time.monotonic()
    with ExitStack() as stack_ctx:
        if config.capture_logs:
            stack_ctx.enter_context(logs_to(output / PIPELINE_LOG))
        endpoint = stack_ctx.enter_context(hosted(host))
        api_base_url = endpoint.base_url
        params = stack_parameters(config, api_base_url)
        stack_ctx.enter_context(preserved_environment())
        stack_ctx.enter_context(mock_aws(config=MOTO_CONFIG))
        stack_ctx.callback(reset_services)
        stack_ctx.callback(lambda_bridge.uninstall)
        local = build_stack(params, api_key=endpoint.api_key)
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
            for key in destination_keys(local):
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
            report.executions = all_executions(local)
        else:
            report = run_uploads(local, uploads(inputs), timeout=config.timeout, on_progress=report_progress)
        report_progress()
        if on_settled is not None:
            on_settled(local)

        progress("downloading", 0, total)
        unexpected = dict(report.outcomes.unexpected)
        downloaded = download_bucket(local, output / DESTINATION_DIR, unexpected=unexpected)
        progress("downloading", total, total)
        # In the order of Observations' fields, which bear these names.
        seen = Observations(
            local, report, inputs, uploaded_at, first_seen, downloaded, output, host.task_timings
        )
        images = measure(seen)
        dead = dead_lettered_keys(local)
        for image in images:
            if image.outcome == "lost" and image.source_key in dead:
                image.message = (
                    "its upload notification ended in the dead-letter queue: every submit attempt failed "
                    "(see pipeline.log)"
                )
        events = completion_events(local, images)
        wall = time.monotonic() - started
        parameters = dict(local.parameters)
    run = LocalRun(
        config=config,
        images=images,
        report=report,
        parameters=parameters,
        api_base_url=api_base_url,
        engine_started=host.runs_engine,
        wall_seconds=wall,
        output=output,
        unexpected=unexpected,
        events=events,
    )
    write_inputs(inputs, output / INPUTS_DIR)
    if config.gallery:
        run.gallery_html, run.contact_sheet = write_gallery(run, inputs)
    run.summary_json = write_summary(run)
    return run
