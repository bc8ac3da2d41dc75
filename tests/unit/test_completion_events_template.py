"""The template's side of completion events and the dashboard: the registered schemas are the
committed ones, only the publishing functions may put events (on the chosen bus, under our
source), and the dashboard is valid JSON that draws metrics the code really emits."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from correction_core.completion_events import EVENT_SOURCE
from correction_local.template import Resolver, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
PUBLISHERS = {"SubmitFunction", "FinalizeFunction", "RecordFailureFunction"}


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for policy in resource.get("Properties", {}).get("Policies", []):
        if isinstance(policy, dict):
            out.extend(policy.get("Statement", []))
    return out


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


@pytest.mark.parametrize(
    "logical_id, path",
    [
        ("PhotoCorrectedSchema", "schemas/photo-corrected.json"),
        ("PhotoCorrectionFailedSchema", "schemas/photo-correction-failed.json"),
    ],
)
def test_registered_schema_is_the_committed_one(logical_id, path):
    props = RESOURCES[logical_id]["Properties"]
    assert props["Type"] == "JSONSchemaDraft4"  # what the schema registry accepts besides OpenAPI 3
    assert json.loads(props["Content"]) == json.loads((ROOT / path).read_text())
    assert props["RegistryName"] == {"Fn::GetAtt": ["CompletionEventsRegistry", "RegistryName"]}


def test_only_the_functions_that_write_outcomes_may_publish_and_only_our_source_on_the_chosen_bus():
    resolver = Resolver.with_defaults(TEMPLATE, {"EventBusName": "photo-bus"})
    allowed: set[str] = set()
    for logical_id, resource in RESOURCES.items():
        for statement in statements(resource):
            if not any(a.startswith("events:") for a in actions(statement)):
                continue
            allowed.add(logical_id)
            assert actions(statement) == ["events:PutEvents"]
            assert (
                resolver.resolve(statement["Resource"])
                == "arn:aws:events:us-east-1:123456789012:event-bus/photo-bus"
            )
            assert statement["Condition"] == {"StringEquals": {"events:source": EVENT_SOURCE}}
    assert allowed == PUBLISHERS
    for logical_id in PUBLISHERS:
        env = RESOURCES[logical_id]["Properties"]["Environment"]["Variables"]
        assert resolver.resolve(env["EVENT_BUS_NAME"]) == "photo-bus"
    assert "EVENT_BUS_NAME" not in TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert TEMPLATE["Parameters"]["EventBusName"]["Default"] == "default"


def emitted_metric_names() -> set[str]:
    """Every metric name the core and the handlers emit (add_metric / single_metric calls)."""
    names: set[str] = set()
    for path in [
        *(ROOT / "layers/common/correction_core").glob("*.py"),
        *(ROOT / "functions").glob("*/app.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in {
                "add_metric",
                "single_metric",
            }:
                for keyword in node.keywords:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        names.add(keyword.value.value)
    return names


def dashboard() -> dict[str, Any]:
    resolver = Resolver.with_defaults(TEMPLATE, {"ApiQps": "3"})
    resolver.attributes[("IntakeQueue", "QueueName")] = "intake"
    resolver.attributes[("IntakeDeadLetterQueue", "QueueName")] = "intake-dlq"
    return json.loads(resolver.resolve(RESOURCES["Dashboard"]["Properties"]["DashboardBody"]))


def test_dashboard_is_valid_json_and_draws_only_metrics_that_exist():
    body = dashboard()
    emitted = emitted_metric_names()
    ours, theirs, searched = set(), set(), set()
    for widget in body["widgets"]:
        for row in widget["properties"]["metrics"]:
            plain = [part for part in row if isinstance(part, str)]
            if plain and plain[0] == "PhotoCorrection":
                ours.add(plain[1])
                assert plain[2:4] == ["service", "photo-correction"]  # Powertools' dimension
            elif plain:
                theirs.add((plain[0], plain[1], plain[3]))
            else:
                searched.update(re.findall(r'MetricName="(\w+)"', row[0]["expression"]))
    assert ours | searched <= emitted, f"drawn but never emitted: {(ours | searched) - emitted}"
    # What the issue asks the dashboard to show.
    assert {
        "Succeeded",
        "Failed",
        "Rejected",
        "UploadToResultLatency",
        "ApiRequests",
        "CompletionEventsFailed",
    } <= ours
    assert searched == {"FailedByReason"}
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", "intake") in theirs
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "intake-dlq") in theirs
    budget = next(w for w in body["widgets"] if "budget" in w["properties"]["title"].lower())
    assert budget["properties"]["annotations"]["horizontal"][0]["value"] == 3  # the ApiQps line
    latency = next(w for w in body["widgets"] if "latency" in w["properties"]["title"].lower())
    stats = {row[-1].get("stat") for row in latency["properties"]["metrics"]}
    assert {"p50", "p90", "p99"} <= stats
