"""SharedLayer holds what the functions run, for the machine they run on, and nothing that cannot load there.

``make build-SharedLayer`` (shared/Makefile) installs the lock for CPython 3.13 on arm64, copies
the runtime part of ``tvsync`` (``make layer-code``), and runs shared/verify_layer.py, which
fails the build on a foreign binary, a wheel for another Python or platform, or an import
that Lambda could not satisfy. These tests hold the verifier to each of those on synthetic
layers, then run the real ``layer-code`` target into a temporary directory — offline: the
copy needs no PyPI — and check what it copied twice: statically with the verifier, and by
importing every copied module in a fresh interpreter that can import only the standard
library, the copied ``tvsync`` and the distributions the layer lock pins (the dev venv
holds the same versions: tests/test_packaging.py). The pip step needs PyPI; ``make build``
runs it, and the verifier behind it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Literal

import pytest
from packaging.utils import canonicalize_name

from tests.conftest import ROOT
from verify_layer import (
    ELF_MACHINES,
    ImportChecker,
    Target,
    check_native_code,
    check_wheels,
    package_modules,
    read_lock,
    read_module,
    stdlib_modules,
    top_level_names,
)

SHARED = ROOT / "shared"
VERIFIER = SHARED / "verify_layer.py"
LAYER_LOCK = SHARED / "requirements.lock.txt"
LAMBDA = Target.parse("3.13", "manylinux2014_aarch64")
#: tvsync's workstation tooling: the tvsync command and the local stack. They import moto, rich
#: and yaml, which the layer does not hold, and no function needs them.
WORKSTATION_ONLY = frozenset({"cli", "local", "emulators"})


# ---------------------------------------------------------------------------- synthetic layers


def elf_header(machine: int, *, bits: int = 64, little_endian: bool = True) -> bytes:
    """The 64-byte header of an ELF shared object (ET_DYN) for ``machine``; the rest of the file is moot."""
    order: Literal["little", "big"] = "little" if little_endian else "big"
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1 if little_endian else 2, 1]) + bytes(9)
    return ident + (3).to_bytes(2, order) + machine.to_bytes(2, order) + bytes(44)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(textwrap.dedent(content), encoding="utf-8")
    return path


def install_wheel(layer: Path, name: str, version: str, *tags: str, top_level: str | None = None) -> None:
    """What pip leaves for one installed wheel: the package and its dist-info."""
    info = layer / f"{name.replace('-', '_')}-{version}.dist-info"
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    write(info / "WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n")
    with (info / "WHEEL").open("a", encoding="utf-8") as wheel:
        wheel.writelines(f"Tag: {tag}\n" for tag in tags)
    write(layer / (top_level or name.replace("-", "_")) / "__init__.py", "")


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    """A small layer that Lambda (CPython 3.13, arm64) would load: every check passes on it."""
    root = tmp_path / "python"
    install_wheel(root, "pydantic-core", "2.0.0", "cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64")
    write(root / "pydantic_core" / "_core.cpython-313-aarch64-linux-gnu.so", elf_header(0xB7))
    install_wheel(root, "fastlib", "1.0", "cp39-abi3-manylinux2014_aarch64")
    write(root / "fastlib" / "_speed.abi3.so", elf_header(0xB7))
    install_wheel(root, "six", "1.17.0", "py2.py3-none-any")
    install_wheel(root, "python-dateutil", "2.9.0", "py2.py3-none-any", top_level="dateutil")
    write(root / "tvsync" / "__init__.py", '__version__ = "1"\n')
    write(root / "tvsync" / "py.typed", "")
    write(
        root / "tvsync" / "models" / "__init__.py",
        """
        from tvsync.models.user import User

        __all__ = ["User"]
        """,
    )
    write(
        root / "tvsync" / "models" / "user.py",
        """
        from __future__ import annotations

        import json
        from typing import TYPE_CHECKING

        import pydantic_core
        from dateutil import parser

        from . import __name__ as _package
        from .. import __version__

        if TYPE_CHECKING:
            from mypy_boto3_sqs import SQSClient  # stubs: never imported at run time

        try:
            import ujson as fast_json  # optional, with a fallback
        except ImportError:
            fast_json = json


        class User:
            def parse(self) -> None:
                import six  # function level: checked too
                from tvsync.models import User as _User
        """,
    )
    return root


def verify(layer: Path, *extra: str) -> tuple[int, str, str]:
    """The verifier as the build runs it: a separate interpreter, exit code and output."""
    result = subprocess.run(
        [sys.executable, str(VERIFIER), str(layer), *extra], capture_output=True, text=True, check=False
    )
    return result.returncode, result.stdout, result.stderr


# ---------------------------------------------------------------------------- the verifier


def test_a_layer_built_for_lambda_passes_and_the_verifier_says_what_it_checked(layer: Path) -> None:
    code, out, err = verify(layer, "--python-version", "3.13", "--platform", "manylinux2014_aarch64")
    assert (code, err) == (0, "")
    assert "2 compiled files: ELF, 64-bit, aarch64" in out
    assert "4 installed wheels: tagged for cp313 on manylinux2014_aarch64" in out
    # user.py: json, typing, __future__ (3 stdlib); pydantic_core, dateutil, six (3 layer);
    # two relative imports and one absolute (3 tvsync). models/__init__: one tvsync import.
    assert "3 tvsync modules: 10 imports resolved (3 layer packages, 3 standard library, 4 tvsync)" in out


@pytest.mark.parametrize(
    ("machine", "bits", "little_endian", "problem"),
    [
        (ELF_MACHINES["x86_64"], 64, True, "is built for x86_64, not aarch64"),
        (0x28, 32, True, "is not a 64-bit little-endian ELF file"),  # 32-bit ARM
        (0xB7, 64, False, "is not a 64-bit little-endian ELF file"),
    ],
    ids=["x86_64", "arm32", "big-endian"],
)
def test_native_code_for_another_cpu_fails(
    layer: Path, machine: int, bits: int, little_endian: bool, problem: str
) -> None:
    so = layer / "pydantic_core" / "_core.cpython-313-aarch64-linux-gnu.so"
    so.write_bytes(elf_header(machine, bits=bits, little_endian=little_endian))
    code, out, err = verify(layer)
    assert code == 1 and out == ""
    assert f"pydantic_core/_core.cpython-313-aarch64-linux-gnu.so {problem}" in err


def test_a_binary_is_judged_by_its_header_whatever_its_name(layer: Path) -> None:
    write(layer / "fastlib" / ".libs" / "libgfortran-1234abcd", elf_header(ELF_MACHINES["x86_64"]))
    write(layer / "fastlib" / "_win.pyd", b"MZ\x90\x00" + bytes(60))
    count, problems = check_native_code(layer, LAMBDA)
    assert count == 4
    assert problems == [
        "fastlib/.libs/libgfortran-1234abcd is built for x86_64, not aarch64 (e_machine 0xB7)",
        "fastlib/_win.pyd is not an ELF file (built for another operating system?)",
    ]


def test_an_extension_module_named_for_another_cpython_fails(layer: Path) -> None:
    write(layer / "fastlib" / "_old.cpython-311-aarch64-linux-gnu.so", elf_header(0xB7))
    _, problems = check_native_code(layer, LAMBDA)
    assert problems == [
        "fastlib/_old.cpython-311-aarch64-linux-gnu.so is an extension module for CPython 311, not cp313"
    ]


@pytest.mark.parametrize(
    "tag",
    [
        "cp313-cp313-manylinux_2_17_aarch64",
        "cp313-cp313-manylinux2014_aarch64",
        "cp313-cp313-manylinux_2_5_aarch64",
        "cp38-abi3-manylinux_2_17_aarch64",
        "cp313-abi3-manylinux2014_aarch64",
        "py3-none-any",
        "py313-none-any",
        "py38-none-any",
        "cp313-none-any",
        "py3-none-manylinux2014_aarch64",
    ],
)
def test_tags_cpython_3_13_on_manylinux2014_aarch64_installs(tag: str) -> None:
    assert LAMBDA.accepts(tag)


@pytest.mark.parametrize(
    "tag",
    [
        "cp311-cp311-manylinux_2_17_aarch64",  # another CPython's ABI
        "cp313-cp313-manylinux_2_17_x86_64",  # another CPU
        "cp313-cp313-manylinux_2_28_aarch64",  # needs a newer glibc than the platform asked for
        "cp313-cp313-musllinux_1_2_aarch64",  # another libc
        "cp313-cp313-linux_aarch64",  # not portable
        "cp313-cp313-macosx_11_0_arm64",
        "cp313-cp313t-manylinux_2_17_aarch64",  # free-threaded build
        "cp314-abi3-manylinux_2_17_aarch64",  # stable ABI of a later CPython
        "py2-none-any",
        "py314-none-any",
        "pp310-pypy310_pp73-manylinux_2_17_aarch64",
    ],
)
def test_tags_cpython_3_13_on_manylinux2014_aarch64_refuses(tag: str) -> None:
    assert not LAMBDA.accepts(tag)


@pytest.mark.parametrize(
    "tags",
    [
        ("cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64",),
        ("cp313-cp313-manylinux_2_17_x86_64", "cp313-cp313-manylinux2014_x86_64"),
    ],
    ids=["cp311", "x86_64"],
)
def test_a_wheel_for_another_python_or_platform_fails(layer: Path, tags: tuple[str, ...]) -> None:
    shutil.rmtree(layer / "pydantic_core-2.0.0.dist-info")
    install_wheel(layer, "pydantic-core", "2.0.0", *tags)
    code, _, err = verify(layer)
    assert code == 1
    assert f"pydantic_core-2.0.0.dist-info is tagged {', '.join(tags)}: not installable on cp313" in err


def test_a_wheel_without_tags_or_dist_info_files_fails(layer: Path) -> None:
    (layer / "six-1.17.0.dist-info" / "WHEEL").write_text("Wheel-Version: 1.0\n", encoding="utf-8")
    (layer / "fastlib-1.0.dist-info" / "WHEEL").unlink()
    _, problems = check_wheels(layer, LAMBDA)
    assert problems == [
        "fastlib-1.0.dist-info has no METADATA or no WHEEL file: not installed from a wheel",
        "six-1.17.0.dist-info/WHEEL has no Tag line",
    ]


def test_with_a_lock_every_pin_is_installed_at_its_version_and_nothing_else(
    layer: Path, tmp_path: Path
) -> None:
    lock = write(
        tmp_path / "requirements.lock.txt",
        """
        # a comment
        pydantic-core==2.0.0 \\
            --hash=sha256:00
        fastlib==1.1 \\
            --hash=sha256:00
        Python_Dateutil==2.9.0 \\
            --hash=sha256:00
        boto3==1.0 \\
            --hash=sha256:00
        """,
    )
    assert read_lock(lock) == {
        "pydantic-core": "2.0.0",
        "fastlib": "1.1",
        "python-dateutil": "2.9.0",
        "boto3": "1.0",
    }
    _, problems = check_wheels(layer, LAMBDA, read_lock(lock))
    assert problems == [
        "fastlib-1.0.dist-info: fastlib 1.0 installed, the lock pins 1.1",
        "six-1.17.0.dist-info: six is not pinned in the lock",
        "boto3==1.0 is pinned but not installed",
    ]
    code, _, err = verify(layer, "--lock", str(lock))
    assert code == 1 and "boto3==1.0 is pinned but not installed" in err


ABSENT = "neither the standard library nor a package in the layer"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import rich\n", f"line 1: imports rich: {ABSENT}"),
        ("import json\nfrom moto import mock_aws\n", f"line 2: imports moto: {ABSENT}"),
        ("def f():\n    import yaml\n", f"line 2: imports yaml: {ABSENT}"),
        (
            "from tvsync.local.aws import provision\n",
            "line 1: imports tvsync.local.aws, which is not in the layer",
        ),
        ("from tvsync import cli\n", "line 1: imports tvsync.cli, which is not in the layer"),
        ("from ..emulators import okta\n", "line 1: imports tvsync.emulators, which is not in the layer"),
        (
            "import tvsync.models.missing\n",
            "line 1: imports tvsync.models.missing, which is not in the layer",
        ),
        ("import cgi\n", f"line 1: imports cgi: {ABSENT}"),  # removed from the standard library in 3.13
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\nelse:\n    import rich\n",
            f"line 5: imports rich: {ABSENT}",
        ),
    ],
    ids=[
        "rich",
        "moto",
        "function-level",
        "tvsync.local",
        "tvsync.cli",
        "relative",
        "missing",
        "cgi",
        "else",
    ],
)
def test_a_module_importing_what_lambda_lacks_fails(layer: Path, source: str, problem: str) -> None:
    write(layer / "tvsync" / "models" / "bad.py", source)
    code, _, err = verify(layer)
    assert code == 1
    assert f"tvsync.models.bad, {problem}" in err


def test_a_layer_without_the_package_fails(layer: Path) -> None:
    shutil.rmtree(layer / "tvsync")
    code, _, err = verify(layer)
    assert code == 1 and "no tvsync package in the layer" in err


def test_the_standard_library_is_the_targets_not_the_build_machines() -> None:
    on_3_11 = stdlib_modules((3, 13), host=(3, 11))
    assert {"json", "asyncio", "tomllib"} <= on_3_11
    assert "cgi" not in on_3_11 and "distutils" not in on_3_11
    assert "annotationlib" not in stdlib_modules((3, 13), host=(3, 14))
    assert "cgi" in stdlib_modules((3, 11), host=(3, 13))


@pytest.mark.parametrize(
    ("python", "platform"),
    [("3", "manylinux2014_aarch64"), ("3.13", "win_amd64"), ("3.13", "manylinux2014_ppc64le")],
)
def test_the_verifier_refuses_a_target_it_cannot_judge(python: str, platform: str) -> None:
    with pytest.raises(ValueError, match=r"^--(python-version|platform) "):
        Target.parse(python, platform)


def test_top_level_names_are_what_import_finds(layer: Path) -> None:
    write(layer / "__pycache__" / "x.cpython-311.pyc", b"")
    write(layer / "typing_extensions.py", "")
    write(layer / "_cffi_backend.cpython-313-aarch64-linux-gnu.so", elf_header(0xB7))
    assert top_level_names(layer) == {
        "pydantic_core",
        "fastlib",
        "six",
        "dateutil",
        "tvsync",
        "typing_extensions",
        "_cffi_backend",
    }


# ---------------------------------------------------------------------------- the real layer code


def layer_import_names() -> frozenset[str]:
    """Top-level import names of the distributions the layer lock pins, as installed here.

    The dev venv holds the layer's versions of those distributions, so their import names are
    the layer's.
    """
    pinned = set(read_lock(LAYER_LOCK))
    names = frozenset(
        top
        for top, distributions in packages_distributions().items()
        if any(canonicalize_name(d) in pinned for d in distributions)
    )
    assert {"pydantic", "pydantic_core", "boto3", "botocore", "aws_lambda_powertools", "httpx"} <= names
    assert not {"rich", "moto", "yaml", "tvsync"} & names
    return names


@pytest.fixture(scope="module")
def layer_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make -C shared layer-code`` into a temporary directory: the layer's python/, packages aside."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    artifacts = tmp_path_factory.mktemp("artifacts")
    subprocess.run(
        [make, "--no-print-directory", "-C", str(SHARED), "layer-code", f"ARTIFACTS_DIR={artifacts}"],
        check=True,
        capture_output=True,
    )
    return artifacts / "python"


def test_layer_code_ships_the_runtime_code_and_leaves_the_workstation_tooling_out(layer_code: Path) -> None:
    shipped = {p.name for p in (layer_code / "tvsync").iterdir()}
    source = {p.name for p in (SHARED / "tvsync").iterdir() if p.name != "__pycache__"}
    assert shipped == source - WORKSTATION_ONLY, (
        "every entry of shared/tvsync is either runtime code (RUNTIME_CODE in shared/Makefile) "
        "or workstation tooling (WORKSTATION_ONLY here)"
    )
    assert {"__init__.py", "py.typed", "models", "core", "adapters", "services", "wiring"} <= shipped
    assert not list(layer_code.rglob("__pycache__")) and not list(layer_code.rglob("*.pyc"))
    assert [p.name for p in layer_code.iterdir()] == ["tvsync"]


def test_layer_code_passes_the_verifiers_import_check(layer_code: Path) -> None:
    shipped = package_modules(layer_code, "tvsync")
    checker = ImportChecker("tvsync", shipped, layer_import_names(), stdlib_modules(LAMBDA.python))
    report = checker.check(shipped.values())
    assert report.problems == []
    assert report.modules == len(list((layer_code / "tvsync").rglob("*.py")))
    assert report.resolved["tvsync"] > 0 and report.resolved["layer packages"] > 0


@pytest.mark.parametrize("function", sorted(p.name for p in (ROOT / "functions").iterdir() if p.is_dir()))
def test_each_function_imports_only_what_the_layer_holds(layer_code: Path, function: str) -> None:
    shipped = package_modules(layer_code, "tvsync")
    checker = ImportChecker("tvsync", shipped, layer_import_names(), stdlib_modules(LAMBDA.python))
    handler = read_module(f"functions.{function}.app", ROOT / "functions" / function / "app.py")
    report = checker.check([handler])
    assert report.problems == []
    assert report.resolved["tvsync"] > 0


#: Runs in a fresh interpreter: Lambda's view of imports, then every module imported.
_IMPORT_EVERY_MODULE = """
import importlib, importlib.machinery, json, os, sys, sysconfig

