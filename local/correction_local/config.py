"""What a local run is asked to do: its settings, the template parameters they become, the errors
that stop it before anything is uploaded, and the output folder's fixed names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from correction_core.settings import Settings

if TYPE_CHECKING:
    from .engine_host import EngineHost

API_KEY_ENV = "CORRECTION_API_KEY"
DEFAULT_OUTPUT = Path("local-output")
DESTINATION_DIR = "destination"
INPUTS_DIR = "inputs"
SUMMARY_JSON = "summary.json"
PIPELINE_LOG = "pipeline.log"
#: Written into the output folder so a later run knows which subfolders it may replace.
MARKER = ".correction-local"

#: on_progress(phase, done, total): phase is "uploading", "processing" or "downloading".
ProgressCallback = Callable[[str, int, int], None]


class RunnerError(RuntimeError):
    """The run cannot start (bad configuration); nothing was uploaded."""


@dataclass
class RunConfig:
    output: Path = DEFAULT_OUTPUT
    #: None: start the self-hosted engine. Otherwise the vendor's (or any) API base URL.
    api_base_url: str | None = None
    api_key_env: str = API_KEY_ENV
    enhancement_type: int | None = None  # the run's DefaultType; per-file types win
    poll_interval: int = 1
    poll_cap: int = 30
    source_prefix: str = "incoming/"
    result_hosts: str | None = None  # None: 127.0.0.1 for the engine, .aoscdn.com otherwise
    engine_workers: int | None = None  # None: one per core
    #: The API key's requests per second: the pipeline's shared rate budget (ApiQps) and, for the
    #: engine, its rate limit. None: 0 (both off) for the engine, the template's default (2, the
    #: vendor's) for another API.
    qps: int | None = None
    timeout: float = 600.0
    one_at_a_time: bool = False  # settle each upload before the next (clean per-image timings)
    gallery: bool = True
    capture_logs: bool = True  # handlers' JSON logs go to <output>/pipeline.log
    extra_parameters: dict[str, str] = field(default_factory=dict)
    #: Which engine serves the run when ``api_base_url`` is None: a factory of an EngineHost (see
    #: engine_host). None: the engine in this process (engine_host.InProcessEngine).
    engine_host: Callable[[RunConfig], EngineHost] | None = None

    @property
    def uses_engine(self) -> bool:
        return self.api_base_url is None


def source_prefix(raw: str) -> str:
    """A key prefix as the functions read it (their own settings rule, not a copy), so the keys
    uploaded under it are the keys the functions consider theirs."""
    return Settings.from_env({"SOURCE_PREFIX": raw}).source_prefix


def stack_parameters(config: RunConfig, api_base_url: str) -> dict[str, str]:
    """Template parameters for a local run (see the template for their meaning)."""
    if config.uses_engine:
        hosts, allow_http = config.result_hosts or "127.0.0.1", "true"
    else:
        hosts, allow_http = config.result_hosts or ".aoscdn.com", "false"
    params = {
        "ApiBaseUrl": api_base_url,
        # moto's presigned URLs are answered in-process only; the engine could not fetch them.
        "SourceMode": "file",
        "ResultHosts": hosts,
        "AllowHttpResults": allow_http,
        "PollIntervalSeconds": str(config.poll_interval),
        "PollCapSeconds": str(config.poll_cap),
        "SourcePrefix": source_prefix(config.source_prefix),
    }
    if config.enhancement_type is not None:
        params["DefaultType"] = str(config.enhancement_type)
    qps = config.qps if config.qps is not None else (0 if config.uses_engine else None)
    if qps is not None:
        params["ApiQps"] = str(qps)
    params.update(config.extra_parameters)
    return params
