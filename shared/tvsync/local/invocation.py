"""Runs one template function in this process as Lambda runs it: ``sam local invoke`` without Docker.

The handler comes from template.yaml (CodeUri + Handler) and is imported fresh with the
function's environment set, so every invocation is a cold start: settings are read, clients
built and the Powertools logger created exactly as in a new Lambda execution environment.
What the handler prints — Powertools' JSON log lines, EMF metrics, warnings — is captured
as Lambda's log stream would capture it, and an exception is reported, never re-raised.

The AWS the function sees is local, always: a running ``tvsync serve`` (its state file names
the endpoint and each function's environment) or embedded AWS (in-process moto) provisioned
from the template beside the TeamViewer and Okta emulators, seeded with the demo cast so the
people of ``events/`` exist. The shell's AWS profile, region and keys are dropped exactly as
for the local stack (``tvsync.local.aws.local_environ``): they describe a real account.

``--env-vars`` files use SAM's format, ``{"<LogicalId>": {VAR: value}, "Parameters": {VAR:
value}}``, with SAM's rules: ``Parameters`` apply to every function, a function's own entry
wins over them, and only variables the template declares for the function are set. One
exception keeps an invocation local: the target decides where Okta and TeamViewer are
(``OKTA_ORG_URL``, ``TEAMVIEWER_API_URL``) as it decides where AWS is — the values an
env.json carries for ``sam local invoke`` against a deployed stack are real services.

Lambda stops a function at its timeout; in-process nothing can, so the handler gets a
context with the template's timeout and its own budget logic (the ingest deadline, the
worker's hand-back of unstarted records) behaves as in Lambda.
"""

from __future__ import annotations

import io
import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tvsync.emulators.http import serve
from tvsync.emulators.okta import OktaEmulator
from tvsync.emulators.teamviewer import TeamViewerEmulator
from tvsync.local import demo_cast
from tvsync.local.api_gateway import proxy_event
from tvsync.local.aws import LOCAL_REGION, LOCAL_STACK_NAME, local_environ, local_session, provision
from tvsync.local.functions import load_function
from tvsync.local.template import TEMPLATE_PATH, TemplateError, resource
from tvsync.observability import mask_emails
from tvsync.settings import IngestSettings, function_variable

#: The hook secret the sample API Gateway events carry (``events/README.md``): embedded AWS
#: stores it, so they authenticate there. A fake sample, never a deployed stack's secret.
SAMPLE_HOOK_SECRET = "sample-hook-secret-for-local-testing"  # noqa: S105 - a published sample value
#: The ``eventType`` of Okta's event hook envelope: a raw delivery, as Okta POSTs it.
OKTA_DELIVERY_TYPE = "com.okta.event_hook"
#: Where the function's upstream services are: the target's to decide, not an env file's.
TARGET_ENDPOINTS = (function_variable("OKTA_ORG_URL"), function_variable("TEAMVIEWER_API_URL"))
#: Where ingest finds the hook secret, and which header carries it (``IngestSettings``).
_HOOK_SECRET_ARN = function_variable("OKTA_HOOK_SECRET_ARN")
_HOOK_AUTH_HEADER = function_variable("OKTA_HOOK_AUTH_HEADER")
#: What the local stack sets for its own quiet running, and a Lambda function does not have:
#: in Lambda the handler prints its EMF metrics, so an invocation shows them.
STACK_ONLY = ("POWERTOOLS_METRICS_DISABLED",)
#: The name and token the embedded emulators use (fakes: nothing leaves this process).
_EMBEDDED_TEAMVIEWER_TOKEN = "tv-local-token"  # noqa: S105 - an emulator's fake token
_EMBEDDED_OKTA_TOKEN = "okta-local-token"  # noqa: S105 - an emulator's fake token
_PARAMETERS_KEY = "Parameters"


class InvocationInputError(ValueError):
    """The function name, event or env file cannot be used; the text says which and why."""


# ---------------------------------------------------------------------- what to invoke


def function_ids(template: Mapping[str, Any]) -> list[str]:
    return [rid for rid, spec in template["Resources"].items() if spec["Type"] == "AWS::Serverless::Function"]


def short_name(function_id: str) -> str:
    """``IngestFunction`` -> ``ingest``: the name an admin types."""
    return function_id.removesuffix("Function").lower()


