"""What is installed is what the project declares, pinned and hash-checked, and Lambda gets the same.

Four files say what gets installed: pyproject.toml (the ranges, for people), shared/requirements.txt
(the layer's direct dependencies, equal to pyproject's), shared/requirements.lock.txt (what the layer
holds: CPython 3.13 on arm64) and requirements-dev.lock.txt (what ``make test`` installs, with the
layer lock as constraints). ``make lock`` writes the locks; these tests fail when a hand edit or
a pyproject change leaves them disagreeing. The two Makefiles are read with ``make -n``, which
prints the commands a target would run without running them (a real build downloads wheels).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

LAYER_LOCK = ROOT / "shared" / "requirements.lock.txt"
DEV_LOCK = ROOT / "requirements-dev.lock.txt"
PROJECT = "okta-teamviewer-sync"
SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


def _environment(python: str, sys_platform: str, machine: str) -> dict[str, str]:
    """A PEP 508 marker environment for CPython ``python`` on that platform."""
    return {
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_version": f"{python}.0",
        "sys_platform": sys_platform,
        "platform_system": {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}[sys_platform],
        "os_name": "nt" if sys_platform == "win32" else "posix",
        "platform_machine": machine,
    }


#: Where the layer runs (template.yaml Globals: python3.13, arm64).
LAMBDA = _environment("3.13", "linux", "aarch64")
#: Where ``make test`` runs: Python >= 3.11 (pyproject's requires-python), here and in CI.
DEVELOPMENT = {
    "3.11 linux x86_64": _environment("3.11", "linux", "x86_64"),
    "3.13 linux x86_64": _environment("3.13", "linux", "x86_64"),
    "3.13 linux aarch64": LAMBDA,
    "3.12 macOS arm64": _environment("3.12", "darwin", "arm64"),
}


@dataclass(frozen=True)
class Pin:
    """One requirement of a lock file: ``name==version ; marker`` and its ``--hash`` options."""

    name: str
    version: Version
    marker: Marker | None
    hashes: tuple[str, ...]
    line: str

    def applies(self, environment: Mapping[str, str]) -> bool:
        return self.marker is None or self.marker.evaluate(dict(environment))


def read_lock(path: Path) -> list[Pin]:
    """The requirements of a hash-pinned requirements file, as pip reads it."""
    pins = []
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        requirement_text, *options = re.split(r"\s+(?=--)", line)
        assert all(option.startswith("--hash=") for option in options), f"{path.name}: {line}"
        requirement = Requirement(requirement_text)
        specifiers = list(requirement.specifier)
        exact = len(specifiers) == 1 and specifiers[0].operator == "==" and "*" not in specifiers[0].version
        assert exact, f"{path.name}: {requirement_text} is not an exact pin"
        [specifier] = specifiers
        assert requirement.url is None and not requirement.extras, f"{path.name}: {requirement_text}"
        pins.append(
            Pin(
                name=canonicalize_name(requirement.name),
                version=Version(specifier.version),
                marker=requirement.marker,
                hashes=tuple(option.removeprefix("--hash=") for option in options),
                line=requirement_text,
            )
        )
    return pins


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with ``\\`` continuations joined and comments dropped, as pip reads a requirements file."""
    joined = re.sub(r"\\\n", " ", text)
    for raw in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            yield line


def pinned(pins: list[Pin], name: str, environment: Mapping[str, str]) -> Pin:
    """The one pin of ``name`` that pip would install in ``environment``."""
    matching = [p for p in pins if p.name == canonicalize_name(name) and p.applies(environment)]
    assert len(matching) == 1, f"{name}: expected one pin for {environment['python_version']}, got {matching}"
    return matching[0]


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _runtime_requirements() -> list[Requirement]:
    return [Requirement(r) for r in _pyproject()["project"]["dependencies"]]


