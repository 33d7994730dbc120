"""The demo's cast and story: the people of ``events/okta/`` and what happens to them in Okta.

Okta changes a user first and then tells the hook, so before each delivery of the story the
demo applies that delivery's change to the Okta emulator — the worker, which reads Okta's
*current* state, then sees exactly what it would see in production.

The story also pushes one group: Engineering (``ENGINEERING``), which grants the TeamViewer
role Engineer (``ENGINEER_ROLE``). Carol and Dave are in it before the story starts; Bob
joins it in 06, the first event about it, which links it (the TeamViewer group is created,
the role assigned, the members that belong added: Bob, and neither suspended Carol nor
deactivated Dave); in 07 Alice and Frank join and Dave leaves, one member call each.
``group_settings`` says how a stack pushes it; without them the group's events stay what
they are without groups (user requests), so every other user of the cast is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator

TEAMVIEWER_APP_ID = "0oa1tvsync0000000001"
OTHER_APP_ID = "0oa1otherapp00000002"
#: The Okta group the demo pushes (the group of events/okta/06 and 07), and its role.
ENGINEERING = "00g1engineering00001"
ENGINEERING_NAME = "Engineering"
ENGINEER_ROLE = "Engineer"


@dataclass(frozen=True)
class Person:
    okta_id: str
    first: str
    last: str
    email: str


ALICE = Person("00u1alice00000000001", "Alice", "Archer", "alice.archer@example.com")  # a new hire
BOB = Person("00u1bob0000000000002", "Bob", "Baker", "bob.baker@example.com")  # renamed to Robert
CAROL = Person("00u1carol00000000003", "Carol", "Chen", "carol.chen@example.com")  # suspended
DAVE = Person("00u1dave000000000004", "Dave", "Dunn", "dave.dunn@example.com")  # left the company
#: Her email is owned by a TeamViewer account outside the company.
ERIN = Person("00u1erin000000000005", "Erin", "Evans", "erin.evans@example.com")
#: TeamViewer has his email in other letter case.
FRANK = Person("00u1frank00000000006", "Frank", "Fischer", "frank.fischer@example.com")


def seed(okta: OktaEmulator, teamviewer: TeamViewerEmulator) -> None:
    """The world before the story: three long-standing employees, two TeamViewer quirks, and
    the Engineering group (Carol and Dave) with a TeamViewer role for it."""
    for person in (BOB, CAROL, DAVE):
        okta.add_user(person.email, person.first, person.last, user_id=person.okta_id)
        okta.assign(TEAMVIEWER_APP_ID, person.okta_id)
        teamviewer.add_user(person.email, f"{person.first} {person.last}")
    okta.add_app(OTHER_APP_ID)
    okta.add_group(ENGINEERING_NAME, group_id=ENGINEERING)
    for person in (CAROL, DAVE):
        okta.add_to_group(ENGINEERING, person.okta_id)
    teamviewer.add_role(ENGINEER_ROLE)
    # Frank's account predates Okta, typed with capitals, and was disabled at some point.
    teamviewer.add_user("Frank.Fischer@example.com", "Frank Fischer", active=False)
    # Erin signed up for TeamViewer privately with her work email.
    teamviewer.add_foreign_account(ERIN.email, "Erin (private)")


def _hire(okta: OktaEmulator) -> None:
    for person in (ALICE, ERIN, FRANK):
        okta.add_user(person.email, person.first, person.last, user_id=person.okta_id)


def _assign(okta: OktaEmulator) -> None:
    for person in (ALICE, ERIN, FRANK):
        okta.assign(TEAMVIEWER_APP_ID, person.okta_id)
    okta.assign(OTHER_APP_ID, ALICE.okta_id)


def _rename_bob(okta: OktaEmulator) -> None:
    okta.update_profile(BOB.okta_id, firstName="Robert")


def _suspend_carol(okta: OktaEmulator) -> None:
    okta.set_status(CAROL.okta_id, "SUSPENDED", keep_assignments=True)


def _deactivate_dave(okta: OktaEmulator) -> None:
    okta.set_status(DAVE.okta_id, "DEPROVISIONED")


def _mixed(okta: OktaEmulator) -> None:
    okta.add_to_group(ENGINEERING, BOB.okta_id)
    okta.update_profile(FRANK.okta_id, lastName="Fischer-Lang")
    # Carol was unsuspended and suspended again: the net state is unchanged.


def _engineering(okta: OktaEmulator) -> None:
    for person in (ALICE, FRANK):
        okta.add_to_group(ENGINEERING, person.okta_id)
    okta.remove_from_group(ENGINEERING, DAVE.okta_id)


def group_settings(teamviewer: TeamViewerEmulator) -> tuple[str, str]:
    """``PUSH_GROUP_IDS`` and ``GROUP_ROLE_MAP`` that push Engineering with the role ``seed`` made.

    The role's id is TeamViewer's (a GUID it assigns), so it is read from the seeded company.
    """
    [role] = [r["Id"] for r in teamviewer.roles() if r["Name"] == ENGINEER_ROLE]
    return ENGINEERING, f"{ENGINEERING}={role}"


#: Each delivery file of events/okta/ and the change Okta made just before sending it.
STORY: tuple[tuple[str, Callable[[OktaEmulator], None]], ...] = (
    ("01-user-create.json", _hire),
    ("02-app-assignment.json", _assign),
    ("03-profile-update.json", _rename_bob),
    ("04-suspend.json", _suspend_carol),
    ("05-deactivate.json", _deactivate_dave),
    ("06-mixed-batch.json", _mixed),
    ("07-group-membership.json", _engineering),
)
