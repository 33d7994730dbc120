"""docs/contracts.md and docs/sources.md: held to the code they describe.

A contract written down once and checked nowhere drifts from the code the first time
either changes. So the environment table is compared, cell by cell, with the settings
models and template.yaml; the status table with ``desired_account``; the local stack's
variables with ``STACK_ENVIRONMENT``; and the list of sources with the tags the code cites.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tvsync.core.desired_state import Presence, SyncConfig, desired_account
from tvsync.local.stack import STACK_ENVIRONMENT
from tvsync.models.okta import AppAssignmentStatus, OktaAppUser, OktaUser, OktaUserStatus
from tvsync.settings import FUNCTION_SETTINGS, POWERTOOLS_GLOBALS, function_variables

THIS_FILE = Path(__file__).resolve()
CONTRACTS = ROOT / "docs" / "contracts.md"
SOURCES = ROOT / "docs" / "sources.md"
#: A source tag as the code cites it: ``[SCIM]``, ``[OKTA-KB]`` (never a regex class: ``[A-Z]``).
TAG = re.compile(r"\[([A-Z][A-Z0-9]+(?:-[A-Z0-9]{2,})*)\]")
#: Where tags are cited: Python comments and strings (never code: ``[ALICE]`` is a list),
#: and these texts.
CITING_CODE = ("shared", "functions", "bench", "tests")
CITING_TEXTS = ("README.md", "events/README.md", "template.yaml")


def texts() -> list[Path]:
    """The repository's prose outside Python: the READMEs, the template, docs/ but sources.md."""
    docs = [path for path in sorted((ROOT / "docs").glob("*.md")) if path != SOURCES]
    return [*(ROOT / name for name in CITING_TEXTS), *docs]


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


def code(text: str) -> str:
    """``text`` as the docs quote a name or value: in backticks."""
    return f"`{text}`"


# ---------------------------------------------------------------------------- environment


def _default(name: str) -> str:
    shown = set()
    for model in FUNCTION_SETTINGS.values():
        field = model.model_fields.get(name)
        if field is None:
            continue
        if field.is_required():
            shown.add("required")
        elif field.default is None:
            shown.add("unset")
        elif isinstance(field.default, bool):
            shown.add(code(str(field.default).lower()))
        elif isinstance(field.default, str):
            shown.add(code(field.default))
        else:
            shown.add(str(field.default))
    assert len(shown) == 1, f"{name} has different defaults in different functions: {shown}"
    return shown.pop()


