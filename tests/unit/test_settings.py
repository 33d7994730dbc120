"""The functions' settings: the group settings read once, checked at the cold start, today's default."""

from __future__ import annotations

import pytest

from tvsync.core.groups import GroupConfig
from tvsync.settings import (
    FUNCTION_SETTINGS,
    ConfigurationError,
    IngestSettings,
    ReconcileSettings,
    WorkerSettings,
)

pytestmark = pytest.mark.unit  # pure: no sockets, processes or sleeps

ROLE = "9b1e0000-0000-4000-8000-000000000001"

Model = type[IngestSettings] | type[WorkerSettings] | type[ReconcileSettings]

#: What each function needs besides the group settings, as the template sets it.
REQUIRED: dict[Model, dict[str, str]] = {
    IngestSettings: {"EVENT_QUEUE_URL": "https://sqs/q.fifo", "OKTA_HOOK_SECRET_ARN": "arn:hook"},
    WorkerSettings: {
        "EVENT_QUEUE_URL": "https://sqs/q.fifo",
        "IDEMPOTENCY_TABLE_NAME": "idempotency",
        "SYNC_STATE_TABLE_NAME": "sync-state",
        "GROUP_STATE_TABLE_NAME": "group-state",
        "TEAMVIEWER_TOKEN_SECRET_ARN": "arn:tv",
        "OKTA_API_TOKEN_SECRET_ARN": "arn:okta",
        "OKTA_ORG_URL": "https://example.okta.com",
    },
    ReconcileSettings: {
        "EVENT_QUEUE_URL": "https://sqs/q.fifo",
        "SYNC_STATE_TABLE_NAME": "sync-state",
        "GROUP_STATE_TABLE_NAME": "group-state",
        "TEAMVIEWER_TOKEN_SECRET_ARN": "arn:tv",
        "OKTA_API_TOKEN_SECRET_ARN": "arn:okta",
        "OKTA_ORG_URL": "https://example.okta.com",
    },
}
MODELS = [pytest.param(model, id=model.__name__) for model in REQUIRED]


def test_every_function_is_covered() -> None:
    assert set(REQUIRED) == set(FUNCTION_SETTINGS.values())


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_unset_or_blank_group_settings_push_nothing(model: Model, blank: str | None) -> None:
    environ = dict(REQUIRED[model])
    if blank is not None:
        environ |= {"PUSH_GROUP_IDS": blank, "GROUP_ROLE_MAP": blank, "DELETE_UNPUSHED_GROUPS": blank}
    config = model.from_env(environ).group_config
    assert config == GroupConfig()
    assert not config.enabled


@pytest.mark.parametrize("model", MODELS)
def test_the_group_settings_are_read_into_one_group_config(model: Model) -> None:
    environ = REQUIRED[model] | {
        "PUSH_GROUP_IDS": " 00g1support0000000001, 00g1sales00000000002 ",
        "GROUP_ROLE_MAP": f"00g1admins0000000003={ROLE}",
        "DELETE_UNPUSHED_GROUPS": "true",
    }
    settings = model.from_env(environ)
    config: GroupConfig = settings.group_config
    assert config.pushed == {"00g1support0000000001", "00g1sales00000000002", "00g1admins0000000003"}
    assert config.role_for("00g1admins0000000003") == ROLE
    assert config.role_for("00g1support0000000001") is None
    # Ingest only tells pushed groups' events apart: it never deletes a group.
    assert config.delete_unpushed is (model is not IngestSettings)
    assert settings.group_config is config  # read once per cold start


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("PUSH_GROUP_IDS", "00g1support0000000001;00g1sales00000000002", "is not an Okta group id"),
        ("PUSH_GROUP_IDS", "00g1support0000000001,00g 1", "is not an Okta group id"),
        ("GROUP_ROLE_MAP", "00g1support0000000001", "is not an oktaGroupId=teamViewerRoleId pair"),
        ("GROUP_ROLE_MAP", "=" + ROLE, f"entry '={ROLE}' has no valid Okta group id"),
        ("GROUP_ROLE_MAP", "00g1support0000000001=", "has no valid TeamViewer role id"),
        ("GROUP_ROLE_MAP", f"00g1support0000000001={ROLE},00g1support0000000001=other-role", "to two roles"),
    ],
)
def test_a_malformed_group_setting_fails_the_cold_start_with_one_clear_error(
    model: Model, variable: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        model.from_env(REQUIRED[model] | {variable: value})
    message = str(refused.value)
    assert message.startswith(f"invalid environment for {model.__name__}: {variable}: ")
    assert problem in message
    assert "\n" not in message


@pytest.mark.parametrize("model", [WorkerSettings, ReconcileSettings])
def test_the_group_state_table_is_required_where_groups_are_synced(model: Model) -> None:
    environ = {k: v for k, v in REQUIRED[model].items() if k != "GROUP_STATE_TABLE_NAME"}
    with pytest.raises(ConfigurationError, match="GROUP_STATE_TABLE_NAME: Field required"):
        model.from_env(environ)
    assert "GROUP_STATE_TABLE_NAME" not in IngestSettings.variables()


@pytest.mark.parametrize("model", [WorkerSettings, ReconcileSettings])
def test_deleting_released_groups_must_be_a_boolean(model: Model) -> None:
    with pytest.raises(ConfigurationError, match="DELETE_UNPUSHED_GROUPS"):
        model.from_env(REQUIRED[model] | {"DELETE_UNPUSHED_GROUPS": "sometimes"})
