"""`guiagent do` / Desktop.do end to end on the 3840x2160 Xvfb display with real applications.

Results are checked through the applications themselves (the calculator's copied result on the
X clipboard, the editor's saved file, the Tk probe's own event log), not through our OCR."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ProbeApp, start_probe

import guiagent
from guiagent import Desktop, VirtualDisplay
from guiagent.agent.loop import StepFailed
from guiagent.errors import AbortedError, TargetNotFound

pytestmark = pytest.mark.display

BUTTONS = "Alpha,Bravo,Charlie,Delta"


def _need(program: str) -> None:
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed (bash .ci/install installs it)")


def _pointer(display: VirtualDisplay) -> str:
    return subprocess.run(["xdotool", "getmouselocation"], env=display.env, check=True,
                          capture_output=True, text=True).stdout.strip()


def _clipboard(display: VirtualDisplay) -> str:
    result = subprocess.run(["xclip", "-o", "-selection", "clipboard"], env=display.env,
                            capture_output=True, text=True, timeout=5)
    return result.stdout.strip() if result.returncode == 0 else ""


def _wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture()
def buttons(vdisplay: VirtualDisplay, tmp_path: Path) -> Any:
    """The Tk probe with four text buttons; it logs every event it receives."""
    app = start_probe(vdisplay, tmp_path / "probe.jsonl", "--buttons", BUTTONS, "--font-size", "14",
                      geometry="900x600+300+250")
    try:
        app.wait_for(lambda ev: any(e["event"] == "ready" for e in ev), what="the probe window")
        yield app
    finally:
        app.process.terminate()
        app.process.wait(10)


def _pressed(app: ProbeApp) -> list[str]:
    return [e["label"] for e in app.events("button")]


def test_calculator_computes_through_its_buttons(vdisplay: VirtualDisplay, desktop: Desktop,
                                                 tmp_path: Path) -> None:
    _need("galculator")
    _need("xclip")
    try:
        guiagent.do(desktop, 'open galculator, wait for "AC" up to 30 seconds', timeout=30)
        # The command, as written: the "+" button's whole label is "+", so it wins over
        # the "+/-" button (whose label merely contains "+") without saying which one.
        report = guiagent.do(desktop, 'click "1", click "2", click "+", click "3", click "0", '
                            'click "=", then press ctrl+c', trace_dir=tmp_path / "trace")
        assert report.ok and [s.status for s in report.steps] == ["done"] * 7
        _wait_until(lambda: _clipboard(vdisplay) == "42", 10, "the calculator's result on the clipboard")
        trace = json.loads((tmp_path / "trace" / "trace.json").read_text(encoding="utf-8"))
        assert [s["status"] for s in trace["steps"]] == ["done"] * 7
        first = trace["steps"][0]
        assert first["matches"][0]["text"] == "1" and first["verified"].startswith("the screen changed")
        assert set(first["timings"]) == {"capture_ms", "ground_ms", "act_ms", "verify_ms"}
        for name in ("frame", "annotated", "crop"):
            assert Path(first["files"][name]).is_file()
    finally:
        desktop.end_launched()


def test_cli_types_unicode_into_an_editor_and_saves(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    _need("mousepad")
    note = tmp_path / "note.txt"
    note.write_bytes(b"")
    text = "héllo wörld ✓ 日本 ça"
    # Its own instance: see test_skills.test_shipped_gtk_save_as_saves_a_mousepad_document.
    editor = vdisplay.launch(["mousepad", str(note)], env={"DBUS_SESSION_BUS_ADDRESS": "disabled:"})
    try:
        with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as desktop:
            desktop.wait_for('"note.txt"', timeout=30)
        command = f'move to "note.txt", type "{text}" and press ctrl+s'
        result = subprocess.run(
            [sys.executable, "-m", "guiagent", "do", command, "--display", vdisplay.name,
             "--no-failsafe", "--trace", str(tmp_path / "trace"), "--annotate"],
            capture_output=True, text=True, timeout=120, env={**os.environ, "DISPLAY": vdisplay.name},
        )
        assert result.returncode == 0, result.stderr
        _wait_until(lambda: note.read_bytes() == text.encode(), 10, "mousepad to save the file")
        assert note.read_bytes() == text.encode("utf-8")
        annotated = result.stdout.split()
        assert annotated and all(Path(p).is_file() for p in annotated)  # --annotate lists pictures
        assert "trace: " in result.stderr
    finally:
        editor.terminate()
        editor.wait(10)


def test_dry_run_grounds_and_annotates_but_touches_nothing(vdisplay: VirtualDisplay, desktop: Desktop,
                                                           buttons: ProbeApp, tmp_path: Path) -> None:
    pointer = _pointer(vdisplay)
    events_before = buttons.events()
    report = guiagent.do(desktop, 'click "Alpha", type "hello" into "Bravo", press ctrl+s, scroll down 3 over '
                        '"Charlie", drag "Alpha" to "Delta", move to "Delta", double-click "Delta"',
                        dry_run=True, trace_dir=tmp_path / "trace")
    assert report.ok and report.dry_run
    assert [s.status for s in report.steps] == ["dry-run"] * 7
    ready = buttons.ready["buttons"]
    x, y, w, h = ready["Alpha"]
    (point,) = report.steps[0].points
    assert x <= point.x <= x + w and y <= point.y <= y + h  # grounded where Alpha really is
    assert all(Path(p).is_file() for p in report.annotated())
    time.sleep(0.5)  # give any stray event time to arrive before proving there was none
    assert buttons.events() == events_before  # no click, key, scroll or text reached the app
    assert _pointer(vdisplay) == pointer  # the pointer did not move
    assert desktop.executor.history == [] and desktop.executor._backend is None


def test_dry_run_reports_every_step_it_cannot_see_yet(desktop: Desktop, buttons: ProbeApp,
                                                     tmp_path: Path) -> None:
    with pytest.raises(StepFailed) as info:
        guiagent.do(desktop, 'click "Alpha", click "Zulu", click "Charlie"', dry_run=True, settle_timeout=0.3,
                   trace_dir=tmp_path / "trace")
    report = info.value.report
    # Earlier steps did not really act, so a dry run goes on and shows every step.
    assert [s.status for s in report.steps] == ["dry-run", "failed", "dry-run"]
    assert isinstance(info.value.cause, TargetNotFound)
    crop = Path(report.steps[2].files["crop"])
    assert crop.is_file()
    assert buttons.events("button") == []


def test_not_found_stops_with_a_report_and_keeps_the_trace(desktop: Desktop, buttons: ProbeApp) -> None:
    with pytest.raises(StepFailed) as info:
        guiagent.do(desktop, 'click "Alpha", click "Zulu", click "Charlie"', settle_timeout=0.5)
    failed = info.value
    assert failed.exit_code == 3 and isinstance(failed.cause, TargetNotFound)
    report = failed.report
    assert [s.status for s in report.steps] == ["done", "failed", "not run"]
    assert "'Zulu' not found" in report.steps[1].error
    assert report.trace_dir is not None and str(report.trace_dir) in str(failed)
    trace = json.loads((report.trace_dir / "trace.json").read_text(encoding="utf-8"))
    assert trace["ok"] is False and trace["steps"][1]["status"] == "failed"
    assert Path(trace["steps"][1]["files"]["frame"]).is_file()
    buttons.wait_for(lambda ev: any(e["event"] == "button" for e in ev), what="the Alpha press")
    time.sleep(0.3)
    assert _pressed(buttons) == ["Alpha"]  # stopped at the first failure: Charlie never clicked
    shutil.rmtree(report.trace_dir)


def test_successful_run_removes_its_temporary_trace(desktop: Desktop, buttons: ProbeApp) -> None:
    report = guiagent.do(desktop, 'click "Bravo"')
    assert report.ok and report.trace_dir is None
    buttons.wait_for(lambda ev: any(e["event"] == "button" for e in ev), what="the Bravo press")
    assert _pressed(buttons) == ["Bravo"]


def test_region_restricts_where_it_looks_and_acts(desktop: Desktop, buttons: ProbeApp) -> None:
    x, y, w, h = buttons.ready["buttons"]["Alpha"]
    region = (x - 10, y - 10, w + 20, h + 20)  # only the Alpha button
    with pytest.raises(StepFailed) as info:
        guiagent.do(desktop, 'click "Charlie"', region=region, settle_timeout=0.3)
    assert isinstance(info.value.cause, TargetNotFound)
    shutil.rmtree(info.value.report.trace_dir or "/nonexistent", ignore_errors=True)
    report = guiagent.do(desktop, 'click "Alpha"', region=region)
    assert report.ok
    buttons.wait_for(lambda ev: any(e["event"] == "button" for e in ev), what="the Alpha press")
    assert _pressed(buttons) == ["Alpha"]


def test_window_restricts_to_the_window_with_that_title(vdisplay: VirtualDisplay, desktop: Desktop,
                                                       buttons: ProbeApp, tmp_path: Path) -> None:
    from guiagent.cli.do import window_region

    # A second probe whose buttons share the labels; --window picks the first probe's window.
    other = start_probe(vdisplay, tmp_path / "other.jsonl", "--buttons", BUTTONS, "--font-size", "14",
                        "--title", "other-probe", geometry="900x600+1800+1200")
    try:
        other.wait_for(lambda ev: any(e["event"] == "ready" for e in ev), what="the second probe")
        box = window_region(vdisplay.name, "guiagent-probe", None)
        # The client window sits inside openbox's frame, a pixel or two from the requested spot.
        assert (box.width, box.height) == (900, 600) and abs(box.left - 300) <= 4 and abs(box.top - 250) <= 30
        far = window_region(vdisplay.name, "OTHER-PROBE", None)
        assert abs(far.left - 1800) <= 4 and abs(far.top - 1200) <= 30
        with pytest.raises(TargetNotFound, match=r"no window .*open windows: .*'other-probe'"):
            window_region(vdisplay.name, "no such title", None)
        report = guiagent.do(desktop, 'click "Charlie"', region=box)
        assert report.ok
        buttons.wait_for(lambda ev: any(e["event"] == "button" for e in ev), what="the Charlie press")
        assert _pressed(buttons) == ["Charlie"] and _pressed(other) == []
    finally:
        other.process.terminate()
        other.process.wait(10)


def test_abort_hotkey_stops_a_running_command(vdisplay: VirtualDisplay, buttons: ProbeApp) -> None:
    def press_hotkey() -> None:  # a person at the keyboard, as a separate X client
        subprocess.run(["xdotool", "key", "ctrl+alt+shift+q"], env=vdisplay.env, check=True)

    with Desktop(vdisplay, abort_hotkey="ctrl+alt+shift+q", failsafe=False) as desktop:
        timer = threading.Timer(1.0, press_hotkey)
        timer.start()
        started = time.monotonic()
        with pytest.raises(StepFailed) as info:
            guiagent.do(desktop, 'wait 30 seconds, then click "Alpha"')
        timer.join()
        assert time.monotonic() - started < 15
    assert isinstance(info.value.cause, AbortedError) and info.value.exit_code == 130
    assert [s.status for s in info.value.report.steps] == ["failed", "not run"]
    assert _pressed(buttons) == []
    shutil.rmtree(info.value.report.trace_dir or "/nonexistent", ignore_errors=True)


def test_cli_rejects_an_unreadable_command_before_touching_the_display(capsys: Any) -> None:
    from guiagent.cli.main import main

    code = main(["do", 'click "OK", frobnicate', "--display", ":9999"])
    err = capsys.readouterr().err
    assert code == 2
    assert "could not understand" in err and "frobnicate" in err and 'understood: 1. click "OK"' in err


def test_vlm_flags_register_the_vlm_grounder_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    import guiagent.grounding as grounding
    from guiagent.grounding.vlm import ModelLoadError
    from guiagent.grounding.vlm.options import apply_vlm_arguments

    monkeypatch.setattr(grounding, "_FACTORIES", dict(grounding._FACTORIES))  # undone after the test
    flags = argparse.Namespace(model=None, vlm_url=None, vlm_model=None)
    assert not apply_vlm_arguments(flags)
    assert not grounding.vlm_configured()  # no flag: nothing registered
    with pytest.raises(ModelLoadError, match="--vlm-url"):
        apply_vlm_arguments(argparse.Namespace(model=None, vlm_url=None, vlm_model="ui-tars"))
    assert apply_vlm_arguments(argparse.Namespace(model=None, vlm_url="http://127.0.0.1:9", vlm_model="m"))
    assert grounding.vlm_configured()  # registered; the model is only contacted on first use
