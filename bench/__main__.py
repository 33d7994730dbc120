"""``python -m bench`` (``make bench``): run the benchmarks, print them, append them to a results file.

Each section is printed as soon as its benchmark finishes and appended to
``.tvsync/benchmarks.md`` (or ``--results PATH``) under one heading per run that names the
date, the machine and the exact command, so every figure can be traced to how it was
produced. ``.tvsync/`` is git-ignored: running the benchmarks never changes the checkout.
docs/benchmarks.md is the curated document for users — the method, and the latest run of
each benchmark that someone reviewed and copied there, with the command that produced it.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import shlex
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from bench.common import ROOT

#: Run order; a module that does not exist (yet) is skipped.
BENCHMARKS = ("ingest", "worker", "pipeline", "reconcile", "groups", "okta_oauth")
#: Where runs are appended by default: beside the local stack's state, outside version control.
RESULTS = ROOT / ".tvsync" / "benchmarks.md"


def available() -> dict[str, ModuleType]:
    found = {}
    for name in BENCHMARKS:
        module_name = f"bench.{name}_bench"
        if importlib.util.find_spec(module_name) is None:
            continue
        try:
            found[name] = importlib.import_module(module_name)
        except Exception as exc:  # one broken benchmark must not stop the others
            print(f"Skipping the {name} benchmark: it cannot be imported ({exc})", file=sys.stderr)
    return found


def shown(path: Path) -> str:
    """A path as someone in the project directory would type it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def build_parser(modules: dict[str, ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Benchmarks of okta-teamviewer-sync, run locally against embedded AWS (a moto server "
            "on 127.0.0.1) and the TeamViewer and Okta emulators. Each result is printed and "
            f"appended to {shown(RESULTS)} (or --results) with the date, machine and command."
        ),
    )
    parser.add_argument(
        "--only",
        choices=sorted(modules),
        action="append",
        metavar="NAME",
        help=f"run only this benchmark (repeatable); one of: {', '.join(modules)}",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        metavar="PATH",
        help=f"markdown file to append the results to (default: {shown(RESULTS)})",
    )
    parser.add_argument("--no-write", action="store_true", help="print the results, write no file")
    for module in modules.values():
        add_arguments = getattr(module, "add_arguments", None)
        if add_arguments is not None:
            add_arguments(parser)
    return parser


def command_line(argv: Sequence[str]) -> str:
    """The command that produced a run, as someone would type it again."""
    if not argv and os.environ.get("MAKELEVEL"):
        return "make bench"
    return shlex.join(["python", "-m", "bench", *argv])


def machine() -> str:
    cores = os.cpu_count() or 0
    return (
        f"{cores} core{'s' if cores != 1 else ''}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.platform(terse=True)} {platform.machine()}"
    )


def run_heading(argv: Sequence[str]) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"## Run of {stamp}\n\nMachine: {machine()}. Command: `{command_line(argv)}`.\n"


def append(text: str, results: Path) -> None:
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a", encoding="utf-8") as out:
        out.write("\n" + text)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    modules = available()
    args = build_parser(modules).parse_args(args_list)
    selected = [name for name in modules if not args.only or name in args.only]
    heading_written = args.no_write
    failed = []
    heading = run_heading(args_list)
    print(heading, flush=True)
    for name in selected:
        print(f"Running the {name} benchmark…", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            section: str = modules[name].run(args)
        except Exception:
            traceback.print_exc()
            print(f"The {name} benchmark failed; its results are not recorded.", file=sys.stderr)
            failed.append(name)
            continue
        print(section, flush=True)
        print(f"({name}: {time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
        if not heading_written:
            append(heading, args.results)
            heading_written = True
        if not args.no_write:
            append(section, args.results)
    if not args.no_write and heading_written:
        print(f"Results appended to {shown(args.results)}", file=sys.stderr)
    if failed:
        print(f"Failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
