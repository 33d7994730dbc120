"""The dashboard and the alarms tell the truth: they show exactly the metrics the code emits.

"What the code emits" is not read from the source but observed: the ingest, worker and
reconcile handlers run through representative scenarios (against moto and the emulators)
and every EMF blob they print is collected with its namespace and dimensions. Then:

- every custom metric a widget or an alarm references was observed, with those dimensions;
- every observed metric (and dimension set) appears on the dashboard;
- every metric name the source passes to ``add_metric``/``single_metric`` was observed, so
  a metric added later cannot slip past the scenarios (and so past the dashboard).

The hook auth alarms are also evaluated the way CloudWatch evaluates them, on what the real
ingest handler emits for stray requests and for an Okta whose secret is wrong.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from tests.conftest import (
    HOOK_SECRET,
    ROOT,
    TV_APP_ID,
    Aws,
    FakeLambdaContext,
    apigw_event,
    emf_blobs,
    load_function,
    provision_test_stack,
)
from tests.support.fakes import T0
from tvsync.adapters.event_queue import deduplication_id
from tvsync.emulators.http import FaultKind, FaultPolicy
from tvsync.emulators.okta import OktaRateLimit
from tvsync.emulators.teamviewer import RateLimit, TeamViewerEmulator
from tvsync.local.template import Resolver, parameter_defaults
from tvsync.models.sync_request import SyncRequest, group_request_key

Dimensions = frozenset[tuple[str, str]]
Emitted = dict[str, set[Dimensions]]  # metric name -> the dimension sets it was emitted with

#: Someone on the internet trying the public hook URL: no Okta User-Agent, a guessed secret.
STRAY_PROBE = apigw_event(
    "POST", headers={"Authorization": "Bearer guess", "User-Agent": "curl/8.5.0"}, body="{}"
)


# ---------------------------------------------------------------------------- observation


def emf_entries(stdout: str) -> Iterator[tuple[str, str, Dimensions]]:
    """(namespace, metric name, dimensions) for every metric of every EMF blob printed."""
    for blob in emf_blobs(stdout):
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, str(blob[name])) for name in dimension_set)
                for metric in directive["Metrics"]:
                    yield directive["Namespace"], metric["Name"], dimensions


@pytest.fixture(scope="module")
def emitted(template: dict[str, Any]) -> Emitted:
    """Run the three functions through their scenarios; collect what they emitted."""
    out = io.StringIO()
    with mock_aws(), pytest.MonkeyPatch.context() as monkeypatch, contextlib.redirect_stdout(out):
        aws = provision_test_stack(template)
        _ingest_scenarios(aws, monkeypatch)
        _group_scenarios(aws, monkeypatch)
        _worker_and_reconcile_scenarios(aws, monkeypatch)
    namespace = _globals_env(template)["POWERTOOLS_METRICS_NAMESPACE"]
    found: Emitted = {}
    for metric_namespace, name, dimensions in emf_entries(out.getvalue()):
        assert metric_namespace == namespace, f"{name} emitted under {metric_namespace}"
        found.setdefault(name, set()).add(dimensions)
    return found


def _ingest_scenarios(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = load_function("ingest", aws.env("IngestFunction"), monkeypatch)
    # Deliveries, verification, and Okta with a wrong secret (AuthFailures, caller okta).
    for path in sorted((ROOT / "events").glob("apigw-*.json")):
        ingest.lambda_handler(json.loads(path.read_text()), FakeLambdaContext())
    assert ingest.lambda_handler(STRAY_PROBE, FakeLambdaContext())["statusCode"] == 401  # caller other
    headers = {"Authorization": HOOK_SECRET, "Content-Type": "application/json"}
    assert (
        ingest.lambda_handler(apigw_event("POST", headers=headers, body="{not json"), FakeLambdaContext())[
            "statusCode"
        ]
        == 400
    )
    aws.drain()
    missing_queue = aws.queue_url.replace("EventQueue", "NoSuchQueue")
    broken = load_function("ingest", aws.env("IngestFunction", EVENT_QUEUE_URL=missing_queue), monkeypatch)
    event = json.loads((ROOT / "events" / "apigw-user-create.json").read_text())
    assert broken.lambda_handler(event, FakeLambdaContext())["statusCode"] == 503


#: The pushed group of ``_group_scenarios`` and its member (ids of their own: the tables are shared).
SUPPORT_GROUP = "00g1support0000000001"
GAIL = "00u1gail00000000000g1"


def _group_scenarios(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pushed group with a role, linked and filled, then a member leaving (the group metrics)."""
    from tests.support.pipeline import add_assigned, start_pipeline

    tv = TeamViewerEmulator()
    role = tv.add_role("Supporter")
    p, servers = start_pipeline(
        aws, monkeypatch, tv=tv, PUSH_GROUP_IDS=SUPPORT_GROUP, GROUP_ROLE_MAP=f"{SUPPORT_GROUP}={role}"
    )
    try:
        add_assigned(p, "gail.grant@example.com", "Gail", "Grant", user_id=GAIL)
        # Uuids of its own too: the other scenarios number theirs evt-00001, ... (idempotency).
        p.enqueue(GAIL, "user.lifecycle.create", uuid="evt-group-member-create")
        p.drain()
        p.okta.add_group("Support", group_id=SUPPORT_GROUP)
        p.okta.add_to_group(SUPPORT_GROUP, GAIL)
        # GroupsCreated, GroupRolesAssigned, GroupMembersAdded
        _send(
            aws,
            SyncRequest(
                okta_user_id=group_request_key(SUPPORT_GROUP),
                okta_group_id=SUPPORT_GROUP,
                event_uuid="evt-group-push",
                event_type="group.profile.update",
                published=T0,
            ),
        )
        p.drain()
        p.okta.remove_from_group(SUPPORT_GROUP, GAIL)
        # GroupMembersRemoved
        _send(
            aws,
            SyncRequest(
                okta_user_id=GAIL,
                okta_group_id=SUPPORT_GROUP,
                event_uuid="evt-group-leave",
                event_type="group.user_membership.remove",
                published=T0,
            ),
        )
        p.drain()
        [group] = tv.groups()
        assert tv.group_members(int(group["id"])) == [], "the scenario must have added and removed"
    finally:
        for server in servers:
            server.close()


