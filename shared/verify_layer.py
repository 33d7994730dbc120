"""Refuse a built Lambda layer that would fail in Lambda, before SAM packages it.

``make build-SharedLayer`` (shared/Makefile) installs the lock for another machine — CPython
3.13 on arm64 — with whatever Python 3 builds it, and copies only the runtime part of the
``tvsync`` package beside it. Neither step can import what it built, so a mistake surfaces
only as an import error in the first invocation after a deploy. This script checks the built
``python/`` directory instead, statically:

- **Native code is for Lambda's CPU.** Every compiled file (an ELF header, or a name ending
  in ``.so``/``.pyd``/``.dylib``) must be a 64-bit little-endian ELF whose ``e_machine`` is
  the target's (0xB7 for aarch64). An extension module named for a CPython version
  (``*.cpython-312-*.so``) must be named for the target's.
- **Every installed wheel was built for the target.** One of the ``Tag:`` lines of each
  ``*.dist-info/WHEEL`` must be one CPython 3.13 on manylinux2014 aarch64 accepts — as
  pip's ``--platform``/``--python-version`` would decide it: ``cp313-cp313-…``,
  ``cp3x-abi3-…``, ``py3-none-any`` and the like. With ``--lock``, each installed
  distribution is pinned there at the installed version, and each pin is installed.
- **Every import of the shipped package resolves in Lambda.** Each ``import`` and
  ``from … import`` of every shipped module (module level and inside functions, read with
  ``ast``; ``if TYPE_CHECKING:`` blocks and ``try``/``except ImportError`` fallbacks
  excepted, as they never run or may fail) names the target's standard library, a
  top-level package present in the layer, or a module of the package that was shipped — so
  a runtime module importing the workstation tooling left out of the layer fails the build.

Standard library only, and Python 3.10 or later (for ``sys.stdlib_module_names``): it runs
under the Python that builds the layer, with nothing installed for it. It prints what it
checked and exits 0, or prints each problem and exits 1. ``tests/test_layer.py`` runs it on
synthetic layers and on the real ``make layer-code`` output.
"""

from __future__ import annotations

import argparse
import ast
import email.parser
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# The build may run on any Python 3 (make build needs no 3.13): say what is missing, plainly.
if sys.version_info < (3, 10):  # noqa: UP036
    sys.exit("verify_layer.py needs Python 3.10 or later (sys.stdlib_module_names)")

#: ELF e_machine values of Lambda's two architectures, by the name platform tags use.
ELF_MACHINES = {"aarch64": 0xB7, "x86_64": 0x3E}
_ELF_MAGIC = b"\x7fELF"
_ELFCLASS64 = 2
_ELFDATA2LSB = 1
#: Names of files that are native code whatever their content: shared objects (with or
#: without a version suffix), and Windows or macOS binaries that have no place in Lambda.
_NATIVE_NAME = re.compile(r"\.(so(\.\d+)*|pyd|dylib)$")
#: ``name.cpython-313-aarch64-linux-gnu.so``: the CPython version and platform it was built for.
_CPYTHON_EXTENSION = re.compile(r"\.cpython-(?P<version>\d+)[a-z]*-(?P<platform>[^.]+)\.so$")
#: A platform tag as pip's ``--platform`` takes it: ``manylinux2014_aarch64``, ``manylinux_2_28_x86_64``.
_MANYLINUX = re.compile(r"^manylinux(?:_(?P<major>\d+)_(?P<minor>\d+)|(?P<legacy>1|2010|2014))_(?P<arch>.+)$")
_LEGACY_MANYLINUX_GLIBC = {"1": (2, 5), "2010": (2, 12), "2014": (2, 17)}

#: Public modules the standard library gained or lost between versions:
#: ``sys.stdlib_module_names`` is the build machine's, and a build running on a Python other
#: than the target's must judge imports by the target's library.
_STDLIB_ADDED = {
    (3, 11): frozenset({"tomllib"}),
    (3, 14): frozenset({"annotationlib", "compression"}),
}
_STDLIB_REMOVED = {
    (3, 12): frozenset({"asynchat", "asyncore", "distutils", "imp", "smtpd"}),
    (3, 13): frozenset(
        {
            "aifc",
            "audioop",
            "cgi",
            "cgitb",
            "chunk",
            "crypt",
            "imghdr",
            "lib2to3",
            "mailcap",
            "msilib",
            "nis",
            "nntplib",
            "ossaudiodev",
            "pipes",
            "sndhdr",
            "spwd",
            "sunau",
            "telnetlib",
            "uu",
            "xdrlib",
        }
    ),
}


