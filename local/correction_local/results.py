"""What a local run returns: each input's outcome with its timings, and the run as a whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RunConfig
from .pipeline import RunReport


@dataclass
class ImageOutcome:
    """What became of one input, with its timings (seconds; None when not measurable)."""

    name: str
    source_key: str
    enhancement_type: int | None  # None: the deployment's default
    effective_type: int
    outcome: str  # result | failure | lost | both
    reason: str = ""
    message: str = ""
    stage: str = ""
    task_id: str | None = None
    result_key: str | None = None
    result_path: Path | None = None
    failure_path: Path | None = None
    input_path: Path | None = None
    #: upload → execution stopped (rejections at submit: → their failure record was seen)
    seconds: float | None = None
    execution_seconds: float | None = None  # Step Functions startDate → stopDate
    execution_status: str | None = None
    engine_processing_seconds: float | None = None  # worker took the task → result ready
    engine_turnaround_seconds: float | None = None  # task created → result ready (incl. queue)
    description: str = ""
    expect: str | None = None
    #: Wall-clock moments (Unix seconds): uploaded, execution_started, execution_stopped and,
    #: from the engine, task_created, task_started, task_completed.
    timeline: dict[str, float] = field(default_factory=dict)
    #: From the execution's history: seconds spent in each Task state (summed over its visits),
    #: and how many times CheckStatus polled.
    state_seconds: dict[str, float] = field(default_factory=dict)
    polls: int | None = None
    #: The completion events published for this upload (detail-types, in order): one expected.
    events: list[str] = field(default_factory=list)

    @property
    def overhead_seconds(self) -> float | None:
        """End to end minus the engine's processing time: what the pipeline itself adds."""
        if self.seconds is None or self.engine_processing_seconds is None:
            return None
        return self.seconds - self.engine_processing_seconds

    def to_dict(self) -> dict[str, Any]:
        out = {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}
        out["overhead_seconds"] = self.overhead_seconds
        return out


@dataclass
class LocalRun:
    config: RunConfig
    images: list[ImageOutcome]
    report: RunReport
    parameters: dict[str, str]
    api_base_url: str
    engine_started: bool
    wall_seconds: float
    output: Path
    gallery_html: Path | None = None
    contact_sheet: Path | None = None
    summary_json: Path | None = None
    #: Destination objects that are neither a result nor a failure record of this run → why.
    unexpected: dict[str, str] = field(default_factory=dict)
    #: The completion events the run saw on the bus: counts by detail-type and per upload.
    events: dict[str, Any] = field(default_factory=dict)

    @property
    def lost(self) -> list[str]:
        return [i.name for i in self.images if i.outcome in ("lost", "both")]

    def count(self, outcome: str) -> int:
        return sum(1 for i in self.images if i.outcome == outcome)


def type_label(image: ImageOutcome) -> str:
    return f"{image.effective_type}" + ("" if image.enhancement_type is not None else " (default)")
