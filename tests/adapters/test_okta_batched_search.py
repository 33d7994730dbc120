"""Batched email look-ups (``find_by_emails``) and resumable page walks, against Okta's emulator.

The reconciler asks Okta who owns thousands of unclaimed accounts: N addresses must cost
⌈N/k⌉ ``search`` requests of k ``or``-joined clauses, never one more and never one that
breaks Okta's query limits, and must answer exactly as ``find_by_email`` does (any letter
case, DEPROVISIONED users included, a live user preferred).
"""

from __future__ import annotations

import math

import httpx
import pytest

from tvsync.adapters.errors import InvalidError
from tvsync.adapters.okta_client import OktaClient
from tvsync.adapters.okta_search import (
    MAX_SEARCH_CLAUSES,
    MAX_SEARCH_LENGTH,
    email_clause,
    email_searches,
)
from tvsync.emulators.okta import OktaEmulator

TOKEN = "okta-test-token"
ORG = "https://acme.okta.test"
APP = "0oaTeamViewerApp01"


def client(emu: OktaEmulator) -> OktaClient:
    return OktaClient(ORG, lambda: TOKEN, transport=emu.transport())


def searches(emu: OktaEmulator) -> list[str]:
    return [call.query["search"] for call in emu.calls if "search" in call.query]


def address(n: int) -> str:
    return f"person{n:05d}@example.com"


# ---------------------------------------------------------------------------- the expressions


def test_k_addresses_fill_one_search_and_one_more_opens_a_second() -> None:
    k = MAX_SEARCH_CLAUSES
    assert [len(wanted) for _, wanted in email_searches(address(n) for n in range(k))] == [k]
    assert [len(wanted) for _, wanted in email_searches(address(n) for n in range(k + 1))] == [k, 1]


@pytest.mark.parametrize("n", [1, 49, 50, 51, 120, 1000])
def test_n_addresses_cost_ceil_n_over_k_searches_each_within_both_limits(n: int) -> None:
    built = list(email_searches(address(i) for i in range(n)))
    assert len(built) == math.ceil(n / MAX_SEARCH_CLAUSES)
    assert set().union(*(wanted for _, wanted in built)) == {address(i) for i in range(n)}
    for expression, wanted in built:
        assert len(expression) <= MAX_SEARCH_LENGTH
        assert expression.count(" or ") == len(wanted) - 1


def test_long_addresses_are_cut_by_the_length_limit_before_the_clause_limit() -> None:
    long = [f"{'x' * 60}{n:03d}@long-company-name.example.com" for n in range(100)]
    built = list(email_searches(long))
    per_search = max(len(wanted) for _, wanted in built)
    assert per_search < MAX_SEARCH_CLAUSES
    assert all(len(expression) <= MAX_SEARCH_LENGTH for expression, _ in built)
    assert len(built) == math.ceil(100 / per_search)


def test_an_address_is_asked_for_once_whatever_its_letter_case() -> None:
    [(expression, wanted)] = list(email_searches(["Frank@Example.com", "frank@example.com ", " "]))
    assert wanted == {"frank@example.com"}
    assert expression == 'profile.email eq "Frank@Example.com"'


def test_an_address_too_long_for_any_search_is_refused_not_dropped() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        list(email_searches(["a@example.com", "y" * 3000 + "@example.com"]))


def test_the_emulator_holds_okta_to_the_same_limits_as_the_client() -> None:
    assert (OktaEmulator.MAX_SEARCH_LENGTH, OktaEmulator.MAX_SEARCH_CLAUSES) == (
        MAX_SEARCH_LENGTH,
        MAX_SEARCH_CLAUSES,
    )


# ---------------------------------------------------------------------------- the emulator's limits


def _raw_search(emu: OktaEmulator, expression: str) -> httpx.Response:
    with httpx.Client(transport=emu.transport(), base_url=ORG) as http:
        return http.get(
            "/api/v1/users", params={"search": expression}, headers={"Authorization": f"SSWS {TOKEN}"}
        )


def test_a_search_at_the_limits_is_answered_and_one_beyond_is_refused_like_okta() -> None:
    emu = OktaEmulator(TOKEN)
    emu.add_user(address(7), "Pat", "Person")
    at_clauses = " or ".join(email_clause(address(n)) for n in range(MAX_SEARCH_CLAUSES))
    assert len(at_clauses) <= MAX_SEARCH_LENGTH
    answered = _raw_search(emu, at_clauses)
    assert answered.status_code == 200 and [u["profile"]["email"] for u in answered.json()] == [address(7)]

    beyond_clauses = f"{at_clauses} or {email_clause(address(99))}"
    refused = _raw_search(emu, beyond_clauses)
    assert refused.status_code == 400 and refused.json()["errorCode"] == "E0000031"

    padding = "p" * (MAX_SEARCH_LENGTH - len(email_clause("@example.com")))
    at_length = email_clause(f"{padding}@example.com")
    assert len(at_length) == MAX_SEARCH_LENGTH
    assert _raw_search(emu, at_length).status_code == 200
    beyond_length = email_clause(f"{padding}q@example.com")
    assert _raw_search(emu, beyond_length).json()["errorCode"] == "E0000031"