def _send(aws: Aws, request: SyncRequest) -> None:
    aws.session.client("sqs").send_message(
        QueueUrl=aws.queue_url,
        MessageBody=request.model_dump_json(),
        MessageGroupId=request.okta_user_id,
        MessageDeduplicationId=deduplication_id(request),
    )


def _worker_and_reconcile_scenarios(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.pipeline import add_assigned, start_pipeline

    p, servers = start_pipeline(aws, monkeypatch)
    try:
        alice = add_assigned(p, "alice.archer@example.com", "Alice", "Archer")
        p.enqueue(alice, "user.lifecycle.create")  # UsersCreated, SyncLatency
        p.drain()
        p.okta.update_profile(alice, lastName="Archer-Smith")
        p.enqueue(alice, "user.account.update_profile")  # UsersRenamed
        p.okta.update_profile(alice, email="alice.smith@example.com", login="alice.smith@example.com")
        p.enqueue(alice, "user.account.update_profile")  # EmailsChanged
        p.drain()
        p.okta.set_status(alice, "SUSPENDED")
        p.enqueue(alice, "user.lifecycle.suspend")  # UsersDeactivated
        p.drain()
        p.okta.set_status(alice, "ACTIVE")
        p.enqueue(alice, "user.lifecycle.unsuspend")  # UsersActivated
        p.drain()
        p.enqueue(alice, "user.session.start", uuid="evt-twice")  # NoChange
        p.drain()
        p.enqueue(alice, "user.session.start", uuid="evt-twice")  # DuplicateEvents
        p.drain()
        p.tv.add_foreign_account("erin.evans@example.com", "Erin Private")
        erin = add_assigned(p, "erin.evans@example.com", "Erin", "Evans")
        p.enqueue(erin, "user.lifecycle.create")  # Conflicts
        p.drain()
        p.tv.add_user("Frank.Fischer@example.com", "Frank Fischer")  # from before the product
        frank = add_assigned(p, "frank.fischer@example.com", "Frank", "Fischer")
        p.enqueue(frank, "user.lifecycle.create")  # UsersAdopted
        p.drain()

        # Rate limits and faults: TeamViewerThrottled and TransientFailures, then OktaThrottled.
        p.tv.rate_limit = RateLimit(requests_per_second=1, burst=1)  # throttles on any machine
        p.tv.faults = FaultPolicy(failure_rate=0.4, seed=7, kinds=(FaultKind.SERVER_ERROR,))
        for n in range(4):
            p.enqueue(add_assigned(p, f"user{n}@example.com", "User", f"Number{n}"), "user.lifecycle.create")
        p.drain(timeout=60)
        assert any(c.fault is not None for c in p.tv.calls), "the run must have met injected faults"
        p.tv.rate_limit, p.tv.faults = None, FaultPolicy()
        p.okta.rate_limit = OktaRateLimit(limit=2, window_seconds=2)
        for n in range(4, 7):
            p.enqueue(add_assigned(p, f"user{n}@example.com", "User", f"Number{n}"), "user.lifecycle.create")
        p.drain(timeout=60)
        p.okta.rate_limit = None
        assert p.tv.throttled and p.okta.throttled, "both sides must really have throttled"

        # An Okta user no event told the worker about: drift for the reconciler (DriftDetected).
        add_assigned(p, "missed.event@example.com", "Missed", "Event")
        reconcile = load_function(
            "reconcile",
            aws.env(
                "ReconcileFunction",
                TEAMVIEWER_API_URL=servers[0].url,
                OKTA_ORG_URL=servers[1].url,
                OKTA_APP_ID=TV_APP_ID,
            ),
            monkeypatch,
        )
        summary = reconcile.lambda_handler({}, FakeLambdaContext(remaining_ms=120_000))
        assert summary, "the reconcile run must report"
        p.drain()
    finally:
        for server in servers:
            server.close()

    # Last, because the event stays in the queue: TeamViewer refuses the token (AuthErrors).
    refused, servers = start_pipeline(aws, monkeypatch, tv=TeamViewerEmulator(token="another-token"))
    try:
        bob = add_assigned(refused, "bob.baker@example.com", "Bob", "Baker")
        refused.enqueue(bob, "user.lifecycle.create", uuid="evt-token-refused")
        assert refused.source.poll_once().failed == 1
    finally:
        for server in servers:
            server.close()


# ---------------------------------------------------------------------------- the template side


class _AnyAttribute(dict[tuple[str, str], str]):
    """GetAtt values for the dashboard's ``${Resource.Attribute}``: any attribute, a dummy value."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: tuple[str, str]) -> str:
        return f"dummy-{key[0]}-{key[1]}"


def _resolver(template: Mapping[str, Any]) -> Resolver:
    refs = {rid: f"dummy-{rid}" for rid in template["Resources"]}
    refs.update(parameter_defaults(template))
    refs.update(
        {"AWS::Region": "eu-west-1", "AWS::StackName": "tvsync-prod", "AWS::URLSuffix": "amazonaws.com"}
    )
    return Resolver(refs, _AnyAttribute())


@pytest.fixture(scope="module")
def dashboard(template: dict[str, Any]) -> dict[str, Any]:
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]
    assert set(body) == {"Fn::Sub"} and isinstance(body["Fn::Sub"], str), (
        "DashboardBody is !Sub of a JSON string"
    )
    parsed: dict[str, Any] = json.loads(_resolver(template).resolve(body))
    return parsed


def _globals_env(template: Mapping[str, Any]) -> dict[str, str]:
    return dict(template["Globals"]["Function"]["Environment"]["Variables"])


def _metric_rows(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    for widget in dashboard["widgets"]:
        if widget["type"] == "metric":
            for row in widget["properties"]["metrics"]:
                yield widget["properties"]["title"], row


def _plain_metrics(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(namespace, name, dimensions) of every metric row that is not an expression."""
    for title, row in _metric_rows(dashboard):
        if isinstance(row[0], dict):
            continue
        values = [v for v in row if not isinstance(v, dict)]
        assert "." not in values, f"{title}: write rows out in full, no '.' shorthand"
        namespace, name, *pairs = values
        assert len(pairs) % 2 == 0, f"{title}: {row}"
        yield namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))


