"""The layer check accepts the wheels the OAuth service-app mode added, exactly as they are tagged.

cryptography ships one stable-ABI build for every CPython from 3.11 on (``cp311-abi3``,
a Rust extension ``_rust.abi3.so``), cffi a build per CPython, PyJWT and pycparser pure
Python. Lambda's CPython 3.13 on arm64 loads all four; ``shared/verify_layer.py`` must say
so, and must still refuse the same builds for another CPU or libc.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_layer import LAMBDA, elf_header, install_wheel, write
from verify_layer import check_native_code, check_wheels

#: The ``Tag:`` lines of the wheels the lock pins for Lambda (read from the installed WHEEL files).
CRYPTOGRAPHY = ("cp311-abi3-manylinux_2_17_aarch64", "cp311-abi3-manylinux2014_aarch64")
CFFI = ("cp313-cp313-manylinux_2_17_aarch64", "cp313-cp313-manylinux2014_aarch64")


def jose_layer(root: Path, cryptography_tags: tuple[str, ...] = CRYPTOGRAPHY, machine: int = 0xB7) -> Path:
    install_wheel(root, "cryptography", "50.0.2", *cryptography_tags)
    write(root / "cryptography" / "hazmat" / "bindings" / "_rust.abi3.so", elf_header(machine))
    install_wheel(root, "cffi", "2.1.1", *CFFI)
    write(root / "_cffi_backend.cpython-313-aarch64-linux-gnu.so", elf_header(0xB7))
    install_wheel(root, "PyJWT", "2.15.1", "py3-none-any", top_level="jwt")
    install_wheel(root, "pycparser", "3.12", "py3-none-any")
    return root


def test_the_jose_wheels_are_fit_for_lambda(tmp_path: Path) -> None:
    layer = jose_layer(tmp_path)
    wheels, problems = check_wheels(layer, LAMBDA)
    assert (wheels, problems) == (4, [])
    compiled, problems = check_native_code(layer, LAMBDA)
    assert (compiled, problems) == (2, [])


@pytest.mark.parametrize(
    "tags",
    [
        ("cp311-abi3-manylinux_2_17_x86_64", "cp311-abi3-manylinux2014_x86_64"),
        ("cp311-abi3-musllinux_1_2_aarch64",),
        ("cp311-abi3-manylinux_2_34_aarch64",),
    ],
    ids=["x86_64", "musl", "newer glibc"],
)
def test_a_cryptography_build_for_another_cpu_or_libc_is_refused(
    tmp_path: Path, tags: tuple[str, ...]
) -> None:
    _, problems = check_wheels(jose_layer(tmp_path, tags), LAMBDA)
    [problem] = problems
    assert problem == (
        f"cryptography-50.0.2.dist-info is tagged {', '.join(tags)}: "
        "not installable on cp313 manylinux2014_aarch64"
    )