layer, package = sys.argv[1], sys.argv[2]
stdlib, allowed, modules = (frozenset(json.loads(a)) for a in sys.argv[3:6])
# Where the interpreter's own library lives: the standard library imports modules that
# sys.stdlib_module_names does not list (_sysconfigdata_* for sysconfig, for one). In a venv,
# platstdlib is the venv's lib/pythonX.Y, which holds site-packages: never that.
library = tuple(os.path.join(sysconfig.get_path(p), "") for p in ("stdlib", "platstdlib"))
installed = {"site-packages", "dist-packages"}


class LayerOnly:
    @staticmethod
    def find_spec(name, path=None, target=None):
        top = name.partition(".")[0]
        if top == package:  # from the layer only: never the checkout's copy
            spec = importlib.machinery.PathFinder.find_spec(name, [layer] if path is None else path)
            if spec is None:
                raise ModuleNotFoundError(f"No module named {name!r} in the layer", name=name)
            return spec
        if top in stdlib or top in allowed:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        origin = (spec.origin or "") if spec is not None else ""
        if origin.startswith(library) and not installed & set(origin.split(os.sep)):
            return spec
        raise ModuleNotFoundError(f"No module named {name!r} (not in the Lambda layer)", name=name)


sys.meta_path.insert(0, LayerOnly)
failures = {}
for name in sorted(modules):
    try:
        importlib.import_module(name)
    except Exception as exc:
        failures[name] = f"{type(exc).__name__}: {exc}"
