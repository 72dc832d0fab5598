"""Stage registry: every stage class, keyed by its snake_case ``name``.

Importing this package imports each module in it; a stage class registers itself when it is
defined (:meth:`Stage.__init_subclass__`), so adding a stage is adding its module. Each built-in
stage class is importable from here (and from ``curate``) by its class name. A pipeline may also
name a stage of another package as ``package.module:Class`` (:func:`get_stage_class`).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil

from curate.errors import ConfigError, Where
from curate.stages.base import REGISTRY, ROLES, Params, Split, Stage, StageResult, StageStats, reject

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

BUILTIN: dict[str, type[Stage]] = {cls.__name__: cls for cls in REGISTRY.values()}
"""The stages this package defines, by class name (what ``from curate.stages import X`` finds)."""


def __getattr__(name: str) -> type[Stage]:
    """A built-in stage class by its class name (``curate.stages.ExactDedup``)."""
    try:
        return BUILTIN[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted([*globals(), *BUILTIN])


def get_stage_class(name: str, *, stage_id: str | None = None, index: int | None = None) -> type[Stage]:
    """The stage class registered as ``name``, or ``package.module:Class`` imported; a one-line
    ConfigError (at ``stages[index].use``) suggests close names or says why the import failed."""
    where = Where(stage=stage_id, field=f"stages[{index}].use" if index is not None else None)
    if ":" in name:
        return _import_stage(name, where)
    if name in REGISTRY:
        return REGISTRY[name]
    close = difflib.get_close_matches(name, REGISTRY, n=3)
    hint = (f"did you mean {' or '.join(repr(c) for c in close)}? " if close else "") + "`curate stages` lists them"
    raise ConfigError("unknown stage", where=where, value=name, hint=hint)


def _import_stage(spec: str, where: Where) -> type[Stage]:
    """The class ``package.module:Class`` names, checked to be a registered stage."""
    module_name, _, class_name = spec.partition(":")
    shape = "name a stage class as package.module:Class"
    if not module_name or not class_name.isidentifier():
        raise ConfigError("bad stage class reference", where=where, value=spec, hint=shape)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        first = (str(exc).splitlines() or [""])[0]
        missing = isinstance(exc, ModuleNotFoundError) and f"{module_name}.".startswith(f"{exc.name}.")
        hint = f"{type(exc).__name__}: {first}" + ("; is its folder on PYTHONPATH?" if missing else "")
        raise ConfigError(f"cannot import module '{module_name}'", where=where, value=spec, hint=hint) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigError(f"module '{module_name}' has no '{class_name}'", where=where, value=spec, hint=shape)
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise ConfigError(
            "not a stage class", where=where, value=spec, hint="a stage subclasses curate.Stage and sets name and role"
        )
    if "name" not in vars(cls):  # a class that sets its name registered itself when it was defined
        raise ConfigError(
            "stage class sets no name of its own", where=where, value=spec, hint="set name = '...' and role"
        )
    return cls


__all__ = [
    "BUILTIN",
    "REGISTRY",
    "ROLES",
    "Params",
    "Split",
    "Stage",
    "StageResult",
    "StageStats",
    "get_stage_class",
    "reject",
    *BUILTIN,
]
