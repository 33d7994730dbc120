"""``tvsync verify-hook`` against the real ingest handler served over loopback HTTP."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.cli.apigw_server import serve_handler
from tests.conftest import HOOK_SECRET, Aws, FakeLambdaContext, apigw_event, emf_metrics, load_function
from tvsync.cli import verify_hook
from tvsync.cli.main import main

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture
def ingest_url(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    ingest = load_function("ingest", aws.env("IngestFunction"), monkeypatch)
    monkeypatch.setenv("OKTA_HOOK_SECRET", HOOK_SECRET)
    with serve_handler(ingest.lambda_handler) as url:
        yield url


def echo(body: Callable[[str], str]) -> Handler:
    """An endpoint answering 200 with ``body(challenge)``; it keeps the events it saw."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        handler.seen.append(event)  # type: ignore[attr-defined]
        headers = {k.lower(): v for k, v in event["headers"].items()}
        return {"statusCode": 200, "body": body(headers.get("x-okta-verification-challenge", ""))}

    handler.seen = []  # type: ignore[attr-defined]
    return handler


def run(url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["verify-hook", "--url", url, *extra])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    # The ingest function runs in this process: its JSON log lines and metrics share stdout.
    lines = (captured.out + captured.err).splitlines(keepends=True)
    return code, "".join(line for line in lines if not line.startswith("{"))


def test_the_real_ingest_function_passes(ingest_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(ingest_url, capsys)
    assert code == 0, out
    assert out.startswith("✓ ")
    assert "HTTP 200" in out and "within Okta's 3 s limit" in out


def test_a_wrong_secret_is_explained(
    ingest_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_VALUE", "not-the-hook-secret")
    code, out = run(ingest_url, capsys, "--secret-env", "HOOK_VALUE")
    assert code == 1
    assert "HTTP 401" in out
    assert "the value in $HOOK_VALUE does not match the hook secret" in out
    assert "not-the-hook-secret" not in out


def test_a_wrong_header_name_is_explained_too(ingest_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The endpoint answers 401 alike for a wrong name and a wrong value: both are suspects."""
    code, out = run(ingest_url, capsys, "--header", "X-Wrong")
    assert code == 1
    assert "HTTP 401" in out
    assert (
        "another header name than X-Wrong (the stack's OKTA_HOOK_AUTH_HEADER: pass it with --header)" in out
    )
    assert "or the value in $OKTA_HOOK_SECRET does not match the hook secret" in out


def test_a_wrong_path_is_explained(ingest_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(ingest_url.replace("/okta/events", "/okta/event"), capsys)
    assert code == 1
    # API Gateway answers an unknown route itself, before any function runs.
    assert "HTTP 403" in out and "no route for this path and method" in out


def test_api_gateways_answer_for_an_unknown_route_is_explained(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_HOOK_SECRET", HOOK_SECRET)
    answer = {"statusCode": 403, "body": '{"message": "Missing Authentication Token"}'}
    with serve_handler(lambda event, context: answer) as url:
        code, out = run(url, capsys)
    assert code == 1
    assert "HTTP 403" in out and "Missing Authentication Token (no route for this path and method" in out


def test_sends_what_okta_sends_with_a_fresh_challenge(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_HOOK_SECRET", HOOK_SECRET)
    handler = echo(lambda challenge: f'{{"verification": "{challenge}"}}')
    with serve_handler(handler) as url:
        assert run(url, capsys, "--header", "X-Hook-Auth")[0] == 0
        assert run(url, capsys, "--header", "X-Hook-Auth")[0] == 0
    challenges = []
    for event in handler.seen:  # type: ignore[attr-defined]
        headers = {k.lower(): v for k, v in event["headers"].items()}
        assert event["httpMethod"] == "GET"
        assert headers["user-agent"] == "Okta-Integrations"
        assert headers["x-hook-auth"] == HOOK_SECRET
        challenges.append(headers["x-okta-verification-challenge"])
    assert len(set(challenges)) == 2 and all(len(c) >= 20 for c in challenges), "random per run"


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (
            lambda challenge: '{"verification": "a-value-the-endpoint-made-up"}',
            "a-value-the-endpoint-made-up",
        ),
        (lambda challenge: f'{{"challenge": "{challenge}"}}', '"challenge"'),
        (lambda challenge: challenge, "got "),
        (lambda challenge: "", "an empty body"),
    ],
)
def test_a_wrong_body_fails(
    body: Callable[[str], str],
    shown: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OKTA_HOOK_SECRET", HOOK_SECRET)
    with serve_handler(echo(body)) as url:
        code, out = run(url, capsys)
    assert code == 1
    assert 'the body must be {"verification": "<challenge sent>"}' in out
    assert shown in out


def test_a_correct_but_slow_answer_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_HOOK_SECRET", HOOK_SECRET)
    monkeypatch.setattr(verify_hook, "OKTA_TIMEOUT_SECONDS", 0.05)  # Okta's 3 s, scaled down
    handler = echo(lambda challenge: f'{{"verification": "{challenge}"}}')
    with serve_handler(handler, delay=0.2) as url:
        code, out = run(url, capsys)
    assert code == 1
    assert "correct answer, but after" in out and "Okta waits" in out


def test_no_answer_within_the_timeout(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_HOOK_SECRET", HOOK_SECRET)
    with serve_handler(echo(lambda challenge: ""), delay=0.5) as url:
        code, out = run(url, capsys, "--timeout", "0.1")
    assert code == 1
    assert "no answer within 0.1 s" in out and "Okta gives up after 3 s" in out


def test_a_missing_secret_variable_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OKTA_HOOK_SECRET", raising=False)
    code = main(["verify-hook", "--url", "http://127.0.0.1:9/okta/events"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "environment variable OKTA_HOOK_SECRET is not set" in captured.err


def test_an_answered_verification_is_counted_and_raises_no_warning(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Okta's Verify is a request with no event to count: without a metric of its own,
    Powertools warns on every one that it had nothing to publish."""
    ingest = load_function("ingest", aws.env("IngestFunction"), monkeypatch)
    event = apigw_event("GET", headers={"Authorization": HOOK_SECRET, "X-Okta-Verification-Challenge": "c-1"})
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")  # whatever the test configuration filters
        response = ingest.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 200
    assert [str(w.message) for w in caught] == []
    assert emf_metrics(printed.getvalue()) == {"HookVerifications": 1}
