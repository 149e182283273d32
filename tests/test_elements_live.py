"""Targets resolve to whole UI elements on real applications at 4K: the accessibility tree where
the application has one, vision elements where not."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import guiagent
from guiagent import Desktop, VirtualDisplay
from guiagent.screen.polling import wait_until

pytestmark = pytest.mark.display
APP_ENV = {"GSETTINGS_BACKEND": "memory", "SAL_USE_VCLPLUGIN": "gtk3"}


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (bash .ci/install installs it)")
    return path


@pytest.fixture(scope="module")
def a11y_display() -> Iterator[VirtualDisplay]:
    _need("dbus-daemon")
    with VirtualDisplay((3840, 2160), accessibility=True, set_environment=False) as display:
        yield display


def test_icon_only_toolbar_buttons_by_name_in_libreoffice(a11y_display: VirtualDisplay,
                                                          tmp_path: Path) -> None:
    soffice = _need("soffice")
    with Desktop(a11y_display, abort_hotkey=None, failsafe=False) as desktop:
        desktop.launch([soffice, "--writer", "--norestore", "--nologo",
                        f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}"], env=APP_ENV)
        desktop.wait_for("the Bold button", timeout=120)
        desktop.wait_still(quiet=1.0, timeout=30)
        report = guiagent.do(desktop, "click the Bold button, then click the Italic button")
        assert report.ok
        assert all(s.decision and "elements:a11y" in s.decision for s in report.steps)

        def states() -> dict[str, frozenset[str]]:
            return {e.name: e.states for e in desktop.snapshot(interactive_only=True)
                    if e.name in ("Bold", "Italic")}

        wait_until(lambda: all("checked" in s for s in states().values()) and len(states()) == 2,
                   10, "Bold and Italic to read checked")
        desktop.end_launched()


def test_one_character_buttons_through_the_accessibility_tree(a11y_display: VirtualDisplay) -> None:
    _need("galculator")
    with Desktop(a11y_display, abort_hotkey=None, failsafe=False) as desktop:
        desktop.launch(["galculator"], env=APP_ENV)
        desktop.wait_for('"AC"', timeout=30)
        plus = desktop.find('"+"')
        assert plus.grounder == "elements:a11y" and plus.text == "+"
        guiagent.do(desktop, 'click "7", click "*", click "6", click "="')
        desktop.wait_for('"42"', timeout=10)
        with pytest.raises(guiagent.TargetNotFound):
            desktop.find("the Frobnicate button", grounder="auto", min_score=0.99)
        desktop.end_launched()


def test_in_the_named_window_without_accessibility(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    """Two windows show the same buttons: "... in the Y window" picks the one in that window
    from the window list, with no accessibility tree (vision elements and OCR alone)."""
    from tests.conftest import start_probe

    apps = {title: start_probe(vdisplay, tmp_path / f"{title}.jsonl", "--title", title,
                               "--buttons", "Save,Open", "--font-size", "14", geometry=geometry)
            for title, geometry in (("Invoices", "900x500+200+150"),
                                    ("Customers", "900x500+1500+400"))}
    try:
        for app in apps.values():
            app.wait_for(lambda ev: any(e["event"] == "ready" for e in ev), what="a probe window")
        with Desktop(vdisplay, accessibility=False, abort_hotkey=None, failsafe=False) as desktop:
            desktop.wait_still(quiet=0.5, timeout=10)
            with pytest.raises(guiagent.AmbiguousTarget, match="2 places equally well"):
                desktop.click('"Save"')  # two equally good buttons: never a guess
            assert not any(app.events("button") for app in apps.values())
            desktop.click('"Save" in the Customers window')
            apps["Customers"].wait_for(lambda ev: any(e["event"] == "button" for e in ev),
                                       what="Save pressed in Customers")
            report = guiagent.do(desktop, "click Open in the Invoices window")
            assert report.ok, report.summary()
            apps["Invoices"].wait_for(lambda ev: any(e.get("label") == "Open" for e in ev),
                                      what="Open pressed in Invoices")
        pressed = {title: [e["label"] for e in app.events("button")] for title, app in apps.items()}
        assert pressed == {"Invoices": ["Open"], "Customers": ["Save"]}
    finally:
        for app in apps.values():
            app.process.terminate()
            app.process.wait(5)
