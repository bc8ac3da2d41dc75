"""Stands up the template's resources in moto (in-process) and wires in the real handlers.

Call ``build_stack`` inside an active ``mock_aws(config=MOTO_CONFIG)``. The state machine's
definition is ``statemachine/correction.asl.json`` with the template's own
DefinitionSubstitutions; the functions' environments are the template's Globals plus their own
variables, resolved against the same parameters. Nothing of the pipeline's logic lives here.
"""

from __future__ import annotations

import io
import json
import os
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from correction_core.redaction import install_log_redaction, register_secret
from correction_core.services import reset_services

from . import lambda_bridge
from .completion_events import EventListener, listen
from .template import PROJECT_ROOT, Resolver, load_template, substitute_definition

MOTO_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "core": {"reset_boto3_session": True},
}
REGION = "us-east-1"
ACCOUNT = "123456789012"
API_KEY_SECRET_NAME = "photo-correction/api-key"


_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_dynamodb_lock = threading.RLock()


def make_dynamodb_writes_atomic() -> None:
    """Serialise moto's DynamoDB writes, as DynamoDB makes each conditional write atomic.

    moto checks a ConditionExpression and applies the update without a lock, so two threads
    (two executions in the interpreter) can both pass ``used < :qps``. The request budget and
    the idempotency records rely on that atomicity, so the emulation must provide it.
    """
    from moto.dynamodb.models import DynamoDBBackend

    for name in _DYNAMODB_WRITES:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_serialised", False):
            continue

        def serialised(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _dynamodb_lock:
                return __original(self, *args, **kwargs)

        serialised._serialised = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, serialised)


@dataclass
class LocalStack:
    resolver: Resolver
    source_bucket: str
    destination_bucket: str
    queue_url: str
    dead_letter_queue_url: str
    state_machine_arn: str
    submit_function: str
    environment: dict[str, str]
    functions: dict[str, str] = field(default_factory=dict)  # logical id → function name
    intake_batch_size: int = 10  # the submit function's SQS event source BatchSize
    #: A rule on the stack's event bus → a queue: the completion events the functions published.
    events: EventListener | None = None

    @property
    def parameters(self) -> dict[str, str]:
        return self.resolver.parameters

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)


