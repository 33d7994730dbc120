"""What ``tvsync serve`` reads from its environment: ``STACK_ENVIRONMENT``, and nothing else."""

from __future__ import annotations

import dataclasses

import pytest

from tvsync.local.stack import STACK_ENVIRONMENT, StackSettings, template_parameters
from tvsync.local.template import load_template
from tvsync.settings import WorkerSettings, function_variables

pytestmark = pytest.mark.unit  # pure: no sockets, processes or sleeps


def test_every_field_but_where_to_listen_comes_from_one_variable() -> None:
    fields = {field.name for field in dataclasses.fields(StackSettings)}
    assert set(STACK_ENVIRONMENT) == fields - {"host", "port"}


def test_the_functions_variables_it_reads_are_named_by_their_settings_model() -> None:
    shared = {name for name in STACK_ENVIRONMENT.values() if name in WorkerSettings.model_fields}
    assert shared == {
        "TEAMVIEWER_API_URL",
        "OKTA_ORG_URL",
        "OKTA_APP_ID",
        "TEAMVIEWER_SSO_CUSTOMER_ID",
        "DRY_RUN",
        "PUSH_GROUP_IDS",
        "GROUP_ROLE_MAP",
        "DELETE_UNPUSHED_GROUPS",
    }


def test_each_variable_sets_its_field_and_a_blank_one_sets_nothing() -> None:
    environ = {variable: f" value-of-{field} " for field, variable in STACK_ENVIRONMENT.items()}
    environ["DRY_RUN"] = "TRUE"
    environ["DELETE_UNPUSHED_GROUPS"] = "true"
    environ["OKTA_APP_ID"] = "   "
    environ["EVENT_QUEUE_URL"] = "http://127.0.0.1/q"  # a function's variable serve has no use for
    settings = StackSettings.from_environ(environ)
    expected: dict[str, object] = {field: f"value-of-{field}" for field in STACK_ENVIRONMENT}
    expected |= {"dry_run": True, "okta_app_id": None, "delete_unpushed_groups": True}
    assert {field: getattr(settings, field) for field in STACK_ENVIRONMENT} == expected
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)


@pytest.mark.parametrize(
    ("value", "dry_run"), [("", False), ("false", False), ("yes", False), ("True", True)]
)
def test_dry_run_is_on_only_when_it_says_true(value: str, dry_run: bool) -> None:
    assert StackSettings.from_environ({"DRY_RUN": value}).dry_run is dry_run


def test_an_argument_wins_over_the_environment() -> None:
    settings = StackSettings.from_environ({"DRY_RUN": "false", "OKTA_APP_ID": "0oa1"}, dry_run=True, port=0)
    assert (settings.dry_run, settings.okta_app_id, settings.port) == (True, "0oa1", 0)


@pytest.mark.parametrize(("value", "delete"), [("", False), ("false", False), ("yes", False), ("True", True)])
def test_deleting_released_groups_is_on_only_when_it_says_true(value: str, delete: bool) -> None:
    assert StackSettings.from_environ({"DELETE_UNPUSHED_GROUPS": value}).delete_unpushed_groups is delete


def test_each_function_variable_serve_reads_reaches_the_functions_through_its_parameter() -> None:
    environ = {
        "OKTA_APP_ID": "0oa1tvsync0000000001",
        "TEAMVIEWER_SSO_CUSTOMER_ID": "sso-1",
        "DRY_RUN": "true",
        "PUSH_GROUP_IDS": "00g1support0000000001",
        "GROUP_ROLE_MAP": "00g1sales00000000002=9b1e0000-0000-4000-8000-000000000001",
        "DELETE_UNPUSHED_GROUPS": "true",
    }
    urls = {"OKTA_ORG_URL": "http://127.0.0.1:1", "TEAMVIEWER_API_URL": "http://127.0.0.1:2"}
    parameters = template_parameters(
        StackSettings.from_environ(environ),
        okta_url=urls["OKTA_ORG_URL"],
        teamviewer_url=urls["TEAMVIEWER_API_URL"],
    )
    template = load_template()
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    for variable in (name for name in STACK_ENVIRONMENT.values() if name in function_variables()):
        [source] = {
            str(f["Properties"]["Environment"]["Variables"][variable]["Ref"])
            for f in functions
            if variable in f["Properties"]["Environment"]["Variables"]
        }
        assert parameters[source] == {**environ, **urls}[variable], variable
    assert set(parameters) <= set(template["Parameters"])