def stdlib_modules(target: tuple[int, int], host: tuple[int, int] | None = None) -> frozenset[str]:
    """The top-level standard library modules of Python ``target``, judged from this Python's."""
    host = host or (sys.version_info.major, sys.version_info.minor)
    names = set(sys.stdlib_module_names)
    for version, added in _STDLIB_ADDED.items():
        if host < version <= target:
            names |= added  # the target has them; this Python is too old to know them
        elif target < version <= host:
            names -= added  # this Python has them; the target does not yet
    for version, removed in _STDLIB_REMOVED.items():
        if host < version <= target:
            names -= removed
        elif target < version <= host:
            names |= removed
    return frozenset(names)


# ---------------------------------------------------------------------------- native code


@dataclass(frozen=True)
class Target:
    """Where the layer runs: a CPython version and a pip platform tag."""

    python: tuple[int, int]
    platform: str

    @classmethod
    def parse(cls, python_version: str, platform: str) -> Target:
        major, _, minor = python_version.partition(".")
        if not (major.isdigit() and minor.isdigit()):
            raise ValueError(f"--python-version must look like 3.13, not {python_version!r}")
        target = cls((int(major), int(minor)), platform)
        if target.machine not in ELF_MACHINES:
            raise ValueError(
                f"--platform {platform!r}: expected a manylinux tag for one of {sorted(ELF_MACHINES)}"
            )
        return target

    @property
    def _manylinux(self) -> re.Match[str]:
        match = _MANYLINUX.match(self.platform)
        if match is None:
            raise ValueError(f"--platform {self.platform!r} is not a manylinux platform tag")
        return match

    @property
    def machine(self) -> str:
        return self._manylinux["arch"]

    @property
    def glibc(self) -> tuple[int, int]:
        match = self._manylinux
        if match["legacy"]:
            return _LEGACY_MANYLINUX_GLIBC[match["legacy"]]
        return int(match["major"]), int(match["minor"])

    @property
    def cpython(self) -> str:
        return f"cp{self.python[0]}{self.python[1]}"

    def accepts_platform(self, tag: str) -> bool:
        """A wheel platform tag this glibc and machine run: ``any``, or manylinux up to the target's glibc."""
        if tag == "any":
            return True
        match = _MANYLINUX.match(tag)
        if match is None or match["arch"] != self.machine:
            return False  # linux_*, musllinux_*, macosx_*, win_*: not Lambda's libc or OS
        if match["legacy"]:
            return _LEGACY_MANYLINUX_GLIBC[match["legacy"]] <= self.glibc
        return (int(match["major"]), int(match["minor"])) <= self.glibc

    def accepts(self, tag: str) -> bool:
        """Whether one wheel tag (``interpreter-abi-platform``, no compressed sets) installs on the target.

        The rules of the ``packaging`` library's ``sys_tags`` for CPython: the version's own ABI,
        the stable ABI of any earlier CPython 3, or pure Python for Python 3 up to the version.
        """
        parts = tag.split("-")
        if len(parts) != 3:
            return False
        interpreter, abi, platform = parts
        major, minor = self.python
        if not self.accepts_platform(platform):
            return False
        if abi == self.cpython:
            return interpreter == self.cpython
        if abi == "abi3":
            return interpreter in {f"cp{major}{m}" for m in range(2, minor + 1)}
        if abi == "none":
            pure = {f"py{major}", *(f"py{major}{m}" for m in range(minor + 1))}
            return interpreter == self.cpython or interpreter in pure
        return False


