"""Observability conventions shared by every function.

Powertools reads service name, namespace and log level from the environment the template
sets (``POWERTOOLS_*``); what the product adds is that emails are masked before they
reach a log line (DESIGN: "Emails are masked in logs unless explicitly enabled").
"""

from __future__ import annotations

import re
from typing import Final

SERVICE: Final = "okta-teamviewer-sync"
NAMESPACE: Final = "OktaTeamViewerSync"

_EMAIL = re.compile(r"^(?P<first>[^@])[^@]*@(?P<domain>.+)$")


def mask_email(email: str | None) -> str | None:
    """``jane.doe@example.com`` -> ``j***@example.com``: enough to tell users apart in logs."""
    if email is None:
        return None
    match = _EMAIL.match(email)
    if match is None:
        return "***"
    return f"{match['first']}***@{match['domain']}"
