"""Creates the template's queues, tables and secrets in an AWS endpoint (moto, usually).

Each resource is created from its own ``Properties`` in template.yaml, translated to the
API call CloudFormation would make, so a change to the template (a visibility timeout, a
key, the maxReceiveCount) changes the local stack and the tests with it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session

from tvsync.local.template import Resolver, TemplateError, function_environment, parameter_defaults

QUEUE_ATTRIBUTES = (
    "FifoQueue",
    "ContentBasedDeduplication",
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "SqsManagedSseEnabled",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
)

#: The name embedded AWS's resources are called after, as CloudFormation names a stack's
#: (``<stack>-<LogicalId>``, without its random suffix; secrets ``<stack>/<LogicalId>``).
#: Embedded AWS is empty at every start, so the names can be fixed, and ``events/env.json``
#: names the same queue, tables and secrets: an env file works with a local stack as it is.
LOCAL_STACK_NAME = "okta-teamviewer-sync"
#: The region of embedded AWS. A local stack records the region it used in its state file,
#: because queue URLs, ARNs and moto's per-region storage all depend on it.
LOCAL_REGION = "us-east-1"
#: Where boto3 sends DynamoDB calls when it is set, ahead of ``AWS_ENDPOINT_URL``: the local
#: stack serves DynamoDB from a moto server of its own (``tvsync.local.stack``).
DYNAMODB_ENDPOINT_ENV = "AWS_ENDPOINT_URL_DYNAMODB"
#: Embedded AWS accepts any key; these say plainly that they are not real.
LOCAL_ACCESS_KEY_ID = "local"
LOCAL_SECRET_ACCESS_KEY = "local"  # noqa: S105 - a dummy credential for moto, not a secret


def local_session(region: str = LOCAL_REGION) -> boto3.session.Session:
    """A boto3 session for a local stack, whatever the admin's shell says about AWS.

    Dummy keys, the stack's region, and no profile or config file: ``AWS_PROFILE`` naming
    an SSO profile (or one missing from the config) would otherwise fail every call with
    ``ProfileNotFound``, ``AWS_DEFAULT_REGION`` would look for the stack's queues in another
    region, and the admin's real credentials would be sent to a local emulator.
    """
    core = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
        }
    )
    return boto3.session.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
        region_name=region,
        botocore_session=core,
    )


def service_endpoint(
    service: str, aws_endpoint_url: str | None, dynamodb_endpoint_url: str | None
) -> str | None:
    """Where a client of ``service`` reaches a local stack whose DynamoDB may be served apart."""
    if service == "dynamodb" and dynamodb_endpoint_url:
        return dynamodb_endpoint_url
    return aws_endpoint_url


def local_environ(environ: Mapping[str, str], region: str = LOCAL_REGION) -> dict[str, str]:
    """``environ`` with the shell's AWS configuration replaced by the local stack's.

    For processes of a local stack (moto, the functions): every ``AWS_*`` variable goes —
    profiles, real keys and session tokens, config and credentials files, per-service
    endpoint overrides — and dummy keys and the stack's region take their place. That is
    also the shape Lambda gives a function: credentials and region in the environment only.
    """
    clean = {name: value for name, value in environ.items() if not name.startswith("AWS_")}
    clean.update(
        {
            "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return clean


@dataclass
class LocalResources:
    """Physical ids of what was created; ``resolver`` answers the template's Ref/GetAtt."""

    stack_name: str
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def resolver(self) -> Resolver:
        return Resolver(self.refs, self.attributes)

    def environment(self, template: Mapping[str, Any], function_id: str) -> dict[str, str]:
        return function_environment(template, function_id, self.resolver)


def provision(  # noqa: PLR0913 - where and what, then keyword-only overrides with defaults
    session: boto3.session.Session,
    template: Mapping[str, Any],
    *,
    stack_name: str = LOCAL_STACK_NAME,
    secrets: Mapping[str, str] | None = None,
    parameters: Mapping[str, str] | None = None,
    endpoint_url: str | None = None,
    dynamodb_endpoint_url: str | None = None,
) -> LocalResources:
    """Create every SQS queue, DynamoDB table and secret of the template; return their ids.

    ``secrets`` maps a secret's logical id to its value (a secret left out keeps the
    template's own value, or a generated one). ``parameters`` override parameter defaults.
    """
    found = LocalResources(stack_name=stack_name)
    found.refs.update(parameter_defaults(template))
    found.refs.update(parameters or {})
    found.refs.update({"AWS::Region": session.region_name or "us-east-1", "AWS::StackName": stack_name})
    found.refs["AWS::URLSuffix"] = "amazonaws.com"
    resources: Mapping[str, Any] = template["Resources"]
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    dynamodb = session.client(
        "dynamodb", endpoint_url=service_endpoint("dynamodb", endpoint_url, dynamodb_endpoint_url)
    )
    secretsmanager = session.client("secretsmanager", endpoint_url=endpoint_url)
    # Queues without a redrive policy first: a queue's DLQ must exist before it.
    queues = sorted(
        (rid for rid, r in resources.items() if r["Type"] == "AWS::SQS::Queue"),
        key=lambda rid: "RedrivePolicy" in resources[rid].get("Properties", {}),
    )
    for rid in queues:
        _create_queue(sqs, rid, resources[rid].get("Properties", {}), found)
    for rid, spec in resources.items():
        if spec["Type"] == "AWS::DynamoDB::Table":
            _create_table(dynamodb, rid, spec["Properties"], found)
        elif spec["Type"] == "AWS::SecretsManager::Secret":
            value = (secrets or {}).get(rid) or spec["Properties"].get("SecretString") or f"local-{rid}"
            arn = secretsmanager.create_secret(Name=f"{stack_name}/{rid}", SecretString=value)["ARN"]
            found.refs[rid] = arn
    return found


def _create_queue(sqs: Any, rid: str, props: Mapping[str, Any], found: LocalResources) -> None:
    resolver = found.resolver
    fifo = bool(props.get("FifoQueue"))
    name = f"{found.stack_name}-{rid}" + (".fifo" if fifo else "")
    attributes = {key: _attr(resolver.resolve(props[key])) for key in QUEUE_ATTRIBUTES if key in props}
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(resolver.resolve(props["RedrivePolicy"]))
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    found.refs[rid] = url
    found.attributes[(rid, "Arn")] = arn
    found.attributes[(rid, "QueueName")] = name
    found.attributes[(rid, "QueueUrl")] = url


def _create_table(dynamodb: Any, rid: str, props: Mapping[str, Any], found: LocalResources) -> None:
    name = f"{found.stack_name}-{rid}"
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in props:
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("SSESpecification", {}).get("SSEEnabled"):
        request["SSESpecification"] = {"Enabled": True}
    if request["BillingMode"] != "PAY_PER_REQUEST":
        raise TemplateError(f"{rid}: only PAY_PER_REQUEST tables are supported locally")
    description = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    found.refs[rid] = name
    found.attributes[(rid, "Arn")] = description["TableArn"]


def _attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
