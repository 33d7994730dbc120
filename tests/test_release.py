"""What a release is made of agrees with itself: one version, the publishing metadata, CI and hooks.

The version lives in ``tvsync.__version__``; pyproject.toml reads it (setuptools ``attr``), and
``tvsync --version`` prints it. Two places cannot read it and repeat it instead: template.yaml's
``AWS::ServerlessRepo::Application`` metadata (the Serverless Application Repository takes
literal values only) and CHANGELOG.md's newest release. These tests are what keeps them equal.

The CI workflow, Dependabot and pre-commit files cannot run here; they are parsed, and every
``make`` target they name is asked of the Makefile. ``make package`` runs for real, with a
``PATH`` that holds nothing or a stand-in ``sam`` that only records how it was called: it
must refuse, naming ``S3_BUCKET``, before anything is built or uploaded.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

import tvsync
from tests.conftest import ROOT
from tvsync.cli.main import main

PROJECT = "okta-teamviewer-sync"
CHANGELOG = ROOT / "CHANGELOG.md"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
PRE_COMMIT = ROOT / ".pre-commit-config.yaml"
#: semver.org's own expression for a version, without the leading ``v``.
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
#: A Keep a Changelog heading: ``## [Unreleased]`` or ``## [1.2.3] - 2026-11-30``.
CHANGELOG_HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.MULTILINE)
#: The resource types template.yaml declares, each found on the Serverless Application
#: Repository's list of supported resources
#: (https://docs.aws.amazon.com/serverlessrepo/latest/devguide/list-supported-resources.html)
#: before it was added here. The repository refuses to publish a version whose template holds
#: another type ("The template contains unsupported resource types").
SAR_CHECKED_TYPES = frozenset(
    {
        "AWS::ApiGateway::Account",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::DynamoDB::Table",
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
        "AWS::SNS::Subscription",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::Serverless::Api",
        "AWS::Serverless::Function",
        "AWS::Serverless::LayerVersion",
        # Not on the list's last public source copy (2023); README "Deploy from the AWS
        # Serverless Application Repository" says to confirm it before the first publish.
        "AWS::SecretsManager::Secret",
    }
)


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _sar(template: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = template["Metadata"]["AWS::ServerlessRepo::Application"]
    return metadata


def _changelog_releases() -> list[tuple[str, str | None]]:
    """Every ``## [name] - date`` heading of CHANGELOG.md, newest first, as the file orders them."""
    text = CHANGELOG.read_text(encoding="utf-8")
    return [(m["name"], m["date"]) for m in CHANGELOG_HEADING.finditer(text)]


def _yaml(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path.name} is not a YAML mapping"
    return document


def _make_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without what a calling make passes down, nor S3_BUCKET.

    Under ``make test`` the parent's flags (``MAKEFLAGS``: ``-n``, ``-k``, a jobserver) would
    otherwise change what the Makefile under test does.
    """
    inherited = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "S3_BUCKET"}
    environment = {key: value for key, value in os.environ.items() if key not in inherited}
    return environment | overrides


def _make() -> str:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    return make


# ---------------------------------------------------------------------------- one version


def test_the_version_is_a_semantic_version_defined_once() -> None:
    assert SEMVER.fullmatch(tvsync.__version__), tvsync.__version__
    project = _pyproject()["project"]
    assert "version" not in project, "pyproject.toml must read the version, not repeat it"
    assert "version" in project["dynamic"]
    dynamic = _pyproject()["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "tvsync.__version__"}


def test_tvsync_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"tvsync {tvsync.__version__}"


def test_the_installed_distribution_carries_the_version() -> None:
    """An editable install's metadata is written when it is installed; make reinstalls on a bump."""
    try:
        installed = importlib.metadata.version(PROJECT)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{PROJECT} is not installed (make venv installs it)")
    assert installed == tvsync.__version__, "run make venv to reinstall the project"


def test_the_serverless_repository_publishes_the_version(template: dict[str, Any]) -> None:
    assert _sar(template)["SemanticVersion"] == tvsync.__version__


