"""How each group sync ended, written down: the GroupStateTable link, the metrics, the log line.

The group synchronisers (``tvsync.services.group_sync`` for a group's own requests,
``tvsync.services.group_membership`` for a user's memberships) hand every end here, as the
user synchroniser hands its ends to ``tvsync.services.sync_outcomes``. Failures follow the
same policy as for users: a refusal no retry changes is recorded and the request succeeds;
a rate limit, an outage or an unexpected error hands the event back to SQS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from tvsync.adapters.errors import AuthError, InvalidError, ThrottledError, TransientError
from tvsync.adapters.secrets import SecretUnavailableError
from tvsync.core.groups import GroupOperation, GroupPresence, GroupReason
from tvsync.core.outcome import Outcome
from tvsync.models.groups import GroupLink
from tvsync.services.failures import describe, report_retry
from tvsync.services.sqs_batch import RetryLaterError

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools import Logger, Metrics

    from tvsync.core.groups import DesiredGroup, GroupFacts, GroupPlan
    from tvsync.models.sync_request import SyncRequest
    from tvsync.services.ports import Clock, GroupStateRepository

__all__ = ["GROUP_METRICS", "GroupOutcomes", "GroupRun", "GroupSyncResult"]

#: The dashboard's group metrics, by what was done.
GROUP_METRICS = {
    GroupOperation.CREATE: "GroupsCreated",
    GroupOperation.ADD_MEMBERS: "GroupMembersAdded",
    GroupOperation.REMOVE_MEMBERS: "GroupMembersRemoved",
    GroupOperation.ASSIGN_ROLE: "GroupRolesAssigned",
}

#: Errors that hand an event back to SQS: waiting (or a fixed credential) changes the answer.
_RETRYABLE = (ThrottledError, TransientError, AuthError, SecretUnavailableError)

_T = TypeVar("_T")


@dataclass(frozen=True)
class GroupSyncResult:
    """What one group request did; stored by the idempotency layer, so JSON-friendly."""

    okta_group_id: str
    event_uuid: str
    outcome: Outcome
    operations: tuple[GroupOperation, ...] = ()
    reason: str | None = None
    teamviewer_group_id: int | None = None
    members_added: int = 0
    members_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "okta_group_id": self.okta_group_id,
            "event_uuid": self.event_uuid,
            "outcome": self.outcome.value,
            "operations": [op.value for op in self.operations],
            "reason": self.reason,
            "teamviewer_group_id": self.teamviewer_group_id,
            "members_added": self.members_added,
            "members_removed": self.members_removed,
        }


@dataclass
class GroupRun:
    """One group sync: what was decided, the operations sent and the first refusal met."""

    desired: DesiredGroup
    plan: GroupPlan
    facts: GroupFacts
    operations: list[GroupOperation] = field(default_factory=list)
    problem: Outcome | None = None
    problem_reason: str | None = None
    added: int = 0
    removed: int = 0

    def refused(self, outcome: Outcome, reason: str) -> None:
        if self.problem is None:
            self.problem, self.problem_reason = outcome, reason


@dataclass(frozen=True)
class GroupOutcomes:
    """Records, counts and logs how each group sync ended."""

    links: GroupStateRepository
    logger: Logger
    metrics: Metrics
    clock: Clock

    def guarded(self, request: SyncRequest, step: Callable[[], _T]) -> _T:
        """Run a step with the failure policy of the module docstring (refusals are the caller's)."""
        try:
            return step()
        except _RETRYABLE as exc:
            self.retrying(request, exc)
            delay = exc.retry_after if isinstance(exc, ThrottledError) else None
            raise RetryLaterError(exc, delay, throttled=isinstance(exc, ThrottledError)) from exc
        except InvalidError:
            raise
        except Exception as exc:
            self.retrying(request, exc)
            raise RetryLaterError(exc, None) from exc

    def retrying(self, request: SyncRequest, exc: Exception) -> None:
        fields = {
            "okta_user_id": request.okta_user_id,
            "okta_group_id": request.okta_group_id,
            "event_uuid": request.event_uuid,
        }
        error = report_retry(self.logger, self.metrics, exc, fields, subject="Group sync")
        # Only a group request speaks for the group: a membership request that failed says
        # nothing about it, and no later success of one would clear the mark again.
        if (
            request.is_group_request
            and request.okta_group_id is not None
            and self.links.get(request.okta_group_id) is not None
        ):
            try:
                self.links.record_outcome(
                    request.okta_group_id, outcome=Outcome.RETRYING.value, reason=error, at=self.clock()
                )
            except Exception:
                self.logger.exception("Could not record the retry in GroupStateTable")

    def count(self, operation: GroupOperation, value: int) -> None:
        metric = GROUP_METRICS.get(operation)
        if metric is not None and value:
            self.metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)

    def gave_up(self, request: SyncRequest, okta_group_id: str, exc: InvalidError) -> GroupSyncResult:
        reason = describe(exc)
        self.metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        self.logger.warning(
            "Group request refused; recorded, not retried",
            extra={"okta_group_id": okta_group_id, "event_uuid": request.event_uuid, "error": reason},
        )
        if self.links.get(okta_group_id) is not None:
            self.links.record_outcome(
                okta_group_id, outcome=Outcome.INVALID.value, reason=reason, at=self.clock()
            )
        return GroupSyncResult(okta_group_id, request.event_uuid, Outcome.INVALID, reason=reason)

    def linked(self, desired: DesiredGroup, group_id: int, role: str | None, run: GroupRun) -> None:
        now = self.clock()
        self.links.put(
            GroupLink(
                okta_group_id=desired.okta_group_id,
                teamviewer_group_id=group_id,
                name=desired.name,
                role_id=role,
                last_outcome=Outcome.APPLIED.value,
                last_reason=GroupReason.ADOPT
                if GroupOperation.ADOPT in run.operations
                else GroupReason.CREATE,
                last_operations=[op.value for op in run.operations],
                updated_at=now,
                last_applied_at=now,
            )
        )

    def finished(self, request: SyncRequest, group_id: int | None, run: GroupRun) -> GroupSyncResult:
        """Record the link as the sync left it, log it, and say what happened."""
        desired, plan, facts = run.desired, run.plan, run.facts
        now = self.clock()
        outcome = run.problem or (Outcome.APPLIED if run.operations else Outcome.NO_CHANGE)
        adopted = GroupOperation.ADOPT in run.operations  # also after a create found the name taken
        reason = run.problem_reason or (GroupReason.ADOPT.value if adopted else plan.reason.value)
        previous = facts.link
        if previous is not None or desired.presence is GroupPresence.PUSHED:
            self.links.put(
                GroupLink(
                    okta_group_id=desired.okta_group_id,
                    teamviewer_group_id=group_id,
                    name=desired.name or (previous.name if previous else None),
                    role_id=managed_role(facts.current_role, plan, run),
                    last_outcome=outcome.value,
                    last_reason=reason,
                    last_operations=[op.value for op in run.operations],
                    updated_at=now,
                    last_applied_at=now
                    if run.operations
                    else (previous.last_applied_at if previous else None),
                )
            )
        self.logger.info(
            "Group synced",
            extra={
                "okta_group_id": desired.okta_group_id,
                "event_uuid": request.event_uuid,
                "event_type": request.event_type,
                "outcome": outcome.value,
                "operations": [op.value for op in run.operations],
                "reason": reason,
                "teamviewer_group_id": group_id,
                "members_added": run.added,
                "members_removed": run.removed,
            },
        )
        return GroupSyncResult(
            okta_group_id=desired.okta_group_id,
            event_uuid=request.event_uuid,
            outcome=outcome,
            operations=tuple(run.operations),
            reason=reason,
            teamviewer_group_id=group_id,
            members_added=run.added,
            members_removed=run.removed,
        )

    def planned(self, request: SyncRequest, desired: DesiredGroup, plan: GroupPlan) -> GroupSyncResult:
        """A dry run reads everything and writes nothing, not even the link: it only says what it would do."""
        self.logger.info(
            "Group sync planned (dry run)",
            extra={
                "okta_group_id": desired.okta_group_id,
                "event_uuid": request.event_uuid,
                "operations": [op.value for op in plan.operations],
                "reason": plan.reason.value,
                "teamviewer_group_id": plan.teamviewer_group_id,
                "dry_run": True,
            },
        )
        return GroupSyncResult(
            okta_group_id=desired.okta_group_id,
            event_uuid=request.event_uuid,
            outcome=Outcome.DRY_RUN,
            operations=plan.operations,
            reason=plan.reason.value,
            teamviewer_group_id=plan.teamviewer_group_id,
        )


def managed_role(before: str | None, plan: GroupPlan, run: GroupRun) -> str | None:
    """The role the worker manages on the group once the role calls that went through applied.

    That is the mapped role when the group has it now (assigned by this sync, or found
    assigned), and None otherwise: a role an admin gave a group with no mapped role is not
    the worker's to take back (``tvsync.core.groups.GroupFacts``).
    """
    role = before
    for operation in run.operations:
        if operation is GroupOperation.UNASSIGN_ROLE:
            role = None
        elif operation is GroupOperation.ASSIGN_ROLE:
            role = plan.role_id
    return role if role is not None and role == plan.role_id else None