def test_the_emulator_answers_an_or_of_email_clauses_ignoring_case_and_with_deprovisioned_users() -> None:
    emu = OktaEmulator(TOKEN)
    frank = emu.add_user("Frank.Fischer@Example.com", "Frank", "Fischer")["id"]
    gone = emu.add_user("gone@example.com", "Gone", "User", status="DEPROVISIONED")["id"]
    emu.add_user("other@example.com", "Other", "User")
    expression = f"{email_clause('frank.fischer@example.com')} or {email_clause('GONE@example.com')}"
    found = _raw_search(emu, expression).json()
    assert sorted(u["id"] for u in found) == sorted([frank, gone])
    # ``and`` of two different addresses matches nobody; an email ``filter`` still compares case.
    both = f"{email_clause('frank.fischer@example.com')} and {email_clause('gone@example.com')}"
    assert _raw_search(emu, both).json() == []


# ---------------------------------------------------------------------------- the client


@pytest.mark.parametrize("n", [1, 50, 51, 230])
def test_find_by_emails_sends_ceil_n_over_k_searches_and_finds_every_owner(n: int) -> None:
    emu = OktaEmulator(TOKEN)
    owners = {address(i): emu.add_user(address(i).upper(), "P", f"{i}")["id"] for i in range(0, n, 2)}
    found = client(emu).find_by_emails(address(i) for i in range(n))
    assert {email: user.id for email, user in found.items()} == owners, "any letter case, each once"
    sent = searches(emu)
    assert len(sent) == math.ceil(n / MAX_SEARCH_CLAUSES)
    assert all(len(s) <= MAX_SEARCH_LENGTH and s.count(" or ") < MAX_SEARCH_CLAUSES for s in sent)
    assert all(call.status == 200 for call in emu.calls), "nothing Okta would refuse was sent"


def test_find_by_emails_prefers_a_live_user_and_keeps_a_deprovisioned_one_when_alone() -> None:
    emu = OktaEmulator(TOKEN)
    emu.add_user("shared@example.com", "Old", "Hire", status="DEPROVISIONED", login="old@example.com")
    rehire = emu.add_user("Shared@example.com", "New", "Hire", login="new@example.com")["id"]
    left = emu.add_user("left@example.com", "Left", "User", status="DEPROVISIONED")["id"]
    # Someone whose login is the address, with another email, owns nothing.
    emu.add_user("elsewhere@example.com", "Login", "Only", login="nobody@example.com")
    found = client(emu).find_by_emails(["SHARED@example.com", "left@example.com", "nobody@example.com"])
    assert {email: user.id for email, user in found.items()} == {
        "shared@example.com": rehire,
        "left@example.com": left,
    }


def test_find_by_emails_walks_every_page_of_a_search() -> None:
    emu = OktaEmulator(TOKEN)
    emu.LIST_LIMITS = {**OktaEmulator.LIST_LIMITS, "users": type(OktaEmulator.LIST_LIMITS["users"])(2, 2)}
    for i in range(5):
        emu.add_user(address(i), "P", f"{i}")
    found = client(emu).find_by_emails(address(i) for i in range(5))
    assert len(found) == 5
    assert len([c for c in emu.calls if "search" in c.query]) == 3, "one search, three pages"


# ---------------------------------------------------------------------------- resumable walks


def test_a_walk_resumes_at_the_cursor_a_page_gave_and_reads_every_user_once() -> None:
    emu = OktaEmulator(TOKEN)
    ids = emu.add_users((address(i), "P", f"{i}") for i in range(7))
    for user_id in ids:
        emu.assign(APP, user_id)
    okta = client(emu)
    first = next(okta.iter_app_user_pages(APP, page_size=3))
    assert first.next_cursor is not None
    rest = list(okta.iter_app_user_pages(APP, page_size=3, cursor=first.next_cursor))
    walked = [user.id for _, user in first.items] + [user.id for page in rest for _, user in page.items]
    assert walked == sorted(ids)
    assert rest[-1].next_cursor is None


def test_a_cursor_of_another_list_or_org_is_refused_before_anything_is_sent() -> None:
    emu = OktaEmulator(TOKEN)
    emu.add_app(APP)
    okta = client(emu)
    for cursor in (
        f"{ORG}/api/v1/users?after=00u1&limit=3",
        f"https://evil.example/api/v1/apps/{APP}/users?after=00u1&limit=3&expand=user",
        f"{ORG}/api/v1/apps/{APP}/users?after=00u1&limit=3&expand=groups",
    ):
        with pytest.raises(InvalidError):
            next(okta.iter_app_user_pages(APP, page_size=3, cursor=cursor))
    assert emu.calls == []