def test_the_changelog_newest_release_is_the_version() -> None:
    releases = _changelog_releases()
    assert releases, "CHANGELOG.md has no ## [version] - date heading"
    if releases[0][0] == "Unreleased":
        assert releases[0][1] is None, "Unreleased carries no date"
        releases = releases[1:]
    assert all(date is not None and SEMVER.fullmatch(name) for name, date in releases), releases
    assert releases[0][0] == tvsync.__version__
    dates = [date for _name, date in releases if date is not None]
    assert dates == sorted(dates, reverse=True), "newest release first"


def test_the_changelog_links_every_heading_to_the_source_repository() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    source = _pyproject()["project"]["urls"]["Source"]
    links = dict(re.findall(r"^\[([^\]]+)\]: (\S+)$", text, re.MULTILINE))
    for name, _date in _changelog_releases():
        assert name in links, f"[{name}] has no link definition"
        assert links[name].startswith(f"{source}/"), links[name]
    assert links["Unreleased"] == f"{source}/compare/v{tvsync.__version__}...HEAD"


# ---------------------------------------------------------------------------- publishing


def test_the_serverless_repository_metadata_is_complete_and_literal(template: dict[str, Any]) -> None:
    """SAR's rules (AWS SAM "Metadata section properties"): lengths, patterns, no intrinsics."""
    sar = _sar(template)
    required = {
        "Name",
        "Description",
        "Author",
        "SpdxLicenseId",
        "LicenseUrl",
        "ReadmeUrl",
        "SemanticVersion",
        "SourceCodeUrl",
        "Labels",
    }
    assert required <= set(sar), required - set(sar)
    assert all(isinstance(value, str) for key, value in sar.items() if key != "Labels"), sar
    assert re.fullmatch(r"[a-zA-Z0-9\-]{1,140}", sar["Name"])
    assert 1 <= len(sar["Description"]) <= 256, len(sar["Description"])
    assert len(sar["Author"]) <= 127 and re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]", sar["Author"])
    labels = sar["Labels"]
    assert isinstance(labels, list) and 1 <= len(labels) <= 10, labels
    assert all(
        isinstance(label, str) and re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", label) for label in labels
    )


def test_the_serverless_repository_metadata_is_the_projects(template: dict[str, Any]) -> None:
    sar = _sar(template)
    project = _pyproject()["project"]
    assert sar["Name"] == project["name"]
    assert sar["SpdxLicenseId"] == project["license"]
    assert (ROOT / sar["LicenseUrl"]).resolve() == (ROOT / "LICENSE").resolve()
    assert (ROOT / sar["ReadmeUrl"]).resolve() == (ROOT / project["readme"]).resolve()
    for key in ("LicenseUrl", "ReadmeUrl"):
        assert (ROOT / sar[key]).is_file(), f"sam package uploads {sar[key]}: it must exist"
    assert sar["SourceCodeUrl"] == project["urls"]["Source"]
    assert sar["HomePageUrl"] == project["urls"]["Homepage"]


def test_every_resource_type_was_checked_against_the_serverless_repository(template: dict[str, Any]) -> None:
    used = {resource["Type"] for resource in template["Resources"].values()}
    unchecked = used - SAR_CHECKED_TYPES
    assert not unchecked, (
        f"{sorted(unchecked)}: look each up in the Serverless Application Repository's supported "
        "resources, then add it to SAR_CHECKED_TYPES"
    )


def _fake_sam(directory: Path) -> Path:
    """A ``sam`` that only appends its arguments to ``sam.calls``, one call a line."""
    calls = directory / "sam.calls"
    script = directory / "sam"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {shlex.quote(str(calls))}\n', encoding="utf-8")
    script.chmod(0o755)
    return calls


