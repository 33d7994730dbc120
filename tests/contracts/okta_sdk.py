"""Okta's own SDK models (``okta`` 3.4.x) as an independent check of Okta-shaped JSON.

The SDK's pydantic models are generated from Okta's management OpenAPI spec [SPEC], but they
are lenient: every field is optional and unknown fields are dropped silently. Validation
alone would pass a body that misspells a field or leaves out the id. So ``violations`` adds
three checks of its own on top of the SDK's strict validation:

- every key must be a field the SDK's model knows (objects the spec leaves open, such as a
  user profile with custom attributes, excepted) — a misspelt or invented field shows here;
- every value the SDK types as a timestamp must be in Okta's format,
  ``YYYY-MM-DDTHH:mm:ss.SSSZ`` [CORE] — the SDK itself accepts any ISO 8601 form;
- every field the product's own model requires (``tvsync.models.okta``,
  ``tvsync.models.okta_hook``, the client's group body) must be present and not null, so
  what the SDK calls optional is still there for the code that needs it.

The spec's ``anyOf`` objects (a group's ``profile``: an Okta group's or an Active Directory
group's, [SPEC] ``GroupProfile``) come out of the generator as wrappers whose own
validation accepts anything; a value there must instead pass every check above as one of
the wrapper's alternatives.

Messages name fields and the kind of fault, never values: bodies carry emails.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from okta.models import LogDevice
from pydantic import BaseModel, ValidationError

#: Okta's timestamp format [CORE]: UTC, millisecond precision, ``Z``.
OKTA_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

#: Fields Okta sends that the SDK's model leaves out, with the SDK model that describes them.
#: ``device`` is one of a LogEvent's fields [EH][SPEC] and the SDK ships a ``LogDevice`` model,
#: but the SDK's generated ``LogEvent`` (3.4.x) has no field for it.
SDK_GAPS: dict[tuple[str, str], type[BaseModel]] = {("LogEvent", "device"): LogDevice}


def violations(
    sdk_model: type[BaseModel], body: Any, *, ours: type[BaseModel] | None = None, where: str = "$"
) -> list[str]:
    """Everything wrong with ``body`` as an instance of ``sdk_model``; empty when it is right."""
    if not isinstance(body, dict):
        return [f"{where}: expected a JSON object, got {type(body).__name__}"]
    if alternatives(sdk_model):
        found: list[str] = []
        _any_of_check(sdk_model)(body, where, found)
        return found
    found = _sdk_errors(sdk_model, body, where)
    _walk_model(sdk_model, body, where, found)
    if ours is not None:
        _required(ours, body, where, found)
    return found


def _sdk_errors(sdk_model: type[BaseModel], body: dict[str, Any], where: str) -> list[str]:
    """The SDK model's own verdict, strict: a number is no string, a string no boolean."""
    try:
        sdk_model.model_validate_json(json.dumps(body), strict=True)
    except ValidationError as exc:
        return [
            f"{where}.{'.'.join(str(p) for p in error['loc'])}: {error['msg']} (SDK {sdk_model.__name__})"
            for error in exc.errors(include_input=False, include_url=False)
        ]
    return []


#: Checks one value found at a path, appending what is wrong with it.
_Check = Callable[[Any, str, list[str]], None]


@cache
def _plan(model: type[BaseModel]) -> dict[str, _Check | None]:
    """JSON key -> the check of its value, compiled once per SDK model (``None``: a plain scalar)."""
    return {(field.alias or name): _check_for(field.annotation) for name, field in model.model_fields.items()}


