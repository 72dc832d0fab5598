"""Shared fixtures (tiny inline MRC rows, the path to the real data beside the checkout) and the
network guard of the whole suite.

Network guard: tests and benchmarks may reach only the loopback address. From the start of the
session, a socket connection (``connect``, ``connect_ex``, ``sendto``, ``create_connection``) or a
name lookup (``getaddrinfo``, ``gethostbyname``, ``gethostbyaddr``) for any host but 127.x.x.x,
::1 or ``localhost`` is refused (``ConnectionRefusedError`` / ``socket.gaierror``) before a packet
leaves, and the test during which it was tried fails with a message naming the address, even when
the code under test swallowed the error. With the environment variable ``CURATE_NETWORK_LOG`` set
to a file, every attempt, allowed or refused, is appended to it as one JSON line (``pid``,
``test``, ``call``, ``address``, ``allowed``). Subprocesses are not covered: servers the tests start
run with their outside services turned off, and ``tests/tools/network_watch.py`` watches them.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from curate.dataset import Dataset
from tests.s3_server import s3, s3_server  # noqa: F401 (fixtures of every test folder)

REPO = Path(__file__).resolve().parent.parent


def without_progress(stderr: str) -> str:
    """``stderr`` without the ``[curate] ...`` progress lines a command prints when stderr is not a
    terminal: what is left is the error, warnings and notes."""
    return "".join(line for line in stderr.splitlines(keepends=True) if not line.startswith("[curate] "))


SHARED_DATA = REPO.parent / "shared" / "data"

CONTEXT = "서울은 대한민국의 수도이다. 서울의 인구는 약 940만 명이다. 한강이 서울을 가로지른다."


def answer(context: str, text: str, nth: int = 0) -> dict:
    """``{"text", "answer_start"}`` of the ``nth`` occurrence of ``text`` in ``context``."""
    start = -1
    for _ in range(nth + 1):
        start = context.index(text, start + 1)
    return {"text": text, "answer_start": start}


def mrc_rows() -> list[dict]:
    nfd = unicodedata.normalize("NFD", CONTEXT)
    return [
        {"id": "q1", "context": CONTEXT, "question": "대한민국의 수도는?", "answers": [answer(CONTEXT, "서울")]},
        {"id": "q2", "context": CONTEXT, "question": "서울의 인구는?", "answers": [answer(CONTEXT, "약 940만 명")]},
        {"id": "q3", "context": CONTEXT, "question": "서울을 가로지르는 강은?", "answers": [answer(CONTEXT, "한강")]},
        {
            "id": "q4",
            "context": nfd,
            "question": "수도는?",
            "answers": [answer(nfd, unicodedata.normalize("NFD", "서울"))],
        },
    ]


def mrc_table(rows: list[dict] | None = None) -> pa.Table:
    return Dataset.from_arrow(pa.Table.from_pylist(rows if rows is not None else mrc_rows()), "mrc").table


@pytest.fixture
def mrc() -> Dataset:
    return Dataset.from_arrow(pa.Table.from_pylist(mrc_rows()), "mrc")


@pytest.fixture
def stage_registry() -> Iterator[dict[str, Any]]:
    """The stage registry, as it was again after the test: a stage class a test defines registers itself."""
    from curate.stages import REGISTRY

    saved = dict(REGISTRY)
    yield REGISTRY
    REGISTRY.clear()
    REGISTRY.update(saved)


def needs_shared(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with a clear message when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path} (../shared/data beside the checkout)")
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly when the real Label Studio round trip or the browser tests were skipped because the
    server or Chromium is not installed."""
    from tests.integration.label_studio_server import NOT_INSTALLED as NO_LABEL_STUDIO
    from tests.report.chromium import NOT_INSTALLED as NO_CHROMIUM

    for what, reason in (
        ("LABEL STUDIO", NO_LABEL_STUDIO),
        ("BROWSER (CHROMIUM)", NO_CHROMIUM),
        ("RAY", RAY_NOT_INSTALLED),
    ):
        skipped = [r for r in terminalreporter.stats.get("skipped", []) if reason in str(r.longrepr)]
        if skipped:
            terminalreporter.write_sep("!", f"{len(skipped)} {what} TESTS SKIPPED", red=True, bold=True)
            terminalreporter.write_line(reason, red=True, bold=True)


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WordPiece ``tokenizer.json`` trained on the sample data (``tests/tokenizer.py``)."""
    from tests.tokenizer import save_sample_tokenizer

    return save_sample_tokenizer(tmp_path_factory.mktemp("tokenizer") / "tokenizer.json")


# ----------------------------------------------------------------------------- network guard

NETWORK_LOG_ENV = "CURATE_NETWORK_LOG"
"""Environment variable: a file to which the guard appends every attempted connection (JSON lines)."""


def is_loopback(host: Any) -> bool:
    """True for 127.x.x.x, ::1 (also IPv4-mapped), ``localhost`` and no host at all (a local bind)."""
    if host is None or host in ("", b""):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0].lower()
    if host in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


class NetworkGuard:
    """Refuses every connection or lookup for a non-loopback host (see the module docstring)."""

    def __init__(self, log: str | None) -> None:
        self.log = Path(log) if log else None
        self.test: str | None = None
        self._refused: list[str] = []
        self._lock = threading.Lock()
        self._originals: dict[tuple[Any, str], Any] = {}

    def check(self, call: str, host: Any, address: Any) -> str | None:
        """Record the attempt; None when it may go ahead, else why it is refused."""
        allowed = is_loopback(host)
        with self._lock:
            if self.log is not None:
                entry = {
                    "pid": os.getpid(),
                    "test": self.test,
                    "call": call,
                    "address": repr(address),
                    "allowed": allowed,
                }
                with self.log.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")
            if allowed:
                return None
            attempt = f"{call} {'of' if call.startswith('get') else 'to'} {address!r}"
            refusal = f"network guard: {attempt} refused (tests may reach only 127.0.0.1 and ::1)"
            self._refused.append(refusal)
        return refusal

    def take(self) -> list[str]:
        """The attempts refused since the last call."""
        with self._lock:
            refused, self._refused = self._refused, []
        return refused

    # ----------------------------------------------------------------- patching
    def install(self) -> None:
        guard = self
        connect, connect_ex, sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto

        def inet(sock: socket.socket) -> bool:
            return sock.family in (socket.AF_INET, socket.AF_INET6)

        def guarded_connect(sock: socket.socket, address: Any) -> Any:
            if inet(sock) and (refusal := guard.check("connect", address[0], address)):
                raise ConnectionRefusedError(errno.ECONNREFUSED, refusal)
            return connect(sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> Any:
            if inet(sock) and guard.check("connect_ex", address[0], address):
                return errno.ECONNREFUSED
            return connect_ex(sock, address)

        def guarded_sendto(sock: socket.socket, data: Any, *args: Any) -> Any:
            address = args[-1] if args else None
            if inet(sock) and isinstance(address, tuple) and (refusal := guard.check("sendto", address[0], address)):
                raise ConnectionRefusedError(errno.ECONNREFUSED, refusal)
            return sendto(sock, data, *args)

        def lookup(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
            def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
                if refusal := guard.check(name, host, host):
                    raise socket.gaierror(socket.EAI_NONAME, refusal)
                return original(host, *args, **kwargs)

            return guarded

        create_connection = socket.create_connection

        def guarded_create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
            if refusal := guard.check("create_connection", address[0], address):
                raise ConnectionRefusedError(errno.ECONNREFUSED, refusal)
            return create_connection(address, *args, **kwargs)

        patches: list[tuple[Any, str, Any]] = [
            (socket.socket, "connect", guarded_connect),
            (socket.socket, "connect_ex", guarded_connect_ex),
            (socket.socket, "sendto", guarded_sendto),
            (socket, "create_connection", guarded_create_connection),
        ]
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
            patches.append((socket, name, lookup(name, getattr(socket, name))))
        for owner, name, replacement in patches:
            self._originals[(owner, name)] = getattr(owner, name)
            setattr(owner, name, replacement)

    def uninstall(self) -> None:
        for (owner, name), original in self._originals.items():
            setattr(owner, name, original)
        self._originals.clear()


_GUARD = NetworkGuard(os.environ.get(NETWORK_LOG_ENV))


def pytest_configure(config: pytest.Config) -> None:
    _GUARD.install()


HEAVY = ("integration", "label_studio", "chromium")
"""Markers of tests that start a server or a browser or read large real data: they are also ``slow``."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test of tests/integration/ and every test with a :data:`HEAVY` marker, so
    ``pytest -m "not slow"`` is a quick loop (``make test`` still runs everything)."""
    integration = Path(__file__).parent / "integration"
    for item in items:
        if item.path.is_relative_to(integration) or any(item.get_closest_marker(name) for name in HEAVY):
            item.add_marker(pytest.mark.slow)


def pytest_unconfigure(config: pytest.Config) -> None:
    _GUARD.uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _GUARD.test = item.nodeid
    try:
        return (yield)
    finally:
        _GUARD.test = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A setup, call or teardown during which a connection was refused fails, naming the address."""
    report: pytest.TestReport = yield
    refused = _GUARD.take()
    if refused:
        text = "\n".join(refused)
        if report.failed:
            report.sections.append(("network guard", text))
        else:
            report.outcome = "failed"
            report.longrepr = text
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A connection refused outside any test (at collection, in a session fixture) fails the run."""
    refused = _GUARD.take()
    if refused:
        print("\n" + "\n".join(refused))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# ----------------------------------------------------------------------------- Ray cluster

RAY_NOT_INSTALLED = "Ray is not installed: the tests of the ray executor are SKIPPED (pip install 'curate[ray]')"


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """The address of a real Ray cluster of two nodes (a head and a worker node, one CPU each), both
    on 127.0.0.1 (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` keeps Ray on loopback); stopped at the end."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # read when ray is imported
    try:
        from ray.cluster_utils import Cluster
    except ImportError:
        pytest.skip(RAY_NOT_INSTALLED)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        yield cluster.address
    finally:
        cluster.shutdown()


@pytest.fixture(scope="session")
def blind_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python for Ray's worker processes that cannot see this test session's temporary folders
    (where every run folder of these tests is): it runs in a mount namespace of its own with an
    empty file system over them, as a worker on another machine would have. Ray starts every
    worker of a run with it (``runtime_env.py_executable``)."""
    hidden = tmp_path_factory.getbasetemp()
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(
            f"unshare cannot make a mount namespace here, so no worker can be kept from the disk: {probe.stderr}"
        )
    tools = Path(tempfile.mkdtemp(prefix="curate-blind-"))  # outside the hidden folders
    script = tools / "python"
    script.write_text(
        "#!/bin/sh\n"
        f"exec unshare -rm sh -c 'mount -t tmpfs none \"$0\" && exec \"$@\"' '{hidden}' '{sys.executable}' \"$@\"\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return str(script)
