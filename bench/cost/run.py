"""The measured run: realistic uploads through the local runner, and what AWS would count.

Runs through ``correction_local.runner.run_local`` with its public hooks: ``on_ready`` starts the
instrumentation once the stack stands, ``on_settled`` reads the stack's records (execution
histories, table items, the bridge's invocations) before it is taken down, and the run's engine
host (``RunConfig.engine_host``) reports how many tasks the engine created.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import tempfile
import warnings
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .instrument import Recorder, attribute_result_uploads, instrumented
from .settings import TemplateSettings


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


def _executions(sfn: Any, executions: list[dict[str, Any]]) -> list[Execution]:
    out = []
    for description in executions:
        arn = description["executionArn"]
        events = _history(sfn, arn)
        entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
        scheduled = sum(1 for e in events if e["type"] in ("LambdaFunctionScheduled", "TaskScheduled"))
        task_states = sum(1 for e in events if e["type"] == "TaskStateEntered")
        retries = max(0, scheduled - task_states)
        full = sfn.describe_execution(executionArn=arn)
        seconds = (full["stopDate"] - full["startDate"]).total_seconds()
        key = json.loads(full["input"])["object"]["key"]
        out.append(Execution(key, full["status"], seconds, entered + retries, entered, retries))
    return out


def _quiet_environment() -> None:
    for name in list(os.environ):
        if name.startswith(("POWERTOOLS_", "API_", "DESTINATION_", "SOURCE_", "FAILURE_", "DEFAULT_")):
            del os.environ[name]
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"  # the template's level: what CloudWatch Logs would ingest


def run_pipeline(
    inputs: list[Input], settings: TemplateSettings, *, workflow_type: str, api_qps: float
) -> Measurement:
    """``inputs`` through the whole pipeline, all at once; ``api_qps`` is the engine's own limit
    (the pipeline's budget stays the template's ApiQps)."""
    from dataclasses import replace

    from correction_local import lambda_bridge
    from correction_local.engine_host import InProcessEngine
    from correction_local.inputs import InputFile
    from correction_local.measure import all_executions
    from correction_local.runner import RunConfig, run_local

    _quiet_environment()
    prefix = "incoming/"
    files = []
    for item in inputs:
        assert item.key.startswith(prefix), item.key
        kind = item.metadata.get("correction-type")
        files.append(InputFile(item.key[len(prefix) :], item.body, int(kind) if kind is not None else None))
    engines: list[InProcessEngine] = []

    def engine(config: RunConfig) -> InProcessEngine:
        engines.append(InProcessEngine(replace(config, qps=int(api_qps) or None)))
        return engines[-1]

    recorder = Recorder()
    read: dict[str, Any] = {}
    counting = ExitStack()
    with counting, tempfile.TemporaryDirectory(prefix="cost-run-") as output:

        def on_ready(_url: str, _local: Any) -> None:
            counting.enter_context(instrumented(recorder))

        def on_settled(local: Any) -> None:
            counting.close()  # the run is over: stop counting before the stack is read
            read["executions"] = _executions(local.client("stepfunctions"), all_executions(local))
            ddb = local.client("dynamodb")
            read["item_bytes"] = {
                t: [_item_bytes(i) for i in ddb.scan(TableName=t)["Items"]]
                for t in ddb.list_tables()["TableNames"]
            }
            read["bridge"] = list(lambda_bridge.invocations)  # the stack's teardown clears it

        config = RunConfig(
            output=Path(output),
            source_prefix=prefix,
            poll_interval=settings.poll_interval,
            poll_cap=settings.poll_cap,
            engine_workers=2,
            timeout=900,
            gallery=False,
            # Loopback cannot fetch moto's presigned URLs, so the bytes travel as image_file (the
            # runner's SourceMode). S3 request counts are the same either way: submit's GET here is
            # the vendor's GET of the presigned URL in the template's url mode.
            extra_parameters={"ApiQps": str(settings.api_qps), "WorkflowType": workflow_type},
            engine_host=engine,
        )
        run = run_local(config, files, on_ready=on_ready, on_settled=on_settled)
    report = run.report
    attribute_result_uploads(recorder, {k: r["key"] for k, r in report.outcomes.results.items()})
    seen = read["bridge"]
    # The bridge's own record must agree with ours, call for call.
    bridge = Counter(name for name, _, _ in seen)
    ours = Counter(i.function for i in recorder.invocations)
    if bridge != ours:
        print(
            f"warning: lambda_bridge.invocations {dict(bridge)} != timed invocations {dict(ours)}",
            file=sys.stderr,
        )
    # The notification bodies, from the submit events the bridge saw.
    sqs_bytes = [
        len(r["body"].encode())
        for name, payload, _ in seen
        if name == settings.submit_function
        for r in payload.get("Records", [])
    ]
    return Measurement(
        inputs=inputs,
        recorder=recorder,
        executions=read["executions"],
        intake_batches=report.intake.batches,
        intake_delivered=report.intake.delivered,
        outcomes={i.key: report.outcomes.outcome_of(i.key) or "lost" for i in inputs},
        wall_seconds=report.seconds,
        item_bytes=read["item_bytes"],
        sqs_message_bytes=sqs_bytes,
        engine_tasks=sum(e.tasks_created() for e in engines),
        workflow_type=workflow_type,
    )
