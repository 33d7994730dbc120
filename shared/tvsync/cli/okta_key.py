"""``tvsync okta-key``: a key pair for the Okta API service app the functions read Okta as.

The private key belongs in ``OktaApiTokenSecret`` only (docs/contracts.md: a JSON document
with the app's client id and the key's id); the public key belongs in the app, in Okta. The
command makes the pair (``tvsync.adapters.okta_auth.new_service_app_key``: RSA 2048, or
P-256 with ``--ec``), prints the public JWK to paste into the app (General tab, Public Keys,
Add key), and puts the secret where it is told:

- ``--stack NAME`` or ``--local-state FILE`` (or a running ``tvsync serve``, found as the
  other commands find it, when ``--store`` is given): into the stack's
  ``OktaApiTokenSecret``, with your AWS credentials — as ``aws secretsmanager
  put-secret-value`` would;
- ``--secret-arn ARN``: into that secret;
- ``--output FILE``: into a file only you may read, to store later (a key rotation: the
  public key goes into Okta first, the secret follows);
- otherwise: printed, to store by hand.

The secret switches the functions to the service app within the secrets' cache period
(``POWERTOOLS_PARAMETERS_MAX_AGE``); the app must hold the public key by then.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tvsync.adapters.okta_auth import new_service_app_key, service_app_secret
from tvsync.cli.context import StackContext, add_stack_arguments, resolve
from tvsync.cli.output import CliError, console, err_console, print_json

ORDER = 35

DESCRIPTION = """\
Make a key pair for the Okta API service app the functions read Okta as, store the private
key (with the app's client id) in OktaApiTokenSecret, and print the public key to add to the
app in Okta (Applications > your app > General > Public Keys > Add key).

examples:
  tvsync okta-key --client-id 0oa1b2c3 --stack okta-tv-sync    # store in a deployed stack
  tvsync okta-key --client-id 0oa1b2c3 --output new-key.json   # rotate: add the key first
  tvsync okta-key --client-id 0oa1b2c3 --ec --dpop             # P-256, print the secret

Add the printed public key to the app before the secret is stored (a new deployment: right
after). To rotate without downtime, keep the old key in the app until the functions use the
new secret (the secrets' cache period), then delete it: see README.md.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "okta-key",
        help="make the Okta service app's key pair; store the private key, print the public one",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--client-id", required=True, help="the service app's client id (0oa…)")
    parser.add_argument(
        "--ec", action="store_true", help="an EC P-256 key (ES256) instead of RSA 2048 (RS256)"
    )
    parser.add_argument(
        "--dpop", action="store_true", help='send DPoP proofs from the first request ("dpop": true)'
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--secret-arn", metavar="ARN", help="store the secret in this Secrets Manager secret")
    where.add_argument(
        "--output", metavar="FILE", type=Path, help="write the secret to FILE (mode 600) to store later"
    )
    where.add_argument(
        "--store",
        action="store_true",
        help="store the secret in the running local stack's OktaApiTokenSecret (implied by --stack)",
    )
    add_stack_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    client_id = str(args.client_id).strip()
    if not client_id:
        raise CliError("--client-id must not be empty")
    if args.output is not None and (args.stack or args.local_state):
        raise CliError("--output writes a file: leave out --stack/--local-state, or --output")
    pem, jwk = new_service_app_key(ec_key=args.ec)
    secret = service_app_secret(client_id, pem, str(jwk["kid"]), dpop=args.dpop)
    stored_in: str | None = None
    written_to: str | None = None
    if args.secret_arn:
        stored_in = _store(None, args.secret_arn, secret)
    elif args.stack or args.local_state or args.store:
        context = resolve(args)
        stored_in = _store(context, context.value("OKTA_API_TOKEN_SECRET_ARN"), secret)
    elif args.output is not None:
        written_to = str(_write(args.output, secret))
    report: dict[str, Any] = {
        "client_id": client_id,
        "key_id": jwk["kid"],
        "algorithm": jwk["alg"],
        "dpop": bool(args.dpop),
        "public_jwk": jwk,
        "stored_in": stored_in,
        "written_to": written_to,
    }
    if stored_in is None and written_to is None:
        report["secret"] = json.loads(secret)
    if args.json:
        print_json(report)
        return 0
    _print(report, secret)
    return 0


def _store(context: StackContext | None, arn: str, secret: str) -> str:
    """Put the secret's new value, as ``aws secretsmanager put-secret-value`` would; the ARN it went to."""
    try:
        client = context.client("secretsmanager") if context is not None else _default_client()
        client.put_secret_value(SecretId=arn, SecretString=secret)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot store the secret in {arn}: {type(exc).__name__}: {exc}") from None
    return arn


def _default_client() -> Any:
    import boto3  # noqa: PLC0415 - only when the key is stored by ARN

    return boto3.session.Session().client("secretsmanager")


def _write(path: Path, secret: str) -> Path:
    """The secret in a file nobody else may read; an existing file is never overwritten."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError(f"{path} exists: choose another --output, a key is never overwritten") from None
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return path


def _print(report: dict[str, Any], secret: str) -> None:
    public = json.dumps(report["public_jwk"], indent=2)
    console.print(
        f"Key pair for service app {report['client_id']}: key id {report['key_id']} ({report['algorithm']})",
        soft_wrap=True,
    )
    console.print("Public key (add it to the app in Okta: General > Public Keys > Add key):", soft_wrap=True)
    console.print(public, soft_wrap=True, markup=False)
    if report["stored_in"]:
        console.print(f"Private key stored in {report['stored_in']}.", soft_wrap=True, markup=False)
    elif report["written_to"]:
        console.print(
            f"Secret written to {report['written_to']}; store it once the app holds the public key:\n"
            f"  aws secretsmanager put-secret-value --secret-id <OktaApiTokenSecretArn> "
            f"--secret-string file://{report['written_to']}",
            soft_wrap=True,
            markup=False,
        )
    else:
        err_console.print(
            "The secret to store in OktaApiTokenSecret (it holds the private key: keep it out of "
            "shell history and chat):",
            soft_wrap=True,
        )
        console.print(secret, soft_wrap=True, markup=False)
