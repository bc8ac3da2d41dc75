"""Failure records built from each route into the state machine's failure branch (committed events)."""

import json
from pathlib import Path

import pytest

from correction_core import contract
from correction_core.failures import record_from_state

EVENTS = Path(__file__).resolve().parents[2] / "events"


def state_of(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())["state"]


def test_task_failed_record_carries_state_and_meaning():
    record = record_from_state(state_of("record-failure-task-failed.json"), execution="arn:x")
    assert record.reason == "task_failed"
    assert record.state == -7
    assert record.state_meaning == contract.TASK_STATE_MEANINGS[-7]
    assert record.task_id == "a1b2c3d4-0000-4000-8000-000000000001"
    assert record.execution == "arn:x"
    assert record.source["key"] == "incoming/receipts/March 2026 été + tax.jpg"


def test_timeout_record_says_how_long_it_polled():
    record = record_from_state(state_of("record-failure-timeout.json"))
    assert record.reason == "poll_timeout"
    assert record.details["elapsed_seconds"] == 30
    assert record.state == 4


def test_caught_error_record_names_the_error_and_stage():
    record = record_from_state(state_of("record-failure-caught-error.json"))
    assert record.reason == "result_unavailable"
    assert record.error_type == "ResultUnavailable"
    assert record.stage == "finalize"


@pytest.mark.parametrize("state_code", sorted(c for c in contract.TASK_STATE_MEANINGS if c < 0) + [-99])
def test_every_negative_state_makes_a_record(state_code):
    state = state_of("record-failure-task-failed.json")
    state["status"]["state"] = state_code
    record = record_from_state(state)
    assert record.state == state_code
    assert str(state_code) in record.message


def test_signed_urls_are_redacted_from_messages():
    state = state_of("record-failure-caught-error.json")
    state["error"]["Cause"] = json.dumps(
        {
            "errorType": "ResultUnavailable",
            "errorMessage": "GET https://h.aoscdn.com/r.png?Signature=SECRETSIG&Expires=1 -> 404",
        }
    )
    record = record_from_state(state)
    assert "SECRETSIG" not in record.to_json()
    assert "https://h.aoscdn.com/r.png" in record.message


def test_lambda_service_errors_are_orchestration_errors():
    state = state_of("record-failure-caught-error.json")
    state["error"] = {"Error": "Lambda.ServiceException", "Cause": "Rate exceeded"}
    assert record_from_state(state).reason == "orchestration_error"
