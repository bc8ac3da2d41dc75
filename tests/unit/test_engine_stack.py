"""Static checks of engine/template.yaml, the engine's AWS stack, that a reviewer would make.

The numbers that must agree (the worker's timeout, the queue's visibility timeout, the load
balancer's idle timeout, the contract's processing limit and result lifetime) are recomputed here
from their sources, so changing one alone fails a test.
"""

import re
from pathlib import Path

import pytest

from correction_core import contract
from correction_core.submission import VISIBILITY_TIMEOUT_FACTOR
from correction_engine.server.settings import EngineSettings
from correction_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "engine" / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _worker():
    return RESOURCES["WorkerFunction"]["Properties"]


def _api_container_environment():
    (container,) = RESOURCES["ApiTaskDefinition"]["Properties"]["ContainerDefinitions"]
    return {item["Name"]: item["Value"] for item in container["Environment"]}


def _allowed_worker_timeouts():
    spec = PARAMETERS["WorkerTimeoutSeconds"]
    return [int(value) for value in spec["AllowedValues"]], int(spec["Default"])


def test_queue_hides_a_message_for_six_worker_timeouts_whatever_timeout_is_chosen():
    """AWS's advice for SQS event sources: never redeliver while an invocation may still hold it."""
    assert _worker()["Timeout"] == {"Ref": "WorkerTimeoutSeconds"}
    visibility = RESOURCES["WorkQueue"]["Properties"]["VisibilityTimeout"]
    mapping, key, attribute = visibility["Fn::FindInMap"]
    assert key == {"Ref": "WorkerTimeoutSeconds"}
    table = TEMPLATE["Mappings"][mapping]
    allowed, default = _allowed_worker_timeouts()
    assert default in allowed
    # Every allowed timeout has its row, and nothing else does (a stale row would hide a mistake).
    assert sorted(int(k) for k in table) == sorted(allowed)
    for timeout in allowed:
        assert table[str(timeout)][attribute] >= VISIBILITY_TIMEOUT_FACTOR * timeout, timeout
        assert timeout <= 900  # Lambda's maximum


def test_worker_outlives_the_contracts_processing_limit():
    """A task is failed (-8) after the processing limit: the worker must live to write that."""
    allowed, _ = _allowed_worker_timeouts()
    limit = int(_worker()["Environment"]["Variables"]["ENGINE_MAX_PROCESSING_SECONDS"])
    assert limit == contract.MAX_PROCESSING_SECONDS
    assert int(_api_container_environment()["ENGINE_MAX_PROCESSING_SECONDS"]) == limit
    # 30 s at least for reading the source from S3 and writing the result back.
    assert min(allowed) >= limit + 30