def _check_for(annotation: Any) -> _Check | None:  # noqa: PLR0911 - one return per kind of annotation
    """The check an SDK annotation calls for: into models, lists, dicts and timestamps."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _check_for(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        options = [_check_for(a) for a in get_args(annotation) if a is not type(None)]
        return _first_fitting([c for c in options if c is not None])
    if origin is list:
        return _each_item(_check_for(get_args(annotation)[0]))
    if origin is dict:
        return _each_value(_check_for(get_args(annotation)[1]))
    if annotation is datetime:
        return _check_timestamp
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _any_of_check(annotation) if alternatives(annotation) else _model_check(annotation)
    return None


@cache
def alternatives(model: type[BaseModel]) -> tuple[type[BaseModel], ...]:
    """The models an ``anyOf``/``oneOf`` wrapper stands for (none: ``model`` is no wrapper).

    The generator keeps them as ``anyof_schema_<n>_validator`` (or ``oneof_…``) fields
    beside ``actual_instance``; ``model_validate`` fills none of them from JSON.
    """
    fields = model.model_fields
    if "actual_instance" not in fields:
        return ()
    return tuple(
        nested
        for name, field in fields.items()
        if name.startswith(("anyof_schema_", "oneof_schema_"))
        for nested in _models_in(field.annotation)
    )


def _any_of_check(wrapper: type[BaseModel]) -> _Check:
    """The value must be one of the wrapper's alternatives; if none fits, the nearest one's faults show."""

    def check(value: Any, where: str, found: list[str]) -> None:
        if not isinstance(value, dict):
            found.append(f"{where}: expected a JSON object, got {type(value).__name__}")
            return
        verdicts = [violations(option, value, where=where) for option in alternatives(wrapper)]
        if any(not verdict for verdict in verdicts):
            return
        names = ", ".join(option.__name__ for option in alternatives(wrapper))
        found.append(f"{where}: fits none of {names} (SDK {wrapper.__name__})")
        nearest = min(verdicts, key=len)
        found.extend(nearest)

    return check


def _first_fitting(options: list[_Check]) -> _Check | None:
    if len(options) <= 1:
        return options[0] if options else None

    def check(value: Any, where: str, found: list[str]) -> None:
        for option in options:
            option(value, where, found)

    return check


def _each_item(item: _Check | None) -> _Check | None:
    if item is None:
        return None

    def check(value: Any, where: str, found: list[str]) -> None:
        if isinstance(value, list):
            for index, element in enumerate(value):
                if element is not None:
                    item(element, f"{where}[{index}]", found)

    return check


def _each_value(item: _Check | None) -> _Check | None:
    if item is None:
        return None

    def check(value: Any, where: str, found: list[str]) -> None:
        if isinstance(value, dict):
            for key, element in value.items():
                if element is not None:
                    item(element, f"{where}.{key}", found)

    return check


def _model_check(model: type[BaseModel]) -> _Check:
    def check(value: Any, where: str, found: list[str]) -> None:
        if isinstance(value, dict):
            _walk_model(model, value, where, found)

    return check


def _check_timestamp(value: Any, where: str, found: list[str]) -> None:
    if isinstance(value, str) and not OKTA_TIMESTAMP.fullmatch(value):
        found.append(f"{where}: timestamp not in Okta's YYYY-MM-DDTHH:mm:ss.SSSZ format")


@cache
def _is_open(model: type[BaseModel]) -> bool:
    """Models the spec leaves open to extra keys carry them in ``additional_properties``."""
    return "additional_properties" in model.model_fields


def _walk_model(model: type[BaseModel], body: dict[str, Any], where: str, found: list[str]) -> None:
    """Every key a field of ``model`` (unless the spec leaves it open), every value checked."""
    plan = _plan(model)
    open_ = _is_open(model)
    for key, value in body.items():
        gap = SDK_GAPS.get((model.__name__, key))
        if gap is not None:
            if value is not None:
                found.extend(violations(gap, value, where=f"{where}.{key}"))
        elif key not in plan:
            if not open_:
                found.append(f"{where}.{key}: not a field of the SDK's {model.__name__}")
        else:
            check = plan[key]
            if check is not None and value is not None:
                check(value, f"{where}.{key}", found)


@cache
def _required_plan(model: type[BaseModel]) -> tuple[tuple[str, bool, tuple[type[BaseModel], ...]], ...]:
    """(JSON key, required?, models nested in the field) for each field of ``model``, once."""
    return tuple(
        (field.alias or name, field.is_required(), tuple(_models_in(field.annotation)))
        for name, field in model.model_fields.items()
    )


def _required(model: type[BaseModel], body: dict[str, Any], where: str, found: list[str]) -> None:
    """Every field ``model`` (ours) requires is present and not null, recursively."""
    for key, required, nested_models in _required_plan(model):
        value = body.get(key)
        if value is None:
            if required:
                found.append(f"{where}.{key}: missing, but {model.__name__} requires it")
            continue
        for nested in nested_models:
            if isinstance(value, dict):
                _required(nested, value, f"{where}.{key}", found)
            elif isinstance(value, list):
                for index, element in enumerate(value):
                    if isinstance(element, dict):
                        _required(nested, element, f"{where}.{key}[{index}]", found)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside an annotation such as ``list[HookTarget] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in get_args(annotation) for model in _models_in(argument)]
