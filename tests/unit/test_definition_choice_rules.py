"""The state machine's branching, evaluated in-process on the definition the template deploys.

A small evaluator for the few ASL constructs the polling loop uses (Pass with the two intrinsics,
Wait, the Choice operators, ResultSelector/ResultPath) runs the loop against the real CheckStatus
core on scripted task states. It answers in milliseconds what the end-to-end test on the local
emulator only shows by hanging when, say, the timeout branch is lost. It is not an emulator: an
operator or intrinsic it does not know raises, so a changed definition cannot pass unexamined.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from correction_core import contract
from correction_core.results import TaskStatus
from correction_core.task_status import check_task
from correction_local.template import TEMPLATE_PATH, load_template, substitute_definition

DEFINITION_PATH = TEMPLATE_PATH.parent / "statemachine" / "correction.asl.json"


def _deployed_definition() -> tuple[dict[str, Any], int, int]:
    """The definition after DefinitionSubstitutions, with the template's default interval and cap."""
    template = load_template(TEMPLATE_PATH)
    parameters = template["Parameters"]
    substitutions: dict[str, Any] = {}
    for name, value in template["Resources"]["CorrectionStateMachine"]["Properties"][
        "DefinitionSubstitutions"
    ].items():
        if isinstance(value, dict) and value.get("Ref") in parameters:
            substitutions[name] = parameters[value["Ref"]]["Default"]
        else:  # function ARNs: the evaluator never calls them, it stops at their states
            substitutions[name] = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    text = substitute_definition(DEFINITION_PATH.read_text(), substitutions)
    return json.loads(text), int(substitutions["PollIntervalSeconds"]), int(substitutions["PollCapSeconds"])


DEFINITION, INTERVAL, CAP = _deployed_definition()


# --- the evaluator -------------------------------------------------------------------------

_MISSING = object()


def _read(data: Any, path: str) -> Any:
    """Simple JSONPath reads only (``$``, ``$.a.b``): all the polling loop uses."""
    if path == "$":
        return data
    if not path.startswith("$."):
        raise NotImplementedError(f"path {path!r}")
    for part in path[2:].split("."):
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _write(data: dict[str, Any], path: str | None, value: Any) -> dict[str, Any]:
    if path is None:  # ResultPath null: the input passes through unchanged
        return data
    if path == "$":
        return value
    out = copy.deepcopy(data)
    node = out
    parts = path[2:].split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


_NUMERIC = {
    "NumericEquals": lambda a, b: a == b,
    "NumericLessThan": lambda a, b: a < b,
    "NumericGreaterThan": lambda a, b: a > b,
    "NumericLessThanEquals": lambda a, b: a <= b,
    "NumericGreaterThanEquals": lambda a, b: a >= b,
}