def test_results_live_as_long_as_the_contract_says_everywhere():
    for env in (_worker()["Environment"]["Variables"], _api_container_environment()):
        assert int(env["ENGINE_RESULT_TTL_SECONDS"]) == contract.RESULT_URL_TTL_SECONDS
    # S3's lifecycle unit is a day: objects outlive the hour their URLs are valid, never less.
    rules = RESOURCES["ResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {rule["Prefix"]: rule["ExpirationInDays"] for rule in rules if "Prefix" in rule}
    assert expiring == {"results/": 1, "sources/": 1}
    assert 86400 * min(expiring.values()) >= contract.RESULT_URL_TTL_SECONDS


def test_a_sync_create_fits_the_load_balancers_idle_timeout_and_a_leaving_container():
    """A sync create sends nothing while it waits; the connection must outlive the engine's wait."""
    sync_wait = EngineSettings(
        max_processing_seconds=contract.MAX_PROCESSING_SECONDS
    ).effective_sync_wait_seconds
    attributes = {
        a["Key"]: a["Value"] for a in RESOURCES["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    }
    idle = int(attributes["idle_timeout.timeout_seconds"])
    assert sync_wait < idle <= 4000
    group = {a["Key"]: a["Value"] for a in RESOURCES["TargetGroup"]["Properties"]["TargetGroupAttributes"]}
    assert int(group["deregistration_delay.timeout_seconds"]) >= sync_wait


def test_work_queue_dead_letters_after_three_receives_and_the_dead_letters_are_handled_and_alarmed():
    queue = RESOURCES["WorkQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 3,
    }
    assert RESOURCES["WorkDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    # The dead-letter handler consumes the DLQ (so a poisoned task ends failed, not processing).
    handler = RESOURCES["DeadLetterHandlerFunction"]["Properties"]
    (event,) = handler["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    dlq_visibility = RESOURCES["WorkDeadLetterQueue"]["Properties"]["VisibilityTimeout"]
    assert dlq_visibility >= VISIBILITY_TIMEOUT_FACTOR * handler["Timeout"]
    # The alarm watches the DLQ by name, and arrivals as well as depth (the handler drains it).
    alarm = RESOURCES["DeadLetterAlarm"]["Properties"]
    watched = [
        (m["MetricStat"]["Metric"]["MetricName"], m["MetricStat"]["Metric"]["Dimensions"])
        for m in alarm["Metrics"]
        if "MetricStat" in m
    ]
    dlq = [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["WorkDeadLetterQueue", "QueueName"]}}]
    assert ("NumberOfMessagesReceived", dlq) in watched
    assert ("ApproximateNumberOfMessagesVisible", dlq) in watched
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_worker_takes_one_message_at_a_time_reports_partial_failures_and_is_never_throttled_by_sqs():
    worker = _worker()
    assert worker["PackageType"] == "Image"
    assert worker["Architectures"] == ["arm64"]
    (event,) = worker["Events"].values()
    props = event["Properties"]
    assert event["Type"] == "SQS"
    assert props["Queue"] == {"Fn::GetAtt": ["WorkQueue", "Arn"]}
    assert props["BatchSize"] == 1
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # A poll throttled by reserved concurrency would spend one of the message's 3 receives.
    assert props["ScalingConfig"]["MaximumConcurrency"] == worker["ReservedConcurrentExecutions"]
    assert worker["ReservedConcurrentExecutions"] == {"Ref": "WorkerConcurrency"}
    assert PARAMETERS["WorkerConcurrency"]["MinValue"] >= 2  # SQS's minimum MaximumConcurrency


def test_tasks_table_is_keyed_and_expired_as_the_backends_expect():
    table = RESOURCES["TasksTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "task_id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}
    tasks = pytest.importorskip("correction_engine.aws.tasks")
    assert table["TimeToLiveSpecification"]["AttributeName"] == tasks.TTL_ATTRIBUTE
    # The rate limiter's buckets share the table (and its TTL) under the same key attribute.
    assert re.search(r"[\"']task_id[\"']", _aws_source_text()), "the backends no longer key items by task_id"


def _aws_source_text():
    package = ROOT / "engine" / "correction_engine" / "aws"
    if not package.is_dir():
        pytest.skip("correction_engine.aws is not written yet")
    return "\n".join(path.read_text() for path in sorted(package.glob("*.py")))


def test_every_engine_variable_the_template_sets_is_one_the_aws_settings_read():
    """A misspelt name would leave the setting at its default on AWS and nowhere else."""
    read = set(re.findall(r"[\"'](ENGINE_[A-Z_]+)[\"']", _aws_source_text()))
    api = {name for name in _api_container_environment() if name.startswith("ENGINE_")}
    for function in ("WorkerFunction", "DeadLetterHandlerFunction"):
        variables = RESOURCES[function]["Properties"]["Environment"]["Variables"]
        assert {n for n in variables if n.startswith("ENGINE_")} <= read, function
    assert api <= read


def _deployed(variables):
    """The environment as deployed: a parameter at its default, a resource as a name."""

    def value(name, raw):
        if isinstance(raw, str):
            return raw
        if raw.get("Ref") in PARAMETERS:
            return str(PARAMETERS[raw["Ref"]].get("Default", ""))
        return f"deployed-{name.lower()}"

    return {name: value(name, raw) for name, raw in variables.items()}


def test_every_container_and_function_starts_with_the_environment_the_stack_gives_it():
    """AwsEngineSettings.from_environment refuses a missing variable: each home must have them all."""
    settings_module = pytest.importorskip("correction_engine.aws.settings")
    redrive = RESOURCES["WorkQueue"]["Properties"]["RedrivePolicy"]
    homes = {
        "api": _api_container_environment(),
        **{
            f: RESOURCES[f]["Properties"]["Environment"]["Variables"]
            for f in ("WorkerFunction", "DeadLetterHandlerFunction")
        },
    }
    for home, variables in homes.items():
        # The functions read what the worker reads (the Lambda handlers build their settings so).
        settings = settings_module.AwsEngineSettings.from_environment(
            _deployed(variables), worker=home != "api"
        )
        assert settings.max_processing_seconds == contract.MAX_PROCESSING_SECONDS, home
        assert settings.result_ttl_seconds == contract.RESULT_URL_TTL_SECONDS, home
    api = settings_module.AwsEngineSettings.from_environment(_deployed(homes["api"]))
    assert api.max_queued_tasks == int(PARAMETERS["MaxQueuedTasks"]["Default"])
    worker = settings_module.AwsEngineSettings.from_environment(
        _deployed(_worker()["Environment"]["Variables"]), worker=True
    )
    # The worker's "last receive" is the queue's: one fewer and a task fails while a retry could
    # help; one more and the message reaches the DLQ before the worker ends the task.
    assert worker.max_receives == redrive["maxReceiveCount"]


def _statements(role):
    for policy in RESOURCES[role]["Properties"]["Policies"]:
        yield from policy["PolicyDocument"]["Statement"]


def test_no_action_or_resource_is_a_wildcard_except_ecrs_registry_token():
    """ecr:GetAuthorizationToken has no resource-level permission; everything else names its ARN."""
    roles = [name for name, r in RESOURCES.items() if r["Type"] == "AWS::IAM::Role"]
    assert set(roles) == {"WorkerRole", "DeadLetterHandlerRole", "ApiExecutionRole", "ApiTaskRole"}
    # SAM writes roles only for functions without Role (none here), so these are all there is.
    for node in (statement for role in roles for statement in _statements(role)):
        assert node["Effect"] == "Allow"
        actions = _as_list(node["Action"])
        assert not any(a == "*" or a.endswith(":*") or "*" in a for a in actions), node
        for resource in _as_list(node["Resource"]):
            if resource == "*":
                assert actions == ["ecr:GetAuthorizationToken"], node
            elif isinstance(resource, dict) and "Fn::Sub" in resource:
                text = resource["Fn::Sub"]
                # A prefix of objects may end in /*; nothing else is a wildcard.
                assert "*" not in text or re.fullmatch(r"\$\{ResultsBucket\.Arn\}/[a-z]+/\*", text), text


TABLE = [{"Fn::GetAtt": ["TasksTable", "Arn"]}]
SOURCES = {"Fn::Sub": "${ResultsBucket.Arn}/sources/*"}
RESULTS = {"Fn::Sub": "${ResultsBucket.Arn}/results/*"}
# What an SQS event source needs of the function's role (AWS Lambda developer guide, "Execution role
# permissions" for Amazon SQS): no ChangeMessageVisibility, which no engine code calls either.
CONSUME = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]


def _allowed(role):
    """Each action the role allows, with every resource it is allowed on."""
    allowed: dict[str, list] = {}
    for statement in _statements(role):
        for action in _as_list(statement["Action"]):
            allowed.setdefault(action, []).extend(_as_list(statement["Resource"]))
    return allowed


def test_api_task_role_can_do_exactly_what_the_api_needs():
    allowed = _allowed("ApiTaskRole")
    # What engine/correction_engine/aws calls from the API: tasks and rate-limit buckets (Get, Put),
    # transitions (Update), undoing a create that could not be queued (Delete), the stats' item
    # count (DescribeTable); the upload to sources/, a base64 result (and the presigned result
    # URLs, which carry this role's permission) from results/, and a source dropped when its task
    # fails or is undone. Workers write and delete results, never the API.
    assert allowed == {
        "dynamodb:GetItem": TABLE,
        "dynamodb:PutItem": TABLE,
        "dynamodb:UpdateItem": TABLE,
        "dynamodb:DeleteItem": TABLE,
        "dynamodb:DescribeTable": TABLE,
        "sqs:SendMessage": [{"Fn::GetAtt": ["WorkQueue", "Arn"]}],
        "sqs:GetQueueAttributes": [{"Fn::GetAtt": ["WorkQueue", "Arn"]}],
        "s3:GetObject": [RESULTS],
        "s3:PutObject": [SOURCES],
        "s3:DeleteObject": [SOURCES],
        "secretsmanager:GetSecretValue": [{"Ref": "KeysSecret"}],
    }
    # SAM adds nothing to roles the template writes itself (its SQS managed policy is on "*").
    for function in ("WorkerFunction", "DeadLetterHandlerFunction"):
        props = RESOURCES[function]["Properties"]
        assert "Role" in props and "Policies" not in props
        assert "Tracing" not in props  # X-Ray's actions take no resource


def test_worker_role_can_do_exactly_what_the_worker_needs():
    """The worker reads and moves its task (no create, no delete), reads the source, writes the
    result, and deletes the source when the task ends and a result the task could not take."""
    queue = [{"Fn::GetAtt": ["WorkQueue", "Arn"]}]
    assert _allowed("WorkerRole") == {
        **{action: queue for action in CONSUME},
        "dynamodb:GetItem": TABLE,
        "dynamodb:UpdateItem": TABLE,
        "s3:GetObject": [SOURCES],
        "s3:PutObject": [RESULTS],
        "s3:DeleteObject": [SOURCES, RESULTS],
        "logs:CreateLogStream": [{"Fn::GetAtt": ["WorkerLogGroup", "Arn"]}],
        "logs:PutLogEvents": [{"Fn::GetAtt": ["WorkerLogGroup", "Arn"]}],
    }


def test_dead_letter_handler_role_can_only_fail_tasks_and_drop_their_sources():
    queue = [{"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]}]
    assert _allowed("DeadLetterHandlerRole") == {
        **{action: queue for action in CONSUME},
        "dynamodb:GetItem": TABLE,
        "dynamodb:UpdateItem": TABLE,
        "s3:DeleteObject": [SOURCES],
        "logs:CreateLogStream": [{"Fn::GetAtt": ["DeadLetterHandlerLogGroup", "Arn"]}],
        "logs:PutLogEvents": [{"Fn::GetAtt": ["DeadLetterHandlerLogGroup", "Arn"]}],
    }


def test_functions_are_not_named_the_queue_or_the_secret_they_never_use():
    """Their messages come from the event source mapping and they authenticate nobody, so the
    worker's settings do not read the work queue's URL or the key secret (worker=True)."""
    for function in ("WorkerFunction", "DeadLetterHandlerFunction"):
        variables = RESOURCES[function]["Properties"]["Environment"]["Variables"]
        named = {str(value) for value in variables.values()}
        assert "ENGINE_WORK_QUEUE_URL" not in variables and "ENGINE_KEYS_SECRET_ARN" not in variables, (
            function
        )
        assert str({"Ref": "KeysSecret"}) not in named and str({"Ref": "WorkQueue"}) not in named, function


def test_the_api_refuses_creates_past_a_backlog_the_workers_can_still_finish_in_time():
    """A task's processing limit counts from its create, so a backlog deeper than the workers clear
    within it only queues -8s. The default must hold at least one task per worker, and no more
    than the default workers finish in the limit at one second a task: a generous bound, as a
    12 MP task takes 0.4-1.9 s on a full core before its S3 read and write
    (docs/benchmarks/engine-speed.md)."""
    assert _api_container_environment()["ENGINE_MAX_QUEUED_TASKS"] == {"Ref": "MaxQueuedTasks"}
    spec = PARAMETERS["MaxQueuedTasks"]
    workers = int(PARAMETERS["WorkerConcurrency"]["Default"])
    assert spec["MinValue"] >= 1
    assert workers <= int(spec["Default"]) <= workers * contract.MAX_PROCESSING_SECONDS


def test_worker_role_reads_no_keys_and_consumes_only_its_queue():
    resources = [r for s in _statements("WorkerRole") for r in _as_list(s["Resource"])]
    assert {"Ref": "KeysSecret"} not in resources
    sqs = [s for s in _statements("WorkerRole") if any(a.startswith("sqs:") for a in _as_list(s["Action"]))]
    assert [s["Resource"] for s in sqs] == [{"Fn::GetAtt": ["WorkQueue", "Arn"]}]


def test_keys_are_generated_never_a_parameter_value():
    secret = RESOURCES["KeysSecret"]["Properties"]
    assert "SecretString" not in secret
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32
    assert not any("key" in name.lower() and "secret" not in name.lower() for name in PARAMETERS)


def test_results_bucket_is_private_encrypted_and_tls_only():
    props = RESOURCES["ResultsBucket"]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    (statement,) = RESOURCES["ResultsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_front_is_https_and_plain_http_only_redirects():
    https = RESOURCES["HttpsListener"]["Properties"]
    assert https["Protocol"] == "HTTPS"
    assert https["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    http = RESOURCES["HttpRedirectListener"]["Properties"]
    (action,) = http["DefaultActions"]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"]["Protocol"] == "HTTPS"
    assert RESOURCES["LoadBalancer"]["Properties"]["Scheme"] == "internet-facing"


def test_api_scales_on_cpu_and_on_requests_per_container():
    metrics = {
        RESOURCES[name]["Properties"]["TargetTrackingScalingPolicyConfiguration"][
            "PredefinedMetricSpecification"
        ]["PredefinedMetricType"]
        for name, r in RESOURCES.items()
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy"
    }
    assert metrics == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}


def test_every_log_group_has_a_retention():
    groups = [r for r in RESOURCES.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(groups) == 3
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups)


def test_outputs_the_pipeline_needs():
    outputs = TEMPLATE["Outputs"]
    assert outputs["EngineApiBaseUrl"]["Value"] == {"Fn::Sub": "https://${DomainName}"}
    # The pipeline's ResultHosts takes a comma-separated list: both of the bucket's host names.
    assert outputs["EngineResultHost"]["Value"] == {
        "Fn::Sub": "${ResultsBucket.RegionalDomainName},${ResultsBucket.DomainName}"
    }
    assert outputs["EngineKeysSecretArn"]["Value"] == {"Ref": "KeysSecret"}


def test_every_checkov_skip_gives_its_reason():
    """scripts/check-infra runs every checkov check on this stack; a skip must say why."""
    skips = [
        (name, skip)
        for name, resource in RESOURCES.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), (name, skip)
        assert len(skip.get("comment", "").split()) >= 8, (name, skip)


def test_the_secret_the_stack_generates_is_one_the_engine_accepts():
    """Secrets Manager puts the generated key under GenerateStringKey in SecretStringTemplate."""
    import json

    import boto3
    from moto import mock_aws

    keys = pytest.importorskip("correction_engine.aws.keys")
    spec = RESOURCES["KeysSecret"]["Properties"]["GenerateSecretString"]
    generated = "k" * spec["PasswordLength"]
    value = {**json.loads(spec["SecretStringTemplate"]), spec["GenerateStringKey"]: generated}
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="engine-keys", SecretString=json.dumps(value))["ARN"]
        assert keys.KeySource(client, arn, max_age=0).api_keys() == (generated,)
        # Rotation adds keys beside it (docs/engine-on-aws.md): both are accepted.
        client.put_secret_value(SecretId=arn, SecretString=json.dumps({**value, "api_keys": ["new"]}))
        assert set(keys.KeySource(client, arn, max_age=0).api_keys()) == {generated, "new"}


def test_the_stack_refuses_exactly_the_cpu_and_memory_pairs_fargate_refuses():
    from tests.unit.test_definition_and_template import _evaluate_rule

    # Fargate's table (MiB per CPU units), restricted to the template's allowed values.
    fargate = {256: {512, 1024, 2048}, 512: {1024, 2048, 4096}, 1024: {2048, 4096}, 2048: {4096}}
    (assertion,) = TEMPLATE["Rules"]["FargateSize"]["Assertions"]
    for cpu in PARAMETERS["ApiCpu"]["AllowedValues"]:
        for memory in PARAMETERS["ApiMemory"]["AllowedValues"]:
            accepted = _evaluate_rule(assertion["Assert"], {"ApiCpu": str(cpu), "ApiMemory": str(memory)})
            assert accepted == (memory in fargate[cpu]), (cpu, memory)
    defaults = {name: str(PARAMETERS[name]["Default"]) for name in ("ApiCpu", "ApiMemory")}
    assert _evaluate_rule(assertion["Assert"], defaults)
