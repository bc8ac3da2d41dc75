"""``correction-engine``: serve the correction API, or process one file directly.

    correction-engine serve --api-key KEY [--port 8080] [--rate-limit 2] [--workers N] ...
    correction-engine process IN --type N -o OUT
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from correction_core import contract


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


def build_parser() -> argparse.ArgumentParser:
    from .server.settings import API_KEYS_ENV, default_workers

    parser = argparse.ArgumentParser(prog="correction-engine", description="Serve the correction API, or process one file directly.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--api-key", action="append", default=[], dest="api_keys",
                       help=f"accepted X-API-KEY (repeatable); also {API_KEYS_ENV}=k1,k2")
    serve.add_argument("--rate-limit", type=float, default=float(contract.DEFAULT_QPS),
                       help="requests per second per key, create and query (0 = off)")
    serve.add_argument("--workers", type=int, default=default_workers())
    serve.add_argument("--public-base-url", default=None,
                       help="base of result URLs (default: the Host each request came to)")
    serve.add_argument("--max-processing-seconds", type=float, default=float(contract.MAX_PROCESSING_SECONDS))
    serve.add_argument("--log-level", default="info")
    faults = serve.add_argument_group("fault injection (all off by default)")
    faults.add_argument("--fault-seed", type=int, default=None)
    faults.add_argument("--fault-429-rate", type=_rate, default=0.0)
    faults.add_argument("--fault-500-rate", type=_rate, default=0.0)
    faults.add_argument("--fault-slow-rate", type=_rate, default=0.0)
    faults.add_argument("--fault-slow-seconds", type=float, default=0.0)
    faults.add_argument("--fault-failed-rate", type=_rate, default=0.0)
    faults.add_argument("--fault-failed-state", type=_negative_state, default=contract.STATE_FAILED)
    faults.add_argument("--fault-never-finish-rate", type=_rate, default=0.0)
    faults.add_argument("--fault-expired-url-rate", type=_rate, default=0.0)
    faults.add_argument("--fault-broken-url-rate", type=_rate, default=0.0)
    faults.add_argument("--fault-corrupt-result-rate", type=_rate, default=0.0)

    process = sub.add_parser("process", help="run one operation on one file, no server")
    process.add_argument("input", type=Path)
    process.add_argument("--type", type=int, default=int(contract.VENDOR_DEFAULT_TYPE),
                         choices=[int(t) for t in contract.EnhancementType])
    process.add_argument("-o", "--output", type=Path, required=True,
                         help="output file; .png/.jpg/.webp chooses the format (RGBA results need .png)")
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .server.app import create_app
    from .server.faults import FaultSettings
    from .server.settings import EngineSettings, api_keys_from_env

    settings = EngineSettings(
        api_keys=tuple(args.api_keys) + api_keys_from_env(os.environ),
        rate_limit_qps=args.rate_limit,
        workers=args.workers,
        public_base_url=args.public_base_url,
        max_processing_seconds=args.max_processing_seconds,
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
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
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
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _process(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