def _template_value(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return code(value["Ref"])
    assert isinstance(value, str), value
    return code(value)


def expected_environment_rows(template: dict[str, Any]) -> list[list[str]]:
    """The environment table's rows, but for the last column, from the models and the template."""
    rows = []
    for name in function_variables():
        readers = ["✓" if name in model.model_fields else "" for model in FUNCTION_SETTINGS.values()]
        sources = {
            _template_value(
                template["Resources"][function_id]["Properties"]["Environment"]["Variables"][name]
            )
            for function_id, model in FUNCTION_SETTINGS.items()
            if name in model.template_variables()
        }
        assert len(sources) <= 1, f"the template sets {name} differently for different functions: {sources}"
        rows.append([code(name), *readers, sources.pop() if sources else "no (override)", _default(name)])
    globals_env = template["Globals"]["Function"]["Environment"]["Variables"]
    for name in POWERTOOLS_GLOBALS:
        every = ["✓"] * len(FUNCTION_SETTINGS)
        rows.append([code(name), *every, f"{_template_value(globals_env[name])} (Globals)", "—"])
    return rows


def test_the_environment_table_is_the_settings_models_and_the_template(template: dict[str, Any]) -> None:
    rows = table_rows(CONTRACTS, "Environment")
    expected = expected_environment_rows(template)
    documented = [row[:-1] for row in rows]
    assert documented == expected, "docs/contracts.md#environment should read:\n" + "\n".join(
        "| " + " | ".join(row) + " | … |" for row in expected
    )
    assert all(row[-1] for row in rows), "every variable says what it means"


def test_the_environment_table_names_the_functions_in_order() -> None:
    names = cells(table_lines(CONTRACTS, "Environment")[0])[1 : 1 + len(FUNCTION_SETTINGS)]
    assert [f"{name}Function" for name in names] == list(FUNCTION_SETTINGS)


def test_the_local_stack_variables_are_the_ones_serve_reads() -> None:
    text = section(CONTRACTS, "Local stack")
    own = {row[0] for row in table_rows(CONTRACTS, "Local stack")}
    passed_on = set(re.findall(r"`([A-Z_]+)`", text.split("|", 1)[0]))
    functions = set(function_variables())
    assert passed_on == {name for name in STACK_ENVIRONMENT.values() if name in functions}
    assert own == {code(name) for name in STACK_ENVIRONMENT.values() if name not in functions}


# ---------------------------------------------------------------------------- status table

#: How the table says each presence.
PRESENCE = {
    "active, name and email as in Okta": Presence.ACTIVE,
    "deactivated if it exists": Presence.INACTIVE,
    "left alone": Presence.UNMANAGED,
}
APP_ID = "0oa1teamviewer"


def _user(status: str) -> OktaUser | None:
    if status == "deleted (Okta answers 404)":
        return None
    profile = {
        "login": "jane@example.com",
        "email": "jane@example.com",
        "firstName": "Jane",
        "lastName": "Doe",
    }
    return OktaUser.model_validate({"id": "00u1", "status": status.strip("`"), "profile": profile})


def _status_rows() -> list[list[str]]:
    """(status, assigned, not assigned) per row of the status table."""
    return table_rows(CONTRACTS, "Okta status → TeamViewer account")


def test_the_status_table_covers_every_okta_status() -> None:
    listed = [status for status, _, _ in _status_rows()]
    assert sorted(listed) == sorted([*(code(s) for s in OktaUserStatus), "deleted (Okta answers 404)"])


@pytest.mark.parametrize(("status", "assigned", "unassigned"), _status_rows())
def test_each_row_of_the_status_table_is_what_the_worker_does(
    status: str, assigned: str, unassigned: str
) -> None:
    user = _user(status)
    assignment = OktaAppUser(id="00u1", status=AppAssignmentStatus.ACTIVE)
    with_app = SyncConfig(app_id=APP_ID)
    assert desired_account(user, assignment, with_app).presence is PRESENCE[assigned]
    assert desired_account(user, assignment, SyncConfig()).presence is PRESENCE[assigned], "no app: assigned"
    assert desired_account(user, None, with_app).presence is PRESENCE[unassigned]


def test_the_assignment_statuses_that_count_as_unassigned_are_the_ones_listed() -> None:
    text = section(CONTRACTS, "Okta status → TeamViewer account")
    paragraph = text[text.index("An app assignment whose status") :]
    listed = set(re.findall(r"`([A-Z_]+)`", paragraph.split("counts as not assigned", 1)[0]))
    user = _user("`ACTIVE`")
    unassigned = {
        status.value
        for status in AppAssignmentStatus
        if desired_account(user, OktaAppUser(id="00u1", status=status), SyncConfig(app_id=APP_ID)).presence
        is Presence.INACTIVE
    }
    assert listed == unassigned
    added_later = OktaAppUser(id="00u1", status="SOMETHING_NEW")
    assert desired_account(user, added_later, SyncConfig(app_id=APP_ID)).presence is Presence.INACTIVE


# ---------------------------------------------------------------------------- logical ids


def contract_logical_ids() -> set[str]:
    """The logical ids docs/contracts.md promises template.yaml keeps."""
    return {row[0].strip("`") for row in table_rows(CONTRACTS, "Template logical ids")}


def test_the_contract_names_every_function_and_secret(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    secrets = {rid for rid, r in resources.items() if r["Type"] == "AWS::SecretsManager::Secret"}
    assert set(FUNCTION_SETTINGS) | secrets <= contract_logical_ids()
    documented_secrets = {row[0].strip("`") for row in table_rows(CONTRACTS, "Secrets")}
    assert documented_secrets == secrets
    for row in table_rows(CONTRACTS, "Secrets"):
        placeholder = resources[row[0].strip("`")]["Properties"].get("SecretString")
        if placeholder is not None:
            assert code(placeholder) in row[2], "the placeholder the stack stores"


# ---------------------------------------------------------------------------- sources


def _cited_in(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return set(TAG.findall(text))
    cited: set[str] = set()
    middle = getattr(tokenize, "FSTRING_MIDDLE", None)  # Python 3.12+ splits f-strings
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in (tokenize.COMMENT, tokenize.STRING, middle):
            cited.update(TAG.findall(token.string))
    return cited


def cited_tags() -> dict[str, set[str]]:
    """Each tag the repository cites, with the files citing it (docs/sources.md and this file aside)."""
    files = [path for top in CITING_CODE for path in (ROOT / top).rglob("*.py") if path != THIS_FILE]
    files += texts()
    found: dict[str, set[str]] = {}
    for path in files:
        for tag in _cited_in(path):
            found.setdefault(tag, set()).add(str(path.relative_to(ROOT)))
    return found


def documented_tags() -> dict[str, list[str]]:
    """Each tag docs/sources.md explains, with the addresses it gives."""
    documented = {}
    for heading in ("TeamViewer", "Okta"):
        for tag, what, where in table_rows(SOURCES, heading):
            assert what, f"{tag} says what the source is"
            documented[tag.strip("`[]")] = re.findall(r"<(https://[^>]+)>", where)
    return documented


def test_every_cited_source_tag_is_explained_and_every_explained_tag_is_cited() -> None:
    cited, documented = cited_tags(), documented_tags()
    undocumented = {tag: sorted(files) for tag, files in cited.items() if tag not in documented}
    assert undocumented == {}, "add these tags to docs/sources.md"
    assert set(documented) - set(cited) == set(), "docs/sources.md explains tags nothing cites"


def test_every_source_has_a_public_address() -> None:
    for tag, addresses in documented_tags().items():
        assert addresses, f"{tag} has no https address"


def test_the_code_and_docs_cite_no_file_outside_the_repository() -> None:
    """Docstrings once pointed at notes that never shipped: a design document, research notes."""
    stale = re.compile(r"DESIGN\.md|reference/[a-z-]+\.md")
    files = [path for top in ("shared", "functions", "bench") for path in (ROOT / top).rglob("*.py")]
    files += [*texts(), SOURCES]
    offenders = [str(p.relative_to(ROOT)) for p in files if stale.search(p.read_text(encoding="utf-8"))]
    assert offenders == [], offenders