def resolve_function(template: Mapping[str, Any], name: str) -> str:
    """The logical id ``name`` means: a function's logical id or short name, any letter case."""
    wanted = name.strip().lower()
    for function_id in function_ids(template):
        if wanted in {function_id.lower(), short_name(function_id)}:
            return function_id
    choices = ", ".join(f"{fid} ({short_name(fid)})" for fid in function_ids(template))
    raise InvocationInputError(f"unknown function {name!r}: template.yaml has {choices}")


def handler_path(template: Mapping[str, Any], function_id: str) -> str:
    """``functions/ingest/app.lambda_handler``: where the handler is, for the output's first line."""
    props = resource(template, function_id)["Properties"]
    return f"{str(props['CodeUri']).rstrip('/')}/{props['Handler']}"


def read_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvocationInputError(f"{what} is not valid JSON: {exc}") from None


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvocationInputError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvocationInputError(f"cannot read {what} {path}: {exc}") from None


def check_event(template: Mapping[str, Any], function_id: str, event: Any, source: str) -> dict[str, Any]:
    """The event, if it is one this function can be given; else why not."""
    if not isinstance(event, dict):
        raise InvocationInputError(f"{source} is not an event: a Lambda event here is a JSON object")
    if event and _looks_like_env_vars(template, event):
        raise InvocationInputError(
            f"{source} is an environment file (keyed by function), not an event: pass it with --env-vars"
        )
    if is_okta_delivery(event) and delivery_route(template, function_id) is None:
        receivers = [fid for fid in function_ids(template) if delivery_route(template, fid) is not None]
        raise InvocationInputError(
            f"{source} is a raw Okta delivery, which only {' or '.join(receivers)} receives "
            f"(through API Gateway); {function_id} cannot take it"
        )
    return event


def is_okta_delivery(event: Mapping[str, Any]) -> bool:
    return event.get("eventType") == OKTA_DELIVERY_TYPE


def delivery_route(template: Mapping[str, Any], function_id: str) -> str | None:
    """The path of the function's ``POST`` API event (where Okta delivers), if it has one."""
    events = resource(template, function_id)["Properties"].get("Events", {})
    for source in events.values():
        props = source.get("Properties", {})
        if source.get("Type") == "Api" and str(props.get("Method", "")).lower() == "post":
            return str(props["Path"])
    return None