def choice_matches(rule: dict[str, Any], data: Any) -> bool:
    """One Choice rule (without its Next) against the state's input."""
    if "And" in rule:
        return all(choice_matches(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(choice_matches(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not choice_matches(rule["Not"], data)
    value = _read(data, rule["Variable"])
    operators = [k for k in rule if k not in ("Variable", "Next")]
    if len(operators) != 1:
        raise NotImplementedError(f"rule {rule}")
    operator = operators[0]
    operand = rule[operator]
    if operator == "IsPresent":
        return (value is not _MISSING) == operand
    if value is _MISSING:
        # AWS fails the execution (States.Runtime) on a missing variable; so does this.
        raise KeyError(f"{rule['Variable']} is not in the input")
    if operator.endswith("Path"):
        operator, operand = operator[: -len("Path")], _read(data, operand)
    if operator == "StringEquals":
        return isinstance(value, str) and value == operand
    if operator == "BooleanEquals":
        return isinstance(value, bool) and value == operand
    if operator in _NUMERIC:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return numeric and _NUMERIC[operator](value, operand)
    raise NotImplementedError(f"Choice operator {operator}")


def next_of_choice(state: dict[str, Any], data: Any) -> str:
    for rule in state["Choices"]:
        if choice_matches(rule, data):
            return rule["Next"]
    if "Default" not in state:
        raise RuntimeError("States.NoChoiceMatched")
    return state["Default"]


_INTRINSIC = re.compile(r"^(States\.\w+)\((.*)\)$")


def _argument(text: str, data: Any) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    if text.startswith("$"):
        return _read(data, text)
    return json.loads(text)


def _intrinsic(expression: str, data: Any) -> Any:
    match = _INTRINSIC.match(expression)
    if match is None:
        value = _read(data, expression)
        if value is _MISSING:  # AWS fails the execution here (States.Runtime)
            raise KeyError(f"{expression} is not in the input")
        return value
    name, args = match.group(1), [_argument(a, data) for a in match.group(2).split(",")]
    if name == "States.StringToJson":
        return json.loads(args[0])
    if name == "States.MathAdd":
        return args[0] + args[1]
    raise NotImplementedError(f"intrinsic {name}")


def _parameters(template: Any, data: Any) -> Any:
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = _intrinsic(value, data)
            else:
                out[key] = _parameters(value, data)
        return out
    return template


def run_polling(task_states: Iterator[int], *, max_transitions: int = 10_000) -> tuple[str, dict, int]:
    """Run from StartAt until a Task other than CheckStatus; CheckStatus is the real core on the
    next scripted state. Returns (the state reached, its input, how many polls were made)."""
    data: dict[str, Any] = {"object": {"bucket": "b", "key": "k"}, "task": {"task_id": "t-1"}}
    name = DEFINITION["StartAt"]
    polls = 0
    for _ in range(max_transitions):
        state = DEFINITION["States"][name]
        kind = state["Type"]
        if kind == "Task" and name != "CheckStatus" or kind in ("Succeed", "Fail"):
            return name, data, polls
        if kind == "Pass":
            result = (
                _parameters(state["Parameters"], data) if "Parameters" in state else state.get("Result", data)
            )
            data = _write(data, state.get("ResultPath", "$"), result)
        elif kind == "Task":
            polls += 1
            payload = check_task(_Services(next(task_states)), data["task"]["task_id"])
            result = _parameters(state["ResultSelector"], {"Payload": payload})
            data = _write(data, state["ResultPath"], result)
        elif kind == "Choice":
            name = next_of_choice(state, data)
            continue
        elif kind != "Wait":
            raise NotImplementedError(kind)
        name = state["Next"]
    raise AssertionError(f"no end after {max_transitions} transitions: the loop never leaves")


class _Api:
    def __init__(self, state: int) -> None:
        self.state = state

    def get_task(self, task_id: str) -> TaskStatus:
        return TaskStatus(task_id=task_id, state=self.state, progress=None)


class _Services:
    """Just what check_task reads: the API and no result-refs table."""

    def __init__(self, state: int) -> None:
        self.api = _Api(state)
        self.result_refs = None


def _after_poll(task_state: int, elapsed: int) -> dict[str, Any]:
    status = check_task(_Services(task_state), "t-1")  # type: ignore[arg-type]
    return {"status": status, "poll": {"elapsed": elapsed, "interval": INTERVAL, "cap": CAP}}


# --- the tests -----------------------------------------------------------------------------


def test_the_deployed_cap_and_interval_are_the_templates_defaults():
    assert (INTERVAL, CAP) == (1, 30)  # what DESIGN.md promises: poll each second for 30 s


@pytest.mark.parametrize(
    "task_state, elapsed, expected",
    [
        (contract.STATE_SUCCEEDED, 1, "Finalize"),
        (contract.STATE_SUCCEEDED, CAP, "Finalize"),  # done at the cap is still done
        (contract.STATE_SUCCEEDED, CAP + 1, "Finalize"),
        (contract.STATE_FAILED, 1, "RecordFailure"),
        (contract.STATE_PROCESSING_TIMEOUT, 5, "RecordFailure"),
        (-99, 5, "RecordFailure"),  # a negative code the contract does not list is a failure
        (contract.STATE_PROCESSING, 1, "WaitBeforePoll"),
        (contract.STATE_QUEUED, 1, "WaitBeforePoll"),  # 0 is queued, not failed
        (contract.STATE_PROCESSING, CAP - 1, "WaitBeforePoll"),
        (contract.STATE_PROCESSING, CAP, "MarkTimedOut"),
        (contract.STATE_PROCESSING, CAP + 1, "MarkTimedOut"),
        (contract.STATE_QUEUED, CAP, "MarkTimedOut"),
    ],
)
def test_the_choice_after_each_poll(task_state, elapsed, expected):
    choice = DEFINITION["States"]["IsTaskFinished"]
    assert next_of_choice(choice, _after_poll(task_state, elapsed)) == expected


def test_a_task_that_never_finishes_is_recorded_as_timed_out_after_the_cap():
    reached, data, polls = run_polling(iter(lambda: contract.STATE_PROCESSING, None))
    assert reached == "RecordFailure"
    assert data["timeout"] == {"reason": "poll_timeout"}
    assert polls == CAP // INTERVAL


def test_a_task_that_succeeds_on_the_third_poll_is_finalized_then():
    states = iter([contract.STATE_QUEUED, contract.STATE_PROCESSING, contract.STATE_SUCCEEDED])
    reached, data, polls = run_polling(states)
    assert (reached, polls) == ("Finalize", 3)
    assert data["status"]["outcome"] == "succeeded" and "timeout" not in data


def test_a_failed_task_goes_to_the_failure_record_without_a_timeout_reason():
    reached, data, polls = run_polling(iter([contract.STATE_PROCESSING, contract.STATE_INVALID_IMAGE]))
    assert (reached, polls) == ("RecordFailure", 2)
    assert data["status"]["state"] == contract.STATE_INVALID_IMAGE and "timeout" not in data


def test_the_evaluator_refuses_what_it_does_not_know():
    # Guards the guard: a new operator in the definition must not silently evaluate to False.
    with pytest.raises(NotImplementedError):
        choice_matches({"Variable": "$.x", "TimestampEquals": "2026-01-01T00:00:00Z"}, {"x": "y"})
    with pytest.raises(KeyError):
        choice_matches({"Variable": "$.absent", "StringEquals": "x"}, {})