def expand_tags(tag: str) -> Iterator[str]:
    """The tags a compressed tag set stands for: ``py2.py3-none-any`` is two tags."""
    parts = tag.strip().split("-")
    if len(parts) != 3:
        yield tag.strip()
        return
    interpreters, abis, platforms = (p.split(".") for p in parts)
    for interpreter in interpreters:
        for abi in abis:
            for platform in platforms:
                yield f"{interpreter}-{abi}-{platform}"


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def elf_problem(path: Path, header: bytes, target: Target) -> str | None:
    """Why a native file cannot load on the target, or None when it can."""
    if header[:4] != _ELF_MAGIC:
        return "is not an ELF file (built for another operating system?)"
    if len(header) < 20:
        return "has a truncated ELF header"
    if header[4] != _ELFCLASS64 or header[5] != _ELFDATA2LSB:
        return "is not a 64-bit little-endian ELF file"
    machine = int.from_bytes(header[18:20], "little")
    wanted = ELF_MACHINES[target.machine]
    if machine != wanted:
        known = {value: name for name, value in ELF_MACHINES.items()}
        found = known.get(machine, f"e_machine 0x{machine:X}")
        return f"is built for {found}, not {target.machine} (e_machine 0x{wanted:X})"
    return None


def check_native_code(layer: Path, target: Target) -> tuple[int, list[str]]:
    """Every compiled file of the layer is an ELF for the target's CPU (and CPython, when named)."""
    count, problems = 0, []
    for path in _files(layer):
        with path.open("rb") as handle:
            header = handle.read(20)
        if header[:4] != _ELF_MAGIC and not _NATIVE_NAME.search(path.name):
            continue
        count += 1
        where = path.relative_to(layer)
        problem = elf_problem(path, header, target)
        if problem:
            problems.append(f"{where} {problem}")
            continue
        named = _CPYTHON_EXTENSION.search(path.name)
        if named and named["version"] != target.cpython.removeprefix("cp"):
            problems.append(
                f"{where} is an extension module for CPython {named['version']}, not {target.cpython}"
            )
        elif named and target.machine not in named["platform"]:
            problems.append(f"{where} is an extension module for {named['platform']}, not {target.machine}")
    return count, problems


# ---------------------------------------------------------------------------- wheels


def _canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    """``name == version`` for each pin of a hash-pinned requirements file (``make lock``'s output)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            pins[_canonical(match[1])] = match[2]
    return pins


@dataclass(frozen=True)
class Wheel:
    """One installed distribution, from its ``*.dist-info``."""

    directory: str
    name: str
    version: str
    tags: tuple[str, ...]


def installed_wheels(layer: Path) -> tuple[list[Wheel], list[str]]:
    wheels, problems = [], []
    parser = email.parser.Parser()
    for info in sorted(layer.glob("*.dist-info")):
        metadata_file, wheel_file = info / "METADATA", info / "WHEEL"
        if not metadata_file.is_file() or not wheel_file.is_file():
            problems.append(f"{info.name} has no METADATA or no WHEEL file: not installed from a wheel")
            continue
        metadata = parser.parsestr(metadata_file.read_text(encoding="utf-8"), headersonly=True)
        wheel = parser.parsestr(wheel_file.read_text(encoding="utf-8"), headersonly=True)
        wheels.append(
            Wheel(
                directory=info.name,
                name=str(metadata.get("Name", "")),
                version=str(metadata.get("Version", "")),
                tags=tuple(str(tag) for tag in wheel.get_all("Tag") or ()),
            )
        )
    return wheels, problems


def check_wheels(layer: Path, target: Target, lock: Mapping[str, str] | None = None) -> tuple[int, list[str]]:
    """Each installed wheel is tagged for the target, and (with ``lock``) is exactly what the lock pins."""
    wheels, problems = installed_wheels(layer)
    for wheel in wheels:
        tags = [expanded for tag in wheel.tags for expanded in expand_tags(tag)]
        if not tags:
            problems.append(f"{wheel.directory}/WHEEL has no Tag line")
        elif not any(target.accepts(tag) for tag in tags):
            problems.append(
                f"{wheel.directory} is tagged {', '.join(wheel.tags)}: "
                f"not installable on {target.cpython} {target.platform}"
            )
    if lock is not None:
        installed = {_canonical(w.name): w for w in wheels}
        for name, wheel in sorted(installed.items()):
            if name not in lock:
                problems.append(f"{wheel.directory}: {wheel.name} is not pinned in the lock")
            elif wheel.version != lock[name]:
                problems.append(
                    f"{wheel.directory}: {wheel.name} {wheel.version} installed, the lock pins {lock[name]}"
                )
        problems.extend(
            f"{name}=={version} is pinned but not installed"
            for name, version in sorted(lock.items())
            if name not in installed
        )
    return len(wheels), problems


# ---------------------------------------------------------------------------- what the package imports


def top_level_names(layer: Path) -> frozenset[str]:
    """What ``import NAME`` finds in the layer directory: packages, modules and extension modules."""
    names = set()
    for entry in layer.iterdir():
        if entry.is_dir():
            if entry.name.isidentifier() and entry.name != "__pycache__":  # not *.dist-info, *.data
                names.add(entry.name)
        elif entry.suffix == ".py" or _NATIVE_NAME.search(entry.name):
            stem = entry.name.partition(".")[0]
            if stem.isidentifier():
                names.add(stem)
    return frozenset(names)


@dataclass(frozen=True)
class Module:
    """One shipped module: its dotted name, file, and the names its module level binds."""

    name: str
    path: Path
    is_package: bool
    tree: ast.Module
    binds: frozenset[str]


def _module_level(statements: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, looking into the blocks that do not open a scope."""
    for statement in statements:
        yield statement
        if isinstance(statement, ast.If | ast.For | ast.While):
            yield from _module_level(statement.body)
            yield from _module_level(statement.orelse)
        elif isinstance(statement, ast.With):
            yield from _module_level(statement.body)
        elif isinstance(statement, ast.Try):
            yield from _module_level(statement.body)
            for handler in statement.handlers:
                yield from _module_level(handler.body)
            yield from _module_level(statement.orelse)
            yield from _module_level(statement.finalbody)


