"""events/env-vars.json, the file `sam local invoke --env-vars` takes, against the template.

`sam local invoke` resolves a parameter's !Ref to its default but a resource's !Ref to its
logical id ("RateBudgetTable"), which no real resource answers to: the committed file must
override exactly those variables, per function, and nothing that would change the parameters'
defaults (an empty DESTINATION_PREFIX, say, makes every function refuse to start).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from correction_core.settings import Settings
from correction_local.template import TEMPLATE_PATH, load_template

ROOT = Path(__file__).resolve().parents[2]
ENV_VARS = json.loads((ROOT / "events" / "env-vars.json").read_text())
TEMPLATE = load_template(TEMPLATE_PATH)
FUNCTIONS = sorted(
    name for name, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
)


def _environment(function: str) -> dict:
    shared = TEMPLATE.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = TEMPLATE["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    return {**shared, **own}


def _names_a_resource(value: object) -> bool:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"] in TEMPLATE["Resources"]
        return any(k in value for k in ("Fn::GetAtt", "Fn::Sub", "Fn::ImportValue"))
    return False


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_file_overrides_exactly_the_variables_that_name_a_resource(function):
    needed = {name for name, value in _environment(function).items() if _names_a_resource(value)}
    assert set(ENV_VARS.get(function, {})) == needed


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_functions_start_with_the_file_over_the_parameters_defaults(function):
    parameters = TEMPLATE["Parameters"]
    env = {}
    for name, value in _environment(function).items():
        if isinstance(value, dict) and value.get("Ref") in parameters:
            env[name] = str(parameters[value["Ref"]].get("Default", ""))
        elif isinstance(value, str):
            env[name] = value
    env.update(ENV_VARS.get(function, {}))
    settings = Settings.from_env(env)  # raises SettingsError on what a function would refuse
    assert settings.destination_bucket