def okta_delivery_event(
    delivery: Mapping[str, Any], *, path: str, auth_header: str, secret: str | None
) -> dict[str, Any]:
    """The proxy event API Gateway hands the function for Okta's POST of ``delivery``.

    The body is compact JSON, as Okta sends it; the auth header carries ``secret`` (none
    when it could not be read — the function then answers as it would to such a request).
    """
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "User-Agent": "Okta Hook Service v1.0.0",
    }
    if secret is not None:
        headers[auth_header] = secret
    body = json.dumps(delivery, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return proxy_event("POST", path, resource=path, headers=headers, body=body)


def _looks_like_env_vars(template: Mapping[str, Any], document: Mapping[str, Any]) -> bool:
    keys = {*function_ids(template), _PARAMETERS_KEY}
    return all(key in keys and isinstance(value, dict) for key, value in document.items())


# ---------------------------------------------------------------------- --env-vars


@dataclass(frozen=True)
class EnvVars:
    """An env file in SAM's format: ``Parameters`` for every function, and per-function entries."""

    parameters: Mapping[str, str] = field(default_factory=dict)
    functions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def for_function(self, function_id: str) -> dict[str, str]:
        """The overrides for one function: its own entry wins over ``Parameters`` (SAM's order)."""
        return {**self.parameters, **self.functions.get(function_id, {})}


def parse_env_vars(template: Mapping[str, Any], document: Any, source: str) -> EnvVars:
    """Validate an env file's shape as SAM reads it; a mistake is an error, never ignored.

    SAM silently skips a key it does not know, so a misspelt function name would change
    nothing and look like a broken function; here it is reported. Values become strings as
    SAM makes them (``true``/``false`` for booleans); objects and lists are refused.
    """
    expected = f'{{"<LogicalId>": {{"VAR": "value"}}, "{_PARAMETERS_KEY}": {{...}}}}'
    if not isinstance(document, dict):
        raise InvocationInputError(f"{source} is not an environment file: expected {expected}")
    known = function_ids(template)
    parameters: dict[str, str] = {}
    functions: dict[str, dict[str, str]] = {}
    for key, variables in document.items():
        if key != _PARAMETERS_KEY and key not in known:
            raise InvocationInputError(
                f"{source}: {key!r} is neither a function of template.yaml ({', '.join(known)}) "
                f"nor {_PARAMETERS_KEY}; expected {expected}"
            )
        if not isinstance(variables, dict):
            raise InvocationInputError(
                f"{source}: {key} must map variable names to values, not {variables!r}"
            )
        values = {name: _env_value(source, key, name, value) for name, value in variables.items()}
        if key == _PARAMETERS_KEY:
            parameters = values
        else:
            functions[key] = values
    return EnvVars(parameters=parameters, functions=functions)


def _env_value(source: str, key: str, name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    raise InvocationInputError(f"{source}: {key}.{name} must be a string, number or boolean")


def declared_variables(template: Mapping[str, Any], function_id: str) -> set[str]:
    """The variables the template sets for a function (Globals and its own): SAM's override set."""
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = resource(template, function_id)["Properties"].get("Environment", {}).get("Variables", {})
    return {*globals_env, *own}


def contract_variables(template: Mapping[str, Any]) -> set[str]:
    """Every variable any function of the template is given."""
    return {name for fid in function_ids(template) for name in declared_variables(template, fid)}


# ---------------------------------------------------------------------- where it runs


@dataclass(frozen=True)
class Target:
    """Local AWS and the functions' environments there: a running stack, or embedded AWS."""

    description: str
    functions: Mapping[str, Mapping[str, str]]
    region: str = LOCAL_REGION
    #: None for in-process moto, which answers every client without an endpoint.
    aws_endpoint_url: str | None = None

    def environment(self, function_id: str) -> dict[str, str]:
        if function_id not in self.functions:
            raise InvocationInputError(f"{self.description} has no environment for {function_id}")
        env = {k: v for k, v in self.functions[function_id].items() if k not in STACK_ONLY}
        env.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon on this machine
        if self.aws_endpoint_url is not None:
            env["AWS_ENDPOINT_URL"] = self.aws_endpoint_url
        return env

    def read_secret(self, secret_id: str) -> str | None:
        """A secret's value in this target's Secrets Manager; None when it cannot be read."""
        with _process_environment(local_environ(os.environ, self.region)):
            client = local_session(self.region).client("secretsmanager", endpoint_url=self.aws_endpoint_url)
            try:
                value = client.get_secret_value(SecretId=secret_id).get("SecretString")
            except Exception:  # any failure means "not readable": the function will say why
                return None
        return value if isinstance(value, str) else None


def running_target(
    functions: Mapping[str, Mapping[str, str]], *, aws_endpoint_url: str | None, region: str, source: str
) -> Target:
    """A stack ``tvsync serve`` runs: its endpoint, region and each function's environment."""
    if not aws_endpoint_url:
        # Without an endpoint the function's clients would go to real AWS.
        raise InvocationInputError(f"{source} names no AWS endpoint; restart `tvsync serve`")
    return Target(
        description=f"the local stack of {source} (AWS at {aws_endpoint_url})",
        functions=functions,
        region=region,
        aws_endpoint_url=aws_endpoint_url,
    )


@contextmanager
def embedded_target(template: Mapping[str, Any]) -> Iterator[Target]:
    """In-process moto with the template's resources, and the emulators with the demo cast.

    The resources carry the local stack's fixed names (``LOCAL_STACK_NAME``), so an env file
    written for the local stack (``events/env.json``) names them too; the hook secret is the
    samples' value, so ``events/apigw-*.json`` authenticate. Okta holds the cast as the whole
    story left them (``tvsync serve --demo-cast``), and the stack is scoped to the demo's app.
    Everything is gone when the block ends.
    """
    # moto is the `local` extra and slow to import: only an embedded invocation pays for it.
    from moto import mock_aws  # noqa: PLC0415

    from tvsync.local.moto_atomic import make_dynamodb_writes_atomic  # noqa: PLC0415 - moto, as above

    teamviewer = TeamViewerEmulator(token=_EMBEDDED_TEAMVIEWER_TOKEN)
    okta = OktaEmulator(token=_EMBEDDED_OKTA_TOKEN)
    demo_cast.seed(okta, teamviewer)
    for _name, change in demo_cast.STORY:
        change(okta)
    with ExitStack() as stack:
        # botocore reads more than a profile from the shell (AWS_ENDPOINT_URL, for one):
        # while embedded AWS runs, the process has the local stack's AWS settings only.
        stack.enter_context(_process_environment(local_environ(os.environ, LOCAL_REGION)))
        teamviewer_url = stack.enter_context(serve(teamviewer)).url
        okta_url = stack.enter_context(serve(okta)).url
        make_dynamodb_writes_atomic()  # the worker's record threads share this moto
        stack.enter_context(mock_aws())
        resources = provision(
            local_session(LOCAL_REGION),
            template,
            stack_name=LOCAL_STACK_NAME,
            secrets={
                "OktaHookSecret": SAMPLE_HOOK_SECRET,
                "TeamViewerTokenSecret": teamviewer.token,
                "OktaApiTokenSecret": okta.token,
            },
            parameters={
                "OktaOrgUrl": okta_url,
                "OktaAppId": demo_cast.TEAMVIEWER_APP_ID,
                "TeamViewerApiUrl": teamviewer_url,
            },
        )
        yield Target(
            description="embedded AWS (in-process moto) and the emulators, demo cast seeded",
            functions={fid: resources.environment(template, fid) for fid in function_ids(template)},
        )


# ---------------------------------------------------------------------- the invocation


@dataclass(frozen=True)
class Prepared:
    """What the function gets — its environment and event — and what the caller should know."""

    function_id: str
    environment: dict[str, str]
    event: dict[str, Any]
    notes: list[str]
    #: The AWS region the function runs in (its stack's).
    region: str = LOCAL_REGION
    #: Values that must never be shown (the hook secret put into a wrapped delivery).
    secrets: tuple[str, ...] = ()


def prepare(
    template: Mapping[str, Any],
    function_id: str,
    target: Target,
    event: dict[str, Any],
    overrides: Mapping[str, str],
) -> Prepared:
    """The function's environment on ``target`` with ``overrides`` applied, and its Lambda event."""
    env = target.environment(function_id)
    declared = declared_variables(template, function_id)
    kept: list[str] = []
    for name, value in overrides.items():
        if name not in declared:
            continue  # SAM sets only what the template declares, and so does this
        if name in TARGET_ENDPOINTS:
            if value != env.get(name):
                kept.append(name)
            continue
        env[name] = value
    notes = []
    if kept:
        used = ", ".join(f"{name}={env.get(name, '')}" for name in kept)
        notes.append(f"--env-vars {', '.join(kept)} not applied: {function_id} keeps the local ones ({used})")
    secrets: tuple[str, ...] = ()
    path = delivery_route(template, function_id)
    if is_okta_delivery(event) and path is not None:
        header = env.get(_HOOK_AUTH_HEADER) or str(IngestSettings.model_fields[_HOOK_AUTH_HEADER].default)
        secret_id = env.get(_HOOK_SECRET_ARN)
        secret = target.read_secret(secret_id) if secret_id else None
        event = okta_delivery_event(event, path=path, auth_header=header, secret=secret)
        if secret is None:
            notes.append(
                f"raw Okta delivery sent as POST {path} without {header}: the hook secret is not readable"
            )
        else:
            notes.append(f"raw Okta delivery sent as API Gateway's POST {path}, the hook secret in {header}")
            secrets = (secret,)
    return Prepared(
        function_id=function_id,
        environment=env,
        event=event,
        notes=notes,
        region=target.region,
        secrets=secrets,
    )


@dataclass(frozen=True)
class Invocation:
    """The outcome: the response, or the error the handler raised; and its log lines."""

    function_id: str
    response: Any = None
    error: str | None = None
    logs: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error is not None


def invoke(
    template: Mapping[str, Any], prepared: Prepared, *, root: Path = TEMPLATE_PATH.parent
) -> Invocation:
    """Cold-start the function with its environment and run it once on the event.

    The process environment is the function's alone while it runs — the shell's AWS
    settings and its values of the functions' variables are not — and is restored after.
    """
    environ = _function_environ(os.environ, template, prepared.environment, prepared.region)
    output = io.StringIO()
    response: Any = None
    error: str | None = None
    with ExitStack() as stack:
        stack.enter_context(_process_environment(environ))
        stack.enter_context(fresh_function_logger(prepared.environment.get("POWERTOOLS_SERVICE_NAME")))
        caught = stack.enter_context(warnings.catch_warnings(record=True))
        stack.enter_context(redirect_stdout(output))
        stack.enter_context(redirect_stderr(output))
        try:
            function = load_function(template, prepared.function_id, prepared.environment, root=root)
            response = function.invoke(prepared.event)
            json.dumps(response)  # Lambda returns JSON: what cannot be marshalled is an error there
        except TemplateError:  # the template names no loadable handler: not the function's error
            raise
        except (Exception, SystemExit) as exc:
            error = _one_line(f"{type(exc).__name__}: {exc}", prepared.secrets)
            response = None
    logs = [line for line in output.getvalue().splitlines() if line.strip()]
    logs += [_one_line(f"{w.category.__name__}: {w.message}", prepared.secrets) for w in caught or ()]
    return Invocation(
        function_id=prepared.function_id,
        response=response,
        error=error,
        logs=[_redact(line, prepared.secrets) for line in logs],
    )


def _function_environ(
    shell: Mapping[str, str], template: Mapping[str, Any], function_env: Mapping[str, str], region: str
) -> dict[str, str]:
    """The process environment for the function: the shell's, minus what a function must not inherit.

    Dropped: AWS settings (``local_environ`` puts the local ones in), Powertools settings,
    and the shell's values of any function's variables — a ``EVENT_QUEUE_URL`` or
    ``OKTA_ORG_URL`` exported for other commands would otherwise reach a function that
    does not declare it, which in Lambda has only its own.
    """
    contract = contract_variables(template)
    inherited = {
        name: value
        for name, value in shell.items()
        if name not in contract and not name.startswith("POWERTOOLS_")
    }
    return {**local_environ(inherited, region), **function_env}


@contextmanager
def _process_environment(environ: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


#: What Powertools keeps on a ``logging.Logger`` it has configured (it configures one only once).
_POWERTOOLS_LOGGER_ATTRIBUTES = (
    "init",
    "powertools_handler",
    "powertools_buffer_config",
    "powertools_buffer_cache",
)


@contextmanager
def fresh_function_logger(service: str | None) -> Iterator[None]:
    """The function's Powertools logger is created anew, bound to the stream in place now.

    Powertools configures the ``logging.Logger`` of a service once per process and binds its
    handler to ``sys.stdout`` as it was then; a logger made earlier (an earlier invocation,
    the local stack, a test) would keep writing where that stream went, and keep its level.
    In Lambda each execution environment starts without one: so does each invocation here.
    The earlier logger's state is put back afterwards, for whoever still uses it.
    """
    name = service or "service_undefined"  # Powertools' name when none is configured
    logger = logging.getLogger(name)
    saved_handlers = list(logger.handlers)
    saved_level, saved_propagate = logger.level, logger.propagate
    saved_filters = list(logger.filters)
    saved_attributes = {a: getattr(logger, a) for a in _POWERTOOLS_LOGGER_ATTRIBUTES if hasattr(logger, a)}
    root_filters = {handler: list(handler.filters) for handler in logging.root.handlers}
    for handler in saved_handlers:
        logger.removeHandler(handler)
    for attribute in saved_attributes:
        delattr(logger, attribute)
    try:
        yield
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        for attribute in _POWERTOOLS_LOGGER_ATTRIBUTES:
            if hasattr(logger, attribute):
                delattr(logger, attribute)
        for handler in saved_handlers:
            logger.addHandler(handler)
        for attribute, value in saved_attributes.items():
            setattr(logger, attribute, value)
        logger.setLevel(saved_level)
        logger.propagate = saved_propagate
        logger.filters[:] = saved_filters
        # Powertools adds a filter to the root handlers at each configuration: take it back.
        for handler, filters in root_filters.items():
            handler.filters[:] = filters


def _one_line(text: str, secrets: tuple[str, ...]) -> str:
    return _redact(" ".join(text.split()), secrets)


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return mask_emails(text)
