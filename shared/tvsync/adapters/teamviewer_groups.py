"""TeamViewer Web API v1 user groups and roles on the wire: answers, cursor paging, member batches.

``TeamViewerClient`` makes the calls (so groups share its token, pool, retries and error
classes); this module holds what is particular to the v1 group endpoints, kept apart so each
module reads on its own:

- every answer is parsed with a pydantic model, so a page that lacks ``resources`` or
  carries a member without a numeric ``accountId`` is a ``TransientError`` naming the field,
  never a silently short list (a short member list would make the worker remove people);
- ``cursor_walk`` follows ``nextPaginationToken`` until it is absent ([SWAGGER], as [PS]
  loops), and refuses a token it has already been given: a server that hands out the same
  cursor again would otherwise be walked for ever;
- ``member_batch`` holds a member call to TeamViewer's 1 to 100 numeric account ids ([PS]
  ``Add-TeamViewerUserGroupMember.ps1``: "Web API accepts a maximum of 100 accounts"; [ADC]
  batches the same way). Splitting a longer list is the core's job (``plan_members``), so
  an over-long batch here is a programming error (``ValueError``), not something to paper
  over with extra calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from tvsync.adapters.errors import TransientError
from tvsync.models.groups import MAX_MEMBERS_PER_CALL, TeamViewerGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

SERVICE: Final = "teamviewer"
USERGROUPS: Final = "/api/v1/usergroups"
USERROLES: Final = "/api/v1/userroles"
#: A cursor walk is refused past this many pages: with at most 100 ids a call, it is far
#: more than any company's groups or one group's members; a server that never stops
#: handing out fresh tokens must not keep a Lambda busy until its timeout.
MAX_PAGES: Final = 100_000

Page = TypeVar("Page", bound="_CursorPage")


class TeamViewerRole(BaseModel):
    """One user role of the company ([PS] ``ConvertTo-TeamViewerRole``: ``Id`` a GUID, ``Name``)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str


class _Wire(BaseModel):
    """TeamViewer may add fields at any time; only missing or mistyped ones are errors."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _CursorPage(_Wire):
    """[SWAGGER] a v1 cursor page: the token of the next page, None (or absent) on the last."""

    currentPaginationToken: str | None = None
    nextPaginationToken: str | None = None


class _Group(_Wire):
    """[SWAGGER] ``UserGroupModel``: ``id`` int64, ``name``; ``creationSourceType`` is not needed."""

    id: StrictInt
    name: str


class GroupPage(_CursorPage):
    """[SWAGGER] ``GET /usergroups``."""

    resources: list[_Group]

    def groups(self) -> list[TeamViewerGroup]:
        return [TeamViewerGroup(id=g.id, name=g.name) for g in self.resources]


class GroupAnswer(_Group):
    """[SWAGGER] ``GET``/``POST``/``PUT`` of one group answer the group itself."""

    def group(self) -> TeamViewerGroup:
        return TeamViewerGroup(id=self.id, name=self.name)


class _Member(_Wire):
    """[SWAGGER] a member: ``accountId`` (int32, the user id without its "u"), ``name``."""

    accountId: StrictInt = Field(gt=0)


class MemberPage(_CursorPage):
    """[SWAGGER] ``GET /usergroups/{id}/members``."""

    resources: list[_Member]

    def numbers(self) -> list[int]:
        return [m.accountId for m in self.resources]


class _Role(_Wire):
    Id: str = Field(min_length=1)
    Name: str


class RoleList(_Wire):
    """[PS] ``GET /userroles``: ``{"Roles": [{"Id", "Name", "Permissions"}]}``."""

    Roles: list[_Role]

    def roles(self) -> list[TeamViewerRole]:
        return [TeamViewerRole(id=r.Id, name=r.Name) for r in self.Roles]


class GroupRoleAnswer(_Wire):
    """[PS] ``GET /usergroups/{id}/userroles``: ``assignedRoleId``, null when the group has none.

    The field must be present: an answer without it says nothing about the role, and reading
    it as "no role" would make the worker assign a role the group may already have.
    """

    assignedRoleId: str | None


Answer = TypeVar("Answer", bound=_Wire)


def parse(model: type[Answer], body: object, operation: str) -> Answer:
    """``body`` as ``model``, or a ``TransientError`` that names the fields that did not fit.

    Only field locations and error kinds reach the message, never values: a member's name or
    a group's name is the company's data, not something for an exception text.
    """
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(body)'}: {error['type']}"
            for error in exc.errors()[:3]
        )
        raise TransientError(SERVICE, operation, f"unexpected response body ({problems})") from None


def cursor_walk(fetch: Callable[[str | None], Page], operation: str) -> Iterator[Page]:
    """Every page of one listing: ``fetch(None)``, then ``fetch(token)`` while a next token comes.

    An empty-string token ends the walk like an absent one ([PS] loops only on a truthy
    token). A token seen before means the server is going round in circles and raises
    ``TransientError`` rather than repeat items or spin; so does a walk past ``MAX_PAGES``.
    """
    seen: set[str] = set()
    token: str | None = None
    for _ in range(MAX_PAGES):
        page = fetch(token)
        yield page
        token = page.nextPaginationToken or None
        if token is None:
            return
        if token in seen:
            raise TransientError(
                SERVICE,
                operation,
                f"the server answered a pagination token it had already given after {len(seen) + 1} pages",
            )
        seen.add(token)
    raise TransientError(SERVICE, operation, f"stopped after {MAX_PAGES} pages: the listing does not end")


def member_batch(numbers: Sequence[int]) -> list[int]:
    """The body of one member call: each id once, in the given order, 1 to 100 of them.

    ``ValueError`` for more than ``MAX_MEMBERS_PER_CALL`` ids (counted as given, before
    duplicates are dropped: the caller's batching is what is wrong) or for anything that is
    not a positive account number — a ``u…`` id or a bool slipped through would be a 400 or,
    worse, the wrong account.
    """
    if len(numbers) > MAX_MEMBERS_PER_CALL:
        raise ValueError(
            f"a member call takes at most {MAX_MEMBERS_PER_CALL} account ids, got {len(numbers)}: "
            "split them (plan_members batches by 100)"
        )
    for number in numbers:
        if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
            raise ValueError(f"not a TeamViewer account number: {number!r} (u1234567 is 1234567)")
    return list(dict.fromkeys(numbers))
