"""Orchestration cost per 1,000 images, Express vs Standard, from the template and a measured run.

Reads the settings that drive cost from ``template.yaml`` (memory and architecture of each
function, the poll interval and cap, the workflow type, the intake batch size), runs a small,
realistic set of uploads through the local pipeline (engine on loopback, the template's stack in
moto, the real state machine, the real handlers in-process) and counts what AWS would bill:
Lambda invocations and their durations, state transitions, Express execution time, SQS,
DynamoDB and S3 requests, API requests. Then prices them at list prices and writes
``docs/cost.md``.

    .venv/bin/python bench/cost.py [--images 12] [--quick] [--output docs/cost.md]

Nothing here is typed by hand except the price table below; every count comes from the run.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import platform
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parents[1]
GOAL_EXPRESS_PER_1000 = 0.10  # USD, the goal for Express orchestration

# --- List prices ---------------------------------------------------------------------------------
# US East (N. Virginia), on-demand, first pricing tier, free tiers ignored (a busy account has
# used them up). Read 2026-11-24 from the pages named; where the AWS page renders its figures
# client-side, the figure was cross-checked against a dated secondary page (named too).
PRICE_SOURCES = {
    "lambda": "aws.amazon.com/lambda/pricing (Arm: $0.0000133334 per GB-s for the first 7.5 billion GB-s/month, "
    "$0.20 per 1M requests, 1 ms granularity; figures cross-checked on cloudchipr.com 'AWS Lambda Pricing "
    "Breakdown' 2024). INIT (cold start) duration billed like invoke duration since 2025-08-01 "
    "(AWS Compute Blog 'AWS Lambda standardizes billing for INIT Phase').",
    "stepfunctions": "aws.amazon.com/step-functions/pricing (Standard: $0.025 per 1,000 state transitions, retries "
    "count; Express: $1.00 per 1M requests, duration $0.00001667 per GB-s for the first 1,000 GB-hours/month, "
    "rounded up to 100 ms, memory billed in 64 MB chunks; rates cross-checked on wring.co 'AWS Step Functions "
    "Pricing: Standard vs Express', 2026-03-14).",
    "sqs": "aws.amazon.com/sqs/pricing (standard queue $0.40 per 1M requests, each 64 KB chunk of a payload one "
    "request; cross-checked on cloudburn.io 'Amazon SQS Pricing', 2026-03-14).",
    "dynamodb": "aws.amazon.com/dynamodb/pricing/on-demand ($0.625 per 1M write request units, $0.125 per 1M read "
    "request units, after the 2024-11-01 reduction; cross-checked on airbyte.com 'DynamoDB Pricing', 2025-07-21).",
    "s3": "aws.amazon.com/s3/pricing (S3 Standard: PUT/COPY/POST/LIST $0.005 per 1,000, GET/HEAD $0.0004 per 1,000, "
    "DELETE free; data transfer out to the internet $0.09 per GB for the first 10 TB; cross-checked on c3x.dev "
    "'S3 request fees explained').",
    "secretsmanager": "aws.amazon.com/secrets-manager/pricing ($0.05 per 10,000 API calls) — from memory, not re-checked.",
}
LAMBDA_ARM_GB_SECOND = 0.0000133334
LAMBDA_X86_GB_SECOND = 0.0000166667
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
SFN_STANDARD_PER_TRANSITION = 0.025 / 1_000
SFN_EXPRESS_PER_REQUEST = 1.00 / 1_000_000
SFN_EXPRESS_GB_SECOND = 0.00001667
SFN_EXPRESS_BILLING_MS = 100  # duration rounded up to this
SFN_EXPRESS_MEMORY_CHUNK_MB = 64  # memory billed in chunks of this (the minimum, too)
SQS_PER_REQUEST = 0.40 / 1_000_000
SQS_CHUNK_BYTES = 64 * 1024
DYNAMODB_PER_WRU = 0.625 / 1_000_000
DYNAMODB_PER_RRU = 0.125 / 1_000_000
S3_TIER1_PER_REQUEST = 0.005 / 1_000  # PUT, COPY, POST, LIST
S3_TIER2_PER_REQUEST = 0.0004 / 1_000  # GET, HEAD and the rest
S3_FREE_OPERATIONS = {"DeleteObject", "DeleteObjects"}
S3_TIER1_OPERATIONS = {"PutObject", "CopyObject", "PostObject", "ListObjects", "ListObjectsV2", "ListObjectVersions",
                       "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
DATA_TRANSFER_OUT_PER_GB = 0.09
SECRETS_MANAGER_PER_CALL = 0.05 / 10_000

# --- The conservative scenario -------------------------------------------------------------------
# In-process, a call to the engine on loopback takes a few milliseconds. In AWS every call to the
# vendor crosses the Pacific (us-east-1 → techhk.aoscdn.com, Hong Kong: ~200 ms round trip on a
# kept-alive TLS connection, plus the API's own time), and each AWS API call from Lambda takes
# ~10-30 ms. So each invocation is billed at least VENDOR_REQUEST_MS per vendor request it made
# plus AWS_REQUEST_MS per AWS request it made (both counted in the run), never less than
# MIN_BILLED_MS. On top, cold starts: INIT has been billed since 2025-08-01; AWS reports INITs in
# under 1 % of invocations, we assume COLD_START_RATE with INIT_MS each (Python 3.12 with
# Powertools, boto3 and httpx; docs/benchmarks/cold-start.md measures ~0.3 s of imports alone).
VENDOR_REQUEST_MS = 300
AWS_REQUEST_MS = 25
MIN_BILLED_MS = 100
COLD_START_RATE = 0.01
INIT_MS = 1000

CLOUDWATCH_LOGS_PER_GB = 0.50  # ingestion, Standard class (aws.amazon.com/cloudwatch/pricing) — from memory
LAMBDA_PLATFORM_LOG_BYTES = 350  # START, END and REPORT lines per invocation (approximate)

API_KEY = "cost-bench-key-7c1e52a9"


# --- Template ------------------------------------------------------------------------------------


@dataclass
class FunctionSettings:
    logical_id: str
    memory_mb: int
    architecture: str
    timeout: int
    batch_size: int | None = None
    batching_window: int | None = None
    max_concurrency: int | None = None

    @property
    def gb_second_price(self) -> float:
        return LAMBDA_ARM_GB_SECOND if self.architecture == "arm64" else LAMBDA_X86_GB_SECOND


@dataclass
class TemplateSettings:
    functions: dict[str, FunctionSettings]
    poll_interval: int
    poll_cap: int
    workflow_type: str
    workflow_types: list[str]
    submit_function: str
    definition: dict[str, Any]
    api_qps: int


def read_template() -> TemplateSettings:
    from correction_local.template import PROJECT_ROOT, load_template

    template = load_template()
    params = template["Parameters"]
    globals_fn = template.get("Globals", {}).get("Function", {})
    functions: dict[str, FunctionSettings] = {}
    submit = None
    machine = None
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine":
            machine = props
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        arch = (props.get("Architectures") or globals_fn.get("Architectures") or ["x86_64"])[0]
        fs = FunctionSettings(
            logical_id=logical_id,
            memory_mb=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
            architecture=arch,
            timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
        )
        for event in props.get("Events", {}).values():
            if event.get("Type") == "SQS":
                ep = event["Properties"]
                fs.batch_size = int(ep.get("BatchSize", 10))
                fs.batching_window = int(ep.get("MaximumBatchingWindowInSeconds", 0))
                fs.max_concurrency = ep.get("ScalingConfig", {}).get("MaximumConcurrency")
                submit = logical_id
        functions[logical_id] = fs
    assert submit is not None and machine is not None, "template has no SQS-triggered function or no state machine"
    definition = json.loads((PROJECT_ROOT / machine["DefinitionUri"]).read_text())
    wt = params["WorkflowType"]
    return TemplateSettings(
        functions=functions,
        poll_interval=int(params["PollIntervalSeconds"]["Default"]),
        poll_cap=int(params["PollCapSeconds"]["Default"]),
        workflow_type=str(wt["Default"]),
        workflow_types=[str(v) for v in wt.get("AllowedValues", [wt["Default"]])],
        submit_function=submit,
        definition=definition,
        api_qps=int(params["ApiQps"]["Default"]),
    )


def poll_loop_states(definition: dict[str, Any]) -> list[str]:
    """The states entered once per poll: the cycle through the Choice's Default branch."""
    states = definition["States"]
    choice = next(n for n, s in states.items() if s["Type"] == "Choice" and "Default" in s)
    loop, name = [], states[choice]["Default"]
    while name != choice:
        loop.append(name)
        name = states[name]["Next"]
        if len(loop) > len(states):
            raise ValueError("no poll loop through the Choice's Default")
    return loop + [choice]


