"""Start a real Label Studio server for the round-trip tests.

The server lives in its own virtual environment (it pins an older pyarrow than curate), made by
``make label-studio`` from ``requirements-label-studio.lock`` into ``.label-studio-venv/``; the
``LABEL_STUDIO_BIN`` environment variable may point at another ``label-studio`` executable.
It runs on 127.0.0.1 with a preset admin user and legacy API token, its database in a temporary
folder, and is stopped (process group) when the tests end. Its outside services are off
(:data:`OFFLINE`): no error reports to Label Studio's hosted Sentry (backend and frontend), no
usage analytics, no check for a newer version, so it reaches nothing but its own clients.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".label-studio-venv"
INSTALLED = VENV / ".installed"
NOT_INSTALLED = (
    "LABEL STUDIO SERVER NOT INSTALLED: the real Label Studio round trip did not run "
    "(`make label-studio` builds .label-studio-venv/; see its output for why it failed)"
)
OFFLINE = {
    "SENTRY_DSN": "",
    "FRONTEND_SENTRY_DSN": "",
    "COLLECT_ANALYTICS": "false",
    "LATEST_VERSION_CHECK": "false",
}
"""Settings that turn Label Studio's outside services off (an empty DSN disables Sentry)."""
START_TIMEOUT = 300.0
"""Seconds to wait for /health; a fresh database takes about 30-40 s here."""


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    email: str
    log: Path


def executable() -> Path | None:
    """The ``label-studio`` command, or ``None`` when it is not installed."""
    given = os.environ.get("LABEL_STUDIO_BIN")
    if given:
        return Path(given) if Path(given).exists() else None
    command = VENV / "bin" / "label-studio"
    return command if INSTALLED.exists() and command.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def get(url: str) -> bytes:
    """The body of ``url`` on the local server (straight, not through a proxy)."""
    with _DIRECT.open(url, timeout=5) as response:
        body: bytes = response.read()
    return body


def _healthy(url: str) -> bool:
    try:
        return b"UP" in get(f"{url}/health")
    except OSError:
        return False


@contextmanager
def label_studio(command: Path, home: Path) -> Iterator[Server]:
    """Run ``command start`` until the block ends; raise ``RuntimeError`` (with the log) if it never comes up."""
    port = _free_port()
    server = Server(
        url=f"http://127.0.0.1:{port}",
        token=os.urandom(20).hex(),
        email="annotator@curate.test",
        log=home / "label-studio.log",
    )
    (home / "data").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "LABEL_STUDIO_BASE_DATA_DIR": str(home / "data"),
        "LABEL_STUDIO_USERNAME": server.email,
        "LABEL_STUDIO_PASSWORD": os.urandom(12).hex(),
        "LABEL_STUDIO_USER_TOKEN": server.token,
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        **OFFLINE,
    }
    args = [str(command), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)]
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            [*args, "--enable-legacy-api-token"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(server.url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = server.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"Label Studio did not start (exit {process.poll()}):\n{tail}")
            time.sleep(1)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