outside = sorted(
    name
    for name, module in sys.modules.items()
    if name.partition(".")[0] == package and not (getattr(module, "__file__", "") or "").startswith(layer)
)
print(json.dumps({"failures": failures, "outside": outside}))
"""


def import_every_module(layer: Path, allowed: frozenset[str]) -> tuple[dict[str, str], list[str]]:
    """Import each ``tvsync`` module of ``layer`` as Lambda finds it: (failures, modules from elsewhere)."""
    modules = sorted(package_modules(layer, "tvsync"))
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _IMPORT_EVERY_MODULE,
            str(layer),
            "tvsync",
            json.dumps(sorted(stdlib_modules(LAMBDA.python))),
            json.dumps(sorted(allowed)),
            json.dumps(modules),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=layer,
    )
    found = json.loads(result.stdout.splitlines()[-1])
    return found["failures"], found["outside"]


def test_every_module_of_the_layer_code_imports_with_only_the_layers_packages(layer_code: Path) -> None:
    failures, outside = import_every_module(layer_code, layer_import_names())
    assert failures == {}
    assert outside == []


def test_the_import_harness_refuses_what_the_layer_lacks(layer_code: Path, tmp_path: Path) -> None:
    layer = tmp_path / "python"
    shutil.copytree(layer_code, layer)
    write(layer / "tvsync" / "uses_rich.py", "import rich\n")
    write(layer / "tvsync" / "uses_cli.py", "from tvsync.cli import main\n")
    failures, outside = import_every_module(layer, layer_import_names())
    assert failures == {
        "tvsync.uses_rich": "ModuleNotFoundError: No module named 'rich' (not in the Lambda layer)",
        "tvsync.uses_cli": "ModuleNotFoundError: No module named 'tvsync.cli' in the layer",
    }
    assert outside == []
