"""Where the operator tools act: names read from a deployed stack, or given explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StackTargets:
    source_bucket: str
    destination_bucket: str
    intake_queue_url: str
    source_prefix: str = "incoming/"
    destination_prefix: str = "results/"
    failure_prefix: str = "failures/"
    api_qps: int | None = None  # the stack's ApiQps (backfill paces itself by it); None: unknown

    @classmethod
    def from_stack(cls, cloudformation: Any, stack_name: str) -> StackTargets:
        """Read the outputs and prefix parameters of a stack deployed from template.yaml."""
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
        return cls(
            source_bucket=outputs["SourceBucket"],
            destination_bucket=outputs["DestinationBucket"],
            intake_queue_url=outputs["IntakeQueueUrl"],
            source_prefix=params.get("SourcePrefix", "incoming/"),
            destination_prefix=params.get("DestinationPrefix", "results/"),
            failure_prefix=params.get("FailurePrefix", "failures/"),
            api_qps=int(params["ApiQps"]) if params.get("ApiQps", "").isdigit() else None,
        )