SEARCH = re.compile(
    r"SEARCH\('\{(?P<schema>[^}]*)\}\s+(?P<terms>.*?)',\s*'(?P<stat>\w+)',\s*(?P<period>\d+)\)"
)


def _searches(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str, set[str], dict[str, str]]]:
    """(namespace, metric name, dimension names, dimension values asked for) of each SEARCH."""
    for title, row in _metric_rows(dashboard):
        if not isinstance(row[0], dict):
            continue
        match = SEARCH.search(row[0]["expression"])
        assert match, f"{title}: only SEARCH expressions are expected, got {row[0]['expression']}"
        namespace, *dimension_names = [part.strip() for part in match["schema"].split(",")]
        terms = dict(re.findall(r'(\w+)="([^"]*)"', match["terms"]))
        name = terms.pop("MetricName")
        yield namespace, name, set(dimension_names), terms


def _alarms(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        rid: spec["Properties"]
        for rid, spec in template["Resources"].items()
        if spec["Type"] == "AWS::CloudWatch::Alarm"
    }


# ---------------------------------------------------------------------------- the checks


def test_namespace_and_service_are_the_ones_the_functions_get(
    template: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    env = _globals_env(template)
    custom = [(ns, dims) for ns, _, dims in _plain_metrics(dashboard) if not ns.startswith("AWS/")]
    assert custom, "the dashboard shows the product's own metrics"
    assert {ns for ns, _ in custom} == {env["POWERTOOLS_METRICS_NAMESPACE"]}
    assert {dims.get("service") for _, dims in custom} == {env["POWERTOOLS_SERVICE_NAME"]}


def test_every_custom_metric_on_the_dashboard_is_emitted_with_those_dimensions(
    dashboard: dict[str, Any], emitted: Emitted
) -> None:
    for namespace, name, dimensions in _plain_metrics(dashboard):
        if namespace.startswith("AWS/"):
            continue
        assert name in emitted, f"the dashboard shows {name}, which no function emits"
        assert frozenset(dimensions.items()) in emitted[name], (
            f"{name} is emitted with {emitted[name]}, the dashboard asks for {dimensions}"
        )
    for namespace, name, dimension_names, values in _searches(dashboard):
        assert not namespace.startswith("AWS/")
        matching = [dims for dims in emitted.get(name, set()) if {k for k, _ in dims} == dimension_names]
        assert matching, f"SEARCH for {name} by {dimension_names}: never emitted with those dimensions"
        assert all(set(values.items()) <= set(dims) for dims in matching)


def test_every_emitted_metric_and_dimension_set_is_on_the_dashboard(
    dashboard: dict[str, Any], emitted: Emitted
) -> None:
    shown = {(name, frozenset(dims.items())) for ns, name, dims in _plain_metrics(dashboard)}
    searched = {(name, frozenset(names)) for _, name, names, _ in _searches(dashboard)}
    missing = [
        (name, dict(dims))
        for name, dimension_sets in sorted(emitted.items())
        for dims in dimension_sets
        if (name, dims) not in shown and (name, frozenset(k for k, _ in dims)) not in searched
    ]
    assert missing == [], f"emitted but not on the dashboard: {missing}"


def test_the_scenarios_cover_every_metric_name_in_the_source(emitted: Emitted) -> None:
    """A metric the scenarios never trigger would escape the two checks above."""
    in_source = _metric_names_in_source(ROOT / "shared" / "tvsync")
    assert len(in_source) > 10, "the source scan must find the metrics"
    assert in_source - set(emitted) == set(), "add a scenario above that emits these"


def test_custom_metric_alarms_watch_emitted_metrics(template: dict[str, Any], emitted: Emitted) -> None:
    env = _globals_env(template)
    custom = {
        rid: a
        for rid, a in _alarms(template).items()
        if a["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    }
    assert {a["MetricName"] for a in custom.values()} >= {
        "AuthFailures",
        "AuthErrors",
        "Conflicts",
        "DriftDetected",
    }
    for rid, alarm in custom.items():
        dimensions = frozenset((d["Name"], d["Value"]) for d in alarm["Dimensions"])
        assert dimensions in emitted.get(alarm["MetricName"], set()), f"{rid} watches a metric never emitted"


def test_aws_metric_alarms_and_widgets_point_at_the_stacks_own_resources(
    template: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    resources = template["Resources"]
    functions = {rid for rid, spec in resources.items() if spec["Type"] == "AWS::Serverless::Function"}
    queues = {rid for rid, spec in resources.items() if spec["Type"] == "AWS::SQS::Queue"}
    for rid, alarm in _alarms(template).items():
        for dimension in alarm["Dimensions"]:
            value = dimension["Value"]
            if dimension["Name"] == "FunctionName":
                assert value.get("Ref") in functions, rid
            elif dimension["Name"] == "QueueName":
                assert (
                    value.get("Fn::GetAtt", [None])[0] in queues and value["Fn::GetAtt"][1] == "QueueName"
                ), rid
    lambda_rows = {
        (name, dims["FunctionName"]) for ns, name, dims in _plain_metrics(dashboard) if ns == "AWS/Lambda"
    }
    for function_id in functions:
        for metric in ("Errors", "Duration", "Throttles"):
            assert (metric, f"dummy-{function_id}") in lambda_rows, f"no {metric} widget for {function_id}"
    sqs_rows = {(name, dims["QueueName"]) for ns, name, dims in _plain_metrics(dashboard) if ns == "AWS/SQS"}
    for queue in queues:
        assert ("ApproximateNumberOfMessagesVisible", f"dummy-{queue}-QueueName") in sqs_rows
        assert ("ApproximateAgeOfOldestMessage", f"dummy-{queue}-QueueName") in sqs_rows
    api_rows = {
        (name, dims["ApiName"], dims["Stage"])
        for ns, name, dims in _plain_metrics(dashboard)
        if ns == "AWS/ApiGateway"
    }
    stage = resources["OktaHookApi"]["Properties"]["StageName"]
    # SAM names the REST API after the stack (its OpenAPI info.title), which is the ApiName dimension.
    assert {(m, "tvsync-prod", stage) for m in ("4XXError", "5XXError", "Latency")} <= api_rows


def test_the_alarms_the_runbook_describes_exist_and_notify(template: dict[str, Any]) -> None:
    alarms = _alarms(template)
    watched = {(a["Namespace"], a["MetricName"]) for a in alarms.values()}
    assert {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),  # DLQ not empty
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("OktaTeamViewerSync", "AuthFailures"),
        ("OktaTeamViewerSync", "AuthErrors"),
        ("AWS/Lambda", "Errors"),
        ("OktaTeamViewerSync", "Conflicts"),
        ("OktaTeamViewerSync", "DriftDetected"),
    } <= watched
    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', runbook))
    for rid, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], rid
        assert alarm["TreatMissingData"] == "notBreaching", rid
        match = re.search(r"docs/operations\.md#([a-z0-9-]+)", alarm["AlarmDescription"])
        assert match and match[1] in anchors, f"{rid}: its runbook section must exist"


def test_the_dashboard_lists_every_alarm(template: dict[str, Any], dashboard: dict[str, Any]) -> None:
    [widget] = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    listed = set(widget["properties"]["alarms"])
    assert listed == {f"dummy-{rid}-Arn" for rid in _alarms(template)}


def test_the_email_subscription_is_optional(template: dict[str, Any]) -> None:
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert template["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }


def _metric_names_in_source(package: Path) -> set[str]:
    """Literal metric names passed as ``name=`` to add_metric/single_metric, and OPERATION_METRICS."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in {
                "add_metric",
                "single_metric",
            }:
                for keyword in node.keywords:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        names.add(str(keyword.value.value))
    from tvsync.services.group_outcomes import GROUP_METRICS
    from tvsync.services.sync_outcomes import OPERATION_METRICS

    return names | set(OPERATION_METRICS.values()) | set(GROUP_METRICS.values())


# ---------------------------------------------------------------------------- alarm evaluation

#: What one period of an alarm holds: (metric name, dimensions, value) per datapoint.
Period = list[tuple[str, Dimensions, float]]

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
}
STATISTICS: dict[str, Callable[[list[float]], float]] = {"Sum": sum, "Maximum": max}


def alarm_state(template: Mapping[str, Any], alarm_id: str, periods: list[Period]) -> str:
    """``ALARM`` or ``OK``: what CloudWatch decides after these consecutive periods of data.

    Each period's datapoints of the watched metric and dimensions are reduced by the alarm's
    statistic; a period without any is missing data, which every alarm here treats as not
    breaching; the alarm fires when ``DatapointsToAlarm`` of the last ``EvaluationPeriods``
    periods breach.
    """
    alarm = _alarms(template)[alarm_id]
    assert alarm["TreatMissingData"] == "notBreaching"
    watched = frozenset((d["Name"], d["Value"]) for d in alarm["Dimensions"])
    threshold = float(_resolver(template).resolve(alarm["Threshold"]))
    compare = COMPARISONS[alarm["ComparisonOperator"]]
    statistic = STATISTICS[alarm["Statistic"]]
    evaluation_periods = int(alarm["EvaluationPeriods"])
    breaching = 0
    for period in periods[-evaluation_periods:]:
        values = [v for name, dims, v in period if name == alarm["MetricName"] and dims == watched]
        if values and compare(float(statistic(values)), threshold):
            breaching += 1
    return "ALARM" if breaching >= int(alarm.get("DatapointsToAlarm", evaluation_periods)) else "OK"


def _emitted_by(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *events: dict[str, Any]
) -> Period:
    """The metric data the real ingest handler emits for these requests."""
    ingest = load_function("ingest", aws.env("IngestFunction"), monkeypatch)
    capsys.readouterr()
    for event in events:
        assert ingest.lambda_handler(event, FakeLambdaContext())["statusCode"] == 401
    out = capsys.readouterr().out
    return [(name, dims, 1.0) for _, name, dims in emf_entries(out)]


def _custom_alarms(template: Mapping[str, Any]) -> list[str]:
    namespace = _globals_env(template)["POWERTOOLS_METRICS_NAMESPACE"]
    return sorted(rid for rid, a in _alarms(template).items() if a.get("Namespace") == namespace)


def test_two_stray_requests_page_nobody(
    template: dict[str, Any], aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_header = apigw_event("GET", headers={"User-Agent": "Mozilla/5.0 (scanner)"})
    period = _emitted_by(aws, monkeypatch, capsys, STRAY_PROBE, no_header)
    assert [name for name, _, _ in period] == ["AuthFailures", "AuthFailures"], "both were counted"
    assert {
        alarm: alarm_state(template, alarm, [period]) for alarm in _custom_alarms(template)
    } == dict.fromkeys(_custom_alarms(template), "OK")


def test_a_wrong_okta_secret_alarms_at_the_first_refused_delivery(
    template: dict[str, Any], aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Okta's own delivery with a secret that does not match: it will not be retried.
    delivery = json.loads((ROOT / "events" / "apigw-bad-auth.json").read_text())
    period = _emitted_by(aws, monkeypatch, capsys, delivery)
    assert alarm_state(template, "HookAuthFailuresAlarm", [period]) == "ALARM"
    assert alarm_state(template, "HookStrayRequestsAlarm", [period]) == "OK"
    verification = apigw_event(
        "GET",
        headers={
            "User-Agent": "Okta-Integrations",
            "Authorization": "old",
            "X-Okta-Verification-Challenge": "x",
        },
    )
    assert alarm_state(
        template, "HookAuthFailuresAlarm", [_emitted_by(aws, monkeypatch, capsys, verification)]
    ) == ("ALARM"), "Okta's verification request counts as Okta too"


def test_strangers_alarm_only_at_a_sustained_rate(
    template: dict[str, Any], aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    [refused] = _emitted_by(aws, monkeypatch, capsys, STRAY_PROBE)
    alarm = _alarms(template)["HookStrayRequestsAlarm"]
    per_period = int(alarm["Threshold"])
    flood = [[refused] * per_period] * 3
    assert alarm_state(template, "HookStrayRequestsAlarm", flood) == "ALARM"
    assert alarm_state(template, "HookStrayRequestsAlarm", [[refused] * (per_period - 1)] * 3) == "OK"
    assert alarm_state(template, "HookStrayRequestsAlarm", [*flood[:2], []]) == "OK", "a burst that stopped"
    assert alarm_state(template, "HookAuthFailuresAlarm", flood) == "OK", "strangers never look like Okta"
