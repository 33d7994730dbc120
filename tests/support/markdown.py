"""Reading the tables of the project's markdown docs, for tests that hold docs and code together."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "docs" / "contracts.md"


def section(path: Path, heading: str) -> str:
    """The text under a markdown heading (any level), up to the next heading of that level or above."""
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.MULTILINE)
    assert match is not None, f"{path.name} has no heading {heading!r}"
    level = len(match[1])
    end = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(text, match.end())
    return text[match.end() : end.start() if end else len(text)]


def table_lines(path: Path, heading: str) -> list[str]:
    """The lines of the first table under ``heading``: header, rule and body."""
    lines: list[str] = []
    for line in section(path, heading).splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    assert len(lines) > 2, f"no table under {heading!r} in {path.name}"
    return lines


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_rows(path: Path, heading: str) -> list[list[str]]:
    """The body rows of the first table under ``heading``, each a list of stripped cells."""
    return [cells(line) for line in table_lines(path, heading)[2:]]


def contract_logical_ids() -> set[str]:
    """The logical ids docs/contracts.md promises template.yaml keeps."""
    return {row[0].strip("`") for row in table_rows(CONTRACTS, "Template logical ids")}
