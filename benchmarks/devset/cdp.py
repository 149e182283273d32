"""A small Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (no ports, no deps).

Chromium reads NUL-terminated JSON commands from file descriptor 3 and writes replies and
events to file descriptor 4; :func:`launch` wires two pipes to those descriptors.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from guiagent import VirtualDisplay


class CDPError(RuntimeError):
    pass


class Chromium:
    """One Chromium browser process with a DevTools pipe, attached to its first page."""

    def __init__(self, process: subprocess.Popen[bytes], write_fd: int, read_fd: int,
                 profile: str) -> None:
        self.process = process
        self._write = write_fd
        self._read = read_fd
        self._buffer = b""
        self._next_id = 0
        self.profile = profile
        self.session: str | None = None
        self.target_id: str | None = None

    # -- protocol -----------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any] | None = None, *,
             session: bool = True, timeout: float = 30.0) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session is not None:
            message["sessionId"] = self.session
        try:
            os.write(self._write, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise CDPError(f"chromium exited ({self.process.poll()}) before {method}") from None
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CDPError(f"{method} failed: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def _receive(self, deadline: float, method: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError(f"no reply from chromium to {method} in time")
            ready, _, _ = select.select([self._read], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise CDPError(f"chromium closed the DevTools pipe during {method}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    # -- helpers ------------------------------------------------------------------------------
    def attach_page(self, timeout: float = 30.0) -> None:
        """Attach to the first page target (the app window), waiting for it to exist."""
        deadline = time.monotonic() + timeout
        while True:
            targets = self.call("Target.getTargets", session=False)["targetInfos"]
            pages = [t for t in targets if t["type"] == "page"]
            if pages:
                self.target_id = pages[0]["targetId"]
                self.session = self.call("Target.attachToTarget",
                                         {"targetId": self.target_id, "flatten": True},
                                         session=False)["sessionId"]
                return
            if time.monotonic() > deadline:
                raise CDPError("chromium opened no page")
            time.sleep(0.1)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise CDPError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the page has loaded, its fonts are in and common.js has finished."""
        deadline = time.monotonic() + timeout
        while not self.evaluate("document.readyState === 'complete' && !!window.__gtReady"):
            if time.monotonic() > deadline:
                raise CDPError("the page did not become ready (window.__gtReady)")
            time.sleep(0.1)

    def screenshot(self) -> bytes:
        """PNG of the viewport at device pixels, as the renderer drew it."""
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        return base64.b64decode(data)

    def close(self) -> None:
        """End the browser and every process it started (its own process group)."""
        for fd in (self._write, self._read):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        else:  # the browser is gone; make sure no helper of its group lingers
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


def _move_high(fd: int, lowest: int = 10) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)
    os.close(fd)
    return high


def launch(display: VirtualDisplay, url: str, *, profile: str, scale: float,
           position: tuple[int, int], size: tuple[int, int], binary: str = "chromium",
           extra_args: Sequence[str] = ()) -> Chromium:
    """Start ``chromium --app=url`` on ``display``; ``position``/``size`` are in DIPs."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    # Move the child's ends above 3 and 4 so wiring one cannot overwrite the other.
    to_child_r = _move_high(to_child_r)
    from_child_w = _move_high(from_child_w)

    def wire_pipes() -> None:  # runs in the child: the protocol wants fds 3 and 4
        os.dup2(to_child_r, 3)
        os.dup2(from_child_w, 4)

    argv = [
        binary,
        "--no-sandbox", "--test-type", "--disable-gpu", "--no-first-run",
        "--no-default-browser-check", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--disable-features=Translate,MediaRouter,OptimizationHints",
        "--password-store=basic", "--hide-crash-restore-bubble", "--force-color-profile=srgb",
        f"--user-data-dir={profile}", "--remote-debugging-pipe",
        f"--force-device-scale-factor={scale:g}",
        f"--window-position={position[0]},{position[1]}",
        f"--window-size={size[0]},{size[1]}",
        *extra_args,
        f"--app={url}",
    ]
    process = display.launch(argv, preexec_fn=wire_pipes, pass_fds=(3, 4),
                             start_new_session=True)
    os.close(to_child_r)
    os.close(from_child_w)
    browser = Chromium(process, to_child_w, from_child_r, profile)
    try:
        browser.attach_page()
        browser.wait_ready()
    except BaseException:
        browser.close()
        raise
    return browser
