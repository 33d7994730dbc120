"""One page of an Okta list, with the cursor a later walk resumes from.

Okta pages its lists with a cursor: each page's ``Link: rel="next"`` names the next page
[CORE], and the cursor in it is opaque — it can only be followed, never computed. A walk
that must stop (a Lambda's deadline) and go on in a later run therefore keeps the next
link itself: ``OktaPage.next_cursor``. Handing it back to the client
(``OktaClient.iter_app_user_pages(…, cursor=…)``, in the adapters) resumes the walk at that page, after the
same checks a next link gets (same org, same list, same query); a cursor Okta no longer
accepts fails like any refused request, and the caller starts the walk afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["OktaPage"]

_Item = TypeVar("_Item")


@dataclass(frozen=True)
class OktaPage(Generic[_Item]):
    """The items of one page, and where the walk goes on after it (``None``: this was the last)."""

    items: list[_Item]
    next_cursor: str | None
