"""Where Okta and TeamViewer disagree, found with the worker's own rules.

Okta event hooks are best-effort, so a scheduled reconciler compares the two directories
and asks the worker to converge every user that drifted. This module is the comparison:
pure, fed one record at a time, with no IO of its own.

It answers with the worker's rules because it *uses* them: ``desired_account`` decides
what TeamViewer should hold for an Okta user and ``plan_changes`` decides whether the
account differs; an account is found the way the worker finds it (the account the worker
last mapped to the user, else the account with the user's email, case-insensitively).
A difference the reconciler reports is therefore exactly a change the worker would make.

Memory: TeamViewer accounts are indexed first (a small slotted record per company user,
about 300 bytes at 50,000 users), then Okta users stream past that index one at a time,
so Okta's side costs one API page however large the org is. The index is the smaller of
the two sides to hold: an Okta user record carries a whole profile, a TeamViewer account
four short fields, and TeamViewer is the side every Okta user must be looked up in.

Decisions that need the whole picture wait for the end of the walk:

- a deactivation (an Okta user who is out of scope while their email still has an active
  account) — an Okta user seen *later* may be entitled to the same email (a re-hire with
  the address of a deprovisioned user), and then the account must stay;
- an orphan (an active account no Okta user claims) — only known when every Okta user
  has been seen. The token owner's account, unclaimed in most companies (a service
  account), is no orphan: it is ``PROTECTED``, never deactivated, and no drift.

Creates and updates are final as soon as the user is seen, so they can be queued while
the walk goes on. If the walk fails half-way, nothing destructive has been decided.

An account whose ``active`` is unknown (``None``, the server left it out) follows
``tvsync.core.plan``'s rules: it is never "already inactive" (a revoked user's account is
still deactivated), never needs an ACTIVATE for an entitled user, and, unclaimed, it is a
possibly active orphan. Only ``active is False`` counts as inactive anywhere here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from tvsync.core.desired_state import DesiredAccount, Presence, SyncConfig, desired_account
from tvsync.core.plan import Operation, PlanReason, plan_changes, unmanaged_reason
from tvsync.models.teamviewer import TeamViewerAccount

if TYPE_CHECKING:
    from tvsync.models.okta import OktaAppUser, OktaUser

__all__ = [
    "DriftCategory",
    "DriftDetector",
    "DriftItem",
    "DriftReason",
]


class DriftCategory(StrEnum):
    """The buckets TeamViewer's own AD connector reports, plus the ones it cannot see."""

    IN_SYNC = "in_sync"
    TO_CREATE = "to_create"
    TO_UPDATE = "to_update"
    TO_DEACTIVATE = "to_deactivate"
    ORPHAN = "orphan"
    PROTECTED = "protected"
    """The token owner's account that no Okta user claims: never deactivated, not drift."""
    CONFLICT = "conflict"
    """Drift that is known and that the worker will not (or cannot) fix on its own."""
    IGNORED = "ignored"
    """Okta users the product does not manage (STAGED, no usable email)."""


#: Categories the worker fixes when asked; each is one sync request.
FIXABLE: Final = frozenset({DriftCategory.TO_CREATE, DriftCategory.TO_UPDATE, DriftCategory.TO_DEACTIVATE})


