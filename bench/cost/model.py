"""The pricing model: what AWS bills for what a run did, as pure functions of counts and prices.

Every function here is arithmetic on its arguments and the constants in ``prices``; the unit
tests (tests/unit/test_cost_model.py) check them against hand-computed figures. ``price_run``
applies them to a measured run (``run.Measurement``); nothing here runs anything.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import prices

if TYPE_CHECKING:
    from .instrument import Invocation
    from .run import Measurement
    from .settings import TemplateSettings

GOAL_EXPRESS_PER_1000 = 0.10  # USD, the goal for Express orchestration

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

LAMBDA_PLATFORM_LOG_BYTES = 350  # START, END and REPORT lines per invocation (approximate)
#: How long a container keeps the API key read from Secrets Manager (correction_core.services).
SECRET_CACHE_SECONDS = 300

ORCHESTRATION_PREFIXES = ("Step Functions", "Lambda ")
OTHER = ("SQS", "DynamoDB", "S3 requests", "Secrets Manager", "CloudWatch Logs", "Data transfer out")


# --- Unit prices ---------------------------------------------------------------------------------


def lambda_duration_cost(billed_ms: float, memory_mb: int, gb_second_price: float) -> float:
    """USD for one invocation's billed duration: GB-s = seconds × memory in GB (1 GB = 1024 MB)."""
    return billed_ms / 1000 * memory_mb / 1024 * gb_second_price


def lambda_invocation_cost(billed_ms: float, memory_mb: int, gb_second_price: float) -> float:
    """USD for one invocation: its request plus its duration."""
    return prices.LAMBDA_PER_REQUEST + lambda_duration_cost(billed_ms, memory_mb, gb_second_price)


def billed_lambda_ms(seconds: float) -> int:
    """Lambda's billed duration of a run of ``seconds``: rounded up to 1 ms steps."""
    return math.ceil(seconds * 1000 / prices.LAMBDA_BILLING_MS) * prices.LAMBDA_BILLING_MS


def express_execution_cost(seconds: float) -> float:
    """USD for one Express execution of ``seconds``: its request, and its duration rounded up to
    100 ms at the 64 MB minimum (the payloads are references, far under 64 MB)."""
    steps = math.ceil(seconds * 1000 / prices.SFN_EXPRESS_BILLING_MS)
    billed = steps * prices.SFN_EXPRESS_BILLING_MS / 1000
    gb = prices.SFN_EXPRESS_MEMORY_CHUNK_MB / 1024
    return prices.SFN_EXPRESS_PER_REQUEST + billed * gb * prices.SFN_EXPRESS_GB_SECOND


def standard_execution_cost(transitions: float) -> float:
    """USD for one Standard execution: its state transitions (retries included)."""
    return transitions * prices.SFN_STANDARD_PER_TRANSITION


def sqs_requests_cost(requests: float, largest_message_bytes: int) -> float:
    """USD for ``requests`` SQS requests, each billed per started 64 KB chunk of its payload."""
    chunks = max(1, math.ceil(max(1, largest_message_bytes) / prices.SQS_CHUNK_BYTES))
    return requests * chunks * prices.SQS_PER_REQUEST


def aws_call_cost(service: str, operation: str) -> tuple[str, float]:
    """(component, USD) of one AWS API call as the functions make them."""
    if service == "dynamodb":
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return (
                "DynamoDB",
                prices.DYNAMODB_PER_WRU,
            )  # items < 1 KB (measured): 1 WRU, failed conditions too
        if operation == "GetItem":
            return "DynamoDB", prices.DYNAMODB_PER_RRU  # consistent reads of < 4 KB: 1 RRU
        return "DynamoDB", 0.0
    if service == "s3":
        if operation in prices.S3_FREE_OPERATIONS:
            return "S3 requests", 0.0
        if operation in prices.S3_TIER1_OPERATIONS:
            return "S3 requests", prices.S3_TIER1_PER_REQUEST
        return "S3 requests", prices.S3_TIER2_PER_REQUEST
    if service == "secretsmanager":
        return "Secrets Manager", prices.SECRETS_MANAGER_PER_CALL
    if service == "stepfunctions":
        return "Step Functions", 0.0  # StartExecution is billed as the execution itself
    return service, 0.0


def secret_cost_per_image(
    images_per_second: float, containers: int = 1, cache_seconds: float = SECRET_CACHE_SECONDS
) -> float:
    """USD of Secrets Manager reads per image at a steady rate: each warm container reads the key
    once per ``cache_seconds`` however many images it handles meanwhile."""
    images_per_read = images_per_second * cache_seconds / max(1, containers)
    return prices.SECRETS_MANAGER_PER_CALL / max(images_per_read, 1.0)