#: What every module has without binding it.
_MODULE_ATTRIBUTES = frozenset(
    {"__name__", "__doc__", "__file__", "__path__", "__package__", "__spec__", "__loader__", "__dict__"}
)


def _binds(tree: ast.Module) -> frozenset[str]:
    names = set(_MODULE_ATTRIBUTES)
    for statement in _module_level(tree.body):
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(statement.name)
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).partition(".")[0] for a in statement.names)
        elif isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return frozenset(names)


def read_module(name: str, path: Path, *, is_package: bool = False) -> Module:
    tree = ast.parse(path.read_bytes(), filename=str(path))
    return Module(name=name, path=path, is_package=is_package, tree=tree, binds=_binds(tree))


def package_modules(layer: Path, package: str) -> dict[str, Module]:
    """Every module of ``package`` as shipped in the layer, by dotted name."""
    modules = {}
    root = layer / package
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(layer).with_suffix("")
        is_package = relative.name == "__init__"
        parts = relative.parts[:-1] if is_package else relative.parts
        modules[".".join(parts)] = read_module(".".join(parts), path, is_package=is_package)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught] if caught else []
    return any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError"} for n in names)


def runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that runs, at any depth, except type-checking and optional ones."""
    if isinstance(tree, ast.Import | ast.ImportFrom):
        yield tree
        return
    if isinstance(tree, ast.If) and _is_type_checking(tree.test):
        for statement in tree.orelse:
            yield from runtime_imports(statement)
        return
    if isinstance(tree, ast.Try) and any(_catches_import_error(h) for h in tree.handlers):
        # The body may fail to import: the handlers (the fallback) must not.
        children: list[ast.AST] = [*tree.handlers, *tree.orelse, *tree.finalbody]
    else:
        children = list(ast.iter_child_nodes(tree))
    for child in children:
        yield from runtime_imports(child)


@dataclass
class ImportReport:
    """What the import check found: how many imports resolved where, and what did not."""

    modules: int = 0
    resolved: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def imports(self) -> int:
        return sum(self.resolved.values())


class ImportChecker:
    """Resolves imports against the target's standard library, the layer's packages and ``shipped``."""

    def __init__(
        self, package: str, shipped: Mapping[str, Module], available: Iterable[str], stdlib: Iterable[str]
    ) -> None:
        self.package = package
        self.shipped = shipped
        self.available = frozenset(available) - {package}
        self.stdlib = frozenset(stdlib)

    def check(self, modules: Iterable[Module]) -> ImportReport:
        report = ImportReport()
        for module in modules:
            report.modules += 1
            for node in runtime_imports(module.tree):
                for where, problem in self._resolve(module, node):
                    if problem is None:
                        report.resolved[where] += 1
                    else:
                        report.problems.append(f"{module.name}, line {node.lineno}: {problem}")
        return report

    def _resolve(self, module: Module, node: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, str | None]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield self._absolute(alias.name)
            return
        if node.level:
            base = module.name.split(".")
            if not module.is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            if not base:
                yield self.package, f"relative import beyond the top of {self.package}"
                return
            target = ".".join([*base, *([node.module] if node.module else [])])
        else:
            target = node.module or ""
        where, problem = self._absolute(target)
        if problem is not None or where != self.package:
            yield where, problem
            return
        # ``from tvsync.x import y``: y is a shipped submodule, or a name tvsync.x binds.
        bound = self.shipped[target]
        for alias in node.names:
            if alias.name == "*" or f"{target}.{alias.name}" in self.shipped or alias.name in bound.binds:
                yield self.package, None
            else:
                yield self.package, f"imports {target}.{alias.name}, which is not in the layer"

    def _absolute(self, name: str) -> tuple[str, str | None]:
        top = name.partition(".")[0]
        if top == self.package:
            if name in self.shipped:
                return self.package, None
            return self.package, f"imports {name}, which is not in the layer"
        if top in self.stdlib:
            return "standard library", None
        if top in self.available:
            return "layer packages", None
        return "missing", f"imports {name}: neither the standard library nor a package in the layer"


# ---------------------------------------------------------------------------- the command


def verify(
    layer: Path, target: Target, *, package: str, lock: Mapping[str, str] | None
) -> tuple[list[str], list[str]]:
    """Every check on one built layer: (what was checked, problems)."""
    native, native_problems = check_native_code(layer, target)
    wheels, wheel_problems = check_wheels(layer, target, lock)
    shipped = package_modules(layer, package)
    checker = ImportChecker(package, shipped, top_level_names(layer), stdlib_modules(target.python))
    report = checker.check(shipped.values())
    if not shipped:
        report.problems.append(f"no {package} package in the layer")
    pinned = ", each at the version the lock pins" if lock is not None else ""
    where = ", ".join(f"{count} {kind}" for kind, count in sorted(report.resolved.items()))
    checked = [
        f"{native} compiled files: ELF, 64-bit, {target.machine}",
        f"{wheels} installed wheels: tagged for {target.cpython} on {target.platform}{pinned}",
        f"{report.modules} {package} modules: {report.imports} imports resolved ({where or 'none'})",
    ]
    return checked, native_problems + wheel_problems + report.problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="verify_layer.py",
        description="Check a built Lambda layer (its python/ directory) against the runtime it targets.",
    )
    parser.add_argument("layer", type=Path, help="the layer's python/ directory")
    parser.add_argument("--python-version", default="3.13", help="the Lambda runtime's Python (default 3.13)")
    parser.add_argument(
        "--platform", default="manylinux2014_aarch64", help="the platform the wheels were installed for"
    )
    parser.add_argument("--package", default="tvsync", help="the project's package in the layer")
    parser.add_argument("--lock", type=Path, help="the hash-pinned lock the layer was installed from")
    args = parser.parse_args(argv)
    try:
        target = Target.parse(args.python_version, args.platform)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.layer.is_dir():
        parser.error(f"{args.layer} is not a directory")
    lock = read_lock(args.lock) if args.lock else None
    checked, problems = verify(args.layer, target, package=args.package, lock=lock)
    if problems:
        print(
            f"verify_layer: {args.layer} will not work in Lambda ({len(problems)} problems):", file=sys.stderr
        )
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"verify_layer: {args.layer} is fit for {target.cpython} on {target.platform}:")
    for line in checked:
        print(f"  - {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