# --- Inputs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    key: str
    body: bytes
    metadata: dict[str, str]
    kind: str  # "type N" or "bad: ..."


def make_inputs(n_images: int, size: tuple[int, int]) -> list[Input]:
    """Documents (types 0, 1, 2) and products (3, 4) in turn, plus one or two broken files."""
    from PIL import Image

    from correction_engine.synth.documents import make_page_photo
    from correction_engine.synth.products import make_product

    def jpeg(rgb) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format="JPEG", quality=88)
        return buffer.getvalue()

    n_bad = 0 if n_images < 4 else (1 if n_images < 10 else 2)
    n_good = n_images - n_bad
    height, width = size
    inputs: list[Input] = []
    for i in range(n_good):
        etype = (0, 1, 2, 3, 4)[i % 5]
        if etype <= 2:
            body = jpeg(make_page_photo(100 + i, size=(height, width)).image)
            name = f"incoming/docs/page-{i:03d}.jpg"
        else:
            body = jpeg(make_product(200 + i, size=(height, width)).image)
            name = f"incoming/shop/product-{i:03d}.jpg"
        inputs.append(Input(name, body, {"correction-type": str(etype)}, f"type {etype}"))
    good = inputs[0].body if inputs else b""
    bad = [
        Input("incoming/bad/cut.jpg", good[: len(good) // 3], {}, "bad: truncated JPEG"),
        Input("incoming/bad/notes.jpg", b"not a photo at all\n" * 20, {}, "bad: not an image"),
    ]
    return inputs + bad[:n_bad]


# --- Instrumentation -----------------------------------------------------------------------------

_where = threading.local()


def _caller() -> str:
    return getattr(_where, "function", None) or "outside"


@dataclass
class Invocation:
    function: str
    keys: list[str]
    seconds: float
    outcome: str
    aws_calls: Counter = field(default_factory=Counter)  # (service, operation, DynamoDB table) → n
    http_calls: Counter = field(default_factory=Counter)  # kind → n
    log_bytes: int = 0


@dataclass
class Recorder:
    invocations: list[Invocation] = field(default_factory=list)
    outside_aws_calls: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> Invocation | None:
        return getattr(_where, "invocation", None)


def _keys_of(function: str, event: Any) -> list[str]:
    try:
        if "Records" in event:  # submit: an SQS batch of S3 notifications
            keys = []
            for record in event["Records"]:
                body = json.loads(record["body"])
                keys += [r["s3"]["object"]["key"] for r in body.get("Records", [])]
            from urllib.parse import unquote_plus

            return [unquote_plus(k) for k in keys]
        if "object" in event:
            return [event["object"]["key"]]
        if "state" in event:
            return [event["state"]["object"]["key"]]
    except (KeyError, TypeError, ValueError):
        pass
    return []


def instrument(recorder: Recorder) -> Callable[[], None]:
    """Time each registered handler and count the AWS, HTTP and log output made inside it."""
    import botocore.client
    import httpx

    from correction_core import contract
    from correction_local import lambda_bridge

    originals: list[Callable[[], None]] = []

    def timed(name: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def wrapper(event: Any, context: Any) -> Any:
            inv = Invocation(name, _keys_of(name, event), 0.0, "ok")
            _where.function, _where.invocation = name, inv
            started = time.perf_counter()
            try:
                return handler(event, context)
            except Exception as exc:
                inv.outcome = type(exc).__name__
                raise
            finally:
                inv.seconds = time.perf_counter() - started
                _where.function = _where.invocation = None
                with recorder.lock:
                    recorder.invocations.append(inv)

        return wrapper

    for name, handler in list(lambda_bridge._handlers.items()):
        lambda_bridge._handlers[name] = timed(name, handler)

    make_api_call = botocore.client.BaseClient._make_api_call

    def counting_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        service = self.meta.service_model.service_name
        table = api_params.get("TableName", "") if service == "dynamodb" and isinstance(api_params, dict) else ""
        inv = getattr(_where, "invocation", None)
        if inv is not None:
            inv.aws_calls[(service, operation_name, table)] += 1
        else:
            with recorder.lock:
                recorder.outside_aws_calls[(service, operation_name, table)] += 1
        return make_api_call(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counting_api_call
    originals.append(lambda: setattr(botocore.client.BaseClient, "_make_api_call", make_api_call))

    send = httpx.Client.send

    def counting_send(self: Any, request: Any, **kwargs: Any) -> Any:
        inv = getattr(_where, "invocation", None)
        if inv is not None:
            path = request.url.path
            if request.method == "POST" and path == contract.CREATE_PATH:
                kind = "create task"
            elif path.startswith(contract.CREATE_PATH + "/"):
                kind = "query task"
            else:
                kind = "result download"
            inv.http_calls[kind] += 1
        return send(self, request, **kwargs)

    httpx.Client.send = counting_send
    originals.append(lambda: setattr(httpx.Client, "send", send))

    # Log bytes: the service logger's lines as Powertools would print them, per invocation.
    from correction_core.observability import logger as service_logger

    class CountingHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            inv = getattr(_where, "invocation", None)
            if inv is None:
                return
            try:
                inv.log_bytes += len(service_logger.registered_formatter.format(record)) + 1
            except Exception:  # counting must never break a handler
                pass

    counting = CountingHandler(level=logging.DEBUG)
    service_logger._logger.addHandler(counting)
    originals.append(lambda: service_logger._logger.removeHandler(counting))

    def undo() -> None:
        for restore in reversed(originals):
            restore()

    return undo


# --- The run -------------------------------------------------------------------------------------


@dataclass
class Execution:
    key: str
    status: str
    seconds: float
    transitions: int  # StateEntered events + Task retries (each retry is a billed transition)
    states_entered: int
    retries: int


@dataclass
class Measurement:
    inputs: list[Input]
    recorder: Recorder
    executions: list[Execution]
    intake_batches: int
    intake_delivered: int
    outcomes: dict[str, str]  # key → result | failure | lost
    wall_seconds: float
    item_bytes: dict[str, list[int]]  # DynamoDB table → sizes of its items at the end
    sqs_message_bytes: list[int]
    engine_tasks: int
    workflow_type: str


def _execution_key(sfn: Any, arn: str) -> str:
    description = sfn.describe_execution(executionArn=arn)
    return json.loads(description["input"])["object"]["key"]


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events, token = [], None
    while True:
        kwargs = {"executionArn": arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def _item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (strings/numbers as their text)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        (kind, raw), = value.items()
        size += len(str(raw).encode()) if kind in ("S", "N", "B") else len(json.dumps(raw).encode())
    return size


def run_pipeline(inputs: list[Input], settings: TemplateSettings, *, workflow_type: str, api_qps: float) -> Measurement:
    from moto import mock_aws

    from correction_engine.server.background import run_in_thread
    from correction_engine.server.settings import EngineSettings
    from correction_local import lambda_bridge
    from correction_local.pipeline import Upload, run_uploads
    from correction_local.stack import MOTO_CONFIG, build_stack

    for name in list(os.environ):
        if name.startswith(("POWERTOOLS_", "API_", "DESTINATION_", "SOURCE_", "FAILURE_", "DEFAULT_")):
            del os.environ[name]
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    # Handler log lines are counted, not shown.
    os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"
    engine_settings = EngineSettings(api_keys=[API_KEY], rate_limit_qps=api_qps, workers=2)
    recorder = Recorder()
    sqs_bytes: list[int] = []
    with run_in_thread(engine_settings) as engine, mock_aws(config=MOTO_CONFIG):
        stack = build_stack(
            {
                "ApiBaseUrl": str(engine),
                # Loopback cannot fetch moto's presigned URLs, so the bytes travel as image_file
                # (the tests do the same). S3 request counts are the same either way: submit's
                # GET here is the vendor's GET of the presigned URL in the template's url mode.
                "SourceMode": "file",
                "ResultHosts": "127.0.0.1",
                "AllowHttpResults": "true",
                "WorkflowType": workflow_type,
            },
            api_key=API_KEY,
        )
        undo = instrument(recorder)
        # The service logger writes JSON lines to stdout; counted above, silenced here.
        from correction_core.observability import logger as service_logger

        stream_handlers = [h for h in service_logger._logger.handlers if isinstance(h, logging.StreamHandler)]
        saved_streams = [(h, h.stream) for h in stream_handlers]
        for h in stream_handlers:
            h.setStream(io.StringIO())
        try:
            started = time.monotonic()
            report = run_uploads(stack, [Upload(i.key, i.body, i.metadata) for i in inputs], timeout=900)
            wall = time.monotonic() - started
        finally:
            for h, stream in saved_streams:
                h.setStream(stream)
            undo()
        sfn = stack.client("stepfunctions")
        executions = []
        for description in report.executions:
            arn = description["executionArn"]
            events = _history(sfn, arn)
            entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
            scheduled = sum(1 for e in events if e["type"] in ("LambdaFunctionScheduled", "TaskScheduled"))
            task_states = sum(1 for e in events if e["type"] == "TaskStateEntered")
            retries = max(0, scheduled - task_states)
            full = sfn.describe_execution(executionArn=arn)
            seconds = (full["stopDate"] - full["startDate"]).total_seconds()
            executions.append(
                Execution(json.loads(full["input"])["object"]["key"], full["status"], seconds, entered + retries, entered, retries)
            )
        ddb = stack.client("dynamodb")
        item_bytes = {t: [_item_bytes(i) for i in ddb.scan(TableName=t)["Items"]] for t in ddb.list_tables()["TableNames"]}
        outcomes = {i.key: report.outcomes.outcome_of(i.key) or "lost" for i in inputs}
        engine_tasks = engine.engine.stats.tasks_created(API_KEY)
        lambda_bridge.uninstall()
    # The notification bodies, from the submit events the bridge saw.
    for name, payload, _ in lambda_bridge.invocations:
        if name == settings.submit_function:
            sqs_bytes += [len(r["body"].encode()) for r in payload.get("Records", [])]
    lambda_bridge.invocations.clear()
    return Measurement(
        inputs=inputs,
        recorder=recorder,
        executions=executions,
        intake_batches=report.intake.batches,
        intake_delivered=report.intake.delivered,
        outcomes=outcomes,
        wall_seconds=wall,
        item_bytes=item_bytes,
        sqs_message_bytes=sqs_bytes,
        engine_tasks=engine_tasks,
        workflow_type=workflow_type,
    )