def _run_make(target: str, path: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_make(), "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())],
        cwd=ROOT,
        env=_make_environment(PATH=path),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("with_sam", [False, True], ids=["no sam on PATH", "sam on PATH"])
def test_make_package_without_a_bucket_says_so_before_doing_anything(tmp_path: Path, with_sam: bool) -> None:
    calls = _fake_sam(tmp_path) if with_sam else tmp_path / "sam.calls"
    result = _run_make("package", str(tmp_path))
    assert result.returncode != 0
    assert "S3_BUCKET is not set" in result.stdout, result.stdout + result.stderr
    assert "make package S3_BUCKET=<bucket>" in result.stdout
    assert not calls.exists(), "nothing is built or packaged without a bucket"


def test_make_package_without_sam_says_what_is_missing(tmp_path: Path) -> None:
    result = _run_make("package", str(tmp_path), S3_BUCKET="my-artifacts")
    assert result.returncode != 0
    assert "AWS SAM CLI not found" in result.stdout, result.stdout + result.stderr
    assert "S3_BUCKET" not in result.stdout


def test_make_package_builds_then_packages_into_the_bucket(tmp_path: Path) -> None:
    calls = _fake_sam(tmp_path)
    result = _run_make("package", str(tmp_path), S3_BUCKET="my-artifacts")
    assert result.returncode == 0, result.stdout + result.stderr
    assert calls.read_text(encoding="utf-8").splitlines() == [
        "build",
        "package --template-file .aws-sam/build/template.yaml --s3-bucket my-artifacts "
        "--output-template-file packaged.yaml",
    ]
    assert "packaged.yaml" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


# ---------------------------------------------------------------------------- CI, Dependabot, pre-commit


def _make_targets(commands: list[str]) -> list[str]:
    """The targets of every ``make`` command in ``commands`` (options and VAR=value left out)."""
    targets = []
    for command in commands:
        for line in command.splitlines():
            words = shlex.split(line)
            if words[:1] == ["make"]:
                targets += [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    return targets


def _target_exists(target: str) -> bool:
    dry_run = subprocess.run(
        [_make(), "--no-print-directory", "-n", "-o", ".venv/.installed", target, "S3_BUCKET=dry-run"],
        cwd=ROOT,
        env=_make_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return dry_run.returncode == 0


def test_the_ci_workflow_runs_make_test_on_both_pythons_and_make_build() -> None:
    workflow = _yaml(WORKFLOW)
    # YAML 1.1 reads a bare ``on`` key as true; GitHub reads it as the trigger.
    triggers = workflow.get("on", workflow.get(True))
    assert triggers and "pull_request" in triggers, triggers
    jobs = workflow["jobs"]
    runs = {name: [step["run"] for step in job["steps"] if "run" in step] for name, job in jobs.items()}
    testing = [name for name, commands in runs.items() if "test" in _make_targets(commands)]
    assert testing, "no job runs make test"
    for name in testing:
        versions = {str(v) for v in jobs[name]["strategy"]["matrix"]["python-version"]}
        assert {"3.11", "3.13"} <= versions, versions
    building = [name for name, commands in runs.items() if "build" in _make_targets(commands)]
    assert building, "no job runs make build"
    for name in building:
        assert any(
            str(step.get("uses", "")).startswith("aws-actions/setup-sam@") for step in jobs[name]["steps"]
        )
    for job in jobs.values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.search(r"@v\d+", step["uses"]), f"{step['uses']}: pin at least the major version"


def test_every_make_target_ci_names_exists() -> None:
    workflow = _yaml(WORKFLOW)
    commands = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    targets = _make_targets(commands)
    assert targets
    missing = [target for target in targets if not _target_exists(target)]
    assert not missing, f"the Makefile has no target {missing}"


def test_dependabot_updates_pip_and_github_actions_weekly() -> None:
    config = _yaml(DEPENDABOT)
    assert config["version"] == 2
    ecosystems = {
        (u["package-ecosystem"], u["directory"]): u["schedule"]["interval"] for u in config["updates"]
    }
    assert ecosystems == {("pip", "/"): "weekly", ("github-actions", "/"): "weekly"}


def test_pre_commit_runs_exactly_what_make_lint_runs() -> None:
    """Hook by hook, the command lines ``make lint`` prints, in its order, and nothing fetched."""
    config = _yaml(PRE_COMMIT)
    assert [repo["repo"] for repo in config["repos"]] == ["local"], "local hooks only"
    commands = []
    for hook in config["repos"][0]["hooks"]:
        assert hook["language"] == "system" and hook["pass_filenames"] is False, hook["id"]
        words = shlex.split(hook["entry"])
        commands.append(words[2] if words[:2] == ["bash", "-c"] else hook["entry"])
    lint = subprocess.run(
        [_make(), "--no-print-directory", "-n", "-o", ".venv/.installed", "lint"],
        cwd=ROOT,
        env=_make_environment(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert commands == lint.stdout.splitlines()