def data_transfer_out_cost(size_bytes: int) -> float:
    """USD for ``size_bytes`` leaving AWS to the internet (1 GB = 10⁹ bytes, as AWS bills)."""
    return size_bytes / 1e9 * prices.DATA_TRANSFER_OUT_PER_GB


def log_ingestion_cost(size_bytes: int) -> float:
    return size_bytes / 1e9 * prices.CLOUDWATCH_LOGS_PER_GB


def engine_cost_per_1000(median_seconds: float, memory_mb: int, architecture: str = "arm64") -> float:
    """USD per 1,000 images of the engine's own work, were each image one Lambda invocation of
    the engine's worker: ``median_seconds`` of measured processing at ``memory_mb``."""
    billed = billed_lambda_ms(median_seconds)
    return 1000 * lambda_invocation_cost(billed, memory_mb, prices.gb_second_price(architecture))


def vendor_cost_per_1000(usd_per_credit: float) -> float:
    """USD per 1,000 images at the vendor: every successful call costs its credits."""
    return 1000 * prices.VENDOR_CREDITS_PER_CALL * usd_per_credit


# --- A measured run priced -----------------------------------------------------------------------


def lambda_billed_ms(inv: Invocation, conservative: bool) -> float:
    """An invocation's billed ms: as measured, or in the conservative scenario (see above)."""
    measured = billed_lambda_ms(inv.seconds)
    if not conservative:
        return measured
    aws = sum(inv.aws_calls.values())
    http = sum(inv.http_calls.values())
    floor = max(MIN_BILLED_MS, VENDOR_REQUEST_MS * http + AWS_REQUEST_MS * aws)
    return max(measured, floor) + COLD_START_RATE * INIT_MS


@dataclass
class Costs:
    """USD per upload key, by component, for one workflow type and one duration scenario."""

    by_key: Mapping[str, Mapping[str, float]]

    def mean(self, keys: Iterable[str]) -> defaultdict[str, float]:
        """The mean per component over ``keys`` (a component none of them has reads 0)."""
        keys = list(keys)
        total: defaultdict[str, float] = defaultdict(float)
        for key in keys:
            for component, usd in self.by_key.get(key, {}).items():
                total[component] += usd
        return defaultdict(float, {k: v / max(1, len(keys)) for k, v in total.items()})


def price_run(m: Measurement, settings: TemplateSettings, *, workflow: str, conservative: bool) -> Costs:
    by_key: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
    sizes = {i.key: len(i.body) for i in m.inputs}
    for inv in m.recorder.invocations:
        keys = inv.keys or ["(unattributed)"]
        fs = settings.functions[inv.function]
        share = 1 / len(keys)
        duration = lambda_duration_cost(lambda_billed_ms(inv, conservative), fs.memory_mb, fs.gb_second_price)
        logs = log_ingestion_cost(inv.log_bytes + LAMBDA_PLATFORM_LOG_BYTES)
        calls: defaultdict[str, float] = defaultdict(float)
        for (service, operation, _), n in inv.aws_calls.items():
            component, price = aws_call_cost(service, operation)
            calls[component] += n * price
        for key in keys:
            c = by_key[key]
            c["Lambda requests"] += prices.LAMBDA_PER_REQUEST * share
            c[f"Lambda duration: {inv.function}"] += duration * share
            c["CloudWatch Logs"] += logs * share
            for component, usd in calls.items():
                c[component] += usd * share
    for execution in m.executions:
        c = by_key[execution.key]
        # A task exists: its source photo left AWS once (to the vendor), whichever SourceMode.
        c["Data transfer out"] += data_transfer_out_cost(sizes.get(execution.key, 0))
        if workflow == "EXPRESS":
            c["Step Functions"] += express_execution_cost(execution.seconds)
        else:
            c["Step Functions"] += standard_execution_cost(execution.transitions)
    # SQS: S3's SendMessage per upload, and per batch one ReceiveMessage and one DeleteMessageBatch,
    # shared by the batch's messages; each request is one 64 KB chunk (notifications are < 1 KB).
    per_message = m.intake_delivered and (2 * m.intake_batches) / m.intake_delivered
    largest = max(m.sqs_message_bytes or [1])
    for i in m.inputs:
        by_key[i.key]["SQS"] += sqs_requests_cost(1 + per_message, largest)
    return Costs(by_key)


def orchestration(c: Mapping[str, float]) -> float:
    return sum(v for k, v in c.items() if k.startswith(ORCHESTRATION_PREFIXES))
