"""Run the test suite and record every network connection it makes; list any that is not loopback.

Two watchers, because the suite's own guard (tests/conftest.py) sees only the pytest process:

- the guard in logging mode (``CURATE_NETWORK_LOG``): every connection and name lookup the pytest
  process attempts, allowed or refused;
- ``ss -tunp`` every ``--every`` seconds: TCP and connected UDP sockets of the pytest process and
  every process it starts (the Label Studio server, ``python -m curate`` runs), found through the
  parent links in /proc. Sockets that lost their process (TIME-WAIT after a close) are listed apart:
  on a shared machine some of them may belong to someone else. Sampling misses a connection that
  opens and closes between two samples unless it lingers in TIME-WAIT.

Usage (from the repository root)::

    .venv/bin/python -m tests.tools.network_watch [--every 0.5] [-- PYTEST ARGS...]

Without pytest arguments the whole suite runs (``-q -p no:cacheprovider``). Exit status: pytest's
when it failed, else 1 when the guard refused something or a process of the suite had a socket to
anything but loopback, else 0 (sockets without a process are listed, not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import NETWORK_LOG_ENV, REPO, is_loopback

PROCESS = re.compile(r'\("([^"]*)",pid=(\d+),fd=\d+\)')


@dataclass(frozen=True)
class Socket:
    """One line of ``ss -tunp``: protocol, state, local and peer ``host:port``, owners ``(name, pid)``."""

    netid: str
    state: str
    local: str
    peer: str
    owners: tuple[tuple[str, int], ...]


def host_of(address: str) -> str:
    """The host of an ``ss`` address: ``127.0.0.1`` of ``127.0.0.1:8080``, ``::1`` of ``[::1]:8080``."""
    return address.rsplit(":", 1)[0].strip("[]")


def parse_ss(text: str) -> list[Socket]:
    """Sockets of ``ss -tunpH`` output (no header line); listening and unconnected ones are left out."""
    found = []
    for line in text.splitlines():
        fields = line.split(None, 6)
        if len(fields) < 6:
            continue
        netid, state, _, _, local, peer = fields[:6]
        if state in ("LISTEN", "UNCONN") or peer.endswith(":*"):
            continue
        owners = tuple((name, int(pid)) for name, pid in PROCESS.findall(fields[6] if len(fields) > 6 else ""))
        found.append(Socket(netid, state, local, peer, owners))
    return found


def descendants(root: int) -> dict[int, str]:
    """``{pid: command name}`` of ``root`` and every process below it (from /proc)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        pid = int(text.split(" ", 1)[0])
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        parents[pid], names[pid] = int(rest[1]), name
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return {pid: names.get(pid, "?") for pid in tree}


class Sampler(threading.Thread):
    """Samples ``ss -tunp`` for the sockets of a process tree until :meth:`stop`."""

    def __init__(self, root: int, every: float) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.samples = 0
        self.processes: dict[int, str] = {}
        self.owned: Counter[tuple[str, str, str, str]] = Counter()  # (netid, peer, pid, name) -> samples
        self.orphaned: Counter[tuple[str, str, str]] = Counter()  # (netid, local, peer) without a process
        self._done = threading.Event()

    def stop(self) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        while not self._done.is_set():
            tree = descendants(self.root)
            self.processes.update(tree)
            listed = subprocess.run(["ss", "-tunpH"], capture_output=True, text=True, check=False).stdout
            for sock in parse_ss(listed):
                mine = [(name, pid) for name, pid in sock.owners if pid in tree]
                if mine:
                    for name, pid in mine:
                        self.owned[(sock.netid, sock.peer, str(pid), name)] += 1
                elif not sock.owners:
                    self.orphaned[(sock.netid, sock.local, sock.peer)] += 1
            self.samples += 1
            self._done.wait(self.every)


def read_log(path: Path) -> list[dict[str, object]]:
    """The guard's log entries (``pid, test, call, address, allowed``); none when it was not written."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=0.5, help="seconds between two ss samples")
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (after --)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="network-watch-") as tmp:
        log = Path(tmp) / "guard.jsonl"
        env = {**os.environ, NETWORK_LOG_ENV: str(log)}
        command = [sys.executable, "-m", "pytest", *(options.pytest_args or ["-q", "-p", "no:cacheprovider"])]
        started = time.monotonic()
        suite = subprocess.Popen(command, cwd=REPO, env=env)
        sampler = Sampler(suite.pid, options.every)
        sampler.start()
        status = suite.wait()
        sampler.stop()
        seconds = time.monotonic() - started
        entries = read_log(log)

    refused = [e for e in entries if not e["allowed"]]
    calls = Counter(str(e["call"]) for e in entries)
    addresses = {str(e["address"]) for e in entries}
    owned_outside = [k for k in sampler.owned if not is_loopback(host_of(k[1]))]
    orphan_outside = [k for k in sampler.orphaned if not is_loopback(host_of(k[2]))]
    peers = Counter(host_of(k[1]) for k in sampler.owned)
    print()
    print("| watcher | what it saw | not loopback |")
    print("|---|---|---|")
    print(
        f"| in-process guard (pytest process) | {len(entries):,} attempts ({dict(calls)}) to {len(addresses):,} "
        f"distinct addresses; {len(entries) - len(refused):,} allowed, {len(refused):,} refused | {len(refused):,} |"
    )
    print(
        f"| `ss -tunp` every {options.every:g} s, suite's processes | {sampler.samples:,} samples over {seconds:,.0f} s, "
        f"{len(sampler.processes):,} processes; {len(sampler.owned):,} distinct connections, peers {dict(peers)} "
        f"| {len(owned_outside):,} |"
    )
    print(
        f"| `ss -tunp`, sockets without a process (TIME-WAIT; any user of the machine) "
        f"| {len(sampler.orphaned):,} distinct | {len(orphan_outside):,} |"
    )
    for entry in refused:
        print(f"refused in {entry['test']}: {entry['call']} {entry['address']}")
    for netid, peer, pid, name in owned_outside:
        print(f"outside: {netid} to {peer} from {name} (pid {pid})")
    for netid, local, peer in orphan_outside:
        print(f"outside, no process (check whose): {netid} {local} -> {peer}")
    print(f"pytest exit status: {status}")
    if status != 0:
        return status
    return 1 if refused or owned_outside else 0


if __name__ == "__main__":
    sys.exit(main())
