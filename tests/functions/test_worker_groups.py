"""WorkerFunction pushing groups: embedded AWS (moto) and the emulators over loopback HTTP.

The real handler, loaded as Lambda loads it with ``PUSH_GROUP_IDS`` and ``GROUP_ROLE_MAP``
set, handles group and membership requests as ingest queues them (a group request in the
group's own FIFO message group, a membership request in the user's), through the same
idempotency layer as every event. The unit tier (``tests/unit/services/test_group_*.py``)
covers every rule; this shows the pieces fit: the GroupStateTable of the template, the v1
group endpoints, Okta's group reads, and redelivery.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.conftest import Aws
from tests.support.pipeline import T0, Pipeline, add_assigned, start_pipeline
from tvsync.adapters.group_state import GroupStateStore
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.models.groups import GroupLink, account_number
from tvsync.models.sync_request import SyncRequest, group_request_key

SUPPORT = "00gSupport0000000001"
SALES = "00gSales000000000001"


@pytest.fixture
def groups_pipeline(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Pipeline, str]]:
    """The worker with Support pushed and mapped to a role, and Sales pushed; returns the role id."""
    tv = TeamViewerEmulator()
    supporter = tv.add_role("Supporter")
    built, servers = start_pipeline(
        aws,
        monkeypatch,
        tv=tv,
        PUSH_GROUP_IDS=f"{SUPPORT},{SALES}",
        GROUP_ROLE_MAP=f"{SUPPORT}={supporter}",
        GROUP_STATE_TABLE_NAME=aws.resources.refs["GroupStateTable"],
    )
    built.okta.add_group("Support", group_id=SUPPORT)
    built.okta.add_group("Sales", group_id=SALES)
    yield built, supporter
    for server in servers:
        server.close()


def send(
    p: Pipeline,
    okta_user_id: str,
    event_type: str,
    *,
    okta_group_id: str,
    uuid: str,
    dedup: str | None = None,
) -> None:
    """Queue a request as ingest does: message group = ``okta_user_id``, dedup id from the uuid."""
    p.counter += 1
    request = SyncRequest(
        okta_user_id=okta_user_id,
        event_uuid=uuid,
        event_type=event_type,
        published=T0 + timedelta(seconds=p.counter),
        delivery_id="delivery-test",
        source="okta-event-hook",
        okta_group_id=okta_group_id,
    )
    p.aws.session.client("sqs").send_message(
        QueueUrl=p.aws.queue_url,
        MessageBody=request.model_dump_json(),
        MessageGroupId=okta_user_id,
        MessageDeduplicationId=dedup or f"{uuid}.{okta_group_id}",
    )


def link(p: Pipeline, okta_group_id: str) -> GroupLink | None:
    table = p.aws.resources.refs["GroupStateTable"]
    return GroupStateStore(p.aws.session.client("dynamodb"), table).get(okta_group_id)


def mapped(p: Pipeline, email: str, first: str, last: str) -> tuple[str, int]:
    """An assigned user whose account the worker created; returns the Okta id and account number."""
    user = add_assigned(p, email, first, last)
    p.enqueue(user, "user.lifecycle.create")
    p.drain()
    account = p.tv_account(email)
    assert account is not None
    return user, account_number(account["id"])


def test_a_group_request_links_the_group_with_its_role_and_all_its_members(
    groups_pipeline: tuple[Pipeline, str],
) -> None:
    p, supporter = groups_pipeline
    members = [mapped(p, f"member{n}@example.com", "Member", f"N{n}") for n in range(3)]
    for user, _ in members:
        p.okta.add_to_group(SUPPORT, user)
    stranger = p.tv.add_user("stranger@example.com", "Stranger")["id"]
    existing = p.tv.add_group("Support", members=[stranger])  # made by hand: adopted, not duplicated

    send(p, group_request_key(SUPPORT), "group.profile.update", okta_group_id=SUPPORT, uuid="evt-group-1")
    p.drain()

    assert [g["name"] for g in p.tv.groups()] == ["Support"]
    assert p.tv.group_members(existing) == sorted(number for _, number in members)
    assert p.tv.group_role(existing) == supporter
    stored = link(p, SUPPORT)
    assert stored is not None
    assert (stored.teamviewer_group_id, stored.name, stored.role_id, stored.last_outcome) == (
        existing,
        "Support",
        supporter,
        "applied",
    )
    assert stored.last_operations == ["adopt", "assign_role", "remove_members", "add_members"]
    assert p.dlq_count() == 0


def test_a_membership_event_adds_one_member_with_one_teamviewer_call_and_a_redelivery_is_a_no_op(
    groups_pipeline: tuple[Pipeline, str],
) -> None:
    p, _ = groups_pipeline
    alice, alice_number = mapped(p, "alice@example.com", "Alice", "Archer")
    p.okta.add_to_group(SALES, alice)
    send(p, group_request_key(SALES), "group.profile.update", okta_group_id=SALES, uuid="evt-group-1")
    p.drain()
    stored = link(p, SALES)
    assert stored is not None and stored.teamviewer_group_id is not None
    group_id = stored.teamviewer_group_id
    bob, bob_number = mapped(p, "bob@example.com", "Bob", "Baker")
    p.okta.add_to_group(SALES, bob)
    p.tv.reset_calls()
    p.okta.reset_calls()

    send(p, bob, "group.user_membership.add", okta_group_id=SALES, uuid="evt-membership-1")
    p.drain()

    assert p.tv.group_members(group_id) == sorted([alice_number, bob_number])
    assert [(c.method, c.path) for c in p.tv.calls] == [("POST", f"/api/v1/usergroups/{group_id}/members")], (
        "the user is known and in step: one TeamViewer call in all"
    )
    assert link(p, SALES) == stored, "a membership request leaves the group's record as it was"

    # Okta retried the delivery after SQS's deduplication window: the idempotency record catches it.
    p.okta.remove_from_group(SALES, bob)
    p.tv.reset_calls()
    p.okta.reset_calls()
    send(
        p,
        bob,
        "group.user_membership.add",
        okta_group_id=SALES,
        uuid="evt-membership-1",
        dedup="evt-membership-1.redelivered",
    )
    p.drain()
    assert p.tv.calls == [] and p.okta.calls == []
    assert p.tv.group_members(group_id) == sorted([alice_number, bob_number]), "nothing ran the second time"
    assert p.dlq_count() == 0
