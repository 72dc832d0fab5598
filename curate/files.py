"""Writing files and folders safely: names that are safe as paths, atomic write-then-rename, digests,
and one-line errors for a disk that is full, read-only or in the way.

Every temporary lives beside its final path as ``.<name>.tmp`` (:func:`temp_path`), is renamed onto
the final path when complete and removed when anything fails, so a reader sees the old file or the new
one, never half of one. An ``OSError`` while writing becomes an :class:`~curate.errors.OutputError`
naming the final path (never the temporary one), with a hint for the usual causes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

from curate.errors import ConfigError, OutputError, Where

NAME = re.compile(r"\w[\w.-]{0,99}")
"""A name that may be used as a file or folder name: a letter, digit or ``_`` first, then letters,
digits, ``_``, ``-`` and ``.``; at most 100 characters. No separators, so it never leaves its folder."""

_HINTS = {
    errno.ENOSPC: "free space on that disk, or choose another output folder",
    errno.EDQUOT: "the disk quota is used up: free space, or choose another output folder",
    errno.EFBIG: "the file size limit is reached (ulimit -f): raise it, or choose another output folder",
    errno.EROFS: "the file system is read-only: choose another output folder",
    errno.EACCES: "no permission to write there: choose another output folder",
    errno.EPERM: "no permission to write there: choose another output folder",
    errno.ENOTDIR: "a file is in the way of a folder: remove it, or choose another output folder",
    errno.EISDIR: "a folder is in the way of a file: remove it, or choose another output folder",
}


def check_name(value: str, *, what: str, where: Where) -> str:
    """``value`` if it matches :data:`NAME`, else a ConfigError naming ``what`` and ``where``."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise ConfigError(
            f"bad {what} (it names a folder)",
            where=where,
            value=value,
            hint="use letters, digits, '_', '-' and '.', starting with a letter or digit",
        )
    return value


def temp_path(path: Path) -> Path:
    """``.<name>.tmp`` beside ``path``: where ``path`` is written before it is renamed into place."""
    return path.with_name(f".{path.name}.tmp")


def remove(path: Path) -> None:
    """Remove a file, a symlink or a folder tree; nothing when it does not exist."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def is_write_error(exc: OSError) -> bool:
    """True for an ``OSError`` that says the disk cannot take more (full, quota, size limit, read-only)."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


def write_error(exc: OSError, path: Path) -> OutputError:
    """One-line error for a failed write of ``path`` (the final path, not a temporary one)."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return OutputError(f"cannot write ({reason})", where=Where(file=str(path)), hint=_HINTS.get(exc.errno or 0))


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an ``OSError`` raised inside into :func:`write_error` for ``path``."""
    try:
        yield
    except OSError as exc:
        raise write_error(exc, path) from exc


def make_parent(path: Path) -> None:
    """Create the folders above ``path``; an OutputError when a file stands where one must go."""
    for folder in (path.parent, *path.parent.parents):
        if folder.exists() and not folder.is_dir():
            raise OutputError(
                "cannot create the destination: a file is in the way",
                where=Where(file=str(path)),
                value=str(folder),
                hint="choose another destination",
            )
        if folder.exists():
            break
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def atomic_file(path: Path, *, shared: bool = False) -> Iterator[Path]:
    """Yield the temporary path to write ``path`` to; it is renamed onto ``path`` when the block ends
    and removed when it fails. An ``OSError`` becomes an OutputError naming ``path``, as does a
    destination that is a folder or lies under a file. ``shared``: several processes may write
    ``path`` at once (a cache), so the temporary's name carries this process's id."""
    if path.is_dir():
        raise OutputError(
            "the destination is a folder", where=Where(file=str(path)), hint="give a file name, e.g. out.parquet"
        )
    make_parent(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp") if shared else temp_path(path)
    try:
        with writing(path):
            yield tmp
            os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield an empty temporary folder to fill; it replaces the folder ``path`` when the block ends and
    is removed when it fails. A failed write (an ``OSError``, or an OutputError from a file written
    inside) becomes an OutputError naming the file's final place under ``path``."""
    tmp = temp_path(path)

    def final(name: str | None) -> Path:
        inside = Path(name) if isinstance(name, str) else None
        return path / inside.relative_to(tmp) if inside is not None and inside.is_relative_to(tmp) else path

    try:
        try:
            remove(tmp)
            tmp.mkdir(parents=True)
            yield tmp
            remove(path)
            tmp.rename(path)
        except OSError as exc:
            raise write_error(exc, final(exc.filename)) from exc
        except OutputError as exc:
            named = exc.where.file  # a file outside the folder (an object-store URL) keeps its name
            outside = named is not None and not Path(named).is_relative_to(tmp)
            moved = replace(exc.where, file=named if outside else str(final(named)))
            raise OutputError(exc.what, where=moved, hint=exc.hint) from exc
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: Path) -> None:
    """Remove a temporary after a failed write; a temporary that cannot be removed (it never was:
    a file stands where its folder should be) leaves the write's own error in place."""
    with suppress(OSError):
        remove(tmp)


@contextmanager
def atomic_files(path: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside the folder ``path``; when the block ends each file
    written in it is moved into ``path`` (files already in ``path`` that were not written are left
    alone), and the temporary is removed either way. A destination that is a file, or a folder
    standing where a written file goes, is an OutputError."""
    if path.exists() and not path.is_dir():
        raise OutputError(
            "the destination is a file, a folder is needed", where=Where(file=str(path)), hint="give a folder name"
        )
    make_parent(path)  # the folder itself is made only when there is something to move into it
    tmp = temp_path(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        for file in sorted(p for p in tmp.rglob("*") if p.is_file()):
            target = path / file.relative_to(tmp)
            if target.is_dir():
                raise OutputError("the destination is a folder", where=Where(file=str(target)))
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(file, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON, atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def digest(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes, or of a folder's files (relative names and bytes, in name order)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    sha = hashlib.sha256()
    for file in files:
        sha.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                sha.update(chunk)
    return sha.hexdigest()


def is_within(path: Path, folder: Path) -> bool:
    """True when ``path`` is ``folder`` or lies inside it, symlinks resolved."""
    return path.resolve().is_relative_to(folder.resolve())
