"""Loads a function exactly as Lambda does: CodeUri + Handler from template.yaml, env applied first.

Each load is a new module object — a new "execution environment" with its own clients and
connection pools, the way each concurrent Lambda instance has its own.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from tvsync.local.template import TEMPLATE_PATH, TemplateError, resource

LambdaHandler = Callable[[dict[str, Any], Any], Any]

_ENV_LOCK = threading.Lock()


@dataclass
class LocalLambdaContext:
    """The parts of Lambda's context object the handlers and Powertools read."""

    function_name: str
    timeout_seconds: float
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


@dataclass(frozen=True)
class LocalFunction:
    """One loaded execution environment of a template function."""

    function_id: str
    module: Any
    handler: LambdaHandler
    timeout_seconds: float
    memory_mb: int

    def invoke(self, event: dict[str, Any]) -> Any:
        context = LocalLambdaContext(self.function_id, self.timeout_seconds, self.memory_mb)
        return self.handler(event, context)


def import_fresh(path: Path, *, prefix: str) -> ModuleType:
    """Import a handler file under a new module name: a new execution environment each time."""
    name = f"{prefix}_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TemplateError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_function(
    template: Mapping[str, Any],
    function_id: str,
    env: Mapping[str, str],
    *,
    root: Path = TEMPLATE_PATH.parent,
) -> LocalFunction:
    """Import the function's handler module with ``env`` set, as a cold start would."""
    props = resource(template, function_id)["Properties"]
    globals_ = template.get("Globals", {}).get("Function", {})
    module_name, _, attribute = str(props["Handler"]).rpartition(".")
    path = root / str(props["CodeUri"]) / f"{module_name.replace('.', '/')}.py"
    if not path.is_file():
        raise TemplateError(f"{function_id}: handler file {path} not found")
    with _ENV_LOCK:
        os.environ.update(env)
        module = import_fresh(path, prefix=f"_tvsync_fn_{function_id}")
    return LocalFunction(
        function_id=function_id,
        module=module,
        handler=getattr(module, attribute),
        timeout_seconds=float(props.get("Timeout", globals_.get("Timeout", 3))),
        memory_mb=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
    )
