"""The suite's network guard (tests/conftest.py): only loopback may be reached, anything else fails
the test that tried, and the logging mode writes every attempt down.

The inner tests below try 0.0.0.0 and a name under .invalid with AI_NUMERICHOST: were the guard
broken, the first would reach this machine only and the second would fail without a DNS query.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NETWORK_LOG_ENV, REPO, is_loopback

INNER = """
import socket


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        with socket.socket() as client:
            client.connect(("localhost", port))
        assert socket.getaddrinfo("::1", port) and socket.gethostbyname("localhost") == "127.0.0.1"


def test_connect_elsewhere():
    with socket.socket() as sock:
        sock.settimeout(0.5)
        sock.connect(("0.0.0.0", 9))


def test_a_swallowed_attempt_still_fails():
    try:
        socket.create_connection(("0.0.0.0", 9), timeout=0.5)
    except OSError:
        pass


def test_connect_ex_elsewhere():
    with socket.socket() as sock:
        sock.settimeout(0.5)
        assert sock.connect_ex(("0.0.0.0", 9)) != 0


def test_lookup_elsewhere():
    socket.getaddrinfo("curate.invalid", 443, flags=socket.AI_NUMERICHOST)
"""


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        (None, True),
        ("0.0.0.0", False),
        ("10.255.255.53", False),
        ("::", False),
        ("pypi.org", False),
        ("vm", False),
    ],
)
def test_loopback_hosts(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_guard_fails_every_test_that_tries_another_address_and_logs_all(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(INNER, encoding="utf-8")
    log = tmp_path / "connections.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO), NETWORK_LOG_ENV: str(log)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rfp",
            "test_inner.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    outcomes = {
        name: outcome for outcome, name in re.findall(r"^(PASSED|FAILED) test_inner\.py::(\w+)", done.stdout, re.M)
    }
    assert outcomes == {
        "test_loopback_is_allowed": "PASSED",
        "test_connect_elsewhere": "FAILED",
        "test_a_swallowed_attempt_still_fails": "FAILED",
        "test_connect_ex_elsewhere": "FAILED",
        "test_lookup_elsewhere": "FAILED",
    }, done.stdout
    refused = "refused (tests may reach only 127.0.0.1 and ::1)"
    assert f"network guard: create_connection to ('0.0.0.0', 9) {refused}" in done.stdout
    assert f"network guard: connect_ex to ('0.0.0.0', 9) {refused}" in done.stdout
    assert f"network guard: getaddrinfo of 'curate.invalid' {refused}" in done.stdout
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    refused_entries = {(e["test"].split("::")[1], e["call"]) for e in entries if not e["allowed"]}
    assert refused_entries == {
        ("test_connect_elsewhere", "connect"),
        ("test_a_swallowed_attempt_still_fails", "create_connection"),
        ("test_connect_ex_elsewhere", "connect_ex"),
        ("test_lookup_elsewhere", "getaddrinfo"),
    }
    allowed = {e["call"] for e in entries if e["allowed"] and e["test"].endswith("test_loopback_is_allowed")}
    assert {"create_connection", "connect", "getaddrinfo", "gethostbyname"} <= allowed


# ----------------------------------------------------------------- the watcher of whole runs

SS_OUTPUT = """\
tcp ESTAB 0 0 127.0.0.1:46610 127.0.0.1:53575 users:(("python3",pid=19751,fd=4))
tcp LISTEN 0 128 0.0.0.0:2024 0.0.0.0:*
tcp TIME-WAIT 0 0 127.0.0.1:44679 127.0.0.1:56136
udp ESTAB 0 0 10.0.0.5:60181 10.255.255.53:53 users:(("python",pid=7,fd=3),("python",pid=8,fd=3))
tcp SYN-SENT 0 1 [::1]:40000 [2001:db8::1]:443 users:(("label-studio",pid=9,fd=12))
"""


def test_ss_lines_are_read_with_their_processes() -> None:
    from tests.tools.network_watch import host_of, parse_ss

    sockets = parse_ss(SS_OUTPUT)
    assert [(s.state, host_of(s.peer), s.owners) for s in sockets] == [
        ("ESTAB", "127.0.0.1", (("python3", 19751),)),
        ("TIME-WAIT", "127.0.0.1", ()),
        ("ESTAB", "10.255.255.53", (("python", 7), ("python", 8))),
        ("SYN-SENT", "2001:db8::1", (("label-studio", 9),)),
    ]


WATCHED = """
import socket
import subprocess
import sys


def test_a_subprocess_talks_to_a_local_server():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = f"import socket, time; s = socket.create_connection(('127.0.0.1', {port})); time.sleep(2)"
        child = subprocess.Popen([sys.executable, "-c", code])
        conn, _ = server.accept()
        assert child.wait(timeout=30) == 0
        conn.close()
"""


def test_the_watcher_sees_the_connections_of_subprocesses(tmp_path: Path) -> None:
    test_file = tmp_path / "test_watched.py"
    test_file.write_text(WATCHED, encoding="utf-8")
    args = ["-m", "tests.tools.network_watch", "--every", "0.2", "--", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [sys.executable, *args, "-p", "tests.conftest", str(test_file)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    guard = re.search(r"\| in-process guard .* \| (\d+) \|", done.stdout)
    sampled = re.search(r"(\d+) distinct connections, peers \{'127\.0\.0\.1': \d+\} \| (\d+) \|", done.stdout)
    assert guard and guard.group(1) == "0", done.stdout
    assert sampled and int(sampled.group(1)) >= 1 and sampled.group(2) == "0", done.stdout
    assert "pytest exit status: 0" in done.stdout