def _dev_requirements() -> list[Requirement]:
    """The dev extra with the project's references to itself (``okta-teamviewer-sync[local]``) expanded."""
    extras = _pyproject()["project"]["optional-dependencies"]
    found: list[Requirement] = []
    pending, seen = ["dev"], set()
    while pending:
        extra = pending.pop()
        seen.add(extra)
        for text in extras[extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == PROJECT:
                pending.extend(sorted(requirement.extras - seen))
            else:
                found.append(requirement)
    return found


def _normalise(requirement: str) -> tuple[str, frozenset[str], str]:
    parsed = Requirement(requirement)
    return canonicalize_name(parsed.name), frozenset(parsed.extras), str(parsed.specifier)


def _make_dry_run(*args: str) -> list[list[str]]:
    """The simple commands ``make -n`` prints for a target, split like a shell splits them.

    ``\\`` continuations are joined, and lists (``;``, ``&&``, ``||``) and pipelines are cut
    into their commands.
    """
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    printed = subprocess.run(
        [make, "--no-print-directory", "-n", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commands: list[list[str]] = []
    for line in printed.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        current: list[str] = []
        for token in lexer:
            if token in {";", "&&", "||", "|"}:
                commands.append(current)
                current = []
            else:
                current.append(token)
        commands.append(current)
    return [c for c in commands if c]


def _pip_installs(commands: list[list[str]]) -> list[list[str]]:
    return [c[c.index("install") + 1 :] for c in commands if "pip" in c and "install" in c]


def _uv_compiles(commands: list[list[str]]) -> list[list[str]]:
    return [c[c.index("compile") + 1 :] for c in commands if "pip" in c and "compile" in c]


def _option(arguments: list[str], name: str) -> str:
    """The value of ``--name value`` or ``--name=value`` in a pip command line."""
    for index, argument in enumerate(arguments):
        if argument == name:
            return arguments[index + 1]
        if argument.startswith(f"{name}="):
            return argument.split("=", 1)[1]
    raise AssertionError(f"{name} not given: {arguments}")


# ---------------------------------------------------------------------------- declared ranges


def test_layer_requirements_equal_pyproject_runtime_dependencies() -> None:
    declared = {_normalise(r) for r in _pyproject()["project"]["dependencies"]}
    lines = (ROOT / "shared/requirements.txt").read_text().splitlines()
    layer = {_normalise(line) for line in lines if line.strip() and not line.lstrip().startswith("#")}
    assert layer == declared


def test_the_layer_package_is_the_importable_tvsync() -> None:
    import tvsync

    assert (ROOT / "shared" / "tvsync" / "__init__.py").samefile(tvsync.__file__)


# ---------------------------------------------------------------------------- the locks


@pytest.mark.parametrize("lock", [LAYER_LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_pin_is_exact_and_hashed(lock: Path) -> None:
    pins = read_lock(lock)
    assert pins, f"{lock.name} pins nothing"
    for pin in pins:
        assert pin.hashes, f"{lock.name}: {pin.line} has no hash, so pip --require-hashes refuses it"
        assert all(SHA256.fullmatch(h) for h in pin.hashes), f"{lock.name}: {pin.line}: {pin.hashes}"


def test_the_layer_lock_pins_every_runtime_dependency_inside_its_range() -> None:
    pins = read_lock(LAYER_LOCK)
    for requirement in _runtime_requirements():
        pin = pinned(pins, requirement.name, LAMBDA)
        assert requirement.specifier.contains(pin.version, prereleases=True), f"{pin.line} vs {requirement}"
    assert all(p.marker is None or p.applies(LAMBDA) for p in pins), "the layer lock is for Lambda only"


@pytest.mark.parametrize("environment", sorted(DEVELOPMENT), ids=str)
def test_the_dev_lock_pins_every_runtime_and_dev_dependency_inside_its_range(environment: str) -> None:
    pins = read_lock(DEV_LOCK)
    wanted = [r for r in _runtime_requirements() + _dev_requirements() if r.marker is None]
    names = {canonicalize_name(r.name) for r in wanted}
    assert {"scim2-server", "scim2-models", "okta", "moto", "pytest"} <= names, "the dev extra, expanded"
    for requirement in wanted:
        pin = pinned(pins, requirement.name, DEVELOPMENT[environment])
        assert requirement.specifier.contains(pin.version, prereleases=True), f"{pin.line} vs {requirement}"


def test_runtime_pins_agree_between_the_locks() -> None:
    """Tests run what Lambda runs: every package of the layer, at the layer's version."""
    dev = read_lock(DEV_LOCK)
    for layer_pin in read_lock(LAYER_LOCK):
        for environment in DEVELOPMENT.values():
            if any(p.name == layer_pin.name and p.applies(environment) for p in dev):
                assert pinned(dev, layer_pin.name, environment).version == layer_pin.version, layer_pin.line
        # Where the layer runs, the dev lock must not leave a runtime package to chance.
        assert pinned(dev, layer_pin.name, LAMBDA).version == layer_pin.version


def test_the_dev_lock_holds_what_installs_the_project_itself() -> None:
    """``make test`` installs the project without build isolation, so its build backend is locked too."""
    pins = read_lock(DEV_LOCK)
    build_requires = [Requirement(r) for r in _pyproject()["build-system"]["requires"]]
    for requirement in [Requirement("pip"), *build_requires]:
        for environment in DEVELOPMENT.values():
            pin = pinned(pins, requirement.name, environment)
            assert requirement.specifier.contains(pin.version, prereleases=True), pin.line
    assert PROJECT not in {p.name for p in pins}, "the project is installed from the checkout, not the lock"


# ---------------------------------------------------------------------------- the builds


def test_make_test_installs_only_the_dev_lock_hash_checked() -> None:
    installs = _pip_installs(_make_dry_run("-B", ".venv/.installed"))
    assert installs == [
        ["--quiet", "--require-hashes", "-r", DEV_LOCK.name],
        ["--quiet", "--no-deps", "--no-build-isolation", "-e", "."],
    ]


def test_the_layer_is_built_from_its_lock_for_lambdas_runtime_and_architecture(
    template: dict[str, Any],
) -> None:
    layer = template["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile", "SAM's python builder would re-resolve the ranges"
    # SAM runs the Makefile found in the layer's ContentUri, in a copy of that directory.
    content = ROOT / layer["Properties"]["ContentUri"]
    assert (content / "Makefile").is_file()
    runtime = template["Globals"]["Function"]["Runtime"]
    [architecture] = template["Globals"]["Function"]["Architectures"]
    assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    assert layer["Properties"]["CompatibleArchitectures"] == [architecture]

    commands = _make_dry_run("-C", str(content), "build-SharedLayer", "ARTIFACTS_DIR=/artifacts")
    [install] = _pip_installs(commands)
    assert "--require-hashes" in install
    assert _option(install, "--only-binary") == ":all:"
    assert _option(install, "--implementation") == "cp"
    assert f"python{_option(install, '--python-version')}" == runtime
    assert _option(install, "--platform") == {"arm64": "manylinux2014_aarch64"}[architecture]
    assert _option(install, "--target") == "/artifacts/python", "Lambda adds /opt/python to sys.path"
    assert (content / _option(install, "-r")).samefile(LAYER_LOCK)
    # Nothing but the lock: no package named on the command line, no second requirements file.
    values = {"--platform", "--implementation", "--python-version", "--target", "-r"}
    loose = [a for i, a in enumerate(install) if not a.startswith("-") and install[i - 1] not in values]
    assert loose == [] and install.count("-r") == 1, install
    # Then the runtime part of tvsync (what it copies: tests/test_layer.py runs that step).
    copies = [c for c in commands if c[:2] == ["cp", "-R"]]
    assert copies and all(c[-1] == "/artifacts/python/tvsync/" for c in copies), copies
    # Last, the verifier, over everything the layer holds, for the runtime pip installed for.
    *_, verify = commands
    assert any(Path(a).name == "verify_layer.py" for a in verify[:2]), verify
    assert "/artifacts/python" in verify
    for option in ("--platform", "--python-version"):
        assert _option(verify, option) == _option(install, option)
    assert (content / _option(verify, "--lock")).samefile(LAYER_LOCK)
    assert (content / "verify_layer.py").is_file(), (
        "SAM copies only the ContentUri: the verifier must be in it"
    )


def test_make_test_runs_the_suite_on_every_core() -> None:
    [pytest_run] = [c for c in _make_dry_run("test") if "pytest" in c]
    assert _option(pytest_run, "-n") == "auto"


def test_the_licence_is_an_spdx_expression_and_its_text_ships() -> None:
    """PEP 639 metadata: setuptools warns on every install about the old ``license = {text = ...}`` table."""
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    for pattern in project["license-files"]:
        assert list(ROOT.glob(pattern)), pattern
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text, "the full text, not a notice"
    [setuptools] = [
        Requirement(r)
        for r in _pyproject()["build-system"]["requires"]
        if canonicalize_name(Requirement(r).name) == "setuptools"
    ]
    # 77 is the first setuptools that reads the SPDX string and license-files.
    assert not setuptools.specifier.contains("76.1") and setuptools.specifier.contains("77.0")


def test_make_lock_resolves_the_layer_for_the_platform_the_layer_is_built_for() -> None:
    [layer_build] = _pip_installs(_make_dry_run("-C", "shared", "build-SharedLayer", "ARTIFACTS_DIR=/a"))
    compiles = _uv_compiles(_make_dry_run("lock"))
    [layer_compile] = [c for c in compiles if "shared/requirements.txt" in c]
    machine = _option(layer_build, "--platform").removeprefix("manylinux2014_")
    assert _option(layer_compile, "--python-platform") == f"{machine}-manylinux2014"
    assert _option(layer_compile, "--python-version") == _option(layer_build, "--python-version")
    assert _option(layer_compile, "--only-binary") == ":all:", "the build takes wheels only"
    assert "--generate-hashes" in layer_compile
    assert _option(layer_compile, "-o") == "shared/requirements.lock.txt"
    [dev_compile] = [c for c in compiles if "pyproject.toml" in c]
    assert _option(dev_compile, "-c") == "shared/requirements.lock.txt", (
        "runtime versions come from the layer"
    )
    assert "--universal" in dev_compile and "--generate-hashes" in dev_compile
    assert _option(dev_compile, "-o") == DEV_LOCK.name
