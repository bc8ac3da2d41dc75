"""``correction-engine``: serve the correction API, or process one file directly.

    CORRECTION_ENGINE_API_KEYS=KEY correction-engine serve [--port 8080] [--rate-limit 2] ...
    correction-engine serve --api-key-file keys.txt [--admin-key-file admin.txt] ...
    correction-engine process IN --type N -o OUT

Keys are never command-line values: anything on a command line is readable by every user of
the machine in the process list (``ps``, ``/proc/<pid>/cmdline``).
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from correction_core import contract

#: The installed distribution whose version ``--version`` prints.
DISTRIBUTION = "photo-correction-pipeline"


def _rate(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"rate must be within [0, 1], got {value}")
    return number


def _negative_state(value: str) -> int:
    number = int(value)
    if number >= 0:
        raise argparse.ArgumentTypeError(f"a failed state is negative, got {value}")
    return number


def _network(value: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    from .server.settings import ADMIN_KEY_ENV, API_KEYS_ENV, EngineSettings, default_workers

    defaults = EngineSettings()
    # allow_abbrev=False everywhere: with abbreviations, "--admin-key VALUE" silently meant
    # --admin-key-file, so a key typed on the command line was read as a path and then printed.
    parser = argparse.ArgumentParser(
        prog="correction-engine",
        description="Serve the correction API, or process one file directly.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version(DISTRIBUTION)}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve",
        allow_abbrev=False,
        help="run the API server",
        description=(
            f"Run the API server. API keys come from the environment ({API_KEYS_ENV}=k1,k2) or a file "
            f"(--api-key-file), never from a command-line value, which any local user can read in the "
            f"process list. The admin key likewise ({ADMIN_KEY_ENV} or --admin-key-file); without one "
            "the admin endpoints do not exist."
        ),
    )
    serve.add_argument(
        "--backend",
        choices=("local", "aws"),
        default="local",
        help="local: tasks in memory, bytes in a spool, worker threads (default); aws: the API "
        "container of the engine stack (DynamoDB, S3, SQS; keys from Secrets Manager; settings from "
        "the ENGINE_* variables the stack sets; the options below about keys, workers, spool and "
        "limits do not apply)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--api-key-file",
        action="append",
        default=[],
        metavar="PATH",
        help=f"file with accepted X-API-KEY values, one per line (repeatable); also {API_KEYS_ENV}=k1,k2",
    )
    serve.add_argument(
        "--api-key", dest="api_key_value", default=None, help=argparse.SUPPRESS
    )  # refused, see _serve
    serve.add_argument(
        "--admin-key", dest="admin_key_value", default=None, help=argparse.SUPPRESS
    )  # refused, see _serve
    serve.add_argument(
        "--admin-key-file",
        default=None,
        metavar="PATH",
        help=f"file holding the X-ADMIN-KEY for /_engine/stats (all keys), stats reset and faults; "
        f"also {ADMIN_KEY_ENV}",
    )
    serve.add_argument(
        "--rate-limit",
        type=float,
        default=float(contract.DEFAULT_QPS),
        help="requests per second per key, create and query (0 = off)",
    )
    serve.add_argument("--workers", type=int, default=default_workers())
    serve.add_argument(
        "--public-base-url", default=None, help="base of result URLs (default: the Host each request came to)"
    )
    serve.add_argument(
        "--max-processing-seconds",
        type=float,
        default=float(contract.MAX_PROCESSING_SECONDS),
        help="limit per task from creation, queue time included (state -8)",
    )
    serve.add_argument(
        "--max-queued-tasks",
        type=int,
        default=defaults.max_queued_tasks,
        help="bounded work queue; a create beyond it answers 429 with Retry-After",
    )
    serve.add_argument(
        "--spool-dir",
        default=None,
        help="where uploads and results are kept (default: a private temporary directory)",
    )
    serve.add_argument(
        "--spool-max-bytes",
        type=int,
        default=defaults.spool_max_bytes,
        help="byte cap of the spool (uploads waiting and results)",
    )
    serve.add_argument(
        "--allow-fetch-network",
        action="append",
        default=[],
        type=_network,
        metavar="CIDR",
        help="a non-public range image_url may reach, e.g. 127.0.0.0/8 (repeatable); "
        "by default only public addresses are fetched",
    )
    serve.add_argument(
        "--fetch-deadline-seconds",
        type=float,
        default=defaults.url_fetch_deadline_seconds,
        help="total time for one image_url download, redirects included",
    )
    serve.add_argument(
        "--create-body-seconds",
        type=float,
        default=defaults.create_body_seconds,
        help="time for a whole create request body to arrive; a slower one is answered 400",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=defaults.max_connections,
        help="open connections and requests in flight before the server answers 503",
    )
    serve.add_argument("--log-level", default="info")
    faults = serve.add_argument_group("fault injection (off; the knobs below need --enable-fault-injection)")
    faults.add_argument(
        "--enable-fault-injection",
        action="store_true",
        help="allow injected faults (these flags and, with an admin key, /_engine/faults)",
    )
    faults.add_argument(
        "--fault-seed", type=int, default=None, help="seed of the fault dice, for a repeatable run"
    )
    # --fault-<name>-rate: the share, in [0, 1], of what each fault applies to.
    for name, share_of in (
        ("429", "API requests answered 429 with Retry-After, nothing created"),
        ("500", "API requests answered 500, nothing created"),
        ("slow", "API requests answered --fault-slow-seconds late (after the work)"),
        ("failed", "tasks that end in --fault-failed-state"),
        ("never-finish", "tasks that stay processing until they expire"),
        ("expired-url", "result URLs already expired when handed out (403)"),
        ("broken-url", "result URLs that name no result (404)"),
        ("corrupt-result", "results whose bytes are not an image"),
    ):
        faults.add_argument(
            f"--fault-{name}-rate", type=_rate, default=0.0, help=f"share of {share_of} in [0, 1] (default 0)"
        )
    faults.add_argument(
        "--fault-slow-seconds", type=float, default=0.0, help="how long a slowed request is held (seconds)"
    )
    faults.add_argument(
        "--fault-failed-state",
        type=_negative_state,
        default=contract.STATE_FAILED,
        help=f"the negative state a failed task reports (default {contract.STATE_FAILED})",
    )

    process = sub.add_parser(
        "process",
        allow_abbrev=False,
        help="run one operation on one file, no server",
        description="Correct one photo with the engine's own operations, as a task of --type would, "
        "and write the result; no server, no key.",
    )
    process.add_argument("input", type=Path, help="the photo to correct (JPEG, PNG, WebP, ...)")
    process.add_argument(
        "--type",
        type=int,
        default=int(contract.VENDOR_DEFAULT_TYPE),
        choices=[int(t) for t in contract.EnhancementType],
        help="enhancement type: "
        + "; ".join(f"{int(t)} {contract.ENHANCEMENT_TYPE_MEANINGS[t]}" for t in contract.EnhancementType)
        + f" (default {int(contract.VENDOR_DEFAULT_TYPE)})",
    )
    process.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="output file; .png/.jpg/.webp chooses the format (RGBA results need .png)",
    )
    return parser


def _serve(args: argparse.Namespace) -> int:
    from .server.app import create_app
    from .server.faults import FaultSettings
    from .server.settings import (
        ADMIN_KEY_ENV,
        API_KEYS_ENV,
        EngineSettings,
        api_keys_from_env,
        keys_from_file,
    )

    for given, flag, env in (
        (args.api_key_value, "--api-key", API_KEYS_ENV),
        (args.admin_key_value, "--admin-key", ADMIN_KEY_ENV),
    ):
        if given is not None:
            print(
                f"correction-engine: {flag} is refused: a key on the command line is visible in the "
                f"process list; use {env} or {flag}-file",
                file=sys.stderr,
            )
            return 2
    if args.backend == "aws":
        return _serve_aws(args)
    # A key file's path is not printed when it cannot be read: an operator who typed the key
    # where the path goes would otherwise see it echoed into a terminal or a log.
    keys = api_keys_from_env(os.environ)
    for path in args.api_key_file:
        try:
            keys += keys_from_file(path)
        except OSError as exc:
            print(
                f"correction-engine: cannot read a file given to --api-key-file: {exc.strerror}",
                file=sys.stderr,
            )
            return 2
    try:
        admin_keys = keys_from_file(args.admin_key_file) if args.admin_key_file else ()
    except OSError as exc:
        print(
            f"correction-engine: cannot read the file given to --admin-key-file: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    admin_key = admin_keys[0] if admin_keys else (os.environ.get(ADMIN_KEY_ENV) or None)
    fault_flags = {k: v for k, v in vars(args).items() if k.startswith("fault_") and v not in (None, 0.0)}
    fault_flags.pop("fault_failed_state", None)
    if fault_flags and not args.enable_fault_injection:
        print("correction-engine: fault flags need --enable-fault-injection", file=sys.stderr)
        return 2
    settings = EngineSettings(
        api_keys=keys,
        admin_key=admin_key,
        fault_injection=args.enable_fault_injection,
        rate_limit_qps=args.rate_limit,
        workers=args.workers,
        public_base_url=args.public_base_url,
        max_processing_seconds=args.max_processing_seconds,
        max_queued_tasks=args.max_queued_tasks,
        spool_directory=args.spool_dir,
        spool_max_bytes=args.spool_max_bytes,
        url_fetch_allowed_networks=tuple(args.allow_fetch_network),
        url_fetch_deadline_seconds=args.fetch_deadline_seconds,
        create_body_seconds=args.create_body_seconds,
        max_connections=args.max_connections,
        faults=FaultSettings(
            seed=args.fault_seed,
            error_429_rate=args.fault_429_rate,
            error_500_rate=args.fault_500_rate,
            slow_rate=args.fault_slow_rate,
            slow_seconds=args.fault_slow_seconds,
            failed_state_rate=args.fault_failed_rate,
            failed_state=args.fault_failed_state,
            never_finish_rate=args.fault_never_finish_rate,
            expired_url_rate=args.fault_expired_url_rate,
            broken_url_rate=args.fault_broken_url_rate,
            corrupt_result_rate=args.fault_corrupt_result_rate,
        ),
    )
    try:
        app = create_app(settings)
    except ValueError as exc:
        print(f"correction-engine: {exc}", file=sys.stderr)
        return 2
    return _run(app, args)


def _serve_aws(args: argparse.Namespace) -> int:
    from .aws.api import create_aws_app
    from .aws.settings import SettingsError

    try:
        app = create_aws_app()
    except (SettingsError, ValueError) as exc:
        print(f"correction-engine: {exc}", file=sys.stderr)
        return 2
    return _run(app, args)


def _run(app: Any, args: argparse.Namespace) -> int:
    """Serve ``app`` (either backend) until interrupted, with the limits its settings name."""
    import uvicorn

    from .server.background import server_limits

    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        **server_limits(app.state.settings),
    )
    return 0


def _process(args: argparse.Namespace) -> int:
    from . import codec, operations

    try:
        pixels = codec.decode_image(args.input.read_bytes())
        result = operations.run_enhancement(pixels, args.type)
        suffix = args.output.suffix.lower().lstrip(".")
        fmt = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "webp": "webp"}.get(suffix)
        encoded = codec.encode_image(result, fmt=fmt)
    except (OSError, codec.CodecError, operations.OperationError, ValueError) as exc:
        print(f"correction-engine: {args.input}: {exc}", file=sys.stderr)
        return 1
    args.output.write_bytes(encoded.data)
    print(f"{args.output} ({encoded.content_type}, {result.shape[1]}x{result.shape[0]})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse would echo the unknown tokens, values included (a key typed after a mistyped
        # flag); only the option names are named here.
        names = sorted({token.split("=", 1)[0] for token in unknown if token.startswith("-")})
        parser.print_usage(sys.stderr)
        print(
            f"correction-engine: unrecognized options: {' '.join(names) or '(values only)'}", file=sys.stderr
        )
        return 2
    if args.command == "serve":
        return _serve(args)
    return _process(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
