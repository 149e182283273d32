"""Ground real text on a 4K screen of real applications, click it, and check the application
reacted (through the application itself: Tk's button callback, Chromium's window title)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import APPS, start_probe

from guiagent import Desktop, VirtualDisplay
from guiagent.errors import TargetNotFound
from guiagent.geometry import Box, Point

pytestmark = pytest.mark.display

LABELS = ["Open", "Save As…", "Export as PDF", "Cancel"]


@pytest.mark.parametrize("font_size", [8, 14])
def test_click_tk_buttons_by_their_text(vdisplay: VirtualDisplay, desktop: Desktop,
                                        tmp_path: Path, font_size: int) -> None:
    probe = start_probe(vdisplay, tmp_path / "buttons.jsonl", "--buttons", ",".join(LABELS),
                        "--font-size", str(font_size), geometry="1100x500+900+700")
    try:
        ready = probe.ready
        for label, target in [("Export as PDF", '"Export as PDF"'), ("Cancel", "the Cancel button"),
                              ("Save As…", '"Save As…"')]:
            match = desktop.wait_for(target, timeout=30)
            assert match is not None
            x, y, w, h = ready["buttons"][label]
            assert Box(x, y, w, h).contains(match.screen_point or Point(-1, -1)), (label, match)
            desktop.click(match.screen_point)
            probe.wait_for(lambda ev, name=label: any(e["event"] == "button" and e["label"] == name
                                                      for e in ev), what=f"button {label!r}")
        pressed = [e["label"] for e in probe.events("button")]
        assert pressed == ["Export as PDF", "Cancel", "Save As…"]
    finally:
        probe.process.terminate()
        probe.process.wait(5)


def _window_title_exists(display: VirtualDisplay, title: str) -> bool:
    result = subprocess.run(["xdotool", "search", "--name", f"^{title}$"], env=display.env,
                            capture_output=True, text=True)
    return result.returncode == 0 and bool(result.stdout.strip())


def _wait_title(display: VirtualDisplay, title: str, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not _window_title_exists(display, title):
        if time.monotonic() > deadline:
            raise AssertionError(f"no window titled {title!r} within {timeout} s")
        time.sleep(0.1)


@pytest.fixture(params=["light", "dark"])
def chromium_page(request: Any, vdisplay: VirtualDisplay) -> Iterator[str]:
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (the CI installs it)")
    profile = tempfile.mkdtemp(prefix="guiagent-chromium-")
    page = (APPS / "buttons.html").resolve().as_uri() + f"?theme={request.param}"
    process = vdisplay.launch([
        "chromium", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-features=Translate", f"--user-data-dir={profile}",
        "--window-position=1500,300", "--window-size=1400,900", f"--app={page}",
    ], start_new_session=True)
    try:
        _wait_title(vdisplay, "guiagent test page", timeout=60)
        yield request.param
    finally:
        import os
        import signal

        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def test_click_text_in_chromium(vdisplay: VirtualDisplay, desktop: Desktop,
                                chromium_page: str) -> None:
    # The title is set before the page paints: wait for the text itself, as a user would.
    desktop.click(desktop.wait_for('"Export as PDF"', timeout=30))
    _wait_title(vdisplay, "clicked: Export as PDF")
    desktop.click('"Terms of service"')  # 11 px link text
    _wait_title(vdisplay, "clicked: Terms of service")


def test_wait_for_text_that_appears_later(vdisplay: VirtualDisplay, desktop: Desktop,
                                          chromium_page: str) -> None:
    desktop.wait_for('"Export as PDF"', timeout=30)  # the page has painted
    with pytest.raises(TimeoutError, match="did not appear"):
        desktop.wait_for('"Saved to report.pdf"', timeout=0.5)
    desktop.click('"Save"')
    match = desktop.wait_for('"Saved to report.pdf"', timeout=15)
    assert match is not None and match.score >= 0.9


def test_missing_text_is_not_found(vdisplay: VirtualDisplay, desktop: Desktop,
                                   chromium_page: str) -> None:
    desktop.wait_for('"Export as PDF"', timeout=30)  # the page has painted
    with pytest.raises(TargetNotFound, match="not found"):
        desktop.find('"Delete everything"')
