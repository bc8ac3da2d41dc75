"""List prices the cost model uses, each with where it comes from and when it was checked.

US East (N. Virginia), on-demand, first pricing tier, free tiers ignored (a busy account has used
them up). Checked on 2026-11-24 against stored copies of public pages (no live network here): the
AWS pricing page where its text carries the figure or rule, otherwise a dated secondary page
quoting it; "from memory" says a figure was not re-checked. The numbers are module constants so
the model reads as arithmetic; ``SOURCES`` names the source of each.
"""

from __future__ import annotations

from dataclasses import dataclass

CHECKED = "2026-11-24"


@dataclass(frozen=True)
class Source:
    url: str
    checked: str  # when the figure was last compared with the source (YYYY-MM-DD)
    note: str


LAMBDA_ARM_GB_SECOND = 0.0000133334  # USD per GB-s, arm64, first 7.5 billion GB-s a month
LAMBDA_X86_GB_SECOND = 0.0000166667  # USD per GB-s, x86_64
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_BILLING_MS = 1  # duration rounded up to this
SFN_STANDARD_PER_TRANSITION = 0.025 / 1_000
SFN_EXPRESS_PER_REQUEST = 1.00 / 1_000_000
SFN_EXPRESS_GB_SECOND = 0.00001667
SFN_EXPRESS_BILLING_MS = 100  # duration rounded up to this
SFN_EXPRESS_MEMORY_CHUNK_MB = 64  # memory billed in chunks of this (the minimum, too)
SQS_PER_REQUEST = 0.40 / 1_000_000
SQS_CHUNK_BYTES = 64 * 1024  # each 64 KB of a request's payload is billed as one request
DYNAMODB_PER_WRU = 0.625 / 1_000_000
DYNAMODB_PER_RRU = 0.125 / 1_000_000
S3_TIER1_PER_REQUEST = 0.005 / 1_000  # PUT, COPY, POST, LIST
S3_TIER2_PER_REQUEST = 0.0004 / 1_000  # GET, HEAD and the rest
S3_FREE_OPERATIONS = frozenset({"DeleteObject", "DeleteObjects"})
S3_TIER1_OPERATIONS = frozenset(
    {
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
)
DATA_TRANSFER_OUT_PER_GB = 0.09
SECRETS_MANAGER_PER_CALL = 0.05 / 10_000
CLOUDWATCH_LOGS_PER_GB = 0.50  # ingestion, Standard class

# The vendor's price of one task: 3 credits a successful call (its credit-cost page); a credit
# costs $0.02-0.05 depending on the pack (the consumer packs' range, as the team quoted it).
VENDOR_CREDITS_PER_CALL = 3
VENDOR_USD_PER_CREDIT_LOW = 0.02
VENDOR_USD_PER_CREDIT_HIGH = 0.05

SOURCES: dict[str, Source] = {
    "VENDOR_CREDITS_PER_CALL": Source(
        "https://picwish.com/credit-cost",
        CHECKED,
        "'Photo Cropping & Enhancement: 3 credits will be consumed for each successful call'",
    ),
    "VENDOR_USD_PER_CREDIT_HIGH": Source(
        "https://picwish.com/pricing",
        CHECKED,
        "from memory: as VENDOR_USD_PER_CREDIT_LOW",
    ),
    "VENDOR_USD_PER_CREDIT_LOW": Source(
        "https://picwish.com/pricing",
        CHECKED,
        "from memory: the range of the consumer credit packs, as quoted in the project's issue 12; "
        "API credits may be priced differently: check your account",
    ),
    "LAMBDA_ARM_GB_SECOND": Source(
        "https://aws.amazon.com/lambda/pricing/",
        CHECKED,
        "Arm rate via cloudchipr.com 'AWS Lambda Pricing Breakdown' (2024) and the api-evangelist "
        "transcription of the AWS page (2026-09-20; the AWS page renders its rate table client-side)",
    ),
    "LAMBDA_X86_GB_SECOND": Source("https://aws.amazon.com/lambda/pricing/", CHECKED, "as the Arm rate"),
    "LAMBDA_PER_REQUEST": Source(
        "https://aws.amazon.com/lambda/pricing/",
        CHECKED,
        "1 ms steps; INIT billed like invoke duration since 2025-08-01 (AWS Compute Blog "
        "'AWS Lambda standardizes billing for INIT Phase')",
    ),
    "SFN_STANDARD_PER_TRANSITION": Source(
        "https://aws.amazon.com/step-functions/pricing/",
        CHECKED,
        "billing rules (transitions include retries) from the AWS page; rate from wring.co 'AWS Step "
        "Functions Pricing: Standard vs Express' (2026-03-14) and c3x.dev 'Step Functions cost'",
    ),
    "SFN_EXPRESS_PER_REQUEST": Source(
        "https://aws.amazon.com/step-functions/pricing/", CHECKED, "rate from wring.co (2026-03-14)"
    ),
    "SFN_EXPRESS_GB_SECOND": Source(
        "https://aws.amazon.com/step-functions/pricing/",
        CHECKED,
        "first tier, from wring.co (2026-03-14); rounding to 100 ms and 64 MB chunks from the AWS page; "
        "higher-volume tiers from memory",
    ),
    "SQS_PER_REQUEST": Source(
        "https://aws.amazon.com/sqs/pricing/",
        CHECKED,
        "standard queues, 64 KB chunks: cloudburn.io 'Amazon SQS Pricing' (2026-03-14), "
        "factualminds.com 'Amazon SQS Pricing: The 64 KB Rule' (2026-06-13)",
    ),
    "DYNAMODB_PER_WRU": Source(
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        CHECKED,
        "on-demand after the 2024-11-01 halving: airbyte.com 'DynamoDB Pricing' (2025-07-21)",
    ),
    "DYNAMODB_PER_RRU": Source(
        "https://aws.amazon.com/dynamodb/pricing/on-demand/", CHECKED, "as the write rate"
    ),
    "S3_TIER1_PER_REQUEST": Source(
        "https://aws.amazon.com/s3/pricing/", CHECKED, "c3x.dev 'S3 request fees explained'"
    ),
    "S3_TIER2_PER_REQUEST": Source(
        "https://aws.amazon.com/s3/pricing/",
        CHECKED,
        "c3x.dev 'S3 request fees explained'; DELETE free from memory",
    ),
    "DATA_TRANSFER_OUT_PER_GB": Source(
        "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer",
        CHECKED,
        "first 10 TB: from memory, consistent with unanswered.io's SQS guide quoting the same rate",
    ),
    "SECRETS_MANAGER_PER_CALL": Source(
        "https://aws.amazon.com/secrets-manager/pricing/", CHECKED, "from memory, not re-checked"
    ),
    "CLOUDWATCH_LOGS_PER_GB": Source(
        "https://aws.amazon.com/cloudwatch/pricing/",
        CHECKED,
        "Standard class ingestion: from memory, not re-checked",
    ),
}


def gb_second_price(architecture: str) -> float:
    """Lambda's duration price for a function's architecture (``arm64`` or ``x86_64``)."""
    return LAMBDA_ARM_GB_SECOND if architecture == "arm64" else LAMBDA_X86_GB_SECOND
