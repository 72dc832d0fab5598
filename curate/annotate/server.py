"""Talk to a running Label Studio server through label-studio-sdk 2.x: push tasks, pull annotations.

The token comes from the environment (:data:`TOKEN_ENV`, the variable label-studio-sdk itself reads)
unless it is passed. Every failure a user can cause (server down, wrong token, unknown project, a
labeling config the project cannot take) is one :class:`~curate.errors.ConfigError` naming the URL;
the server's own message is quoted with the token masked (a server that echoes the request
headers would otherwise print it).

Pushing is idempotent per row: tasks whose ``data.curate_id`` is already in the project are not
imported again, so the same selection can be pushed twice without duplicates.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from curate.annotate.label_studio import ID_FIELD
from curate.errors import ConfigError, Where
from curate.redact import redact

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

TOKEN_ENV = "LABEL_STUDIO_API_KEY"
IMPORT_CHUNK = 500
"""Tasks sent per import request."""


@dataclass(frozen=True)
class Pushed:
    """What :func:`push_tasks` did: the project, whether it was new, tasks imported and already there."""

    project_id: int
    project_url: str
    created: bool
    imported: int
    already_there: int


def _token(token: str | None) -> str:
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise ConfigError(
            "no Label Studio token",
            where=Where(field=TOKEN_ENV),
            hint=f"export {TOKEN_ENV}=<the access token from Label Studio's Account & Settings page>",
        )
    return token


@dataclass(frozen=True)
class _Server:
    """A checked client of one server, with its base URL and token (to mask it in errors)."""

    client: LabelStudio
    url: str
    token: str

    @contextmanager
    def calls(self, *, project: int | None = None, doing: str = "talk to") -> Iterator[None]:
        """Turn connection and HTTP failures of the SDK into one-line errors naming the URL."""
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        url = self.url
        try:
            yield
        except httpx.TransportError as exc:
            raise ConfigError(
                f"cannot reach Label Studio ({type(exc).__name__})",
                where=Where(file=url),
                hint="start the server, or check the URL and port",
            ) from None
        except ApiError as exc:
            status = exc.status_code
            if status in (401, 403):
                raise ConfigError(
                    "Label Studio refused the token",
                    where=Where(file=url, field=TOKEN_ENV),
                    hint=f"set {TOKEN_ENV} to an access token of a user of this server",
                ) from None
            if status == 404 and project is not None:
                raise ConfigError(
                    "no such Label Studio project",
                    where=Where(file=url, field="project"),
                    value=project,
                    hint=f"see the project ids at {url}/projects",
                ) from None
            body = redact(" ".join(str(exc.body).split()), self.token)
            raise ConfigError(
                f"Label Studio could not {doing} (HTTP {status})",
                where=Where(file=url),
                hint=body[:300] if body else None,
            ) from None


def _open(url: str, token: str | None) -> _Server:
    try:
        from label_studio_sdk import LabelStudio
    except ImportError:
        raise ConfigError("label-studio-sdk is not installed", hint="pip install 'curate[label-studio]'") from None
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            "Label Studio URL must start with http:// or https://", value=url, hint="e.g. http://127.0.0.1:8080"
        )
    base, key = url.rstrip("/"), _token(token)
    server = _Server(LabelStudio(base_url=base, api_key=key, timeout=120), base, key)
    with server.calls():
        server.client.users.whoami()
    return server


def connect(url: str, *, token: str | None = None) -> LabelStudio:
    """A label-studio-sdk client for ``url`` (``http://host:port``), checked with one request."""
    return _open(url, token).client


def _find_project(server: _Server, title: str) -> int | None:
    with server.calls(doing="list projects"):
        projects: Iterable[Any] = server.client.projects.list(title=title, page_size=100)
        found = [int(p.id) for p in projects if p.title == title]
    if len(found) > 1:
        raise ConfigError(
            "several Label Studio projects have this title",
            where=Where(field="title"),
            value=title,
            hint=f"pass the project id (one of {', '.join(map(str, sorted(found)))})",
        )
    return found[0] if found else None


def _rows_in_project(server: _Server, project_id: int) -> set[str]:
    with server.calls(project=project_id, doing="list the project's tasks"):
        tasks: Iterable[Any] = server.client.tasks.list(project=project_id, fields="task_only", page_size=1000)
        return {str(task.data[ID_FIELD]) for task in tasks if task.data and ID_FIELD in task.data}


def push_tasks(
    tasks: Sequence[dict[str, Any]],
    label_config: str,
    *,
    url: str,
    title: str | None = None,
    project_id: int | None = None,
    token: str | None = None,
) -> Pushed:
    """Create or update a Label Studio project and import ``tasks`` into it.

    Args:
        tasks, label_config: the output of :func:`curate.annotate.export_tasks`.
        url: the server, e.g. ``http://127.0.0.1:8080``.
        title: project title; an existing project with exactly this title is updated, else one is
            created. Needed when ``project_id`` is not given.
        project_id: update this project instead of looking one up by title.
        token: access token (default: the ``LABEL_STUDIO_API_KEY`` environment variable).

    Returns:
        :class:`Pushed`. An existing project gets the labeling config (when it differs) and only
        the tasks whose row is not in it yet.
    """
    if project_id is None and not title:
        raise ConfigError("a Label Studio project needs a title or an id", where=Where(field="title"))
    server = _open(url, token)
    client = server.client
    created = False
    if project_id is None:
        project_id = _find_project(server, title or "")
        if project_id is None:
            with server.calls(doing="create the project"):
                project_id = int(client.projects.create(title=title, label_config=label_config).id or 0)
            created = True
    if not created:
        with server.calls(project=project_id, doing="read the project"):
            current = client.projects.get(id=project_id).label_config
        if (current or "").strip() != label_config.strip():
            with server.calls(project=project_id, doing="update the project's labeling config"):
                client.projects.update(id=project_id, label_config=label_config)
    present = set() if created else _rows_in_project(server, project_id)
    new = [t for t in tasks if str(t["data"][ID_FIELD]) not in present]
    for start in range(0, len(new), IMPORT_CHUNK):
        with server.calls(project=project_id, doing="import the tasks"):
            client.projects.import_tasks(id=project_id, request=new[start : start + IMPORT_CHUNK])  # type: ignore[arg-type]
    return Pushed(
        project_id=project_id,
        project_url=f"{server.url}/projects/{project_id}",
        created=created,
        imported=len(new),
        already_there=len(tasks) - len(new),
    )


def _user_names(client: LabelStudio) -> dict[int, str]:
    """``{user id: e-mail}``; empty when the token may not list users (annotators then stay ids)."""
    from label_studio_sdk.core.api_error import ApiError

    try:
        return {int(u.id): u.email or u.username for u in client.users.list() if u.id is not None}
    except ApiError:
        return {}


def pull_export(url: str, project_id: int, *, token: str | None = None) -> list[dict[str, Any]]:
    """The project's JSON export (every task, annotated or not), annotators given by e-mail.

    The result has the shape of a JSON export file and goes straight into
    :func:`curate.annotate.import_annotations`.
    """
    server = _open(url, token)
    client = server.client
    with server.calls(project=project_id, doing="export the project"):
        client.projects.get(id=project_id)
        tasks = client.projects.exports.as_json(project_id)
    users = _user_names(client)
    if not isinstance(tasks, list):
        raise ConfigError(
            "Label Studio sent an export that is not a list of tasks",
            where=Where(file=server.url),
            value=type(tasks).__name__,
        )
    for task in tasks:
        for annotation in task.get("annotations") or ():
            who = annotation.get("completed_by")
            if isinstance(who, int) and who in users:
                annotation["completed_by"] = {"id": who, "email": users[who]}
    return tasks
