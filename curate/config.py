"""Configuration models: the one strict base and the one translation of a pydantic error.

Every model a user fills in (a pipeline file, a stage's ``params``, an engine's settings, a
command's options) derives from :class:`Strict`: unknown keys are an error, values are immutable,
and each field's attribute docstring is its ``description`` (the help text of the parameter in
``curate stages`` and of the matching command-line option). :func:`config_error` turns a
``ValidationError`` into curate's one-line :class:`~curate.errors.ConfigError`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from curate.errors import ConfigError, Where

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base of every configuration model: unknown keys are an error, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _model_at(model: type[BaseModel], path: list[str]) -> type[BaseModel]:
    """The model holding the last key of ``path`` (descending through nested models and lists of them)."""
    for part in path:
        field = model.model_fields.get(part)
        if field is None:
            continue  # a list index
        inner = field.annotation
        for arg in getattr(inner, "__args__", (inner,)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                model = arg
                break
    return model


def first_sentence(text: str | None, limit: int = 160) -> str:
    """The first sentence of a description, whitespace folded, ``code`` marks dropped, at most about
    ``limit`` characters (cut after a word)."""
    folded = " ".join((text or "").replace("``", "").split())
    sentence = re.split(r"(?<=\.)\s+(?=[A-Z])", folded, maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[:limit].rsplit(" ", 1)[0] + " ..."


def config_error(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    where: Where | None = None,
    noun: str = "parameter",
    owner: str = "",
    name: Callable[[str], str] = str,
) -> ConfigError:
    """One-line error for the first problem of ``exc`` (an unknown key first), raised by ``model``.

    ``noun`` says what the user wrote (``key`` in a pipeline file, ``parameter`` of a stage,
    ``option`` of a command), ``owner`` whose it is (`` for stage 'minhash_dedup'``), ``name`` how a
    field is spelt to the user (``num_perm`` -> ``--num-perm``). The hint lists the allowed keys, or
    for a bad value the field's help text. A rule between fields names no key.
    """
    errors = exc.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(part) for part in first["loc"]]
    here = _model_at(model, loc[:-1])
    allowed = f"allowed: {', '.join(name(key) for key in here.model_fields)}"
    key = ".".join([*loc[:-1], name(loc[-1])]) if loc else ""
    where = where or Where()
    if first["type"] == "extra_forbidden":
        close = difflib.get_close_matches(loc[-1], list(here.model_fields), n=1)
        hint = f"did you mean '{name(close[0])}'? {allowed}" if close else allowed
        return ConfigError(f"unknown {noun} '{key}'{owner}", where=where, value=first.get("input"), hint=hint)
    if first["type"] == "missing":
        return ConfigError(f"missing {noun} '{key}'{owner}", where=where, hint=allowed)
    message = first["msg"].removeprefix("Value error, ")
    if not loc:  # a rule between several fields: the message names them
        return ConfigError(f"bad combination of {noun}s{owner} ({message})", where=where)
    field = here.model_fields.get(loc[-1])
    hint = f"{key}: {first_sentence(field.description)}" if field is not None and field.description else allowed
    what = f"bad value for {noun} '{key}'{owner} ({message})"
    return ConfigError(what, where=where, value=first.get("input"), hint=hint)


def validated(model: type[M], values: dict[str, Any], **how: Any) -> M:
    """``model(**values)``, or the :func:`config_error` of its first problem (``how``: its keywords)."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise config_error(exc, model, **how) from None
