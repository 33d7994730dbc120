"""What TeamViewer should look like for one Okta user, derived from Okta's *current* state.

The worker is level-triggered: whatever event woke it up, it re-reads the user (and the
assignment to the TeamViewer app) and asks this module what the TeamViewer account should
be. Keeping the mapping pure means every row of the status table in docs/contracts.md is a
table test, and duplicates, retries and reordered events cannot change the answer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from tvsync.models.okta import AppAssignmentStatus, OktaUserStatus

if TYPE_CHECKING:
    from tvsync.models.okta import OktaAppUser, OktaProfile, OktaUser

__all__ = [
    "MAX_NAME_LENGTH",
    "MIN_NAME_LENGTH",
    "DesiredAccount",
    "DesiredReason",
    "Presence",
    "SyncConfig",
    "desired_account",
    "display_name",
]

MIN_NAME_LENGTH: Final = 2
"""TeamViewer v1 rejects names shorter than this (``POST /users``: name 2-50 characters)."""

MAX_NAME_LENGTH: Final = 50
"""TeamViewer v1 rejects names longer than this; counted in UTF-16 code units, see ``display_name``."""


class DesiredReason(StrEnum):
    """Why Okta wants the account it wants (``DesiredAccount.reason``): a closed vocabulary.

    One member per fact that decides: the user's Okta status, their assignment to the app,
    or why the product leaves them alone. The values keep the form ``okta-status:<status>``
    and ``not-assigned:<AppUser status>``, so they read as Okta's own words. Only the
    UNMANAGED ones are ever recorded as they are (``tvsync.core.plan.unmanaged_reason``);
    every other recorded reason says what the desired state means for the account that
    exists (``tvsync.core.plan.PlanReason``).
    """

    # The user may sign in (or is about to): an account, active.
    ACTIVE = "okta-status:ACTIVE"
    PASSWORD_EXPIRED = "okta-status:PASSWORD_EXPIRED"  # noqa: S105 - a reason code, not a password
    LOCKED_OUT = "okta-status:LOCKED_OUT"
    RECOVERY = "okta-status:RECOVERY"
    PROVISIONED = "okta-status:PROVISIONED"
    # Okta revoked the user: the account, if any, inactive.
    SUSPENDED = "okta-status:SUSPENDED"
    DEPROVISIONED = "okta-status:DEPROVISIONED"
    DELETED = "okta-user-deleted"
    # The user may sign in, but the app does not grant TeamViewer: the account, if any, inactive.
    NOT_ASSIGNED = "not-assigned"
    ASSIGNMENT_DEPROVISIONED = "not-assigned:DEPROVISIONED"
    ASSIGNMENT_INACTIVE = "not-assigned:INACTIVE"
    ASSIGNMENT_REVOKED = "not-assigned:REVOKED"
    ASSIGNMENT_SUSPENDED = "not-assigned:SUSPENDED"
    ASSIGNMENT_UNASSIGNED = "not-assigned:UNASSIGNED"
    #: An AppUser status this code does not know (Okta adds values over time): fails closed.
    ASSIGNMENT_UNRECOGNISED = "not-assigned:unrecognised-status"
    # The product leaves the account alone.
    STAGED = "staged"
    NO_EMAIL = "no-email"
    #: An account the reconciler found no Okta user for (``tvsync.core.orphan``).
    ORPHAN = "orphan"


_ENTITLED_STATUSES: Final[Mapping[OktaUserStatus, DesiredReason]] = {
    OktaUserStatus.ACTIVE: DesiredReason.ACTIVE,
    OktaUserStatus.PASSWORD_EXPIRED: DesiredReason.PASSWORD_EXPIRED,
    OktaUserStatus.LOCKED_OUT: DesiredReason.LOCKED_OUT,
    OktaUserStatus.RECOVERY: DesiredReason.RECOVERY,
    OktaUserStatus.PROVISIONED: DesiredReason.PROVISIONED,
}
"""Users who may still sign in (or are about to): a forgotten password or a lockout is no
reason to take TeamViewer away, and PROVISIONED users are about to activate."""

_REVOKED_STATUSES: Final[Mapping[OktaUserStatus, DesiredReason]] = {
    OktaUserStatus.SUSPENDED: DesiredReason.SUSPENDED,
    OktaUserStatus.DEPROVISIONED: DesiredReason.DEPROVISIONED,
}
"""Users Okta has switched off. With ``_ENTITLED_STATUSES`` and STAGED, every Okta status
(``OktaUser.status`` accepts no other: a status Okta adds later fails validation first)."""

_UNASSIGNED_APP_STATUSES: Final[Mapping[AppAssignmentStatus, DesiredReason]] = {
    AppAssignmentStatus.DEPROVISIONED: DesiredReason.ASSIGNMENT_DEPROVISIONED,
    AppAssignmentStatus.INACTIVE: DesiredReason.ASSIGNMENT_INACTIVE,
    AppAssignmentStatus.REVOKED: DesiredReason.ASSIGNMENT_REVOKED,
    AppAssignmentStatus.SUSPENDED: DesiredReason.ASSIGNMENT_SUSPENDED,
    AppAssignmentStatus.UNASSIGNED: DesiredReason.ASSIGNMENT_UNASSIGNED,
}
"""AppUser states in which Okta itself no longer grants the app.