class DriftReason(StrEnum):
    """Reasons the reconciler adds to the worker's ``PlanReason`` vocabulary."""

    KNOWN_CONFLICT = "email-in-use-known"
    DUPLICATE_EMAIL = "email-shared-by-okta-users"
    SUPERSEDED = "account-claimed-by-entitled-user"
    ORPHAN = "no-okta-user"
    TOKEN_OWNER = "token-owner-protected"  # noqa: S105 - a reason code, not a secret
    ORPHAN_LIMIT = "orphan-deactivation-limit-exceeded"


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One Okta user or TeamViewer account and what, if anything, the worker should do.

    ``enqueue`` says whether a sync request should be sent: for Okta users the worker then
    converges that user; for an orphan (``okta_user_id`` None) it deactivates the account
    ``teamviewer_id``. ``operations`` are what the worker would do as of this comparison.
    """

    category: DriftCategory
    reason: PlanReason | DriftReason
    okta_user_id: str | None = None
    teamviewer_id: str | None = None
    email: str | None = None
    operations: tuple[Operation, ...] = ()
    enqueue: bool = False


@dataclass(slots=True)
class _Slot:
    """One company account in the index, and who claims it so far."""

    id: str
    email: str
    name: str
    active: bool | None
    """``None``: the server did not say; possibly active (see the module docstring)."""
    claimed_by: str | None = None
    """The Okta user entitled to this account (an ACTIVE desired state), once seen."""
    deferred: list[tuple[str, DesiredAccount]] | None = None
    """Out-of-scope Okta users whose email this is; decided when the walk ends."""

    def account(self) -> TeamViewerAccount:
        return TeamViewerAccount(id=self.id, email=self.email, name=self.name, active=self.active)


@dataclass
class DriftDetector:
    """Compares a TeamViewer company with a stream of Okta users.

    Use: ``add_accounts`` (every company user), then ``observe`` each Okta user in scope
    (each returns the item at once, or ``None`` when the answer must wait), optionally
    ``observe`` the owners of ``unclaimed_accounts()`` (see the service), then ``finish``.

    ``mapping`` is the worker's record of which account it manages for which Okta user
    (Okta user id -> TeamViewer id, from SyncStateTable); it wins over the email join
    exactly as it does in the worker, so an email changed in Okta shows as an update of
    the mapped account rather than a create plus an orphan. ``known_conflicts`` (Okta user
    id -> lower-cased email) are users whose create TeamViewer refused because the email
    belongs to an account outside the company: re-queuing them every run would only fail
    again, so they are reported as conflicts until their email changes.
    """

    config: SyncConfig
    token_owner_id: str | None
    mapping: Mapping[str, str] = field(default_factory=dict)
    known_conflicts: Mapping[str, str] = field(default_factory=dict)
    _by_email: dict[str, _Slot] = field(default_factory=dict, init=False, repr=False)
    _by_id: dict[str, _Slot] = field(default_factory=dict, init=False, repr=False)
    _creating: set[str] = field(default_factory=set, init=False, repr=False)

    # ------------------------------------------------------------------ TeamViewer side

    def add_accounts(self, accounts: Iterable[TeamViewerAccount]) -> int:
        """Index company accounts; returns how many were added."""
        added = 0
        for account in accounts:
            slot = _Slot(id=account.id, email=account.email, name=account.name, active=account.active)
            # TeamViewer keeps emails unique regardless of case; should two ever collide,
            # the first wins the email join and the second is still found by id.
            self._by_email.setdefault(account.email.strip().lower(), slot)
            self._by_id[account.id] = slot
            added += 1
        return added

    @property
    def account_count(self) -> int:
        return len(self._by_id)

    # ------------------------------------------------------------------ Okta side

    def observe(self, user: OktaUser, assignment: OktaAppUser | None) -> DriftItem | None:
        """Classify one Okta user; ``None`` when the answer waits for ``finish``."""
        desired = desired_account(user, assignment, self.config)
        if desired.presence is Presence.UNMANAGED:
            return DriftItem(DriftCategory.IGNORED, unmanaged_reason(desired), user.id, email=desired.email)
        slot = self._slot_for(user.id, desired)
        if desired.presence is Presence.ACTIVE:
            return self._observe_entitled(user.id, desired, slot)
        return self._observe_revoked(user.id, desired, slot)

    def observe_deleted(self, okta_user_id: str) -> DriftItem | None:
        """Classify an Okta user who no longer exists (404) but whom the worker had mapped."""
        desired = desired_account(None, None, self.config)
        return self._observe_revoked(okta_user_id, desired, self._slot_for(okta_user_id, desired))

    def _slot_for(self, okta_user_id: str, desired: DesiredAccount) -> _Slot | None:
        """The worker's lookup: the mapped account while it is in the company, else by email."""
        mapped = self.mapping.get(okta_user_id)
        if mapped is not None and mapped in self._by_id:
            return self._by_id[mapped]
        return self._by_email.get(desired.email.strip().lower()) if desired.email else None

    def _observe_entitled(self, okta_user_id: str, desired: DesiredAccount, slot: _Slot | None) -> DriftItem:
        assert desired.email is not None  # DesiredAccount guarantees it for ACTIVE
        email_key = desired.email.strip().lower()
        if slot is None:
            if self.known_conflicts.get(okta_user_id) == email_key:
                return DriftItem(
                    DriftCategory.CONFLICT, DriftReason.KNOWN_CONFLICT, okta_user_id, email=desired.email
                )
            if email_key in self._creating:
                # Two Okta users want one new account: the first is created, the second would
                # silently adopt it. Report instead of guessing who owns the mailbox.
                return DriftItem(
                    DriftCategory.CONFLICT, DriftReason.DUPLICATE_EMAIL, okta_user_id, email=desired.email
                )
            self._creating.add(email_key)
            plan = plan_changes(desired, None, token_owner_id=self.token_owner_id)
            return DriftItem(
                DriftCategory.TO_CREATE, plan.reason, okta_user_id, None, desired.email, plan.operations, True
            )
        if slot.claimed_by is not None and slot.claimed_by != okta_user_id:
            return DriftItem(
                DriftCategory.CONFLICT, DriftReason.DUPLICATE_EMAIL, okta_user_id, slot.id, desired.email
            )
        slot.claimed_by = okta_user_id
        plan = plan_changes(desired, slot.account(), token_owner_id=self.token_owner_id)
        if plan.is_noop:
            return DriftItem(DriftCategory.IN_SYNC, plan.reason, okta_user_id, slot.id, desired.email)
        return DriftItem(
            DriftCategory.TO_UPDATE, plan.reason, okta_user_id, slot.id, desired.email, plan.operations, True
        )

    def _observe_revoked(
        self, okta_user_id: str, desired: DesiredAccount, slot: _Slot | None
    ) -> DriftItem | None:
        if slot is None or slot.active is False:
            plan = plan_changes(desired, slot.account() if slot else None, token_owner_id=self.token_owner_id)
            return DriftItem(
                DriftCategory.IN_SYNC, plan.reason, okta_user_id, slot.id if slot else None, desired.email
            )
        if slot.claimed_by is not None:
            return DriftItem(
                DriftCategory.IN_SYNC, DriftReason.SUPERSEDED, okta_user_id, slot.id, desired.email
            )
        if slot.deferred is None:
            slot.deferred = []
        slot.deferred.append((okta_user_id, desired))
        return None

    # ------------------------------------------------------------------ end of the walk

    def unclaimed_accounts(self) -> list[TeamViewerAccount]:
        """Possibly active accounts no Okta user seen so far claims: orphans, unless an owner turns up.

        When only the app's assignments were walked, an unassigned (or deactivated) Okta
        user's account is in this list too; the service looks each email up in Okta and
        ``observe``\\ s the owner it finds, so a missed deprovisioning is never mistaken for
        an orphan.
        """
        return [
            slot.account()
            for slot in self._by_id.values()
            if slot.active is not False and slot.claimed_by is None and not slot.deferred
        ]

    def finish(
        self, *, deactivate_orphans: bool, max_orphan_deactivations: int | None = None
    ) -> list[DriftItem]:
        """Decide the deferred deactivations and the orphans.

        Orphans are deactivated only when ``deactivate_orphans`` is set, and not at all when
        there are more than ``max_orphan_deactivations`` of them: an empty or misread Okta
        answer would otherwise switch off the whole company. The token owner's account is
        never one of them (``PROTECTED``), so it neither counts towards that limit nor
        passes for drift.
        """
        items: list[DriftItem] = []
        orphans: list[_Slot] = []
        for slot in self._by_id.values():
            if slot.deferred:
                items.extend(self._decide_deferred(slot, slot.deferred))
            elif slot.active is not False and slot.claimed_by is None:
                orphans.append(slot)
        protected = [s for s in orphans if s.id == self.token_owner_id]
        candidates = [s for s in orphans if s.id != self.token_owner_id]
        over_limit = max_orphan_deactivations is not None and len(candidates) > max_orphan_deactivations
        for slot in protected:
            items.append(
                DriftItem(DriftCategory.PROTECTED, DriftReason.TOKEN_OWNER, None, slot.id, slot.email)
            )
        for slot in candidates:
            deactivate = deactivate_orphans and not over_limit
            reason = DriftReason.ORPHAN_LIMIT if deactivate_orphans and over_limit else DriftReason.ORPHAN
            operations = (Operation.DEACTIVATE,) if deactivate else ()
            items.append(
                DriftItem(DriftCategory.ORPHAN, reason, None, slot.id, slot.email, operations, deactivate)
            )
        return items

    def _decide_deferred(self, slot: _Slot, deferred: list[tuple[str, DesiredAccount]]) -> list[DriftItem]:
        if slot.claimed_by is not None:
            return [
                DriftItem(DriftCategory.IN_SYNC, DriftReason.SUPERSEDED, user_id, slot.id, desired.email)
                for user_id, desired in deferred
            ]
        (first_id, first), *others = deferred
        plan = plan_changes(first, slot.account(), token_owner_id=self.token_owner_id)
        if plan.reason == PlanReason.TOKEN_OWNER_PROTECTED:
            # Okta says revoke, the product never will: the admin must know.
            decided = DriftItem(DriftCategory.CONFLICT, plan.reason, first_id, slot.id, slot.email)
        else:
            decided = DriftItem(
                DriftCategory.TO_DEACTIVATE, plan.reason, first_id, slot.id, slot.email, plan.operations, True
            )
        # One deactivation is enough; the other revoked users sharing the email change nothing.
        rest = [
            DriftItem(DriftCategory.IN_SYNC, DriftReason.SUPERSEDED, user_id, slot.id, desired.email)
            for user_id, desired in others
        ]
        return [decided, *rest]
