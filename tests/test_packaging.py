"""The Lambda layer ships exactly the runtime dependencies the project declares."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement

from tests.conftest import ROOT


def _normalise(requirement: str) -> tuple[str, frozenset[str], str]:
    parsed = Requirement(requirement)
    return parsed.name.lower().replace("_", "-"), frozenset(parsed.extras), str(parsed.specifier)


def test_layer_requirements_equal_pyproject_runtime_dependencies() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = {_normalise(r) for r in pyproject["project"]["dependencies"]}
    lines = (ROOT / "shared/requirements.txt").read_text().splitlines()
    layer = {_normalise(line) for line in lines if line.strip() and not line.lstrip().startswith("#")}
    assert layer == declared


def test_the_layer_package_is_the_importable_tvsync() -> None:
    import tvsync

    assert (ROOT / "shared" / "tvsync" / "__init__.py").samefile(tvsync.__file__)
