"""Orchestration cost per 1,000 images, Express vs Standard, from the template and a measured run.

Reads the settings that drive cost from ``template.yaml`` (memory and architecture of each
function, the poll interval and cap, the workflow type, the intake batch size), runs a small,
realistic set of uploads through the local pipeline (engine on loopback, the template's stack in
moto, the real state machine, the real handlers in-process) and counts what AWS would bill:
Lambda invocations and their durations, state transitions, Express execution time, SQS,
DynamoDB and S3 requests, API requests. Then prices them at list prices and writes
``docs/cost.md``.

    .venv/bin/python bench/cost.py [--images 12] [--quick] [--workflow-type EXPRESS|STANDARD]
                                   [--engine-qps 0] [--output docs/cost.md]

Takes about 40 s for the default 12 uploads on 2 cores (--quick: ~20 s).

Nothing here is typed by hand except the price table below; every count comes from the run.
"""

from __future__ import annotations

import argparse
import contextlib
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
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOAL_EXPRESS_PER_1000 = 0.10  # USD, the goal for Express orchestration

# --- List prices ---------------------------------------------------------------------------------
# US East (N. Virginia), on-demand, first pricing tier, free tiers ignored (a busy account has
# used them up). Checked on 2026-11-24 against stored copies of public pages (no live network
# here): the AWS page where its text carries the figure or rule, otherwise a dated secondary page
# quoting it. Each entry says which.
PRICE_SOURCES = {
    "Lambda": "$0.0000133334 per GB-s (Arm, first 7.5 billion GB-s/month) and $0.20 per 1M requests, 1 ms "
    "steps: rates from cloudchipr.com 'AWS Lambda Pricing Breakdown' (2024) and the api-evangelist transcription "
    "of aws.amazon.com/lambda/pricing (2026-09-20; the AWS page renders its rate table client-side). INIT billed "
    "like invoke duration since 2025-08-01: AWS Compute Blog 'AWS Lambda standardizes billing for INIT Phase'.",
    "Step Functions": "billing rules (transitions include retries; Express rounded up to 100 ms, memory in 64 MB "
    "chunks) from aws.amazon.com/step-functions/pricing; rates $0.025 per 1,000 transitions, $1.00 per 1M Express "
    "requests and $0.00001667 per GB-s from wring.co 'AWS Step Functions Pricing: Standard vs Express' "
    "(2026-03-14) and c3x.dev 'Step Functions cost: Standard vs Express'. Express's higher-volume tiers: from memory.",
    "SQS": "$0.40 per 1M standard requests, 64 KB chunks: cloudburn.io 'Amazon SQS Pricing' (2026-03-14), "
    "factualminds.com 'Amazon SQS Pricing: The 64 KB Rule' (2026-06-13).",
    "DynamoDB": "on-demand $0.625 per 1M WRU and $0.125 per 1M RRU (after the 2024-11-01 halving): airbyte.com "
    "'DynamoDB Pricing' (2025-07-21).",
    "S3": "PUT/COPY/POST/LIST $0.005 per 1,000, GET/HEAD $0.0004 per 1,000: c3x.dev 'S3 request fees explained'; "
    "DELETE free and data transfer out $0.09 per GB (first 10 TB): from memory, consistent with unanswered.io's "
    "SQS guide quoting the same egress rate.",
    "Secrets Manager": "$0.05 per 10,000 API calls: from memory, not re-checked.",
    "CloudWatch Logs": "$0.50 per GB ingested (Standard class): from memory, not re-checked.",
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
S3_TIER1_OPERATIONS = {
    "PutObject",
    "CopyObject",
    "PostObject",
    "ListObjects",
    "ListObjectsV2",
    "ListObjectVersions",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
}
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

CLOUDWATCH_LOGS_PER_GB = 0.50  # ingestion, Standard class
LAMBDA_PLATFORM_LOG_BYTES = 350  # START, END and REPORT lines per invocation (approximate)

API_KEY = "cost-bench-key-7c1e52a9"


# --- Template ------------------------------------------------------------------------------------


@dataclass
class FunctionSettings:
    logical_id: str
    memory_mb: int
    architecture: str
    timeout: int
    environment: dict[str, Any] = field(default_factory=dict)
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
    from correction_local.template import PROJECT_ROOT, Resolver, load_template

    template = load_template()
    params = template["Parameters"]
    # Conditional settings (e.g. Submit's memory depends on DownscaleOversize) at their defaults.
    resolver = Resolver.with_defaults(template, {})
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
            memory_mb=int(resolver.resolve(props.get("MemorySize", globals_fn.get("MemorySize", 128)))),
            architecture=arch,
            timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            environment=dict(props.get("Environment", {}).get("Variables", {})),
        )
        for event in props.get("Events", {}).values():
            if event.get("Type") == "SQS":
                ep = event["Properties"]
                fs.batch_size = int(ep.get("BatchSize", 10))
                fs.batching_window = int(ep.get("MaximumBatchingWindowInSeconds", 0))
                fs.max_concurrency = ep.get("ScalingConfig", {}).get("MaximumConcurrency")
                submit = logical_id
        functions[logical_id] = fs
    assert submit is not None and machine is not None, (
        "template has no SQS-triggered function or no state machine"
    )
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
    """Documents (types 0, 1, 2) and products (3, 4) in turn, plus one or two broken files.

    The broken files are the local runner's two kinds: a PNG whose pixel data is garbage (only the
    API can tell: a paid task, then the state machine's failure branch) and a truncated JPEG
    (rejected by submit before any task exists).
    """
    from PIL import Image

    from correction_engine.synth.documents import make_page_photo
    from correction_engine.synth.products import make_product
    from correction_local.samples import corrupt_png_data, encode_png

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
    garbled = corrupt_png_data(
        encode_png(make_product(98, size=(height // 2, width // 2), background="plain").image)
    )
    bad = [
        Input(
            "incoming/bad/garbled.png",
            garbled,
            {"correction-type": "2"},
            "bad: a PNG with garbled pixel data, which only the API can tell",
        ),
        Input(
            "incoming/bad/cut.jpg", good[: len(good) // 3], {}, "bad: a truncated JPEG, which submit rejects"
        ),
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
    cpu_seconds: float = 0.0  # the handler thread's own CPU time
    aws_calls: Counter = field(default_factory=Counter)  # (service, operation, DynamoDB table) → n
    http_calls: Counter = field(default_factory=Counter)  # kind → n
    log_bytes: int = 0
    client_retries: int = 0  # the API client's own retries inside the invocation
    client_sleep: float = 0.0  # and the seconds it slept for them


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


def instrument(recorder: Recorder, budget_waits: dict[str, float]) -> Callable[[], None]:
    """Time each registered handler and count the AWS, HTTP and log output made inside it.

    Also restores one per-function setting the in-process stack cannot: there all functions share
    one environment (the union of theirs), so BUDGET_WAIT_SECONDS, which the template gives the
    submit function only, would make every function wait for request tokens. Here each function
    waits only as long as its own template environment says; the others get RateLimited at once
    and the state machine retries them, as in AWS.
    """
    import botocore.client
    import httpx

    from correction_core import contract
    from correction_core import services as services_module
    from correction_local import lambda_bridge

    originals: list[Callable[[], None]] = []

    take_token = services_module.Services._take_budget_token

    def take_token_as_deployed(self: Any, method: str) -> None:
        budget = self.rate_budget
        function = getattr(_where, "function", None)
        if budget is None or function is None:
            return take_token(self, method)
        wait = budget_waits.get(function, 0.0)
        if wait > 0:
            budget.acquire_waiting(method, give_up_after=wait)
        else:
            budget.acquire(method)

    services_module.Services._take_budget_token = take_token_as_deployed

    # Work a handler hands to a thread pool (boto3's upload_fileobj does) still belongs to it.
    import concurrent.futures

    pool_submit = concurrent.futures.ThreadPoolExecutor.submit

    def submit_in_context(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        function, invocation = getattr(_where, "function", None), getattr(_where, "invocation", None)
        if invocation is None:
            return pool_submit(self, fn, *args, **kwargs)

        def run(*a: Any, **k: Any) -> Any:
            _where.function, _where.invocation = function, invocation
            try:
                return fn(*a, **k)
            finally:
                _where.function = _where.invocation = None

        return pool_submit(self, run, *args, **kwargs)

    concurrent.futures.ThreadPoolExecutor.submit = submit_in_context
    originals.append(lambda: setattr(concurrent.futures.ThreadPoolExecutor, "submit", pool_submit))
    originals.append(lambda: setattr(services_module.Services, "_take_budget_token", take_token))

    def timed(name: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def wrapper(event: Any, context: Any) -> Any:
            inv = Invocation(name, _keys_of(name, event), 0.0, "ok")
            _where.function, _where.invocation = name, inv
            started, cpu_started = time.perf_counter(), time.thread_time()
            try:
                return handler(event, context)
            except Exception as exc:
                inv.outcome = type(exc).__name__
                raise
            finally:
                inv.seconds = time.perf_counter() - started
                inv.cpu_seconds = time.thread_time() - cpu_started
                _where.function = _where.invocation = None
                with recorder.lock:
                    recorder.invocations.append(inv)

        return wrapper

    for name, handler in list(lambda_bridge._handlers.items()):
        lambda_bridge._handlers[name] = timed(name, handler)

    make_api_call = botocore.client.BaseClient._make_api_call

    def counting_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        service = self.meta.service_model.service_name
        table = (
            api_params.get("TableName", "") if service == "dynamodb" and isinstance(api_params, dict) else ""
        )
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

    class RetryCounter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            inv = getattr(_where, "invocation", None)
            if inv is not None and record.getMessage() == "correction API call will be retried":
                inv.client_retries += 1
                inv.client_sleep += float(getattr(record, "delay", 0) or 0)

    client_logger = logging.getLogger("correction_core.client")
    retry_counter = RetryCounter(level=logging.DEBUG)
    client_logger.addHandler(retry_counter)
    propagate = client_logger.propagate
    client_logger.propagate = False  # counted, not printed
    originals.append(
        lambda: (client_logger.removeHandler(retry_counter), setattr(client_logger, "propagate", propagate))
    )

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
        ((kind, raw),) = value.items()
        size += len(str(raw).encode()) if kind in ("S", "N", "B") else len(json.dumps(raw).encode())
    return size


def run_pipeline(
    inputs: list[Input], settings: TemplateSettings, *, workflow_type: str, api_qps: float
) -> Measurement:
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
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"  # the template's level: what CloudWatch Logs would ingest
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
        waits = {
            n: float(f.environment.get("BUDGET_WAIT_SECONDS", 0) or 0) for n, f in settings.functions.items()
        }
        undo = instrument(recorder, waits)
        # The service logger writes JSON lines to its own stdout handle: counted by instrument(), not shown.
        from correction_core.observability import logger as service_logger

        stream_handlers = [h for h in service_logger._logger.handlers if isinstance(h, logging.StreamHandler)]
        saved_streams = [(h, h.stream) for h in stream_handlers]
        for h in stream_handlers:
            h.setStream(io.StringIO())
        try:
            started = time.monotonic()
            # Metric lines printed by the handlers and moto's log of a failed execution are noise here.
            with contextlib.redirect_stdout(io.StringIO()):
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
                Execution(
                    json.loads(full["input"])["object"]["key"],
                    full["status"],
                    seconds,
                    entered + retries,
                    entered,
                    retries,
                )
            )
        ddb = stack.client("dynamodb")
        item_bytes = {
            t: [_item_bytes(i) for i in ddb.scan(TableName=t)["Items"]]
            for t in ddb.list_tables()["TableNames"]
        }
        outcomes = {i.key: report.outcomes.outcome_of(i.key) or "lost" for i in inputs}
        engine_tasks = engine.engine.stats.tasks_created(API_KEY)
        seen = list(lambda_bridge.invocations)  # uninstall() clears the bridge's record
        lambda_bridge.uninstall()
    # The bridge's own record must agree with ours, call for call.
    bridge = Counter(name for name, _, _ in seen)
    ours = Counter(i.function for i in recorder.invocations)
    if bridge != ours:
        print(
            f"warning: lambda_bridge.invocations {dict(bridge)} != timed invocations {dict(ours)}",
            file=sys.stderr,
        )
    # The notification bodies, from the submit events the bridge saw.
    for name, payload, _ in seen:
        if name == settings.submit_function:
            sqs_bytes += [len(r["body"].encode()) for r in payload.get("Records", [])]
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


# --- Pricing -------------------------------------------------------------------------------------

ORCHESTRATION_PREFIXES = ("Step Functions", "Lambda ")
OTHER = ("SQS", "DynamoDB", "S3 requests", "Secrets Manager", "CloudWatch Logs", "Data transfer out")


def lambda_billed_ms(inv: Invocation, conservative: bool) -> float:
    measured = math.ceil(inv.seconds * 1000)  # Lambda bills in 1 ms steps, rounded up
    if not conservative:
        return measured
    aws = sum(n for (service, _, _), n in inv.aws_calls.items())
    http = sum(inv.http_calls.values())
    floor = max(MIN_BILLED_MS, VENDOR_REQUEST_MS * http + AWS_REQUEST_MS * aws)
    return max(measured, floor) + COLD_START_RATE * INIT_MS


def express_execution_cost(seconds: float) -> float:
    billed = math.ceil(seconds * 1000 / SFN_EXPRESS_BILLING_MS) * SFN_EXPRESS_BILLING_MS / 1000
    return SFN_EXPRESS_PER_REQUEST + billed * (SFN_EXPRESS_MEMORY_CHUNK_MB / 1024) * SFN_EXPRESS_GB_SECOND


def aws_call_cost(service: str, operation: str) -> tuple[str, float]:
    if service == "dynamodb":
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return "DynamoDB", DYNAMODB_PER_WRU  # items < 1 KB (measured): 1 WRU, conditional failures too
        if operation == "GetItem":
            return "DynamoDB", DYNAMODB_PER_RRU  # consistent reads of < 4 KB: 1 RRU
        return "DynamoDB", 0.0
    if service == "s3":
        if operation in S3_FREE_OPERATIONS:
            return "S3 requests", 0.0
        if operation in S3_TIER1_OPERATIONS:
            return "S3 requests", S3_TIER1_PER_REQUEST
        return "S3 requests", S3_TIER2_PER_REQUEST
    if service == "secretsmanager":
        return "Secrets Manager", SECRETS_MANAGER_PER_CALL
    if service == "stepfunctions":
        return "Step Functions", 0.0  # StartExecution is billed as the execution itself
    return service, 0.0


@dataclass
class Costs:
    """USD per upload key, by component, for one workflow type and one duration scenario."""

    by_key: dict[str, Counter]

    def mean(self, keys: Iterable[str]) -> Counter:
        keys = list(keys)
        total: Counter = Counter()
        for key in keys:
            total.update(self.by_key.get(key, Counter()))
        return Counter({k: v / max(1, len(keys)) for k, v in total.items()})


def price_run(m: Measurement, settings: TemplateSettings, *, workflow: str, conservative: bool) -> Costs:
    by_key: dict[str, Counter] = defaultdict(Counter)
    sizes = {i.key: len(i.body) for i in m.inputs}
    for inv in m.recorder.invocations:
        keys = inv.keys or ["(unattributed)"]
        fs = settings.functions[inv.function]
        share = 1 / len(keys)
        duration = lambda_billed_ms(inv, conservative) / 1000 * fs.memory_mb / 1024 * fs.gb_second_price
        logs = (inv.log_bytes + LAMBDA_PLATFORM_LOG_BYTES) / 1e9 * CLOUDWATCH_LOGS_PER_GB
        calls: Counter = Counter()
        for (service, operation, _), n in inv.aws_calls.items():
            component, price = aws_call_cost(service, operation)
            calls[component] += n * price
        for key in keys:
            c = by_key[key]
            c["Lambda requests"] += LAMBDA_PER_REQUEST * share
            c[f"Lambda duration: {inv.function}"] += duration * share
            c["CloudWatch Logs"] += logs * share
            for component, usd in calls.items():
                c[component] += usd * share
    for execution in m.executions:
        c = by_key[execution.key]
        # A task exists: its source photo left AWS once (to the vendor), whichever SourceMode.
        c["Data transfer out"] += sizes.get(execution.key, 0) / 1e9 * DATA_TRANSFER_OUT_PER_GB
        if workflow == "EXPRESS":
            c["Step Functions"] += express_execution_cost(execution.seconds)
        else:
            c["Step Functions"] += execution.transitions * SFN_STANDARD_PER_TRANSITION
    # SQS: S3's SendMessage per upload, and per batch one ReceiveMessage and one DeleteMessageBatch,
    # shared by the batch's messages; each request is one 64 KB chunk (notifications are < 1 KB).
    chunks = max(1, math.ceil(max(m.sqs_message_bytes or [1]) / SQS_CHUNK_BYTES))
    per_message = m.intake_delivered and (2 * m.intake_batches) / m.intake_delivered
    for i in m.inputs:
        by_key[i.key]["SQS"] += (1 + per_message) * chunks * SQS_PER_REQUEST
    return Costs(by_key)


def orchestration(c: Counter) -> float:
    return sum(v for k, v in c.items() if k.startswith(ORCHESTRATION_PREFIXES))


# --- Report --------------------------------------------------------------------------------------


def _median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def _p90(values: Iterable[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(0.9 * len(values)) - 1)] if values else float("nan")


def _num(value: float, digits: int = 0) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def _usd(value: float, digits: int = 4) -> str:
    return f"${value:.{digits}f}"


def build_report(
    m: Measurement, settings: TemplateSettings, args: argparse.Namespace
) -> tuple[str, dict[str, Any]]:
    inv = m.recorder.invocations
    uploads = [i.key for i in m.inputs]
    succeeded = [k for k, o in m.outcomes.items() if o == "result"]
    failed = [k for k, o in m.outcomes.items() if o == "failure"]
    lost = [k for k, o in m.outcomes.items() if o == "lost"]
    fn_names = list(settings.functions)
    loop = poll_loop_states(settings.definition)
    check_fn = next(n for n in fn_names if "Check" in n)
    executions = {e.key: e for e in m.executions}

    per_key_calls: dict[str, Counter] = defaultdict(Counter)  # key → function → invocations (shares)
    polls: Counter = Counter()
    for i in inv:
        for key in i.keys:
            per_key_calls[key][i.function] += 1 / len(i.keys)
        if i.function == check_fn and i.outcome == "ok":
            for key in i.keys:
                polls[key] += 1
    http_totals: Counter = Counter()
    aws_totals: Counter = Counter()
    for i in inv:
        http_totals.update(i.http_calls)
        aws_totals.update(i.aws_calls)

    costs = {
        (wf, cons): price_run(m, settings, workflow=wf, conservative=cons)
        for wf in ("EXPRESS", "STANDARD")
        for cons in (False, True)
    }
    summary: dict[str, Any] = {}
    for (wf, cons), c in costs.items():
        summary[(wf, cons)] = {
            "success": c.mean(succeeded),
            "mix": c.mean(uploads),
        }
    express_cons = orchestration(summary[("EXPRESS", True)]["success"]) * 1000
    express_meas = orchestration(summary[("EXPRESS", False)]["success"]) * 1000
    goal_met = express_cons <= GOAL_EXPRESS_PER_1000

    L: list[str] = []
    now = datetime.now(UTC)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count() or 1
    L += [
        "# Orchestration cost per 1,000 images",
        "",
        f"Generated by `bench/cost.py` on {now:%Y-%m-%d %H:%M} UTC ({cores} cores, Python {platform.python_version()}); "
        "every count below was measured in a local run of the whole pipeline (engine on loopback, the template's stack "
        "in moto, the real state machine definition, the real handlers in-process), and every price is a named "
        "constant in the script. Do not edit by hand: re-run the script.",
        "",
        f"**Goal: Express orchestration ≤ ${GOAL_EXPRESS_PER_1000:.2f} per 1,000 images — "
        f"{'met' if goal_met else 'NOT met'}.** Per 1,000 images that end in a result: "
        f"**{_usd(express_meas)}** with the durations measured here, **{_usd(express_cons)}** in the conservative "
        f"scenario (vendor round trips from us-east-1, cold starts). Standard would cost "
        f"{_usd(orchestration(summary[('STANDARD', False)]['success']) * 1000)} "
        f"/ {_usd(orchestration(summary[('STANDARD', True)]['success']) * 1000)}.",
        "",
        '"Orchestration" = Step Functions + the requests and duration of the pipeline\'s four functions '
        f"({', '.join(fn_names)}). Queue, table, bucket, secret and log costs are listed apart; the API's own "
        "credits are a separate line without a price.",
        "",
        "## Inputs read from the template",
        "",
        "| setting | value |",
        "| --- | --- |",
    ]
    for fs in settings.functions.values():
        extra = ""
        if fs.batch_size:
            extra = f"; SQS BatchSize {fs.batch_size}, MaximumBatchingWindowInSeconds {fs.batching_window}, MaximumConcurrency {fs.max_concurrency}"
            if "BUDGET_WAIT_SECONDS" in fs.environment:
                extra += f"; waits up to BUDGET_WAIT_SECONDS={fs.environment['BUDGET_WAIT_SECONDS']} s for a request token"
        L.append(f"| {fs.logical_id} | {fs.memory_mb} MB, {fs.architecture}, timeout {fs.timeout} s{extra} |")
    L += [
        f"| PollIntervalSeconds (default) | {settings.poll_interval} s |",
        f"| PollCapSeconds (default) | {settings.poll_cap} s |",
        f"| WorkflowType (default; allowed) | {settings.workflow_type}; {', '.join(settings.workflow_types)} |",
        f"| ApiQps (default) | {settings.api_qps} requests/s, shared by creates and polls (RateBudgetTable) |",
        f"| states entered per poll | {len(loop)} ({' → '.join(loop)}) |",
        "",
        "## The run",
        "",
        f"{len(uploads)} uploads, all at once as `aws s3 cp --recursive` would: "
        f"{sum(1 for i in m.inputs if i.kind.startswith('type'))} synthetic photos of {args.size[1]}×{args.size[0]} "
        f"(documents of types 0/1/2, products of types 3/4, mean {statistics.mean(len(i.body) for i in m.inputs if i.kind.startswith('type')) / 1024:.0f} KB JPEG) "
        f"and {sum(1 for i in m.inputs if i.kind.startswith('bad'))} broken file(s) "
        f"({'; '.join(i.kind.removeprefix('bad: ') for i in m.inputs if i.kind.startswith('bad')) or 'none'}). Workflow type {m.workflow_type}; "
        f"engine rate limit {'off' if not args.engine_qps else f'{args.engine_qps} QPS'} (the pipeline's own budget applies). "
        f"{len(succeeded)} ended in a result, {len(failed)} in a failure record, {len(lost)} lost; "
        f"{m.engine_tasks} tasks created; wall time {m.wall_seconds:.1f} s.",
        "",
        "Polls per image depend on the engine's processing time on this 2-core machine (and on waiting for the "
        "shared 2-per-second request budget); the vendor's may differ, which is what the sensitivity table is for.",
        "",
        "### Measured counts",
        "",
        "Per image: median over the images that ended in a result (submit's batch invocations are shared "
        "between the batch's images).",
        "",
        "| what | total in the run | per image (median) | wall time per invocation, median / p90 (ms) | handler thread CPU, median (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in fn_names:
        rows = [i for i in inv if i.function == name]
        errors = Counter(i.outcome for i in rows if i.outcome != "ok")
        err = f" ({', '.join(f'{n} {e}' for e, n in errors.items())})" if errors else ""
        per = _median(per_key_calls[k][name] for k in succeeded)
        L.append(
            f"| {name} invocations{err} | {len(rows)} | {per:.2f} | "
            f"{_num(_median(i.seconds * 1000 for i in rows))} / {_num(_p90(i.seconds * 1000 for i in rows))} | "
            f"{_num(_median(i.cpu_seconds * 1000 for i in rows))} |"
        )
    ex_ok = [executions[k] for k in succeeded if k in executions]
    L += [
        f"| state machine executions ({', '.join(f'{n} {s}' for s, n in Counter(e.status for e in m.executions).items())}) "
        f"| {len(m.executions)} | 1 | | |",
        f"| state transitions (StateEntered events + Task retries) | {sum(e.transitions for e in m.executions)} "
        f"| {_median(e.transitions for e in ex_ok):.0f} | | |",
        f"| of which Task retries (RateLimited etc.) | {sum(e.retries for e in m.executions)} "
        f"| {_median(e.retries for e in ex_ok):.0f} | | |",
        f"| execution duration, s (Express bills it) | {sum(e.seconds for e in m.executions):.1f} "
        f"| {_median(e.seconds for e in ex_ok):.2f} | | |",
        f"| polls (CheckStatus invocations that answered) | {sum(polls.values())} | {_median(polls[k] for k in succeeded):.0f} | | |",
    ]
    for name in fn_names:
        rows = [i for i in inv if i.function == name]
        retried = sum(i.client_retries for i in rows)
        if retried:
            L.append(
                f"| {name}: API client retries inside the invocation (sleeping {sum(i.client_sleep for i in rows):.1f} s in all) "
                f"| {retried} | {_median(sum(i.client_retries / len(i.keys) for i in rows if k in i.keys) for k in succeeded):.2f} | | |"
            )
    for kind in ("create task", "query task", "result download"):
        per = _median(
            sum(i.http_calls[kind] / max(1, len(i.keys)) for i in inv if k in i.keys) for k in succeeded
        )
        L.append(f"| HTTP: {kind} | {http_totals[kind]} | {per:.2f} | | |")
    for (service, operation, table), n in sorted(aws_totals.items()):
        per = _median(
            sum(i.aws_calls[(service, operation, table)] / max(1, len(i.keys)) for i in inv if k in i.keys)
            for k in succeeded
        )
        where = f" ({table})" if table else ""
        L.append(f"| {service} {operation}{where} | {n} | {per:.2f} | | |")
    L += [
        f"| SQS: S3 notifications delivered / batches received / DeleteMessageBatch | "
        f"{m.intake_delivered} / {m.intake_batches} / {m.recorder.outside_aws_calls[('sqs', 'DeleteMessageBatch', '')]} "
        f"| {1 + 2 * m.intake_batches / max(1, m.intake_delivered):.2f} requests | | |",
        f"| handler log output, bytes per invocation (+ ~{LAMBDA_PLATFORM_LOG_BYTES} B of START/END/REPORT) "
        f"| {sum(i.log_bytes for i in inv)} | {_median(i.log_bytes for i in inv):.0f} | | |",
        "",
        "DynamoDB items at the end of the run (all < 1 KB, so every write is 1 WRU and every read 1 RRU): "
        + "; ".join(f"{t}: {len(v)} items, largest {max(v) if v else 0} B" for t, v in m.item_bytes.items())
        + f". SQS notification bodies: largest {max(m.sqs_message_bytes or [0])} B (one 64 KB chunk).",
        "",
        "DynamoDB requests are counted, not estimated: every boto3 call made inside a handler is recorded "
        "(by wrapping botocore's `_make_api_call`; API requests by wrapping `httpx.Client.send`). Powertools "
        "Idempotency makes a conditional PutItem (in progress) and an UpdateItem (done) per idempotent step "
        f"({sum(n for (svc, op, _), n in aws_totals.items() if svc == 'dynamodb' and op == 'PutItem') / max(1, m.engine_tasks):.1f} "
        "per created task in this code); the request budget makes one conditional UpdateItem per API request "
        "(create, poll or result fetch; a refused one costs the write too) and, before a create, one consistent GetItem.",
        "",
        "Wall times are the handlers' own (the bridge's call of the handler, timed by wrapping the registered "
        "handlers). They are not a clean lower bound: in-process the engine, moto and the handlers share one "
        "interpreter and 2 cores, so a call to the engine waits for CPU and the GIL (compare the thread CPU "
        "column), while the network to the vendor is missing; submit's time includes its waits for the request "
        "budget, as it would in Lambda.",
        "",
        "## Prices (us-east-1, list, free tiers ignored)",
        "",
        "| item | price |",
        "| --- | --- |",
        f"| Lambda arm64 duration | ${LAMBDA_ARM_GB_SECOND} per GB-s (1 ms steps) |",
        f"| Lambda requests | ${LAMBDA_PER_REQUEST * 1e6:.2f} per 1M |",
        f"| Step Functions Standard | ${SFN_STANDARD_PER_TRANSITION * 1000:.3f} per 1,000 state transitions |",
        f"| Step Functions Express | ${SFN_EXPRESS_PER_REQUEST * 1e6:.2f} per 1M requests + ${SFN_EXPRESS_GB_SECOND} per GB-s, "
        f"{SFN_EXPRESS_BILLING_MS} ms steps, {SFN_EXPRESS_MEMORY_CHUNK_MB} MB chunks (billed at the {SFN_EXPRESS_MEMORY_CHUNK_MB} MB minimum: payloads are references) |",
        f"| SQS standard | ${SQS_PER_REQUEST * 1e6:.2f} per 1M requests (64 KB chunks) |",
        f"| DynamoDB on-demand | ${DYNAMODB_PER_WRU * 1e6:.3f} per 1M WRU, ${DYNAMODB_PER_RRU * 1e6:.3f} per 1M RRU |",
        f"| S3 Standard requests | ${S3_TIER1_PER_REQUEST * 1000:.4f} per 1,000 PUT/LIST, ${S3_TIER2_PER_REQUEST * 1000:.4f} per 1,000 GET/HEAD, DELETE free |",
        f"| Data transfer out to the internet | ${DATA_TRANSFER_OUT_PER_GB} per GB |",
        f"| Secrets Manager | ${SECRETS_MANAGER_PER_CALL * 10000:.2f} per 10,000 calls |",
        f"| CloudWatch Logs ingestion | ${CLOUDWATCH_LOGS_PER_GB:.2f} per GB |",
        "",
        "Sources:",
        "",
        *[f"- {k}: {v}" for k, v in PRICE_SOURCES.items()],
        "",
        "## Cost per 1,000 images",
        "",
        "**Measured**: each invocation billed for its in-process wall time (rounded up to 1 ms). The vendor is a "
        "loopback call here, so the network is missing; CPU contention adds some time back (see above).",
        "",
        f"**Conservative**: each invocation billed for at least {VENDOR_REQUEST_MS} ms per vendor request it made "
        f"(us-east-1 → the vendor's Hong Kong endpoint: a round trip is typically ~200 ms on a kept-alive TLS "
        f"connection, a figure from public latency tables, not measured here; plus the API's own time) plus {AWS_REQUEST_MS} ms per AWS request it made, never under {MIN_BILLED_MS} ms; "
        f"plus cold starts, billed since 2025-08-01: {COLD_START_RATE:.0%} of invocations × {INIT_MS} ms of INIT. "
        "Submit's measured time already holds its waits for the request budget.",
        "",
        "Per 1,000 images that end in a result (the normal case, and the costliest: every step runs):",
        "",
        "| component | Express, measured | Express, conservative | Standard, measured | Standard, conservative |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    cols = [summary[(wf, cons)]["success"] for wf in ("EXPRESS", "STANDARD") for cons in (False, True)]
    for component in ["Step Functions", "Lambda requests"] + [f"Lambda duration: {n}" for n in fn_names]:
        L.append(f"| {component} | " + " | ".join(_usd(c[component] * 1000) for c in cols) + " |")
    L.append(
        "| **orchestration** | " + " | ".join(f"**{_usd(orchestration(c) * 1000)}**" for c in cols) + " |"
    )
    for component in OTHER:
        L.append(f"| {component} | " + " | ".join(_usd(c[component] * 1000) for c in cols) + " |")
    L.append(
        "| **all AWS above** | " + " | ".join(f"**{_usd(sum(c.values()) * 1000)}**" for c in cols) + " |"
    )
    from correction_core.contract import CREDITS_PER_TASK

    drivers = sorted(
        (
            (k, v)
            for k, v in summary[("EXPRESS", True)]["success"].items()
            if k.startswith(ORCHESTRATION_PREFIXES)
        ),
        key=lambda kv: -kv[1],
    )
    total = orchestration(summary[("EXPRESS", True)]["success"]) or 1
    submit_rows = [i for i in inv if i.function == settings.submit_function]
    wall, cpu = sum(i.seconds for i in submit_rows), sum(i.cpu_seconds for i in submit_rows)
    drivers_text = [
        "What drives Express orchestration (conservative): "
        + ", ".join(f"{k} {v / total:.0%}" for k, v in drivers[:4])
        + f". {settings.submit_function} ran {wall:.1f} s for {cpu:.1f} s of its own CPU: most of its billed time is "
        f"spent waiting (for request tokens and for the API), billed at its {settings.functions[settings.submit_function].memory_mb} MB.",
        "",
    ]
    mix = [summary[(wf, cons)]["mix"] for wf in ("EXPRESS", "STANDARD") for cons in (False, True)]
    L += [
        f"| API credits (vendor, not priced here) | {CREDITS_PER_TASK * 1000:,} credits ({CREDITS_PER_TASK} per task) | | | |",
        "",
        f"Per 1,000 uploads of this run's mix ({len(succeeded)} result(s), {len(failed)} failure record(s)): orchestration "
        + ", ".join(
            f"{lbl} {_usd(orchestration(c) * 1000)}"
            for lbl, c in zip(
                ("Express measured", "Express conservative", "Standard measured", "Standard conservative"),
                mix,
            )
        )
        + f" ({m.engine_tasks} tasks = {m.engine_tasks * CREDITS_PER_TASK} credits for {len(uploads)} uploads). "
        + failure_paths(m, costs, failed, executions),
        "",
        *drivers_text,
        '"Data transfer out" is the source photo leaving AWS for the vendor (the API fetches the presigned URL in '
        "the template's url mode; submit uploads the bytes in file mode): the same bytes either way, "
        f"${DATA_TRANSFER_OUT_PER_GB * 1000 / 1000:.2f} per 1,000 images per MB of photo. These synthetic JPEGs are small; "
        f"phone photos of 3-5 MB would cost ${3 * DATA_TRANSFER_OUT_PER_GB:.2f}-${5 * DATA_TRANSFER_OUT_PER_GB:.2f} per 1,000 "
        "in egress alone, more than the whole Express orchestration. Secrets "
        "Manager is read once per container every 5 minutes, so in a run this small its one call weighs more per "
        "image than it will at volume. Results "
        "coming back are free (data transfer in). Not counted: the user's own upload PUT, X-Ray traces (Active "
        "tracing on every function and the state machine; $5 per 1M traces recorded; with the default sampling of "
        "1 request/s plus 5 %, and the pipeline held to ≤ 2 API requests/s, nearly every image is traced: "
        "about $0.005-0.01 per 1,000), EMF metric lines (disabled locally), the SQS event "
        "source's empty long polls while idle, and fixed monthly costs (secret, alarms, PITR storage).",
        "",
    ]

    # Sensitivity: polls per image.
    lines, backlog_limit = sensitivity(m, settings, costs, succeeded, polls, check_fn, loop)
    L += lines
    if backlog_limit is not None:
        goal_line = next(i for i, line in enumerate(L) if line.startswith("**Goal:"))
        L[goal_line] += (
            f" Caveat: while a backlog waits for the shared {settings.api_qps}-per-second request budget, "
            f"{settings.submit_function}'s billed waiting pushes Express past the goal from about {backlog_limit} "
            "poll(s) per image (a model, see the sensitivity section)."
        )
    text = "\n".join(L) + "\n"
    return text, {
        "express_measured": express_meas,
        "express_conservative": express_cons,
        "standard_measured": orchestration(summary[("STANDARD", False)]["success"]) * 1000,
        "standard_conservative": orchestration(summary[("STANDARD", True)]["success"]) * 1000,
        "goal_met": goal_met,
        "polls_median": _median(polls[k] for k in succeeded),
    }


def failure_paths(m: Measurement, costs: dict, failed: list[str], executions: dict) -> str:
    """One sentence on what the uploads that failed cost, by where they failed."""
    parts = []
    at_api = [k for k in failed if k in executions]
    at_submit = [k for k in failed if k not in executions]
    if at_api:
        e = orchestration(costs[("EXPRESS", True)].mean(at_api)) * 1000
        s = orchestration(costs[("STANDARD", True)].mean(at_api)) * 1000
        parts.append(
            f"An upload the API fails (a paid task, then the failure branch and RecordFailure) costs {_usd(e)} Express / "
            f"{_usd(s)} Standard orchestration per 1,000 (conservative)"
        )
    if at_submit:
        e = orchestration(costs[("EXPRESS", True)].mean(at_submit)) * 1000
        parts.append(
            f"an upload submit rejects before any task exists costs {_usd(e)} per 1,000 (its share of a submit batch)"
        )
    return ("; ".join(parts) + ".") if parts else ""


def sensitivity(m, settings, costs, succeeded, polls, check_fn, loop) -> tuple[list[str], int | None]:
    """Orchestration per 1,000 images as a function of polls per image (≈ processing time / interval).

    ``polls`` counts CheckStatus invocations that answered; refused ones (RateLimited) stay in the
    per-image rest, as measured.
    """
    interval = settings.poll_interval
    ex_ok = [e for e in m.executions if e.key in succeeded]
    base_transitions = _median(e.transitions - len(loop) * polls[e.key] for e in ex_ok)
    overhead_s = _median(e.seconds - interval * polls[e.key] for e in ex_ok)
    check = settings.functions[check_fn]
    submit = settings.functions[settings.submit_function]
    inv = m.recorder.invocations
    # Budgeted API requests per image besides the polls (the create, Finalize's re-query), measured.
    other_requests = _median(
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
                LAMBDA_PER_REQUEST
                + lambda_billed_ms(i, cons) / 1000 * check.memory_mb / 1024 * check.gb_second_price
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
                    sfn = (base_transitions + len(loop) * p) * SFN_STANDARD_PER_TRANSITION
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
        f"allows at most {settings.poll_cap // interval}. Measured here: median {_median(polls[k] for k in succeeded):.0f} "
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
            _usd(v * 1000) + (" ✗" if i in (0, 1, 4) and v * 1000 > GOAL_EXPRESS_PER_1000 else "")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
