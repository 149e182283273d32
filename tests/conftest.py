"""Shared fixtures: one 3840x2160 Xvfb display per test session (per xdist worker) and real
X clients that report what they received."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from guiagent import VirtualDisplay

APPS = Path(__file__).parent / "apps"


@pytest.fixture(scope="session", autouse=True)
def fresh_app_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Applications the tests start keep their data and settings in this test session, not in
    the machine's home and dconf: a Mousepad killed in another run leaves its session in its
    GSettings state, and the next Mousepad opens a "restore the previous session?" dialog over
    everything."""
    import os

    names = ("XDG_DATA_HOME", "XDG_STATE_HOME", "GSETTINGS_BACKEND")
    saved = {name: os.environ.get(name) for name in names}
    base = tmp_path_factory.mktemp("app-data")
    os.environ["XDG_DATA_HOME"] = str(base / "data")
    os.environ["XDG_STATE_HOME"] = str(base / "state")
    os.environ["GSETTINGS_BACKEND"] = "memory"  # every app starts from default settings
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def vdisplay(virtual_display: VirtualDisplay) -> VirtualDisplay:
    """The session's 4K virtual display from the guiagent pytest plugin (one per xdist worker;
    $DISPLAY points at it). The plugin's ``desktop`` fixture drives it."""
    return virtual_display


@dataclass
class ProbeApp:
    """The Tk probe (tests/apps/tk_probe.py) and the events it reported."""

    process: subprocess.Popen[bytes]
    report: Path

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.report.exists():
            return []
        lines = self.report.read_text(encoding="utf-8").splitlines()
        events = [json.loads(line) for line in lines if line.strip()]
        return [e for e in events if kind is None or e["event"] == kind]

    def wait_for(self, predicate: Any, timeout: float = 30.0,
                 what: str = "event") -> list[dict[str, Any]]:
        """Poll the report until ``predicate(events)`` is true; returns the events."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events):
                return events
            if self.process.poll() is not None:
                raise AssertionError(f"probe app exited ({self.process.returncode}) while waiting for {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; events: {events[-10:]}")
            time.sleep(0.05)

    @property
    def ready(self) -> dict[str, Any]:
        return self.wait_for(lambda ev: any(e["event"] == "ready" for e in ev), what="ready")[0]

    def text(self) -> str:
        texts = self.events("text")
        return texts[-1]["value"] if texts else ""


def start_probe(display: VirtualDisplay, report: Path, *extra: str,
                geometry: str = "900x600+200+150") -> ProbeApp:
    process = display.launch([sys.executable, str(APPS / "tk_probe.py"), str(report),
                              "--geometry", geometry, *extra])
    return ProbeApp(process, report)


@pytest.fixture()
def probe(vdisplay: VirtualDisplay, tmp_path: Path) -> Iterator[ProbeApp]:
    app = start_probe(vdisplay, tmp_path / "probe.jsonl")
    process = app.process
    try:
        app.wait_for(lambda ev: any(e["event"] == "ready" for e in ev), what="the probe window")
        yield app
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def sway_user() -> Iterator[str | None]:
    """An unprivileged account for headless sway when we are root (sway refuses to run as
    root): made here, removed afterwards; None when we are not root."""
    if os.getuid() != 0:
        yield None
        return
    name = f"guiagentsw{os.getpid()}"
    subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False)
