"""Observability conventions shared by every function: emails never leave the process unmasked.

Powertools reads service name, namespace and log level from the environment the template
sets (``POWERTOOLS_*``); what the product adds is that emails are masked before they reach
anything an operator reads or stores — log lines, SyncStateTable's ``last_reason``, the
CLI's tables — because logs end up in tickets, chat and third-party log stores.

There is one masking function for a known address (``mask_email``) and one for free text
(``mask_emails``), and everything else calls them: the worker's reasons and tracebacks, the
state record's validator, the CLI, and the functions' loggers (``masking_json_serializer``
masks every string of every log record, so a field nobody thought about cannot leak).

Free text is where addresses hide in odd shapes, so ``mask_emails`` finds, besides the
plain ``jane.doe@example.com``:

- local parts with any RFC 5322 ``atext`` character, ``o'neil@…`` and ``a+b@…`` included
  (a mask that stopped at the apostrophe would print ``o'n***``);
- quoted local parts, ``"john doe"@example.com``, also with JSON-escaped quotes;
- the ``@`` written as ``%40`` (a URL's query: ``filter=userName%20eq%20%22jane%40…``) or
  as ``\\u0040`` (JSON with ``ensure_ascii``), and percent-escapes inside the local part.

Masking is idempotent (``j***@example.com`` masks to itself), so text may pass through it
more than once on its way out.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from aws_lambda_powertools import Logger

SERVICE: Final = "okta-teamviewer-sync"
NAMESPACE: Final = "OktaTeamViewerSync"

#: What stands for the whole local part once masked (after its first character).
MASK: Final = "***"

# RFC 5322 atext minus the characters that delimit values in URLs and logs (``=``, ``?``,
# ``&``, ``/``): an address with one of those is rare, and stopping there keeps the field
# name beside it readable (``email=j***@…``). A percent-escape counts as one character,
# except the ones that encode a delimiter (space, quote, ``<``, ``>``, ``@``, ``,``).
_ATEXT: Final = r"[\w!#$'*+^`{|}~.-]"
_PERCENT: Final = r"%(?!2[02Cc]|3[CEce]|40)[0-9A-Fa-f]{2}"
# Not starting with an apostrophe: that is a quote around the address (Python's repr).
_UNQUOTED: Final = rf"(?!')(?:{_ATEXT}|{_PERCENT})+"
_QUOTED: Final = r'\\?"(?:[^"\\\r\n]|\\[^"\r\n])+\\?"'
_AT: Final = r"(?:@|%40|\\u0040)"
_DOMAIN: Final = r"(?:\[[0-9A-Fa-f:.]+\]|[\w-]+(?:\.[\w-]+)*)"
# A local part never starts inside a percent-escape (``%22jane%40…`` masks ``jane``).
_EMAIL_IN_TEXT: Final = re.compile(
    rf"(?<!%)(?<!%[0-9A-Fa-f])(?P<local>{_QUOTED}|{_UNQUOTED})(?P<at>{_AT})(?P<domain>{_DOMAIN})"
)
_WHOLE_EMAIL: Final = re.compile(r"^(?P<local>.+)@(?P<domain>[^@]+)$", re.DOTALL)


def mask_email(email: str | None) -> str | None:
    """``jane.doe@example.com`` -> ``j***@example.com``: enough to tell users apart in logs.

    The domain stays (it says which directory or company an account belongs to); of the
    local part only its first character does. Anything that is not an address at all is
    masked whole, since it may be a mistyped one.
    """
    if email is None:
        return None
    match = _WHOLE_EMAIL.match(email)
    if match is None:
        return MASK
    return f"{_masked_local(match['local'])}@{match['domain']}"


def mask_emails(text: str) -> str:
    """``text`` with every address in it masked as ``mask_email`` masks one (see the module doc)."""
    if "@" not in text and "%40" not in text and "\\u0040" not in text:
        return text  # the common case, without running the expression
    return _EMAIL_IN_TEXT.sub(_mask_match, text)


def mask_value(value: Any) -> Any:
    """``value`` with ``mask_emails`` applied to every string inside it (dicts, lists, tuples)."""
    if isinstance(value, str):
        return mask_emails(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item) for item in value]
    return value


def masking_json_serializer(record: dict[str, Any]) -> str:
    """A Powertools ``Logger(json_serializer=...)``: every string of the record masked, then JSON.

    Serialised as Powertools' default serialiser does (``default=str``, compact, non-ASCII
    kept), so log consumers see the same shape.
    """
    return json.dumps(mask_value(record), default=_masked_str, separators=(",", ":"), ensure_ascii=False)


def function_logger() -> Logger:
    """The logger every Lambda function uses: Powertools' JSON lines, UTC, emails masked."""
    return Logger(utc=True, json_serializer=masking_json_serializer)


def _masked_str(value: object) -> str:
    # Objects JSON cannot encode (exceptions, datetimes) are logged as their text: mask it too.
    return mask_emails(str(value))


def _mask_match(match: re.Match[str]) -> str:
    return f"{_masked_local(match['local'])}{match['at']}{match['domain']}"


def _masked_local(local: str) -> str:
    """First character (a quote stays a quote) and the mask; already-masked parts stay as they are."""
    first = '\\"' if local.startswith('\\"') else local[0]
    if local in {MASK, f"{first}{MASK}"}:
        return local
    return f"{first}{MASK}"
