"""The settings that drive cost, read from ``template.yaml`` through correction_local.template."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import prices


@dataclass
class FunctionSettings:
    logical_id: str
    memory_mb: int
    architecture: str
    timeout: int
    environment: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    batching_window: int | None = None
    max_concurrency: int | None = None

    @property
    def gb_second_price(self) -> float:
        return prices.gb_second_price(self.architecture)


@dataclass
class TemplateSettings:
    functions: dict[str, FunctionSettings]
    poll_interval: int
    poll_cap: int
    workflow_type: str
    workflow_types: list[str]
    submit_function: str
    definition: dict[str, Any]
    api_qps: int


def read_template() -> TemplateSettings:
    from correction_local.template import PROJECT_ROOT, Resolver, load_template

    template = load_template()
    params = template["Parameters"]
    # Conditional settings (e.g. Submit's memory depends on DownscaleOversize) at their defaults.
    resolver = Resolver.with_defaults(template, {})
    globals_fn = template.get("Globals", {}).get("Function", {})
    functions: dict[str, FunctionSettings] = {}
    submit = None
    machine = None
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine":
            machine = props
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        arch = (props.get("Architectures") or globals_fn.get("Architectures") or ["x86_64"])[0]
        fs = FunctionSettings(
            logical_id=logical_id,
            memory_mb=int(resolver.resolve(props.get("MemorySize", globals_fn.get("MemorySize", 128)))),
            architecture=arch,
            timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            environment=dict(props.get("Environment", {}).get("Variables", {})),
        )
        for event in props.get("Events", {}).values():
            if event.get("Type") == "SQS":
                ep = event["Properties"]
                fs.batch_size = int(ep.get("BatchSize", 10))
                fs.batching_window = int(ep.get("MaximumBatchingWindowInSeconds", 0))
                fs.max_concurrency = resolver.resolve(ep.get("ScalingConfig", {}).get("MaximumConcurrency"))
                submit = logical_id
        functions[logical_id] = fs
    assert submit is not None and machine is not None, (
        "template has no SQS-triggered function or no state machine"
    )
    definition = json.loads((PROJECT_ROOT / machine["DefinitionUri"]).read_text())
    wt = params["WorkflowType"]
    return TemplateSettings(
        functions=functions,
        poll_interval=int(params["PollIntervalSeconds"]["Default"]),
        poll_cap=int(params["PollCapSeconds"]["Default"]),
        workflow_type=str(wt["Default"]),
        workflow_types=[str(v) for v in wt.get("AllowedValues", [wt["Default"]])],
        submit_function=submit,
        definition=definition,
        api_qps=int(params["ApiQps"]["Default"]),
    )


def poll_loop_states(definition: dict[str, Any]) -> list[str]:
    """The states entered once per poll: the cycle through the Choice's Default branch."""
    states = definition["States"]
    choice = next(n for n, s in states.items() if s["Type"] == "Choice" and "Default" in s)
    loop, name = [], states[choice]["Default"]
    while name != choice:
        loop.append(name)
        name = states[name]["Next"]
        if len(loop) > len(states):
            raise ValueError("no poll loop through the Choice's Default")
    return loop + [choice]


def engine_worker_memory_mb() -> int:
    """The engine stack's Lambda worker memory at its default (engine/template.yaml): what each
    image is billed at, whatever the task itself touches."""
    from correction_local.template import PROJECT_ROOT, load_template

    template = load_template(PROJECT_ROOT / "engine" / "template.yaml")
    return int(template["Parameters"]["WorkerMemoryMB"]["Default"])
