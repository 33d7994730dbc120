"""template.yaml: lint-clean, true to the contracts in docs/contracts.md, and runnable with events/.

"What `sam local invoke` would do" is reproduced without Docker: the function the
template names (CodeUri + Handler) is imported with the environment the template gives
it, and invoked with each events/*.json API Gateway event.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import lint_all
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from tests.conftest import ROOT, Aws, FakeLambdaContext, load_function
from tests.support.markdown import contract_logical_ids
from tvsync.cli.check import PLACEHOLDER_PREFIX
from tvsync.core.groups import GroupConfig
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.models.reconcile_checkpoint import CHECKPOINT_KEY
from tvsync.observability import NAMESPACE, SERVICE
from tvsync.settings import FUNCTION_SETTINGS, POWERTOOLS_GLOBALS, ConfigurationError


def test_cfn_lint_reports_no_errors_or_warnings() -> None:
    matches = lint_all((ROOT / "template.yaml").read_text())
    # Informational rules (e.g. I4010 asking for per-resource architecture notes) are advice only.
    assert [str(m) for m in matches if m.rule.severity.lower() in {"error", "warning"}] == []


def test_contract_logical_ids_exist(template: dict[str, Any]) -> None:
    assert contract_logical_ids() <= set(template["Resources"])


def test_every_function_has_a_settings_model(template: dict[str, Any]) -> None:
    functions = {rid for rid, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert functions == set(FUNCTION_SETTINGS)


@pytest.mark.parametrize("function_id", sorted(FUNCTION_SETTINGS))
def test_functions_follow_the_layout_and_environment_contract(
    template: dict[str, Any], function_id: str
) -> None:
    """Each function's own Environment is exactly its settings model, overrides aside."""
    props = template["Resources"][function_id]["Properties"]
    name = function_id.removesuffix("Function").lower()
    assert props["CodeUri"] == f"functions/{name}/"
    assert props["Handler"] == "app.lambda_handler"
    assert (ROOT / "functions" / name / "app.py").is_file()
    assert set(props["Environment"]["Variables"]) == FUNCTION_SETTINGS[function_id].template_variables()


def test_powertools_is_configured_once_for_every_function(template: dict[str, Any]) -> None:
    """One service name and namespace for all functions: the dashboard and alarms read them."""
    globals_env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert set(globals_env) == set(POWERTOOLS_GLOBALS)
    assert (globals_env["POWERTOOLS_SERVICE_NAME"], globals_env["POWERTOOLS_METRICS_NAMESPACE"]) == (
        SERVICE,
        NAMESPACE,
    )
    assert globals_env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    for model in FUNCTION_SETTINGS.values():
        assert not set(POWERTOOLS_GLOBALS) & set(model.variables()), "Powertools reads these itself"


def test_the_readme_lists_the_environment_the_template_sets() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("The functions' environment (set by the template")
    paragraph = readme[start : readme.index("\n\n", start)]
    listed = set(re.findall(r"`([A-Z][A-Z_]+)`", paragraph))
    template_set = {name for model in FUNCTION_SETTINGS.values() for name in model.template_variables()}
    assert listed == template_set | set(POWERTOOLS_GLOBALS)


def test_the_api_token_secrets_start_as_placeholders_tvsync_check_recognises(
    template: dict[str, Any],
) -> None:
    secrets = {
        rid: r["Properties"]
        for rid, r in template["Resources"].items()
        if r["Type"] == "AWS::SecretsManager::Secret"
    }
    placeholders = {rid: p["SecretString"] for rid, p in secrets.items() if "SecretString" in p}
    assert set(placeholders) == {"TeamViewerTokenSecret", "OktaApiTokenSecret"}
    assert all(value.startswith(PLACEHOLDER_PREFIX) for value in placeholders.values())


