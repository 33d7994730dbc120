"""Walking an Okta list the way a client does: follow ``Link: <…>; rel="next"`` to the end."""

from __future__ import annotations

from typing import Any

import httpx


def walk(http: httpx.Client, url: str) -> tuple[list[dict[str, Any]], list[httpx.Response]]:
    """Every item of the list at ``url``, and each page's response (each must be a 200)."""
    items: list[dict[str, Any]] = []
    responses: list[httpx.Response] = []
    next_url: str | None = url
    while next_url is not None:
        response = http.get(next_url)
        assert response.status_code == 200, response.text
        responses.append(response)
        items.extend(response.json())
        next_url = response.links.get("next", {}).get("url")
    return items, responses
