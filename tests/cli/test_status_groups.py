"""``tvsync status`` on pushed groups: GroupStateTable (moto) beside Okta and TeamViewer (emulators)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Aws
from tvsync.adapters.group_state import GroupStateStore
from tvsync.adapters.sync_state import SyncStateStore
from tvsync.adapters.teamviewer_client import TeamViewerClient
from tvsync.cli.main import main
from tvsync.cli.output import console
from tvsync.emulators.http import RunningServer, serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.models.groups import GroupLink, account_number
from tvsync.models.sync_state import SyncState

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SUPPORT = "00g1support000000001"
DESIGN = "00g1designteam000002"  # pushed, never linked
TV_TOKEN, OKTA_TOKEN = "tv-test-token", "okta-test-token"  # what the aws fixture stores


@dataclass
class World:
    aws: Aws
    tv: TeamViewerEmulator
    okta: OktaEmulator
    links: GroupStateStore
    users: SyncStateStore
    role: str
    group_id: int
    alice: str
    alice_account: str
    bob: str
    tv_url: str


@pytest.fixture
def world(aws: Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[World]:
    """Support is pushed with the role Supporter and linked; Alice is in it, Bob (suspended) is not."""
    monkeypatch.chdir(tmp_path)  # no .tvsync/local-stack.json here: the environment is the stack
    monkeypatch.setattr(console, "width", 250)
    tv, okta = TeamViewerEmulator(token=TV_TOKEN), OktaEmulator(token=OKTA_TOKEN)
    role = tv.add_role("Supporter")
    alice_account = str(tv.add_user("alice.archer@example.com", "Alice Archer")["id"])
    group_id = tv.add_group("Support", members=[alice_account], role_id=role)
    alice = str(okta.add_user("alice.archer@example.com", "Alice", "Archer")["id"])
    bob = str(okta.add_user("bob.baker@example.com", "Bob", "Baker")["id"])
    okta.set_status(bob, "SUSPENDED")
    okta.add_group("Support", group_id=SUPPORT)
    okta.add_group("Design", group_id=DESIGN)
    for member in (alice, bob):
        okta.add_to_group(SUPPORT, member)
    servers: list[RunningServer] = [serve(tv), serve(okta)]
    env = aws.env("WorkerFunction")
    for name in (
        "SYNC_STATE_TABLE_NAME",
        "GROUP_STATE_TABLE_NAME",
        "EVENT_QUEUE_URL",
        "TEAMVIEWER_TOKEN_SECRET_ARN",
        "OKTA_API_TOKEN_SECRET_ARN",
    ):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("TEAMVIEWER_API_URL", servers[0].url)
    monkeypatch.setenv("OKTA_ORG_URL", servers[1].url)
    monkeypatch.setenv("PUSH_GROUP_IDS", DESIGN)
    monkeypatch.setenv("GROUP_ROLE_MAP", f"{SUPPORT}={role}")
    dynamodb = aws.session.client("dynamodb")
    links = GroupStateStore(dynamodb, env["GROUP_STATE_TABLE_NAME"])
    users = SyncStateStore(dynamodb, env["SYNC_STATE_TABLE_NAME"])
    links.put(
        GroupLink(
            okta_group_id=SUPPORT,
            teamviewer_group_id=group_id,
            name="Support",
            role_id=role,
            last_outcome="applied",
            last_reason="group-missing",
            last_operations=["create", "assign_role", "add_members"],
            updated_at=T0,
            last_applied_at=T0,
        )
    )
    users.put(
        SyncState(
            okta_user_id=alice,
            email="alice.archer@example.com",
            last_outcome="applied",
            updated_at=T0,
            teamviewer_id=alice_account,
            teamviewer_active=True,
        )
    )
    try:
        yield World(aws, tv, okta, links, users, role, group_id, alice, alice_account, bob, servers[0].url)
    finally:
        for server in servers:
            server.close()


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_one_group_shows_its_record_beside_okta_and_teamviewer(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    group = run_json(capsys, "status", "--group", SUPPORT, "--json")["group"]
    assert (group["okta_group_id"], group["pushed"], group["mapped_role_id"]) == (SUPPORT, True, world.role)
    assert group["okta"] == {"found": True, "name": "Support", "type": "OKTA_GROUP", "members": 2}
    assert group["teamviewer_group_id"] == world.group_id
    assert group["teamviewer"] == {
        "found": True,
        "name": "Support",
        "role_id": world.role,
        "role_name": "Supporter",
        "members": 1,
    }
    assert (group["last_outcome"], group["last_operations"]) == (
        "applied",
        ["create", "assign_role", "add_members"],
    )
    assert group["updated_at"] == group["last_applied_at"] == T0.isoformat()
    assert group["notes"] == []


def test_one_group_as_a_table_says_when_the_role_is_not_the_mapped_one(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.tv.set_group_role(world.group_id, None)  # unassigned by hand
    assert main(["status", "--group", SUPPORT]) == 0
    out = capsys.readouterr().out
    assert f"Okta group {SUPPORT}" in out and f"{world.group_id} “Support”" in out
    [role_line] = [line for line in out.splitlines() if "role in TeamViewer" in line]
    assert f"none; should be Supporter ({world.role})" in role_line
    [members] = [line for line in out.splitlines() if "members in TeamViewer" in line]
    assert members.rstrip(" │").endswith("1")
    assert "2 (any status" in out


def test_a_pushed_group_never_linked_is_shown_as_waiting(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    group = run_json(capsys, "status", "--group", DESIGN, "--json")["group"]
    assert (group["pushed"], group["teamviewer_group_id"], group["teamviewer"], group["last_outcome"]) == (
        True,
        None,
        None,
        None,
    )
    assert main(["status", "--group", DESIGN]) == 0
    assert "not linked yet" in capsys.readouterr().out


def test_a_group_neither_pushed_nor_linked_is_one_clear_error(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--group", "00gNotPushed0000001"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "it is not pushed" in err and "00gNotPushed0000001" in err


def test_a_service_that_cannot_be_read_costs_only_its_own_lines(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_ORG_URL", "http://127.0.0.1:9")  # nothing listens there
    group = run_json(capsys, "status", "--group", SUPPORT, "--json", "--timeout", "2")["group"]
    assert group["okta"] is None and group["teamviewer"]["members"] == 1
    [note] = group["notes"]
    assert note.startswith("Okta not read: ")
    assert main(["status", "--group", SUPPORT, "--timeout", "2"]) == 0
    out = capsys.readouterr().out
    assert "Okta not read" in out and "applied" in out
    assert OKTA_TOKEN not in out and TV_TOKEN not in out


def test_a_user_shows_their_pushed_groups_and_whether_the_account_is_a_member(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    [user] = run_json(capsys, "status", world.alice, "--json")["users"]
    assert user["groups"] == [
        {
            "okta_group_id": SUPPORT,
            "name": "Support",
            "teamviewer_group_id": world.group_id,
            "role_id": world.role,
            "last_outcome": "applied",
            "member_in_teamviewer": True,
        }
    ]
    assert user["groups_notes"] == []

    world.okta.add_to_group(DESIGN, world.alice)
    # Removed by hand in TeamViewer: status reports TeamViewer's list, not what the worker did.
    with TeamViewerClient(world.tv_url, lambda: TV_TOKEN) as client:
        client.remove_group_members(world.group_id, [account_number(world.alice_account)])
    assert main(["status", "alice.archer@example.com"]) == 0
    out = capsys.readouterr().out
    assert "Pushed groups of Okta user" in out
    [support] = [line for line in out.splitlines() if SUPPORT in line]
    assert "no (the reconciler adds it)" in support
    [design] = [line for line in out.splitlines() if DESIGN in line]
    assert "not linked yet" in design


def test_the_summary_counts_linked_groups_by_outcome_and_names_the_waiting_ones(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run_json(capsys, "status", "--json")
    assert summary["groups"] == {"linked": 1, "by_outcome": {"applied": 1}, "pushed_not_linked": [DESIGN]}
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"Groups: 1 linked (1 applied); 1 pushed group not linked yet: {DESIGN}" in out
    calls = len(world.tv.calls) + len(world.okta.calls)
    assert calls == 0, "the summary reads GroupStateTable only"


def test_without_groups_the_summary_and_a_user_are_as_before(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PUSH_GROUP_IDS", "GROUP_ROLE_MAP", "GROUP_STATE_TABLE_NAME"):
        monkeypatch.delenv(name)
    assert run_json(capsys, "status", "--json")["groups"] is None
    [user] = run_json(capsys, "status", world.alice, "--json")["users"]
    assert "groups" not in user
    assert main(["status"]) == 0
    assert "Groups:" not in capsys.readouterr().out
    assert not world.okta.calls and not world.tv.calls


def test_a_user_record_older_than_groups_still_reads(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user without an account has no membership to look for: no TeamViewer call is made."""
    world.users.put(
        SyncState(
            okta_user_id=world.bob,
            email="bob.baker@example.com",
            last_outcome="no-change",
            updated_at=T0 + timedelta(minutes=1),
        )
    )
    world.tv.reset_calls()
    [user] = run_json(capsys, "status", world.bob, "--json")["users"]
    assert [(g["okta_group_id"], g["member_in_teamviewer"]) for g in user["groups"]] == [(SUPPORT, None)]
    assert not world.tv.calls