def test_globals_pin_the_runtime_architecture_and_tracing(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"


def test_ingest_serves_get_and_post_on_the_hook_path(template: dict[str, Any]) -> None:
    events = template["Resources"]["IngestFunction"]["Properties"]["Events"].values()
    routes = {
        (e["Properties"]["Path"], e["Properties"]["Method"].upper()) for e in events if e["Type"] == "Api"
    }
    assert routes == {("/okta/events", "GET"), ("/okta/events", "POST")}
    assert all(e["Properties"]["RestApiId"] == {"Ref": "OktaHookApi"} for e in events)


def test_the_ingest_role_reaches_only_its_secret_and_queue(template: dict[str, Any]) -> None:
    role = template["Resources"]["IngestRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    by_action = {tuple(sorted(_as_list(s["Action"]))): s["Resource"] for s in statements}
    assert by_action[("secretsmanager:GetSecretValue",)] == {"Ref": "OktaHookSecret"}
    assert by_action[("sqs:SendMessage",)] == {"Fn::GetAtt": ["EventQueue", "Arn"]}
    wildcard = [s for s in statements if s["Resource"] == "*"]
    # X-Ray has no resource-level permissions; nothing else may use "*".
    assert all(a.startswith("xray:") for s in wildcard for a in _as_list(s["Action"]))
    assert "Policies" not in template["Resources"]["IngestFunction"]["Properties"]


def test_the_reconciler_runs_on_a_switchable_schedule_with_least_privilege(template: dict[str, Any]) -> None:
    props = template["Resources"]["ReconcileFunction"]["Properties"]
    params = template["Parameters"]
    assert props["Timeout"] == 900
    assert props["Environment"]["Variables"]["DEACTIVATE_ORPHANS"] == {"Ref": "DeactivateOrphans"}
    [schedule] = props["Events"].values()
    assert schedule["Type"] == "Schedule"
    assert schedule["Properties"]["Schedule"] == {"Ref": "ReconcileSchedule"}
    assert schedule["Properties"]["State"] == {"Fn::If": ["ReconcileIsEnabled", "ENABLED", "DISABLED"]}
    assert template["Conditions"]["ReconcileIsEnabled"] == {
        "Fn::Equals": [{"Ref": "ReconcileEnabled"}, "true"]
    }
    assert params["ReconcileSchedule"]["Default"] == "rate(6 hours)"
    assert (params["ReconcileEnabled"]["Default"], params["DeactivateOrphans"]["Default"]) == (
        "true",
        "false",
    )
    statements = template["Resources"]["ReconcileRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    actions = {action for s in statements for action in _as_list(s["Action"])}
    # It reads and queues; only the worker writes (TeamViewer, SyncStateTable, GroupStateTable)
    # — but for the reconciler's own checkpoint, below.
    assert actions == {
        "sqs:SendMessage",
        "dynamodb:Scan",
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "secretsmanager:GetSecretValue",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


def test_the_reconciler_may_write_its_checkpoint_and_no_other_item(template: dict[str, Any]) -> None:
    statements = template["Resources"]["ReconcileRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    writes = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}
    granting = [s for s in statements if writes & set(_as_list(s["Action"]))]
    assert len(granting) == 1
    [statement] = granting
    assert set(_as_list(statement["Action"])) == writes
    assert statement["Resource"] == {"Fn::GetAtt": ["SyncStateTable", "Arn"]}
    assert statement["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [CHECKPOINT_KEY]}}


def test_queues_are_fifo_encrypted_and_redrive_to_the_dlq(template: dict[str, Any]) -> None:
    queue = template["Resources"]["EventQueue"]["Properties"]
    dlq = template["Resources"]["EventDeadLetterQueue"]["Properties"]
    assert queue["FifoQueue"] is True and dlq["FifoQueue"] is True
    assert queue["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}
    # Quotas per message group (per Okta user), not per queue.
    assert queue["DeduplicationScope"] == "messageGroup"
    assert queue["FifoThroughputLimit"] == "perMessageGroupId"


def test_the_hook_secret_is_generated_at_deploy_time_and_output(template: dict[str, Any]) -> None:
    assert "GenerateSecretString" in template["Resources"]["OktaHookSecret"]["Properties"]
    outputs = template["Outputs"]
    assert outputs["OktaHookSecretArn"]["Value"] == {"Ref": "OktaHookSecret"}
    assert "/okta/events" in outputs["OktaEventHookUrl"]["Value"]["Fn::Sub"]


def transformed(template: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """The CloudFormation that ``sam deploy`` would submit: the SAM transform, run locally.

    Code locations become S3 URIs first, as ``sam package`` makes them.
    """
    document = copy.deepcopy(template)
    for logical_id, resource in document["Resources"].items():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = f"s3://artifacts/{logical_id}"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    result: dict[str, Any] = translator.translate(
        document,
        parameter_values={"OktaOrgUrl": "https://example.okta.com", **parameters},
        get_managed_policy_map=dict,  # the template names no managed policies
    )
    return result


def _of_type(resources: dict[str, Any], type_: str) -> dict[str, Any]:
    return {logical_id: r for logical_id, r in resources.items() if r["Type"] == type_}


def test_every_deploy_reaches_the_function_okta_calls(template: dict[str, Any]) -> None:
    # API Gateway must invoke the function itself, not a published version behind an alias:
    # SAM publishes a version only when the function's own code changes, so a new
    # SharedLayer (where the ingest logic lives) or a changed parameter would never reach
    # an alias (aws/serverless-application-model#3610, #3820).
    resources = transformed(template)["Resources"]
    assert _of_type(resources, "AWS::Lambda::Version") == {}
    assert _of_type(resources, "AWS::Lambda::Alias") == {}
    body = resources["OktaHookApi"]["Properties"]["Body"]
    for method in ("get", "post"):
        uri = body["paths"]["/okta/events"][method]["x-amazon-apigateway-integration"]["uri"]
        assert "${IngestFunction.Arn}/invocations" in uri["Fn::Sub"]


def test_the_api_has_one_stage_and_it_is_throttled(template: dict[str, Any]) -> None:
    [settings] = template["Resources"]["OktaHookApi"]["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    resources = transformed(template)["Resources"]
    # A second, unthrottled stage (SAM's implicit "Stage") would reach the same function.
    assert [r["Properties"]["StageName"] for r in _of_type(resources, "AWS::ApiGateway::Stage").values()] == [
        "Prod"
    ]
    deployments = _of_type(resources, "AWS::ApiGateway::Deployment").values()
    assert all("StageName" not in r["Properties"] for r in deployments)


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_lambdas_log_filter_passes_what_log_level_asks_for(template: dict[str, Any], level: str) -> None:
    # With JSON logs Lambda drops lines below its application log level before CloudWatch,
    # and Powertools defers to it: LogLevel must set both, in Lambda's spelling.
    assert level in template["Parameters"]["LogLevel"]["AllowedValues"]
    lambda_level = template["Mappings"]["LambdaLogLevel"][level]["Level"]
    assert lambda_level == {"WARNING": "WARN"}.get(level, level)
    resources = transformed(template, LogLevel=level)["Resources"]
    for name in FUNCTION_SETTINGS:
        config = resources[name]["Properties"]["LoggingConfig"]
        assert config["LogFormat"] == "JSON"
        lookup = {"Fn::FindInMap": ["LambdaLogLevel", {"Ref": "LogLevel"}, "Level"]}
        assert config["ApplicationLogLevel"] == lookup
        assert "LogGroup" in config


def test_required_parameters_exist_with_their_defaults(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert {
        "OktaOrgUrl",
        "OktaAppId",
        "TeamViewerApiUrl",
        "TeamViewerSsoCustomerId",
        "OktaHookAuthHeader",
    } <= set(params)
    assert params["TeamViewerApiUrl"]["Default"] == "https://webapi.teamviewer.com"
    assert params["OktaHookAuthHeader"]["Default"] == "Authorization"
    assert params["OktaAppId"]["Default"] == ""
    assert params["TeamViewerSsoCustomerId"]["Default"] == ""


EXPECTED_STATUS = {
    "apigw-verify.json": 200,
    "apigw-user-create.json": 200,
    "apigw-app-assignment.json": 200,
    "apigw-profile-update.json": 200,
    "apigw-suspend.json": 200,
    "apigw-deactivate.json": 200,
    "apigw-mixed-batch.json": 200,
    "apigw-bad-auth.json": 401,
}


def test_every_api_event_file_has_an_expectation() -> None:
    assert {p.name for p in (ROOT / "events").glob("apigw-*.json")} == set(EXPECTED_STATUS)


@pytest.mark.parametrize(("filename", "status"), sorted(EXPECTED_STATUS.items()))
def test_events_invoke_the_function_the_template_routes_them_to(
    template: dict[str, Any], aws: Aws, monkeypatch: pytest.MonkeyPatch, filename: str, status: int
) -> None:
    event = json.loads((ROOT / "events" / filename).read_text())
    function_id = _function_for_route(template, event["resource"], event["httpMethod"])
    props = template["Resources"][function_id]["Properties"]
    module_name, handler_name = props["Handler"].split(".")
    assert module_name == "app"
    module = load_function(Path(props["CodeUri"]).name, aws.env(function_id), monkeypatch)
    response = getattr(module, handler_name)(event, FakeLambdaContext())
    assert response["statusCode"] == status
    queued = aws.drain()
    if filename == "apigw-verify.json":
        assert json.loads(response["body"]) == {
            "verification": event["headers"]["X-Okta-Verification-Challenge"]
        }
    if status == 200 and event["httpMethod"] == "POST":
        assert queued, "a provisioning delivery must queue at least one event"
    else:
        assert queued == []


def _function_for_route(template: dict[str, Any], path: str, method: str) -> str:
    for logical_id, spec in template["Resources"].items():
        for source in spec.get("Properties", {}).get("Events", {}).values():
            props = source.get("Properties", {})
            if (
                source["Type"] == "Api"
                and props["Path"] == path
                and props["Method"].upper() == method.upper()
            ):
                return str(logical_id)
    raise AssertionError(f"template routes no function for {method} {path}")


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


# ---------------------------------------------------------------------------- hook access log

#: Who called, what they asked for, what they got and where it failed: what the runbook queries.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatency": "$context.integrationLatency",
    "errorMessage": "$context.error.message",
}


def condition_holds(template: dict[str, Any], name: str, parameters: dict[str, str]) -> bool:
    """Evaluate one of the template's Conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)."""

    def value(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return parameters.get(node["Ref"], template["Parameters"][node["Ref"]].get("Default"))
        return node

    def holds(node: Any) -> bool:
        [(function, argument)] = node.items()
        if function == "Condition":
            return holds(template["Conditions"][argument])
        if function == "Fn::Equals":
            return bool(value(argument[0]) == value(argument[1]))
        if function == "Fn::Not":
            return not holds(argument[0])
        if function == "Fn::And":
            return all(holds(a) for a in argument)
        if function == "Fn::Or":
            return any(holds(a) for a in argument)
        raise AssertionError(f"unsupported condition function {function}")

    return holds(template["Conditions"][name])


def _access_log_setting(template: dict[str, Any]) -> dict[str, Any]:
    setting = template["Resources"]["OktaHookApi"]["Properties"]["AccessLogSetting"]
    condition, enabled, disabled = setting["Fn::If"]
    assert condition == "HookAccessLogIsEnabled" and disabled == {"Ref": "AWS::NoValue"}
    return dict(enabled)


def _references(node: Any) -> set[str]:
    """Logical ids a template fragment names through Ref or Fn::GetAtt."""
    if isinstance(node, dict):
        found = {node["Ref"]} if isinstance(node.get("Ref"), str) else set()
        if "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else target.split(".")[0])
        return found.union(*(_references(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_references(v) for v in node))
    return set()


def test_the_hook_access_log_is_json_of_context_variables_only(template: dict[str, Any]) -> None:
    fields = json.loads(_access_log_setting(template)["Format"])
    assert ACCESS_LOG_FIELDS.items() <= fields.items()
    # Access logs take $context variables only; none of them carries a header value or the
    # body, so the hook secret and Okta's payload cannot reach the log.
    assert all(isinstance(v, str) and re.fullmatch(r"\$context\.[A-Za-z.]+", v) for v in fields.values())


def test_the_hook_access_log_group_keeps_logs_as_long_as_the_functions(template: dict[str, Any]) -> None:
    group = template["Resources"]["HookAccessLogGroup"]
    assert group["Condition"] == "HookAccessLogIsEnabled"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["DeletionPolicy"] == "Delete"
    destination = _access_log_setting(template)["DestinationArn"]
    assert _references(destination) >= {"HookAccessLogGroup"}


@pytest.mark.parametrize(
    ("choice", "logs", "sets_account_role"),
    [("existing-role", True, False), ("create-role", True, True), ("disabled", False, False)],
)
def test_the_account_wide_logging_role_is_set_only_when_asked(
    template: dict[str, Any], choice: str, logs: bool, sets_account_role: bool
) -> None:
    parameter = template["Parameters"]["HookAccessLogging"]
    assert parameter["Default"] == "existing-role", "never replace an account setting unless asked"
    assert choice in parameter["AllowedValues"]
    chosen = {"HookAccessLogging": choice}
    assert condition_holds(template, "HookAccessLogIsEnabled", chosen) is logs
    assert condition_holds(template, "CreatesApiGatewayLogRole", chosen) is sets_account_role
    resources = template["Resources"]
    account = resources["ApiGatewayAccountLogRole"]
    assert account["Type"] == "AWS::ApiGateway::Account"
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}
    for logical_id in ("ApiGatewayAccountLogRole", "ApiGatewayLogsRole"):
        assert resources[logical_id]["Condition"] == "CreatesApiGatewayLogRole"
        # Other APIs of the region log through this role once it is set: deleting the stack
        # must not leave the setting pointing at a deleted role.
        assert resources[logical_id]["DeletionPolicy"] == "Retain"
        assert resources[logical_id]["UpdateReplacePolicy"] == "Retain"
    role = resources["ApiGatewayLogsRole"]["Properties"]
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}
    ]


def test_the_stage_logs_only_after_the_account_role_is_set(template: dict[str, Any]) -> None:
    # API Gateway refuses a stage with an access log while the region has no logging role;
    # when this stack sets that role, the stage must wait for it.
    resources = transformed(template, HookAccessLogging="create-role")["Resources"]
    [stage] = _of_type(resources, "AWS::ApiGateway::Stage").values()
    setting = stage["Properties"]["AccessLogSetting"]
    condition, enabled, _ = setting["Fn::If"]
    assert condition == "HookAccessLogIsEnabled"
    creates, with_dependency, without = enabled["DestinationArn"]["Fn::If"]
    assert creates == "CreatesApiGatewayLogRole"
    assert _references(with_dependency) == {"HookAccessLogGroup", "ApiGatewayAccountLogRole"}
    assert with_dependency["Fn::Select"][0] == 0, "the value is still the log group's ARN"
    assert _references(without) == {"HookAccessLogGroup"}, "no reference to a resource that may not exist"
    json.loads(setting["Fn::If"][1]["Format"])


# ---------------------------------------------------------------------------- samconfig.toml

#: Properties that give an IAM resource a fixed name: CloudFormation then asks for CAPABILITY_NAMED_IAM.
IAM_NAME_PROPERTIES = {"RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName"}


def _samconfig() -> dict[str, Any]:
    return tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))


def _capabilities_needed(resources: dict[str, Any]) -> set[str]:
    """What CloudFormation must be told to create these resources in a change set, as sam deploy does."""
    iam = [r for r in resources.values() if r["Type"].startswith("AWS::IAM::")]
    needed = {"CAPABILITY_IAM"} if iam else set()
    if any(IAM_NAME_PROPERTIES & set(r.get("Properties", {})) for r in iam):
        needed.add("CAPABILITY_NAMED_IAM")
    if any(
        r["Type"] in {"AWS::CloudFormation::Stack", "AWS::Serverless::Application"}
        for r in resources.values()
    ):
        needed.add("CAPABILITY_AUTO_EXPAND")
    return needed


def test_samconfig_deploys_with_exactly_the_capabilities_the_template_needs(template: dict[str, Any]) -> None:
    # Every resource, whichever way the conditions go (create-role adds the logging role).
    resources = {
        **template["Resources"],
        **transformed(template, HookAccessLogging="create-role")["Resources"],
    }
    needed = _capabilities_needed(resources)
    assert "CAPABILITY_IAM" in needed, "the functions' roles are IAM resources"
    configured = _samconfig()["default"]["deploy"]["parameters"]["capabilities"]
    listed = set(configured.split() if isinstance(configured, str) else configured)
    # Not more either: acknowledging named IAM resources the template does not have would let
    # a later change add one without anyone being asked.
    assert listed == needed


def test_samconfig_makes_a_later_deploy_need_no_flags_and_fixes_no_region() -> None:
    config = _samconfig()
    assert config["version"] == 0.1
    default = config["default"]
    deploy = default["deploy"]["parameters"]
    assert deploy["resolve_s3"] is True, "no bucket to create or name by hand"
    assert deploy["confirm_changeset"] is True
    assert default["build"]["parameters"] == {"cached": True, "parallel": True}
    assert default["validate"]["parameters"] == {"lint": True}
    # The guided run asks for the region and writes it (and the parameter values) here; the
    # file as shipped must not send anyone's stack to a region or account of ours.
    for command, section in default.items():
        assert not {"region", "profile", "parameter_overrides"} & set(section["parameters"]), command


def test_the_readme_deploys_the_stack_samconfig_names() -> None:
    stack = _samconfig()["default"]["global"]["parameters"]["stack_name"]
    assert stack == "okta-teamviewer-sync"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    deploy = readme[readme.index("\n## Deploy\n") : readme.index("\n## Configuration\n")]
    assert "make build && sam deploy --guided" in deploy, "the first deploy"
    assert re.search(r"^make build && sam deploy(\s+#.*)?$", deploy, re.MULTILINE), "every later deploy"
    named = re.findall(r"--stack[ =](\S+)", deploy)
    assert named and set(named) == {stack}, named
    assert f"`{stack}`" in deploy


def test_samconfig_is_part_of_the_project_not_ignored() -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run([git, "check-ignore", "-q", "samconfig.toml"], cwd=ROOT, check=False)
    assert ignored.returncode == 1, (
        "git ignores samconfig.toml: the project's SAM defaults would not be shared"
    )


# ---------------------------------------------------------------------------- pushed groups

GROUP_PARAMETERS = ("PushGroupIds", "GroupRoleMap", "DeleteUnpushedGroups")
ROLE = "9b1e0000-0000-4000-8000-000000000001"


def _dynamodb_actions_on(template: dict[str, Any], role_id: str, table: str) -> set[str]:
    statements = template["Resources"][role_id]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    return {
        action
        for s in statements
        if table in _references(s["Resource"])
        for action in _as_list(s["Action"])
        if action.startswith("dynamodb:")
    }


def test_the_group_state_table_is_kept_like_the_sync_state(template: dict[str, Any]) -> None:
    groups, users = template["Resources"]["GroupStateTable"], template["Resources"]["SyncStateTable"]
    for key in ("Type", "DeletionPolicy", "UpdateReplacePolicy"):
        assert groups[key] == users[key], key
    props = groups["Properties"]
    for key in ("BillingMode", "PointInTimeRecoverySpecification", "SSESpecification"):
        assert props[key] == users["Properties"][key], key
    assert props["KeySchema"] == [{"AttributeName": "okta_group_id", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "okta_group_id", "AttributeType": "S"}]
    assert template["Outputs"]["GroupStateTableName"]["Value"] == {"Ref": "GroupStateTable"}


def test_only_the_worker_writes_the_group_state_and_the_reconciler_reads_it(template: dict[str, Any]) -> None:
    # The worker scans the links when a user who lost access leaves every linked group.
    assert _dynamodb_actions_on(template, "WorkerRole", "GroupStateTable") == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Scan",
    }
    assert _dynamodb_actions_on(template, "ReconcileRole", "GroupStateTable") == {"dynamodb:Scan"}
    # A pushed group's members' records are read 100 at a time, by both.
    for role in ("WorkerRole", "ReconcileRole"):
        assert "dynamodb:BatchGetItem" in _dynamodb_actions_on(template, role, "SyncStateTable"), role
    assert _dynamodb_actions_on(template, "IngestRole", "GroupStateTable") == set()


def test_the_group_parameters_default_to_todays_behaviour_and_reach_the_functions(
    template: dict[str, Any],
) -> None:
    params = template["Parameters"]
    assert [params[name]["Default"] for name in GROUP_PARAMETERS] == ["", "", "false"]
    assert params["DeleteUnpushedGroups"]["AllowedValues"] == ["true", "false"]
    [group] = [
        g
        for g in template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        if set(g["Parameters"]) & set(GROUP_PARAMETERS)
    ]
    assert group["Parameters"] == list(GROUP_PARAMETERS)
    expected = {
        "IngestFunction": {"PUSH_GROUP_IDS": "PushGroupIds", "GROUP_ROLE_MAP": "GroupRoleMap"},
        "WorkerFunction": {
            "PUSH_GROUP_IDS": "PushGroupIds",
            "GROUP_ROLE_MAP": "GroupRoleMap",
            "DELETE_UNPUSHED_GROUPS": "DeleteUnpushedGroups",
        },
    }
    expected["ReconcileFunction"] = expected["WorkerFunction"]
    for function_id, variables in expected.items():
        environment = template["Resources"][function_id]["Properties"]["Environment"]["Variables"]
        assert {name: environment[name] for name in variables} == {
            name: {"Ref": parameter} for name, parameter in variables.items()
        }, function_id
        if function_id != "IngestFunction":
            assert environment["GROUP_STATE_TABLE_NAME"] == {"Ref": "GroupStateTable"}


@pytest.mark.parametrize(
    ("parameter", "value", "allowed"),
    [
        ("PushGroupIds", "", True),
        ("PushGroupIds", "00g1support0000000001", True),
        ("PushGroupIds", "00g1support0000000001,00g1sales00000000002", True),
        ("PushGroupIds", " 00g1support0000000001 , 00g1sales00000000002 ", True),
        ("PushGroupIds", "00g1support0000000001;00g1sales00000000002", False),
        ("PushGroupIds", "00g1support0000000001,", False),
        ("PushGroupIds", "00g-1", False),
        ("GroupRoleMap", "", True),
        ("GroupRoleMap", f"00g1support0000000001={ROLE}", True),
        ("GroupRoleMap", f"00g1support0000000001 = {ROLE.upper()}, 00g1sales00000000002={ROLE}", True),
        ("GroupRoleMap", "00g1support0000000001", False),
        ("GroupRoleMap", "00g1support0000000001=Supporter", False),
        ("GroupRoleMap", f"00g1support0000000001:{ROLE}", False),
    ],
)
def test_the_group_parameters_refuse_at_deploy_what_the_functions_would_refuse(
    template: dict[str, Any], parameter: str, value: str, allowed: bool
) -> None:
    """CloudFormation's pattern is stricter than the functions (role ids must be GUIDs, as
    TeamViewer's are [PS]); anything it accepts, the functions accept too."""
    pattern = template["Parameters"][parameter]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is allowed
    if allowed:
        push, role_map = (value, "") if parameter == "PushGroupIds" else ("", value)
        GroupConfig.parse(push, role_map, delete_unpushed=False)


def test_the_role_map_accepts_the_role_ids_teamviewer_hands_out(template: dict[str, Any]) -> None:
    emulator = TeamViewerEmulator()
    roles = [emulator.add_role(name) for name in ("Supporter", "Admin")]
    value = ",".join(f"00g1group000000000{n:02d}={role}" for n, role in enumerate(roles))
    assert re.fullmatch(template["Parameters"]["GroupRoleMap"]["AllowedPattern"], value)


def test_with_a_group_pushed_ingest_queues_its_membership_events_as_membership_requests(
    template: dict[str, Any], aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = json.loads((ROOT / "events" / "okta" / "06-mixed-batch.json").read_text())
    [membership] = [e for e in delivery["data"]["events"] if e["eventType"] == "group.user_membership.add"]
    [group_id] = [t["id"] for t in membership["target"] if t["type"] == "UserGroup"]
    event = json.loads((ROOT / "events" / "apigw-mixed-batch.json").read_text())
    environment = aws.env("IngestFunction", PUSH_GROUP_IDS=group_id)
    module = load_function("ingest", environment, monkeypatch)
    assert module.lambda_handler(event, FakeLambdaContext())["statusCode"] == 200
    queued = {
        m["Attributes"]["MessageDeduplicationId"]: (m["Attributes"]["MessageGroupId"], json.loads(m["Body"]))
        for m in aws.drain()
    }
    group, body = queued[f"{membership['uuid']}.{group_id}"]
    user = next(t["id"] for t in membership["target"] if t["type"] == "User")
    assert (group, body["okta_user_id"], body["okta_group_id"]) == (user, user, group_id)
    assert all(
        "okta_group_id" not in b for g, b in queued.values() if b["event_type"] != membership["eventType"]
    )


def test_a_malformed_group_setting_fails_the_cold_start_naming_the_variable(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        ConfigurationError, match=r"GROUP_ROLE_MAP: .*not an oktaGroupId=teamViewerRoleId pair"
    ):
        load_function(
            "ingest", aws.env("IngestFunction", GROUP_ROLE_MAP="00g1support0000000001"), monkeypatch
        )
