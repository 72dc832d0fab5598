"""Errors a user can cause, each rendered as one line: what, where, the bad value, a hint.

Every message follows the shape::

    <what> [at <file>, row <n>, field '<name>'] [: got <value>] [(hint: <hint>)]

The CLI prints ``error: <message>`` and exits with :attr:`CurateError.exit_code`;
``--debug`` adds the traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

_MAX_VALUE_CHARS = 80


def show_value(value: Any) -> str:
    """Short ``repr`` of a bad value, cut to a readable length."""
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


@dataclass(frozen=True)
class Where:
    """Location of a problem: file, 1-based line or 0-based row, field, pipeline stage."""

    file: str | None = None
    line: int | None = None
    row: int | None = None
    field: str | None = None
    stage: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.stage:
            parts.append(f"stage '{self.stage}'")
        if self.file:
            parts.append(str(self.file))
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)


_NO_VALUE = object()


class CurateError(Exception):
    """Base of every error caused by input, configuration or usage.

    Args:
        what: what went wrong, e.g. ``"malformed JSON"``.
        where: file/row/field/stage of the problem.
        value: the offending value (quoted, shortened).
        hint: how to fix it.
    """

    exit_code = 2

    def __init__(
        self,
        what: str,
        *,
        where: Where | None = None,
        value: Any = _NO_VALUE,
        hint: str | None = None,
    ) -> None:
        self.what = what
        self.where = where or Where()
        self.value = value
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.what
        where = str(self.where)
        if where:
            text += f" at {where}"
        if self.value is not _NO_VALUE:
            text += f": got {show_value(self.value)}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def at(self, **where: Any) -> Self:
        """Copy of this error with more location filled in (existing fields win)."""
        merged = {k: v for k, v in where.items() if v is not None}
        merged.update({k: v for k, v in vars(self.where).items() if v is not None})
        return type(self)(self.what, where=Where(**merged), value=self.value, hint=self.hint)

    def __str__(self) -> str:
        return self.message


class InputError(CurateError):
    """A data file cannot be read: missing, malformed, or not of the expected format."""


class SchemaError(CurateError):
    """Data does not fit its schema kind: a missing field or a value of the wrong type."""


class ConfigError(CurateError):
    """A pipeline file, stage parameter or command option is wrong."""


class StageError(CurateError):
    """A stage broke its contract (for example kept + rejected != input)."""


class ExecutorError(CurateError):
    """Tasks could not run: a worker process died and was not retried, or a cluster cannot be reached."""


class OutputError(CurateError):
    """An output cannot be written: the disk is full or read-only, a file is in the way, or another run
    is writing to the same folder."""
