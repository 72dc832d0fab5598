"""Open a local HTML file in headless Chromium and report what a person would see.

Chromium is Debian's ``chromium`` package (``make chromium`` installs it); its binary
``/usr/lib/chromium/chromium`` is started directly, not through the ``/usr/bin/chromium`` wrapper,
which adds the flags and API keys of ``/etc/chromium.d`` (``CHROMIUM`` may name another binary). It
is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: fd 3 carries commands to
the browser, fd 4 its answers, each message JSON ending in a NUL byte), so no port is opened, not even
on 127.0.0.1, and no extra package is needed. Background networking is off and every host name
resolves to nothing, so a page that tries to reach the network fails visibly instead of fetching
anything; the page is opened as a ``file://`` URL with a fresh profile.

``python -m tests.report.chromium REPORT.html SHOT.png`` saves a screenshot (``make screenshot``).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOT_INSTALLED = (
    "CHROMIUM NOT INSTALLED: the browser tests of the HTML report did not run "
    "(`make chromium` installs Debian's chromium package; see its output for why it failed)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--no-pings",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]
TIMEOUT = 60.0
"""Seconds to wait for the browser, the page load, and the page's ``ready`` expression."""


def executable() -> Path | None:
    """The Chromium binary (``$CHROMIUM`` or ``/usr/bin/chromium``), or None when it is not installed."""
    path = Path(os.environ.get("CHROMIUM", "/usr/lib/chromium/chromium"))
    return path if path.exists() else None


@dataclass
class Page:
    """What the browser reported about a page: console errors and warnings, uncaught exceptions,
    failed loads (``Log`` entries of level error), each as one line."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Browser:
    """One headless Chromium with one page, driven over the DevTools pipe."""

    def __init__(self, binary: Path, profile: Path):
        commands_r, commands_w = os.pipe()  # we write, the browser reads on fd 3
        answers_r, answers_w = os.pipe()  # the browser writes on fd 4, we read

        # bash (dash takes one-digit fds only) puts the pipe ends on fds 3 and 4, where Chromium looks, and execs it.
        self.process = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$@" 3<&{commands_r} 4>&{answers_w}', "bash", str(binary), *FLAGS]
            + [f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(commands_r, answers_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(commands_r)
        os.close(answers_w)
        self._out = os.fdopen(commands_w, "wb", buffering=0)
        self._in = os.fdopen(answers_r, "rb", buffering=0)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if not select.select([self._in], [], [], TIMEOUT)[0]:
                raise RuntimeError(f"chromium sent nothing for {TIMEOUT:.0f} s")
            chunk = self._in.read(1 << 16)
            if not chunk:
                raise RuntimeError(f"chromium closed the DevTools pipe (exit {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, *, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile go to ``events``."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))
            self.events.append(answer)

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        """A command to the page's session."""
        return self.call(method, session=self.session, **params)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (promises awaited)."""
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def open(self, path: Path, *, ready: str, width: int = 1280, height: int = 900) -> Page:
        """Load ``path`` as a file URL and wait until the JavaScript expression ``ready`` is true; ``events``
        then holds what the page did (console, log and network events)."""
        self.events = []
        for domain in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
            self.page(domain)
        self.page("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.page("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + TIMEOUT
        while not self.evaluate(f"document.readyState === 'complete' && Boolean({ready})"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path}: not ready after {TIMEOUT:.0f} s ({ready})")
            time.sleep(0.1)
        return self._page_report()

    def _page_report(self) -> Page:
        page = Page()
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
                text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
                (page.warnings if params["type"] == "warning" else page.errors).append(f"console: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                description = details.get("exception", {}).get("description") or details.get("text")
                page.errors.append(f"exception: {description}")
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                line = f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip()
                if entry.get("level") == "error":
                    page.errors.append(line)
                elif entry.get("level") == "warning":
                    page.warnings.append(line)
        return page

    def screenshot(self, path: Path, *, full_page: bool = False) -> None:
        """Save a PNG of the viewport (or of the whole page)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params.update(
                captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
            )
        path.write_bytes(base64.b64decode(self.page("Page.captureScreenshot", **params)["data"]))

    def close(self) -> None:
        with suppress(RuntimeError, OSError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()
        self._in.close()


@contextmanager
def browser(binary: Path | None = None) -> Iterator[Browser]:
    """A running headless Chromium with a fresh profile, closed (and the profile removed) at the end."""
    found = binary or executable()
    if found is None:
        raise RuntimeError(NOT_INSTALLED)
    profile = Path(tempfile.mkdtemp(prefix="curate-chromium-"))
    running = Browser(found, profile)
    try:
        yield running
    finally:
        running.close()
        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.report.chromium REPORT.html SHOT.png", file=sys.stderr)
        return 2
    from tests.report.report_page import READY

    report, shot = Path(argv[0]), Path(argv[1])
    with browser() as chromium:
        page = chromium.open(report, ready=READY, height=2000)
        chromium.screenshot(shot)
    for line in page.errors:
        print(f"error: {line}", file=sys.stderr)
    print(f"{shot}: {shot.stat().st_size:,} bytes")
    return 1 if page.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
