"""docs/contracts.md, docs/sources.md and docs/architecture.md: held to the code they describe.

A contract written down once and checked nowhere drifts from the code the first time
either changes. So the environment table is compared, cell by cell, with the settings
models and template.yaml; the status table with ``desired_account``; the local stack's
variables with ``STACK_ENVIRONMENT``; the list of sources with the tags the code cites; and
the architecture document's paths, modules and layer rules with the tree, and its answer to
"what happens to a suspended user" with what the core answers.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.support.markdown import CONTRACTS, cells, contract_logical_ids, section, table_lines, table_rows
from tvsync.core.desired_state import DesiredReason, Presence, SyncConfig, desired_account
from tvsync.core.drift import DriftCategory, DriftDetector, DriftItem, DriftReason
from tvsync.core.event_selection import GROUP_EVENT_TYPES, PROVISIONING_EVENT_TYPES
from tvsync.core.lookup import LookUp, RereadMapped, TrustStored, account_source
from tvsync.core.outcome import Outcome
from tvsync.core.plan import (
    Need,
    Operation,
    Plan,
    PlannedUpdate,
    PlanReason,
    plan_changes,
    plan_sync,
    to_update,
)
from tvsync.core.record import (
    Recorded,
    SyncEnd,
    SyncStart,
    end_after_writes,
    end_without_writes,
    record_sync,
)
from tvsync.local.stack import STACK_ENVIRONMENT
from tvsync.models.okta import AppAssignmentStatus, OktaAppUser, OktaUser, OktaUserStatus
from tvsync.models.sync_request import SyncRequest
from tvsync.models.sync_state import SyncState
from tvsync.models.teamviewer import TeamViewerAccount
from tvsync.settings import FUNCTION_SETTINGS, POWERTOOLS_GLOBALS, function_variables

THIS_FILE = Path(__file__).resolve()
SOURCES = ROOT / "docs" / "sources.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "shared" / "tvsync"
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


def test_the_readme_subscribes_the_hook_to_every_event_type_the_ingest_acts_on() -> None:
    """Okta sends only what the hook subscribes to: an event type missing from the README's
    list is a change the product never hears of, one too many a delivery for nothing."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("**Subscribe to events**")
    listed = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", readme[start : readme.index("\n3. ", start)]))
    assert listed == PROVISIONING_EVENT_TYPES | GROUP_EVENT_TYPES


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
    files = [path for top in CITING_CODE for path in (ROOT / top).rglob("*.py") if path != THIS_FILE]
    files += [*texts(), SOURCES]
    offenders = [str(p.relative_to(ROOT)) for p in files if stale.search(p.read_text(encoding="utf-8"))]
    assert offenders == [], offenders


# ---------------------------------------------------------------------------- architecture

#: A code span that names a file or directory: a path with a slash, or a file name.
PATH_LIKE = re.compile(r"^(?:[\w.*-]+/)+[\w.*-]*$|^[\w-]+\.(?:py|md|yaml|toml|txt|json)$|^Makefile$")
#: A code span that names a module of the package, or a name in one.
MODULE_LIKE = re.compile(r"^tvsync(?:\.\w+)+$")


def _prose(path: Path) -> str:
    """The markdown without its fenced blocks (diagrams name boxes, not files)."""
    return re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)


def _code_spans(path: Path) -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", _prose(path)))


def _resolves(name: str) -> bool:
    """A path as docs/architecture.md uses them: from the repository root, or inside the package."""
    for base in (ROOT, PACKAGE):
        if "*" in name:
            if any(base.glob(name.rstrip("/"))):
                return True
        elif (base / name).exists():
            return True
    return False


def test_every_path_the_architecture_doc_names_exists() -> None:
    named = {span for span in _code_spans(ARCHITECTURE) if PATH_LIKE.match(span)}
    assert len(named) > 40, "the path pattern must find the paths"
    assert sorted(name for name in named if not _resolves(name)) == []


