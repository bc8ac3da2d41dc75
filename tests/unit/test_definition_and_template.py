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
    # States.*, Lambda.* and Sandbox.* are the service's own names (a Lambda that timed out).
    ours = {n for n in names if not n.startswith(("States.", "Lambda.", "Sandbox."))}
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
        policies = [
            r
            for r in resources.values()
            if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": name}
        ]
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


def _evaluate_rule(node, parameters):
    """The few intrinsic functions our Rules use, evaluated as CloudFormation would."""
    if isinstance(node, dict):
        ((name, arg),) = node.items()
        if name == "Ref":
            return parameters[arg]
        if name == "Fn::Equals":
            return _evaluate_rule(arg[0], parameters) == _evaluate_rule(arg[1], parameters)
        if name == "Fn::Not":
            return not _evaluate_rule(arg[0], parameters)
        if name == "Fn::Or":
            return any(_evaluate_rule(a, parameters) for a in arg)
        if name == "Fn::And":
            return all(_evaluate_rule(a, parameters) for a in arg)
        raise AssertionError(f"unexpected function {name}")
    return node


def _template_accepts(parameters):
    declared = TEMPLATE["Parameters"]
    values = {name: spec.get("Default", "") for name, spec in declared.items()}
    values.update(parameters)
    for name, value in parameters.items():
        pattern = declared[name].get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, str(value)):
            return False
    return all(
        _evaluate_rule(assertion["Assert"], values)
        for rule in TEMPLATE["Rules"].values()
        for assertion in rule["Assertions"]
    )


def test_the_template_refuses_result_and_failure_folders_that_overlap_exactly_when_settings_do():
    """Issue 10 item 4: one folder for results, another for failure records, checked at deploy."""
    from correction_core.settings import Settings, SettingsError

    candidates = ["", "results/", "failures/", "out/", "out/failures/", "failures/sub/", "results"]
    for destination in candidates:
        for failure in candidates:
            deployable = _template_accepts({"DestinationPrefix": destination, "FailurePrefix": failure})
            try:
                Settings.from_env({"DESTINATION_PREFIX": destination, "FAILURE_PREFIX": failure})
                accepted = True
            except SettingsError:
                accepted = False
            # Whatever the template lets through, the functions accept (never a stack whose
            # every function fails); whatever it lets through never overlaps.
            if deployable:
                assert accepted, (destination, failure)
    assert _template_accepts({})
    assert not _template_accepts({"DestinationPrefix": "failures/"})
    assert not _template_accepts({"DestinationPrefix": ""})
    assert not _template_accepts({"FailurePrefix": "results/sub/"})


def test_submit_timeout_batch_size_client_timeouts_budget_wait_and_visibility_agree():
    """Issue 10 item 2: each of these is derived from the others; changing one alone fails here.

    The function must finish a full batch with every step at its worst (so Lambda never ends
    it mid-create), and the queue must hide a message for six function timeouts (AWS's advice
    for SQS sources, which also keeps a message from being redelivered while still in work).
    """
    from correction_core.settings import Settings
    from correction_core.submission import VISIBILITY_TIMEOUT_FACTOR, submit_timeout_seconds

    resources = TEMPLATE["Resources"]
    submit = resources["SubmitFunction"]["Properties"]
    env = {
        **TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
        **submit["Environment"]["Variables"],
    }
    literal = {
        name: value for name, value in env.items() if isinstance(value, str)
    }  # !Ref values are deploy-time
    settings = Settings.from_env(literal)
    (event,) = [e for e in submit["Events"].values() if e["Type"] == "SQS"]
    batch_size = event["Properties"]["BatchSize"]
    assert settings.budget_wait_seconds > 0  # submit waits for tokens (bounded per invocation)
    assert submit["Timeout"] == submit_timeout_seconds(settings, batch_size)
    assert submit["Timeout"] <= 900  # Lambda's maximum
    queue = resources["IntakeQueue"]["Properties"]
    assert queue["VisibilityTimeout"] == VISIBILITY_TIMEOUT_FACTOR * submit["Timeout"]


def test_alarm_topics_are_not_under_the_aws_managed_sns_key():
    # The AWS managed key's policy does not let CloudWatch use it: an alarm whose topic is
    # encrypted with alias/aws/sns changes state but its notification is never delivered.
    resources = TEMPLATE["Resources"]
    alarm_topics = {
        action["Ref"]
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        for action in resource["Properties"].get("AlarmActions", [])
        if isinstance(action, dict) and "Ref" in action
    }
    assert alarm_topics, "the alarms notify a topic"
    for name in alarm_topics:
        key = resources[name].get("Properties", {}).get("KmsMasterKeyId")
        assert key != "alias/aws/sns", f"{name}: CloudWatch cannot publish under the AWS managed SNS key"


def test_an_idempotency_note_outlives_every_message_that_could_create_its_task():
    # Review: notes kept 7 days, messages 14 in the queue and 14 more in the dead-letter queue;
    # a message moved back after its note expired created (and paid for) its task again.
    from correction_core.settings import Settings

    resources = TEMPLATE["Resources"]
    lives = sum(
        resources[name]["Properties"]["MessageRetentionPeriod"]
        for name in ("IntakeQueue", "IntakeDeadLetterQueue")
    )
    assert Settings().idempotency_ttl_seconds > lives
