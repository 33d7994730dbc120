"""Property tests: whatever arrives at /okta/events, the ingest function never answers 5xx
for it, and nothing is ever queued without the right secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from tests.conftest import HOOK_SECRET, OKTA_ORG_URL, ROOT, FakeLambdaContext, apigw_event, load_function
from tvsync.local.aws import provision
from tvsync.local.template import load_template

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
okta_like_event = st.fixed_dictionaries(
    {
        "uuid": st.text(max_size=40),
        "published": st.sampled_from(["2026-11-02T09:00:00.000Z", "garbage", "2026-11-02T09:00:00"])
        | st.text(),
        "eventType": st.sampled_from(["user.lifecycle.create", "application.user_membership.add", "x"]),
        "outcome": st.none() | st.fixed_dictionaries({"result": st.sampled_from(["SUCCESS", "FAILURE", ""])}),
        "target": st.none()
        | st.lists(
            st.fixed_dictionaries(
                {"id": st.text(max_size=30), "type": st.sampled_from(["User", "AppInstance", "UserGroup"])}
            ),
            max_size=3,
        ),
    },
    optional={"extra": json_values},
)
envelope = st.fixed_dictionaries(
    {
        "eventType": st.sampled_from(["com.okta.event_hook", "other"]),
        "data": st.fixed_dictionaries({"events": st.lists(okta_like_event | json_values, max_size=5)})
        | json_values,
    },
    optional={"eventId": json_values},
)
bodies = st.one_of(
    st.none(),
    st.text(max_size=200),
    json_values.map(json.dumps),
    envelope.map(json.dumps),
)
header_names = st.sampled_from(
    ["Authorization", "authorization", "AUTHORIZATION", "X-Okta-Verification-Challenge"]
)
headers = st.dictionaries(header_names | st.text(min_size=1, max_size=20), st.text(max_size=60), max_size=5)


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[ModuleType, Any, str]]:
    with mock_aws(), pytest.MonkeyPatch.context() as monkeypatch:
        session = boto3.session.Session(region_name="us-east-1")
        template = load_template(ROOT / "template.yaml")
        resources = provision(
            session,
            template,
            secrets={"OktaHookSecret": HOOK_SECRET},
            parameters={"OktaOrgUrl": OKTA_ORG_URL},
        )
        module = load_function("ingest", resources.environment(template, "IngestFunction"), monkeypatch)
        yield module, session.client("sqs"), resources.refs["EventQueue"]


def _queued(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST"]), headers=headers, body=bodies)
def test_without_the_secret_nothing_is_queued_and_no_5xx(
    stack: tuple[ModuleType, Any, str], method: str, headers: dict[str, str], body: str | None
) -> None:
    module, sqs, url = stack
    headers = {k: v for k, v in headers.items() if k.lower() != "authorization" or v != HOOK_SECRET}
    before = _queued(sqs, url)
    response = module.lambda_handler(apigw_event(method, headers=headers, body=body), FakeLambdaContext())
    assert response["statusCode"] == 401
    assert _queued(sqs, url) == before


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST"]), headers=headers, body=bodies)
def test_with_the_secret_any_input_gets_a_2xx_or_4xx(
    stack: tuple[ModuleType, Any, str], method: str, headers: dict[str, str], body: str | None
) -> None:
    module, _, _ = stack
    headers = {
        **{k: v for k, v in headers.items() if k.lower() != "authorization"},
        "authorization": HOOK_SECRET,
    }
    response = module.lambda_handler(apigw_event(method, headers=headers, body=body), FakeLambdaContext())
    assert 200 <= response["statusCode"] < 500
    if response["statusCode"] >= 400:
        assert json.loads(response["body"])["message"]
