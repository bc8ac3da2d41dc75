"""``correction-ops``: redrive failed objects and backfill existing ones on a deployed stack.

    correction-ops redrive  --stack photo-correction [--prefix receipts/] [--reason poll_timeout] [--dry-run]
    correction-ops backfill --stack photo-correction [--prefix 2026/]                            [--dry-run]

Both are safe to run twice (see correction_ops.reprocess). Instead of --stack, the buckets and
queue can be named with --source-bucket, --destination-bucket and --queue-url.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version

import boto3
from rich.console import Console
from rich.table import Table

from .reprocess import Summary, backfill, default_max_queued, redrive
from .targets import StackTargets

DISTRIBUTION = "photo-correction-pipeline"  # whose version --version prints
DESCRIPTION = (
    "Redrive failed objects and backfill existing ones on a deployed stack. Both are safe to run "
    "twice. Name the stack with --stack, or the buckets and queue with --source-bucket, "
    "--destination-bucket and --queue-url."
)
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="correction-ops", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version(DISTRIBUTION)}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("redrive", "send objects with a failure record back for a new attempt"),
        ("backfill", "process objects already in the source bucket that have no outcome yet"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--stack", help="CloudFormation stack deployed from template.yaml")
        cmd.add_argument("--region", help="AWS region of the stack (default: AWS_REGION or the AWS config)")
        cmd.add_argument("--source-bucket")
        cmd.add_argument("--destination-bucket")
        cmd.add_argument("--queue-url", help="the intake queue")
        cmd.add_argument("--source-prefix", default="incoming/")
        cmd.add_argument("--destination-prefix", default="results/")
        cmd.add_argument("--failure-prefix", default="failures/")
        cmd.add_argument(
            "--prefix", default="", help="only keys under this prefix (relative to the source/failure prefix)"
        )
        cmd.add_argument("--dry-run", action="store_true", help="list what would be sent, send nothing")
        if name == "redrive":
            cmd.add_argument("--reason", action="append", help="only records with this reason (repeatable)")
        else:
            cmd.add_argument(
                "--max-queued",
                type=int,
                help="pace the backfill: never leave more than this many messages in the intake queue "
                "(default with --stack: what ApiQps drains in a week, half the queue's 14-day retention; "
                "0: send everything at once)",
            )
    return parser


def _targets(args: argparse.Namespace, session: boto3.Session) -> StackTargets:
    if args.stack:
        return StackTargets.from_stack(session.client("cloudformation"), args.stack)
    missing = [f for f in ("source_bucket", "destination_bucket", "queue_url") if not getattr(args, f)]
    if missing:
        raise SystemExit(f"give --stack, or all of: {', '.join('--' + m.replace('_', '-') for m in missing)}")
    return StackTargets(
        source_bucket=args.source_bucket,
        destination_bucket=args.destination_bucket,
        intake_queue_url=args.queue_url,
        source_prefix=args.source_prefix,
        destination_prefix=args.destination_prefix,
        failure_prefix=args.failure_prefix,
    )


def _report(console: Console, command: str, summary: Summary, dry_run: bool) -> None:
    table = Table(title=f"{command}{' (dry run)' if dry_run else ''}")
    table.add_column("")
    table.add_column("objects", justify="right")
    table.add_row("considered", str(summary.considered))
    table.add_row("would be sent" if dry_run else "sent to the intake queue", str(summary.sent))
    for why, count in sorted(summary.skipped.items()):
        table.add_row(f"skipped: {why}", str(count))
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    session = boto3.Session(region_name=args.region) if args.region else boto3.Session()
    if session.region_name is None:
        # boto3 would fail later with a long traceback (NoRegionError) at the first client.
        print(
            "correction-ops: no AWS region: give --region, or set AWS_REGION (or a region in ~/.aws/config)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    targets = _targets(args, session)
    s3, sqs = session.client("s3"), session.client("sqs")
    console = Console(stderr=True)
    with console.status(f"{args.command}: listing…") as status:

        def progress(key: str, note: str) -> None:
            status.update(f"{args.command}: {key} ({note})")

        if args.command == "redrive":
            summary = redrive(
                s3,
                sqs,
                targets,
                key_prefix=args.prefix,
                reasons=set(args.reason or []) or None,
                dry_run=args.dry_run,
                on_item=progress,
            )
        else:
            limit = args.max_queued
            if limit is None and targets.api_qps is not None:
                limit = default_max_queued(targets.api_qps)
            summary = backfill(
                s3,
                sqs,
                targets,
                key_prefix=args.prefix,
                dry_run=args.dry_run,
                on_item=progress,
                max_queued=limit or None,
            )
    _report(console, args.command, summary, args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
