"""Object-store paths: ``s3://bucket/key`` as the input or output of :func:`curate.io.read`,
:func:`~curate.io.write`, :func:`~curate.io.write_table` and :func:`~curate.io.read_to_shards`.

Through :class:`pyarrow.fs.S3FileSystem`, not fsspec/s3fs: pyarrow is a dependency already (s3fs
would add aiobotocore, which pins botocore narrowly), it streams copies in both directions without
holding a file in memory, and it is what writes Parquet anyway. The client is made from explicit
settings only, never from the URL (resolving a bucket's region would ask AWS itself):

- ``AWS_ENDPOINT_URL``: an S3-compatible server (``http://127.0.0.1:9000``); unset, AWS.
- ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``): with both keys
  set, no instance-metadata endpoint is ever asked for credentials.
- ``AWS_REGION`` or ``AWS_DEFAULT_REGION``: default ``us-east-1``.

:func:`configure` sets any of them in the program instead (its values win over the environment).
The readers and writers work on local files: an input object (or every object under a prefix,
for a folder format) is first copied into a temporary folder under its own name, an output is
written to a temporary folder and then copied up; errors name the ``s3://`` URL.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.fs as pafs

from curate.errors import ConfigError, CurateError, InputError, OutputError, Where

SCHEME = "s3://"
_settings: dict[str, str | None] = {}
_E = TypeVar("_E", bound=CurateError)
_HINT = "check the bucket and key, AWS_ENDPOINT_URL and the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"


def is_remote(path: Any) -> bool:
    """True for an ``s3://`` URL (given as text: ``Path`` would fold its ``//``)."""
    return isinstance(path, str) and path.startswith(SCHEME)


def configure(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    session_token: str | None = None,
) -> None:
    """Object-store settings for this program, over the ``AWS_*`` environment variables (``None``
    leaves a setting to the environment)."""
    _settings.update(
        endpoint_url=endpoint_url,
        region=region,
        access_key=access_key,
        secret_key=secret_key,
        session_token=session_token,
    )


def _setting(name: str, *env: str) -> str | None:
    value = _settings.get(name)
    return value if value is not None else next((os.environ[e] for e in env if os.environ.get(e)), None)


_VARIABLES = {
    "endpoint_url": ("AWS_ENDPOINT_URL",),
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "access_key": ("AWS_ACCESS_KEY_ID",),
    "secret_key": ("AWS_SECRET_ACCESS_KEY",),
    "session_token": ("AWS_SESSION_TOKEN",),
}


def environment() -> dict[str, str]:
    """The ``AWS_*`` variables that give another process (a task on another node) these settings."""
    found = {name: _setting(name, *variables) for name, variables in _VARIABLES.items()}
    return {_VARIABLES[name][0]: value for name, value in found.items() if value is not None}


def filesystem() -> pafs.S3FileSystem:
    """The S3 client, from the settings above."""
    endpoint = _setting("endpoint_url", "AWS_ENDPOINT_URL")
    options: dict[str, Any] = {
        "region": _setting("region", "AWS_REGION", "AWS_DEFAULT_REGION") or "us-east-1",
        "connect_timeout": 5,
        "request_timeout": 30,
    }
    key, secret = _setting("access_key", "AWS_ACCESS_KEY_ID"), _setting("secret_key", "AWS_SECRET_ACCESS_KEY")
    if key and secret:
        options.update(access_key=key, secret_key=secret, session_token=_setting("session_token", "AWS_SESSION_TOKEN"))
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        if not host or scheme not in ("http", "https"):
            raise ConfigError(
                "AWS_ENDPOINT_URL is not an http(s) URL", value=endpoint, hint="e.g. http://127.0.0.1:9000"
            )
        options.update(endpoint_override=host.rstrip("/"), scheme=scheme)
    return _client(tuple(sorted(options.items())))


@functools.lru_cache(maxsize=4)
def _client(options: tuple[tuple[str, Any], ...]) -> pafs.S3FileSystem:
    """One client per settings (a task reading and writing many files makes it once)."""
    return pafs.S3FileSystem(**dict(options))


def key_of(url: str) -> str:
    """``bucket/key`` of ``s3://bucket/key``; a URL without a bucket is a ConfigError."""
    key = url[len(SCHEME) :].rstrip("/")
    if not key or key.startswith("/"):
        raise ConfigError("an s3:// path needs a bucket", value=url, hint="s3://BUCKET/KEY")
    return key


def _failed(what: str, url: str, exc: OSError, error: type[CurateError] = InputError) -> CurateError:
    """One line for a failed request: the AWS error (``AWS Error ACCESS_DENIED during HeadObject
    operation``) where the message has one, else the message."""
    detail = " ".join(str(exc).split())
    found = re.search(r"AWS Error [^:]*", detail)
    return error(what, where=Where(file=url), value=found.group(0).strip() if found else detail, hint=_HINT)


