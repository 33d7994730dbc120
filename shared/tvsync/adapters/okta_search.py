"""Okta ``search`` expressions that look up many emails at once, inside Okta's query limits.

The reconciler asks Okta who owns each TeamViewer account no walked user claims. One
``search`` per address costs one round trip each — at 10 % unclaimed accounts in a company
of 500,000 that is 50,000 calls, longer than a Lambda may run. ``search`` takes clauses
joined by ``or`` [SPEC][CORE], so several addresses go in one expression:
``profile.email eq "a@x" or profile.email eq "b@x"``. ``search`` compares string values
ignoring case and includes DEPROVISIONED users [SPEC], as ``find_by_email`` needs.

How long may one expression be? Okta publishes no number; its spec only warns that "an
overly complex or long search query can result in an error" [SPEC]. The product therefore
stays well inside what a URL carries through any front end: at most ``MAX_SEARCH_CLAUSES``
clauses and ``MAX_SEARCH_LENGTH`` characters (before URL encoding, under 4,000 after — half
the 8 KB request line common servers accept). Fifty addresses of a usual length
(``first.last@company.example``) fit. The emulator refuses anything longer, so a client
that builds a longer expression fails a test, never an org.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Final

__all__ = [
    "MAX_SEARCH_CLAUSES",
    "MAX_SEARCH_LENGTH",
    "email_clause",
    "email_searches",
    "string_literal",
]

#: The most ``or``-joined clauses one ``search`` expression holds (see the module docstring).
MAX_SEARCH_CLAUSES: Final = 50
#: The longest ``search`` expression sent, in characters before URL encoding.
MAX_SEARCH_LENGTH: Final = 3000
_OR: Final = " or "


def string_literal(value: str) -> str:
    """``value`` as a string literal of Okta's filter and search expressions: a JSON string [CORE]."""
    return json.dumps(value, ensure_ascii=False)


def email_clause(email: str) -> str:
    """One ``profile.email eq "…"`` clause; ``search`` compares its value ignoring case [SPEC]."""
    return f"profile.email eq {string_literal(email)}"


def email_searches(
    emails: Iterable[str], *, max_clauses: int = MAX_SEARCH_CLAUSES, max_length: int = MAX_SEARCH_LENGTH
) -> Iterator[tuple[str, frozenset[str]]]:
    """``search`` expressions covering ``emails``, each with the lower-cased addresses it asks for.

    Addresses are trimmed and looked up once whatever their letter case. Each expression
    holds as many clauses as both limits allow, so N addresses cost ⌈N/k⌉ searches where k
    is the number of clauses that fit. An address whose clause alone exceeds
    ``max_length`` raises ``ValueError``: it can never be sent, and dropping it silently
    would make its account look like an orphan.
    """
    if max_clauses < 1 or max_length < 1:
        raise ValueError("a search needs room for at least one clause")
    clauses: list[str] = []
    wanted: set[str] = set()
    length = 0
    seen: set[str] = set()
    for raw in emails:
        address = raw.strip()
        key = address.lower()
        if not address or key in seen:
            continue
        seen.add(key)
        clause = email_clause(address)
        if len(clause) > max_length:
            raise ValueError(f"an email of {len(address)} characters does not fit one Okta search")
        added = len(clause) + (len(_OR) if clauses else 0)
        if clauses and (len(clauses) >= max_clauses or length + added > max_length):
            yield _OR.join(clauses), frozenset(wanted)
            clauses, wanted, length = [], set(), 0
            added = len(clause)
        clauses.append(clause)
        wanted.add(key)
        length += added
    if clauses:
        yield _OR.join(clauses), frozenset(wanted)