Every other documented state (ACTIVE, APPROVED, IMPLICIT, IMPORTED, MATCHED, PENDING,
PROVISIONED, STAGED) describes an assignment an admin made and that is waiting for, or has
had, provisioning — and this product *is* the provisioning, so they count as assigned.
"""


@dataclass(frozen=True)
class SyncConfig:
    """The slice of configuration the pure core needs.

    ``app_id`` mirrors ``OKTA_APP_ID``: when it is None the whole Okta org is in scope and
    every user counts as assigned, so a small company can run without an Okta app.
    """

    app_id: str | None = None


class Presence(StrEnum):
    """How much of the TeamViewer account the product should manage."""

    ACTIVE = "ACTIVE"
    """The account must exist and be active, with name and email as in Okta."""
    INACTIVE = "INACTIVE"
    """Deactivate it if it exists; never create it and never delete it (deletion loses the
    account's history and licence, and [OKTA-KB] shows re-creation can then fail)."""
    UNMANAGED = "UNMANAGED"
    """Do nothing at all (Okta STAGED users have not been onboarded yet)."""


@dataclass(frozen=True)
class DesiredAccount:
    """The target for one user's TeamViewer account.

    ``email`` is set whenever Okta still knows the user, even when the account is to be
    deactivated, because email is the join key the worker uses to find the account.
    ``name`` is only set for ACTIVE: nothing renames an account that is being switched off.
    ``reason`` says which fact of Okta's decided it, from a closed vocabulary.
    """

    presence: Presence
    email: str | None
    name: str | None
    reason: DesiredReason

    def __post_init__(self) -> None:
        # An ACTIVE target without an email or name could neither be found nor created; fail
        # at construction rather than deep inside the worker.
        if self.presence is Presence.ACTIVE and (not self.email or not self.name):
            raise ValueError("an ACTIVE desired account needs both an email and a name")


def desired_account(
    user: OktaUser | None, assignment: OktaAppUser | None, config: SyncConfig
) -> DesiredAccount:
    """Map the user's current Okta state onto the TeamViewer account it entitles them to.

    ``user`` is None when Okta answered 404 (the user was deleted). ``assignment`` is the
    user's AppUser for ``config.app_id`` (None when Okta answered 404); it is ignored when
    ``config.app_id`` is None.

    Precedence: deletion, then STAGED, then a revoked user status, then the app
    assignment — a SUSPENDED user stays suspended whatever the assignment says (Okta keeps
    assignments across a suspension).
    """
    if user is None:
        return DesiredAccount(Presence.INACTIVE, email=None, name=None, reason=DesiredReason.DELETED)

    email = _email(user.profile)
    status = user.status
    if status is OktaUserStatus.STAGED:
        return DesiredAccount(Presence.UNMANAGED, email=email, name=None, reason=DesiredReason.STAGED)
    entitled = _ENTITLED_STATUSES.get(status)
    if entitled is None:  # SUSPENDED, DEPROVISIONED
        return DesiredAccount(Presence.INACTIVE, email=email, name=None, reason=_REVOKED_STATUSES[status])

    unassigned_reason = _unassigned_reason(assignment, config)
    if unassigned_reason is not None:
        return DesiredAccount(Presence.INACTIVE, email=email, name=None, reason=unassigned_reason)

    if email is None:
        # Unreachable with real Okta data (profile.email is required), but without an email
        # the account can be neither found nor created, so touching anything would be a guess.
        return DesiredAccount(Presence.UNMANAGED, email=None, name=None, reason=DesiredReason.NO_EMAIL)
    return DesiredAccount(Presence.ACTIVE, email=email, name=display_name(user.profile), reason=entitled)


def _unassigned_reason(assignment: OktaAppUser | None, config: SyncConfig) -> DesiredReason | None:
    """None when the user is assigned to the app, otherwise why not.

    An assignment status this code does not know (Okta adds values over time) counts as
    *not* assigned, as ``tvsync.models.okta.AppAssignmentStatus`` promises: TeamViewer is a
    remote-access tool, so an unknown state fails closed, and the cost is bounded because
    deactivation is reversible (the account is never deleted; the next event re-activates it).
    """
    if config.app_id is None:
        return None
    if assignment is None:
        return DesiredReason.NOT_ASSIGNED
    try:
        status = AppAssignmentStatus(assignment.status)
    except ValueError:
        return DesiredReason.ASSIGNMENT_UNRECOGNISED
    return _UNASSIGNED_APP_STATUSES.get(status)


def _email(profile: OktaProfile) -> str | None:
    """The user's email as TeamViewer should know it.

    ``profile.email`` wins; ``login`` is the fallback because TeamViewer's Okta setup
    requires the app username format to be Email ([OKTA-KB]), so a login normally *is* the
    email — but only when it looks like one. Case is kept as Okta has it (TeamViewer stores
    what it is given); comparisons are case-insensitive in ``tvsync.core.plan``.
    """
    for candidate in (profile.email, profile.login):
        value = candidate.strip()
        if "@" in value:
            return value
    return None


def display_name(profile: OktaProfile) -> str:
    """The TeamViewer name for an Okta profile, always 2-50 characters.

    Sources, in order: "firstName lastName" (either may be missing), ``displayName``, the
    local part of the email, the local part of the login. The first source that yields at
    least two characters wins, so a lone initial ("J") gives way to a fuller
    ``displayName`` instead of being padded. Only when every source is shorter is the first
    non-empty one padded with a "." ("J" -> "J."): it reads as the initial it almost
    certainly is, and keeps the user recognisable instead of inventing text. The email
    itself is never used whole, so it does not end up shown as a name.

    Text is NFC-normalised (Okta may hold decomposed accents; TeamViewer compares names
    exactly, so one canonical form keeps re-planning idempotent), control characters are
    dropped and whitespace runs collapse to one space.

    The 50-character limit is counted in UTF-16 code units: TeamViewer does not say how it
    counts, and UTF-16 units are never fewer than code points, so the name fits whichever
    way it counts (an emoji costs two). Long names are cut at the last space that keeps at
    least half the limit, otherwise mid-word without splitting a character from its
    combining marks.
    """
    first = _clean(profile.first_name)
    last = _clean(profile.last_name)
    candidates = (
        " ".join(part for part in (first, last) if part),
        _clean(profile.display_name),
        _clean(profile.email.partition("@")[0]),
        _clean(profile.login.partition("@")[0]),
    )
    for candidate in candidates:
        if len(candidate) >= MIN_NAME_LENGTH:
            return _truncate(candidate)
    shortest = next((candidate for candidate in candidates if candidate), "")
    if not shortest:
        # Okta requires login and email, so only hand-made data gets here; still answer a
        # valid name rather than fail the whole sync over a cosmetic field.
        return "Okta user"
    return shortest + "." * (MIN_NAME_LENGTH - len(shortest))


def _clean(value: str | None) -> str:
    if not value:
        return ""
    normalised = unicodedata.normalize("NFC", value)
    without_controls = "".join(" " if unicodedata.category(char) == "Cc" else char for char in normalised)
    return " ".join(without_controls.split())


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _truncate(name: str) -> str:
    if _utf16_units(name) <= MAX_NAME_LENGTH:
        return name
    # ``cut`` = how many code points fit in the limit.
    cut = 0
    units = _utf16_units(name[0])
    while units <= MAX_NAME_LENGTH:
        cut += 1
        units += _utf16_units(name[cut])
    space = name.rfind(" ", 0, cut + 1)
    if space > 0 and _utf16_units(name[:space]) >= MAX_NAME_LENGTH // 2:
        return name[:space].rstrip()
    # Never strand combining marks: drop the base character together with them.
    while cut > 0 and unicodedata.combining(name[cut]):
        cut -= 1
    truncated = name[:cut].rstrip()
    return truncated if len(truncated) >= MIN_NAME_LENGTH else name[:MIN_NAME_LENGTH]
