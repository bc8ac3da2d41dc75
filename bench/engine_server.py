"""The self-hosted engine server as the benches run it: a real ``correction_engine.cli serve``
process on a free loopback port, waited on until healthy, its memory read from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """Resident and peak resident memory of ``pid`` in bytes (VmRSS, VmHWM)."""
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) * 1024
    return values


def start_server(
    port: int, api_key: str, serve_args: Sequence[str], extra_env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """Start the engine on ``port``; keys go by environment because a command line shows in ps."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT / "engine")]),
        "CORRECTION_ENGINE_API_KEYS": api_key,
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "correction_engine.cli", "serve", "--port", str(port), *serve_args]
    return subprocess.Popen(command, env=env)


def wait_healthy(
    base_url: str, server: subprocess.Popen, timeout: float, poll_seconds: float
) -> httpx.Response:
    """Poll the health endpoint until it answers 200 (returned); exit if the server dies or
    ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("engine server exited at start")
        try:
            health = httpx.get(f"{base_url}/_engine/health", timeout=1)
            if health.status_code == 200:
                return health
        except httpx.TransportError:
            pass
        time.sleep(poll_seconds)
    raise SystemExit("engine server did not start")


def stop_server(server: subprocess.Popen, grace_seconds: float) -> None:
    """Ask the server to stop; kill it if it has not within ``grace_seconds``."""
    server.terminate()
    try:
        server.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        server.kill()