def _module_file(parts: list[str]) -> Path | None:
    base = ROOT / "shared" / Path(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_every_module_the_architecture_doc_names_exists() -> None:
    """``tvsync.wiring.worker`` is a module; ``tvsync.wiring.reconcile.build_reconciler`` a name in one."""
    named = sorted(span for span in _code_spans(ARCHITECTURE) if MODULE_LIKE.match(span))
    assert named, "the module pattern must find the modules"
    missing = []
    for name in named:
        parts = name.split(".")
        module = _module_file(parts)
        if module is None:
            parent = _module_file(parts[:-1])
            if parent is None or parts[-1] not in _top_level_names(parent):
                missing.append(name)
    assert missing == []


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a markdown file, and its explicit ``<a id>`` ones."""
    text = _prose(path)
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    for heading in re.findall(r"^#+ (.+)$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower())
        anchors.add(slug.replace(" ", "-"))
    return anchors


def test_every_link_of_the_architecture_doc_leads_somewhere() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", _prose(ARCHITECTURE))
    assert links, "the link pattern must find the links"
    broken = []
    for link in links:
        target, _, anchor = link.partition("#")
        path = (ARCHITECTURE.parent / target).resolve() if target else ARCHITECTURE
        if not path.exists() or (anchor and anchor not in _anchors(path)):
            broken.append(link)
    assert broken == []


def test_the_architecture_doc_places_every_core_and_services_module() -> None:
    """A new decision module must be found from the document, or nobody knows it decides."""
    named = _code_spans(ARCHITECTURE)
    for layer in ("core", "services"):
        for module in sorted((PACKAGE / layer).glob("*.py")):
            if module.name != "__init__.py":
                assert f"{layer}/{module.name}" in named, (
                    f"docs/architecture.md never names {layer}/{module.name}"
                )


#: What each layer may import from the package, as docs/architecture.md#the-layers says;
#: a dotted entry allows that module only. ``cli`` may import anything.
LAYER_IMPORTS: dict[str, set[str]] = {
    "models": {"models", "observability"},
    "core": {"core", "models"},
    "adapters": {"adapters", "models", "observability"},
    "services": {
        "services",
        "core",
        "models",
        "observability",
        "adapters.errors",
        "adapters.secrets",
        "adapters.event_queue",
    },
    "wiring": {"wiring", "services", "core", "models", "adapters", "settings", "observability"},
    "emulators": {"emulators", "models"},
    "local": {"local", "emulators", "core", "models", "settings", "observability"},
    "functions": {"wiring", "observability"},
}


def _package_imports(path: Path) -> set[str]:
    """The ``tvsync`` modules a file imports, without the ``tvsync.`` prefix."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "tvsync":
            names = [f"tvsync.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name.removeprefix("tvsync.") for name in names if name.startswith("tvsync."))
    return found


def _allowed(module: str, rules: set[str]) -> bool:
    return any(module == rule or module.startswith(f"{rule}.") for rule in rules)


@pytest.mark.parametrize("layer", sorted(LAYER_IMPORTS))
def test_each_layer_imports_only_what_the_architecture_doc_allows(layer: str) -> None:
    files = (
        sorted((ROOT / "functions").glob("*/app.py"))
        if layer == "functions"
        else sorted((PACKAGE / layer).rglob("*.py"))
    )
    assert files
    offenders = {
        f"{path.relative_to(ROOT)} imports tvsync.{module}"
        for path in files
        for module in _package_imports(path)
        if not _allowed(module, LAYER_IMPORTS[layer])
    }
    assert sorted(offenders) == []


# ---------------------------------------------------------------------------- a suspended user

NOW = datetime(2025, 1, 1, tzinfo=UTC)
JANE = "jane@example.com"


def _suspended(status: str = "SUSPENDED") -> OktaUser:
    profile = {"login": JANE, "email": JANE, "firstName": "Jane", "lastName": "Doe"}
    return OktaUser.model_validate({"id": "00u1", "status": status, "profile": profile})


def _mapped(account: TeamViewerAccount) -> SyncState:
    record = SyncState(okta_user_id="00u1", email=JANE, last_outcome="applied", updated_at=NOW)
    return record.with_account(account)


def _drift(config: SyncConfig, token_owner_id: str, *users: OktaUser) -> dict[str | None, DriftItem]:
    """The reconciler's verdict on one active account ``u1`` (Jane's) and ``users``."""
    detector = DriftDetector(config=config, token_owner_id=token_owner_id)
    detector.add_accounts([TeamViewerAccount(id="u1", email=JANE, name="Jane Doe", active=True)])
    observed = [detector.observe(user, None) for user in users]
    items = [*(item for item in observed if item is not None), *detector.finish(deactivate_orphans=False)]
    return {item.okta_user_id: item for item in items}


def suspended_user_answers() -> dict[str, bool]:
    """Each value the walkthrough quotes, and whether the core answers it where the walkthrough says."""
    app = SyncConfig(app_id=APP_ID)
    desired = desired_account(_suspended(), OktaAppUser(id="00u1", status=AppAssignmentStatus.ACTIVE), app)
    account = TeamViewerAccount(id="u1", email=JANE, name="Jane Doe", active=True)
    inactive = account.model_copy(update={"active": False})
    unknown = account.model_copy(update={"active": None})

    def plan(current: TeamViewerAccount | None, owner: str = "u0") -> Plan:
        return plan_changes(desired, current, token_owner_id=owner)

    revoke = plan(account)
    request = SyncRequest(
        okta_user_id="00u1", event_uuid="e1", event_type="user.lifecycle.suspend", published=NOW
    )

    def recorded(previous: SyncState | None, end: SyncEnd | None, *, dry_run: bool = False) -> Recorded:
        assert end is not None
        return record_sync(SyncStart(request, previous, desired), end, dry_run=dry_run, now=NOW)

    deactivated = end_after_writes(inactive, revoke.operations, revoke.reason, email_refused=False)
    nothing_to_do = end_without_writes(plan(inactive), inactive, forget=False, dry_run=False)
    planned = end_without_writes(revoke, account, forget=False, dry_run=True)
    applied = recorded(_mapped(account), deactivated)
    unchanged = recorded(_mapped(inactive), nothing_to_do)
    adopted_and_deactivated = recorded(None, deactivated)
    adopted_as_it_was = recorded(None, nothing_to_do)
    dry_run = recorded(_mapped(account), planned, dry_run=True)

    rehired = OktaUser.model_validate({**_suspended("ACTIVE").model_dump(by_alias=True), "id": "00u2"})
    drifted = _drift(app, "u0", _suspended())["00u1"]
    superseded = _drift(SyncConfig(), "u0", _suspended(), rehired)["00u1"]
    owner_revoked = _drift(app, "u1", _suspended())["00u1"]
    unsuspended = desired_account(_suspended("ACTIVE"), None, SyncConfig())

    return {
        # 1. the event
        "user.lifecycle.suspend": "user.lifecycle.suspend" in PROVISIONING_EVENT_TYPES,
        # 2. what the account should be: inactive, email kept, no name, whatever the assignment
        "Presence.INACTIVE": (desired.presence, desired.email, desired.name)
        == (Presence.INACTIVE, JANE, None),
        "DesiredReason.SUSPENDED": desired.reason is DesiredReason.SUSPENDED,
        "okta-status:SUSPENDED": desired.reason == "okta-status:SUSPENDED",
        # 3. which account
        "TrustStored": isinstance(
            account_source(desired, _mapped(account), refresh=False, dry_run=False), TrustStored
        ),
        "RereadMapped": isinstance(
            account_source(desired, _mapped(account), refresh=True, dry_run=False), RereadMapped
        ),
        "LookUp": account_source(desired, None, refresh=False, dry_run=False) == LookUp(JANE, scan=True),
        # 4. the plan
        "Need.TOKEN_OWNER": plan_sync(desired, account, token_owner_id=None) is Need.TOKEN_OWNER,
        "no-account": plan(None).reason is PlanReason.NO_ACCOUNT,
        "already-inactive": plan(inactive).reason is PlanReason.ALREADY_INACTIVE,
        "token-owner-protected": plan(account, owner="u1").reason is PlanReason.TOKEN_OWNER_PROTECTED,
        "deactivate": revoke.operations == plan(unknown).operations == (Operation.DEACTIVATE,)
        and to_update(revoke) == PlannedUpdate(active=False, name=None, email=None),
        "account-revoked": revoke.reason is PlanReason.DEACTIVATE,
        # 5. what is recorded
        "applied": (applied.outcome, applied.reason, applied.state.last_operations)
        == (Outcome.APPLIED, PlanReason.DEACTIVATE, ["deactivate"])
        and (applied.state.teamviewer_active, applied.state.last_applied_at) == (False, NOW),
        "no-change": (unchanged.outcome, unchanged.reason)
        == (Outcome.NO_CHANGE, PlanReason.ALREADY_INACTIVE),
        "account-adopted": (adopted_and_deactivated.outcome, adopted_and_deactivated.reason)
        == (Outcome.APPLIED, PlanReason.ADOPTED),
        "adopted": (adopted_as_it_was.outcome, adopted_as_it_was.reason)
        == (Outcome.ADOPTED, PlanReason.ADOPTED),
        "dry-run": (dry_run.outcome, dry_run.state.last_operations, dry_run.state.last_applied_at)
        == (Outcome.DRY_RUN, ["deactivate"], None),
        # 6. in the reconciler
        "to_deactivate": (drifted.category, drifted.enqueue) == (DriftCategory.TO_DEACTIVATE, True),
        "account-claimed-by-entitled-user": (superseded.category, superseded.reason)
        == (DriftCategory.IN_SYNC, DriftReason.SUPERSEDED),
        "conflict": (owner_revoked.category, owner_revoked.enqueue) == (DriftCategory.CONFLICT, False),
        # unsuspended
        "Presence.ACTIVE": unsuspended.presence is Presence.ACTIVE,
        "activate": plan_changes(unsuspended, inactive, token_owner_id="u0").operations
        == (Operation.ACTIVATE,),
    }


def test_the_suspended_user_walkthrough_is_what_the_core_answers() -> None:
    """Each value the walkthrough quotes is quoted there, and is what the core returns."""
    quoted = set(re.findall(r"`([^`\n]+)`", section(ARCHITECTURE, "What happens to a suspended user")))
    answers = suspended_user_answers()
    assert sorted(word for word in answers if word not in quoted) == [], "the walkthrough should quote these"
    assert sorted(word for word, holds in answers.items() if not holds) == [], "the core answers otherwise"
