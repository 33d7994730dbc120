"""Reads template.yaml so the local stack is built from the same definition as AWS.

The template is the single source of truth: queue attributes, table keys, function
environment variables and event source settings are read from it, never restated.
Only the intrinsic functions the template actually uses are resolved (Ref, GetAtt, Sub);
anything else fails loudly rather than being guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[3] / "template.yaml"


class TemplateError(ValueError):
    """template.yaml uses something the local stack cannot resolve."""


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns short-form intrinsics (``!Ref X``) into their long form."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template")
    return document


@dataclass(frozen=True)
class Resolver:
    """Resolves intrinsics against known physical values (resource refs/attributes, parameters)."""

    refs: Mapping[str, str]
    attributes: Mapping[tuple[str, str], str]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self._ref(arg)
                if key == "Fn::GetAtt":
                    return self._attribute(arg[0], arg[1])
                if key == "Fn::Sub":
                    return self._sub(arg)
                if key.startswith("Fn::"):
                    raise TemplateError(f"intrinsic {key} is not supported by the local stack")
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _ref(self, name: str) -> str:
        if name not in self.refs:
            raise TemplateError(f"no local value for Ref {name}")
        return self.refs[name]

    def _attribute(self, resource: str, attribute: str) -> str:
        if (resource, attribute) not in self.attributes:
            raise TemplateError(f"no local value for GetAtt {resource}.{attribute}")
        return self.attributes[(resource, attribute)]

    def _sub(self, arg: Any) -> str:
        if not isinstance(arg, str):
            raise TemplateError("Fn::Sub with a variable map is not supported by the local stack")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if "." in name:
                resource, attribute = name.split(".", 1)
                return self._attribute(resource, attribute)
            return self._ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, arg)


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    """Each parameter's default as a string (how CloudFormation passes parameters)."""
    return {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }


def resource(template: Mapping[str, Any], logical_id: str) -> Mapping[str, Any]:
    try:
        found: Mapping[str, Any] = template["Resources"][logical_id]
    except KeyError:
        raise TemplateError(f"template has no resource {logical_id}") from None
    return found


def function_environment(template: Mapping[str, Any], logical_id: str, resolver: Resolver) -> dict[str, str]:
    """Globals + the function's own environment variables, resolved, as Lambda would set them."""
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = resource(template, logical_id)["Properties"].get("Environment", {}).get("Variables", {})
    merged = {**globals_env, **own}
    return {name: str(resolver.resolve(value)) for name, value in merged.items()}
