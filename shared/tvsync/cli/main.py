"""The ``tvsync`` command: one entry point, one module per subcommand.

Each module in ``tvsync.cli`` that defines ``add_parser(subparsers)`` is a subcommand; it
registers its arguments and sets ``run`` (``args -> exit code``) as the parser default.
Errors reach the user as one line on stderr — never a traceback — and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError

import tvsync
import tvsync.cli as commands_package
from tvsync.cli.context import aws_problem
from tvsync.cli.output import CliError

DESCRIPTION = """\
Keep TeamViewer company accounts in step with Okta.

Run the whole pipeline on this machine (serve, demo, bench), drive a deployed or local
endpoint as Okta would (replay, verify-hook), and operate it (check, reconcile, dlq, status).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvsync", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {tvsync.__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    commands = []
    for info in pkgutil.iter_modules(commands_package.__path__):
        module = importlib.import_module(f"tvsync.cli.{info.name}")
        if hasattr(module, "add_parser"):
            commands.append((getattr(module, "ORDER", 100), info.name, module))
    for _order, _name, module in sorted(commands, key=lambda item: (item[0], item[1])):
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("tvsync: interrupted", file=sys.stderr)
        return 130
    except CliError as exc:
        print(f"tvsync: error: {exc}", file=sys.stderr)
        return 2
    except BotoCoreError as exc:  # no region, no credentials, endpoint unreachable: say which
        print(f"tvsync: error: {aws_problem(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"tvsync: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