def renamed(exc: _E, local: Path, url: str) -> _E:
    """``exc`` naming ``url`` where it names the local copy ``local`` (or a file in it)."""
    file = exc.where.file
    if not file or not file.startswith(str(local)):
        return exc
    shown = url.rstrip("/") + file[len(str(local)) :]
    return type(exc)(exc.what, where=replace(exc.where, file=shown), value=exc.value, hint=exc.hint)


@contextmanager
def local_input(url: str) -> Iterator[Path]:
    """A local copy of the object ``url`` (or of every object under it, for a folder), under its own
    name in a temporary folder that is removed afterwards. A missing bucket or key, or credentials
    the server refuses, are an InputError naming ``url``."""
    s3, key = filesystem(), key_of(url)
    try:
        info = s3.get_file_info(key)
    except OSError as exc:
        raise _failed("cannot read from the object store", url, exc) from None
    if info.type == pafs.FileType.NotFound:
        bucket = key.split("/", 1)[0]
        if s3.get_file_info(bucket).type == pafs.FileType.NotFound:
            raise InputError("bucket not found", where=Where(file=url), value=bucket, hint=_HINT)
        raise InputError("file not found", where=Where(file=url), hint=_HINT)
    folder = Path(tempfile.mkdtemp(prefix="curate-s3-"))
    local = folder / key.rsplit("/", 1)[-1]
    try:
        try:
            if info.type == pafs.FileType.Directory:
                local.mkdir()
            pafs.copy_files(key, str(local), source_filesystem=s3, destination_filesystem=pafs.LocalFileSystem())
        except OSError as exc:
            raise _failed("cannot read from the object store", url, exc) from None
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def input_path(path: str | Path) -> Iterator[tuple[Path, str | None]]:
    """``(local path, None)`` for a local ``path``; for an ``s3://`` URL ``(local copy, URL)``, and
    errors raised in the block name the URL instead of the copy."""
    if not is_remote(path):
        yield Path(path), None
        return
    url = str(path)
    with local_input(url) as local:
        try:
            yield local, url
        except CurateError as exc:
            raise renamed(exc, local, url) from None


@contextmanager
def output_path(path: str | Path) -> Iterator[Path]:
    """``path`` itself when local; for an ``s3://`` URL a local path of the same name to write to,
    whose file (or folder's files) is copied up to the URL when the block ends without error.
    Errors raised in the block name the URL; a refused upload is an OutputError naming it."""
    if not is_remote(path):
        yield Path(path)
        return
    url = str(path)
    key = key_of(url)
    folder = Path(tempfile.mkdtemp(prefix="curate-s3-"))
    local = folder / key.rsplit("/", 1)[-1]
    try:
        try:
            yield local
        except CurateError as exc:
            raise renamed(exc, local, url) from None
        upload(local, url)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def upload(local: Path, url: str) -> None:
    """Copy the file or folder ``local`` to ``url``."""
    s3, key = filesystem(), key_of(url)
    try:
        if local.is_dir():
            for file in sorted(p for p in local.rglob("*") if p.is_file()):
                target = f"{key}/{file.relative_to(local).as_posix()}"
                pafs.copy_files(str(file), target, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=s3)
        elif local.exists():
            pafs.copy_files(str(local), key, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=s3)
    except OSError as exc:
        raise _failed("cannot write to the object store", url, exc, OutputError) from None


def listing(url: str) -> list[str]:
    """Names of the objects directly under the prefix ``url`` (``[]`` when there are none)."""
    s3, key = filesystem(), key_of(url)
    try:
        if s3.get_file_info(key).type != pafs.FileType.Directory:
            return []
        return [info.base_name for info in s3.get_file_info(pafs.FileSelector(key))]
    except OSError as exc:
        raise _failed("cannot list the object store", url, exc, OutputError) from None


def size_of(url: str) -> int | None:
    """The size in bytes of the object ``url``; None when there is none."""
    s3, key = filesystem(), key_of(url)
    try:
        info = s3.get_file_info(key)
    except OSError as exc:
        raise _failed("cannot read from the object store", url, exc) from None
    return info.size if info.type == pafs.FileType.File else None


def download(url: str, local: Path) -> None:
    """Copy every object under the prefix ``url`` into the folder ``local`` (made if missing)."""
    s3, key = filesystem(), key_of(url)
    local.mkdir(parents=True, exist_ok=True)
    try:
        if s3.get_file_info(key).type == pafs.FileType.Directory:
            pafs.copy_files(key, str(local), source_filesystem=s3, destination_filesystem=pafs.LocalFileSystem())
    except OSError as exc:
        raise _failed("cannot read from the object store", url, exc) from None


def remove_prefix(url: str) -> None:
    """Delete every object under the prefix ``url``."""
    s3, key = filesystem(), key_of(url)
    try:
        s3.delete_dir(key)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _failed("cannot delete from the object store", url, exc, OutputError) from None
