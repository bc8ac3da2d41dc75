"""Static checks of statemachine/correction.asl.json and template.yaml that a reviewer would make."""

import json
import re
from pathlib import Path

from correction_core import errors
from correction_local.template import TEMPLATE_PATH, load_template

ROOT = Path(__file__).resolve().parents[2]
DEFINITION_TEXT = (ROOT / "statemachine" / "correction.asl.json").read_text()
TEMPLATE = load_template(TEMPLATE_PATH)


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_definition_is_valid_json_before_substitution():
    json.loads(DEFINITION_TEXT)


def test_every_placeholder_is_substituted_by_the_template():
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", DEFINITION_TEXT))
    machine = TEMPLATE["Resources"]["CorrectionStateMachine"]["Properties"]
    assert placeholders == set(machine["DefinitionSubstitutions"])


def test_retry_and_catch_names_exist_in_the_exception_tree():
    definition = json.loads(DEFINITION_TEXT)
    names = set()
    for node in _walk(definition):
        for rule in node.get("Retry", []) + node.get("Catch", []):
            names.update(rule["ErrorEquals"])
    ours = {n for n in names if not n.startswith(("States.", "Lambda."))}
    for name in ours:
        assert isinstance(getattr(errors, name, None), type), name
    assert set(errors.TRANSIENT_ERROR_NAMES) <= names


def test_transient_retries_use_full_jitter_and_a_delay_cap():
    definition = json.loads(DEFINITION_TEXT)
    for node in _walk(definition):
        for rule in node.get("Retry", []):
            assert rule["JitterStrategy"] == "FULL"
            assert rule["BackoffRate"] > 1


def test_no_state_passes_image_data():
    # Payload selectors name references only; nothing selects the API's image field.
    assert '"image' not in DEFINITION_TEXT.replace('"image_', "")


def test_functions_are_python312_on_arm64_with_a_shared_layer():
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.12"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Layers"] == [{"Ref": "CommonLayer"}]


def test_buckets_are_encrypted_private_and_tls_only():
    resources = TEMPLATE["Resources"]
    buckets = [n for n, r in resources.items() if r["Type"] == "AWS::S3::Bucket"]
    assert len(buckets) == 2
    for name in buckets:
        props = resources[name]["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert all(props["PublicAccessBlockConfiguration"].values())
        policies = [r for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": name}]
        (policy,) = policies
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_no_wildcard_action_on_wildcard_resource():
    for node in _walk(TEMPLATE["Resources"]):
        if "Action" in node and "Effect" in node and node["Effect"] == "Allow":
            actions = node["Action"] if isinstance(node["Action"], list) else [node["Action"]]
            resources = node.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            assert not any(a in ("*", "s3:*") or a.endswith(":*") for a in actions), node
            if "*" in resources:
                assert all(":" in a and "*" not in a for a in actions), node


def test_destination_equal_to_source_is_refused_by_a_rule():
    rule = TEMPLATE["Rules"]["DestinationIsNotSource"]["Assertions"][0]["Assert"]
    assert "Fn::Or" in rule