def _resources(template: Mapping[str, Any], kind: str) -> dict[str, Mapping[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# replaced in-process by correction_local.lambda_bridge\n")
    return buffer.getvalue()


def build_stack(
    parameters: Mapping[str, Any],
    *,
    api_key: str,
    intake_visibility_timeout: int | None = 2,
    source_bucket: str = "local-photos-source",
    destination_bucket: str = "local-photos-destination",
) -> LocalStack:
    """Create the template's resources in moto with ``parameters`` overriding its defaults.

    ``intake_visibility_timeout`` shortens the queue's visibility timeout (the template's is
    sized for Lambda's retry cadence) so a message whose submit failed is retried within seconds.
    """
    # The key travels through botocore here (CreateSecret), which logs request bodies at DEBUG.
    install_log_redaction()
    register_secret(api_key)
    template = load_template()
    resolver = Resolver.with_defaults(template, parameters)
    make_dynamodb_writes_atomic()
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    role_arn = iam.create_role(
        RoleName="local-pipeline",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]

    # Names first: functions' environments and the definition refer to each other's ARNs.
    functions = _resources(template, "AWS::Serverless::Function")
    machines = _resources(template, "AWS::Serverless::StateMachine")
    ((machine_id, machine),) = machines.items()
    for logical_id in functions:
        resolver.refs[logical_id] = logical_id
        resolver.arns[logical_id] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
    machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{machine_id}"
    resolver.refs[machine_id] = machine_arn

    # Storage.
    buckets = _resources(template, "AWS::S3::Bucket")
    source_id = next(n for n, r in buckets.items() if "NotificationConfiguration" in r["Properties"])
    dest_id = next(n for n in buckets if n != source_id)
    for logical_id, name in ((source_id, source_bucket), (dest_id, destination_bucket)):
        explicit = resolver.resolve(buckets[logical_id]["Properties"].get("BucketName"))
        name = explicit or name
        resolver.refs[logical_id] = name
        resolver.arns[logical_id] = f"arn:aws:s3:::{name}"
        s3.create_bucket(Bucket=name)
        versioning = buckets[logical_id]["Properties"].get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=versioning)
    if resolver.refs[source_id] == resolver.refs[dest_id]:
        raise ValueError("the destination bucket must not be the source bucket")

    # Intake queue and its dead-letter queue.
    queues = _resources(template, "AWS::SQS::Queue")
    dlq_id = next(n for n, r in queues.items() if "RedrivePolicy" not in r["Properties"])
    queue_id = next(n for n in queues if n != dlq_id)
    dlq_url = sqs.create_queue(QueueName=dlq_id)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_props = queues[queue_id]["Properties"]
    redrive = {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": str(queue_props["RedrivePolicy"]["maxReceiveCount"]),
    }
    visibility = (
        intake_visibility_timeout
        if intake_visibility_timeout is not None
        else queue_props["VisibilityTimeout"]
    )
    queue_url = sqs.create_queue(
        QueueName=queue_id,
        Attributes={"VisibilityTimeout": str(visibility), "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    resolver.refs[queue_id] = queue_url
    resolver.arns[queue_id] = queue_arn
    resolver.refs[dlq_id] = dlq_url
    resolver.arns[dlq_id] = dlq_arn

    # The upload notification, as the template configures it.
    notification = resolver.resolve(buckets[source_id]["Properties"]["NotificationConfiguration"])
    s3.put_bucket_notification_configuration(
        Bucket=resolver.refs[source_id],
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": [c["Event"]],
                    "Filter": {"Key": {"FilterRules": c["Filter"]["S3Key"]["Rules"]}},
                }
                for c in notification["QueueConfigurations"]
            ]
        },
    )

    # Idempotency table and the API key's secret.
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for logical_id, table in _resources(template, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        dynamodb.create_table(
            TableName=logical_id,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props["BillingMode"],
        )
        resolver.refs[logical_id] = logical_id
        resolver.arns[logical_id] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{logical_id}"
    (secret_id,) = _resources(template, "AWS::SecretsManager::Secret")
    secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=API_KEY_SECRET_NAME, SecretString=api_key
    )["ARN"]
    resolver.refs[secret_id] = secret_arn

    # The completion events' bus (the template's parameter) and a listener on it.
    listener = listen(boto3.client("events", region_name=REGION), sqs, resolver.parameters["EventBusName"])

    # Functions: moto records them; the bridge runs the real handler modules in-process.
    lambda_client = boto3.client("lambda", region_name=REGION)
    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    environment: dict[str, str] = {}
    lambda_bridge.install()
    for logical_id, function in functions.items():
        props = function["Properties"]
        env = {
            k: str(v)
            for k, v in resolver.resolve(
                {**global_env, **props.get("Environment", {}).get("Variables", {})}
            ).items()
        }
        environment.update(env)
        lambda_client.create_function(
            FunctionName=logical_id,
            Runtime="python3.12",
            Role=role_arn,
            Handler=props["Handler"],
            Code={"ZipFile": _dummy_zip()},
            Timeout=int(props.get("Timeout", 30)),
            Environment={"Variables": env},
        )
        code_dir = PROJECT_ROOT / props["CodeUri"]
        lambda_bridge.register(logical_id, lambda_bridge.load_handler(code_dir, props["Handler"]), env)

    # The state machine: the real definition with the template's substitutions.
    machine_props = machine["Properties"]
    definition = substitute_definition(
        (PROJECT_ROOT / machine_props["DefinitionUri"]).read_text(),
        resolver.resolve(machine_props["DefinitionSubstitutions"]),
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    sfn.create_state_machine(
        name=machine_id,
        definition=definition,
        roleArn=role_arn,
        type=resolver.resolve(machine_props["Type"]),
    )

    # Each function runs with its own environment (lambda_bridge scopes its services); the
    # process environment gets the variables every function shares, for code outside handlers.
    shared = {k: v for k, v in environment.items() if k in global_env}
    os.environ.update(shared)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    reset_services()
    submit = next(n for n, f in functions.items() if "Events" in f["Properties"])
    (sqs_event,) = [e for e in functions[submit]["Properties"]["Events"].values() if e["Type"] == "SQS"]
    return LocalStack(
        resolver=resolver,
        source_bucket=resolver.refs[source_id],
        destination_bucket=resolver.refs[dest_id],
        queue_url=queue_url,
        dead_letter_queue_url=dlq_url,
        state_machine_arn=machine_arn,
        submit_function=submit,
        environment=environment,
        functions={n: n for n in functions},
        intake_batch_size=int(sqs_event["Properties"].get("BatchSize", 10)),
        events=listener,
    )
