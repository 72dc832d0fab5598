"""Files a user names, shared by every reader and writer: path checks, text openers, atomic writes,
and the check of decoded JSON values that no Arrow table or UTF-8 file can hold.

A path is checked before it is opened, so a folder where a file belongs (or the other way round), a
missing file or a file name that is not valid UTF-8 ends in one :class:`~curate.errors.InputError`
naming the path. Text is UTF-8 (a leading byte-order mark is skipped), gzip-compressed when the
name ends in ``.gz``. Folder writes go through :func:`atomic_folder`; single files through
:func:`curate.files.atomic_file`.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from curate.errors import InputError, Where
from curate.files import atomic_files

MAX_JSON_DEPTH = 100
"""Deepest nesting of lists and objects accepted in a JSON value (SQuAD itself needs 6)."""


def check_name(path: Path) -> None:
    """An InputError when ``path`` cannot be spelt in UTF-8 (bytes the file system gave undecoded)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            "file name is not valid UTF-8", where=Where(file=repr(str(path))[1:-1]), hint="rename the file"
        ) from None


def input_file(path: Path) -> Path:
    """``path`` if it is a readable file; else an InputError (missing, a folder, a bad name)."""
    check_name(path)
    if path.is_dir():
        raise InputError(
            "expected a file, found a folder", where=Where(file=str(path)), hint="give the path of a data file"
        )
    if not path.exists():
        raise InputError("file not found", where=Where(file=str(path)), hint="check the path")
    return path


def input_folder(path: Path) -> Path:
    """``path`` if it is a folder; else an InputError."""
    check_name(path)
    if not path.exists():
        raise InputError("folder not found", where=Where(file=str(path)), hint="check the path")
    if not path.is_dir():
        raise InputError("expected a folder, found a file", where=Where(file=str(path)), hint="give a folder")
    return path


def open_text(path: Path) -> IO[str]:
    """Open a UTF-8 text file for reading (``.gz`` decompressed, a byte-order mark skipped, line
    ends kept as they are)."""
    input_file(path)
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def peek_text(path: Path, size: int = 4096) -> str:
    """The first ``size`` characters of a text file (undecodable bytes replaced), ``""`` when it
    cannot be read: enough to tell formats apart, never an error."""
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
                return handle.read(size)
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            return handle.read(size)
    except (OSError, EOFError):
        return ""


def create_text(path: Path, name: Path | None = None) -> IO[str]:
    """Open ``path`` for writing UTF-8 text, gzip-compressed when the final ``name`` (default
    ``path``) ends in ``.gz``."""
    if (name or path).name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "wb"), encoding="utf-8", newline="")
    return path.open("w", encoding="utf-8", newline="")


def not_utf8(path: Path, exc: UnicodeDecodeError) -> InputError:
    """The error for a file that is not UTF-8 text, showing the first bad bytes."""
    return InputError(
        "file is not UTF-8 text",
        where=Where(file=str(path)),
        value=exc.object[exc.start : exc.end],
        hint="re-encode it as UTF-8 (e.g. iconv -f cp949 -t utf-8)",
    )


def unreadable(path: Path, exc: BaseException) -> InputError:
    """The error for a file that cannot be read (a broken gzip stream, an I/O error)."""
    return InputError("cannot read the file", where=Where(file=str(path)), value=str(exc) or type(exc).__name__)


def atomic_folder(path: Path, fill: Callable[[Path], None]) -> None:
    """Run ``fill`` on a temporary folder, then move each file it wrote into ``path`` (see
    :func:`curate.files.atomic_files`); a folder name that is not valid UTF-8 is an InputError."""
    check_name(path)
    with atomic_files(path) as tmp:
        fill(tmp)


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` holds half of a UTF-16 surrogate pair (JSON ``"\\ud800"``): not encodable."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_problem(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> tuple[str, str] | None:
    """The first problem of a decoded JSON value that no Arrow table or UTF-8 file can hold:
    ``(JSON path, what)`` for a lone surrogate in a string or key, or nesting deeper than
    ``max_depth``; ``None`` when the value is fine. Paths look like ``answers[0].text``."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if has_lone_surrogate(item):
                return where, "text holds a lone surrogate (half of a UTF-16 pair), which UTF-8 cannot store"
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                short = where if len(where) <= 60 else where[:57] + "..."
                return short, f"value is nested more than {max_depth} levels deep"
            if isinstance(item, dict):
                children = []
                for key, child in item.items():
                    path = f"{where}.{key}" if where else str(key)
                    if has_lone_surrogate(str(key)):
                        return path, "key holds a lone surrogate (half of a UTF-16 pair), which UTF-8 cannot store"
                    children.append((child, path, depth + 1))
                stack.extend(reversed(children))
            else:
                stack.extend(reversed([(child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item)]))
    return None
