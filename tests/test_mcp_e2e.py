"""Scripted end-to-end tasks through a real MCP client: the SDK's ClientSession over stdio
against `python -m guiagent mcp` (started as clients start it: a minimal environment, the
display passed as an argument), on a 3840x2160 Xvfb with a private accessibility bus. The
script plays the client model: it reads the snapshot's text, picks refs, clicks by ref, and
checks each outcome in the application itself (galculator's result on the clipboard; the file
mousepad saved)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from guiagent import VirtualDisplay

pytest.importorskip("mcp")
from tests.test_mcp import McpClient, image_of, mapping_of, minimal_env, text_of

pytestmark = pytest.mark.display
LINE = re.compile(r'^\[(e\d+)\] (.+?) "((?:[^"\\]|\\.)*)"')


def needs(*programs: str) -> None:
    for program in programs:
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (bash .ci/install)")


@pytest.fixture(scope="module")
def a11y_display() -> Iterator[VirtualDisplay]:
    needs("Xvfb", "dbus-daemon")
    with VirtualDisplay((3840, 2160), accessibility=True, set_environment=False) as display:
        yield display


@pytest.fixture(scope="module")
def client(a11y_display: VirtualDisplay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpClient]:
    log = tmp_path_factory.mktemp("mcp-e2e") / "server.log"
    connection = McpClient(["--display", a11y_display.name, "--no-failsafe", "--abort-hotkey", "none"],
                           minimal_env(None), log)
    try:
        yield connection
    finally:
        connection.close()


def refs_by_name(snapshot_text: str, role: str | None = None) -> dict[str, str]:
    """name -> ref from the snapshot's text, as a client model reads it (the first of each name)."""
    refs: dict[str, str] = {}
    for line in snapshot_text.splitlines():
        found = LINE.match(line)
        if found and (role is None or found.group(2) == role):
            refs.setdefault(found.group(3), found.group(1))
    return refs


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def clipboard(display: VirtualDisplay) -> str:
    done = subprocess.run(["xclip", "-o", "-selection", "clipboard"], env=display.env,
                          capture_output=True, text=True, timeout=10)
    return done.stdout.strip()


def end(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_calculator_by_snapshot_refs(a11y_display: VirtualDisplay, client: McpClient) -> None:
    """12 + 30 on galculator: the buttons from snapshot(window=...), clicked by ref; the
    result read back by find and zoom, and checked in galculator's own display (copied to the
    clipboard with ctrl+c)."""
    needs("galculator", "xclip")
    calculator = a11y_display.launch(["galculator"])
    try:
        client.ok("wait_for", {"target": '"AC"', "timeout": 60})
        client.ok("screenshot")
        refs: dict[str, str] = {}
        for _ in range(30):  # the tree fills in while the window settles
            shown = text_of(client.ok("snapshot", {"window": "galculator"}))
            refs = refs_by_name(shown, "toggle button")
            if {"1", "2", "+", "3", "0", "="} <= set(refs):
                break
            time.sleep(1)
        assert {"1", "2", "+", "3", "0", "="} <= set(refs), shown
        assert 'window "galculator"' in shown
        for key in ("1", "2", "+", "3", "0", "="):
            clicked = client.ok("click", {"ref": refs[key]})
            assert f"{refs[key]} (toggle button {key!r})" in text_of(clicked)
        found = client.ok("find", {"target": '"42"'})
        match = found.structured_content["matches"][0]
        assert match["text"] == "42"
        x, y, w, h = match["box"]
        pixels, _ = image_of(client.ok("zoom", {"region": [x - 4, y - 4, w + 8, h + 8]}))
        shot = mapping_of(client.ok("screenshot"))
        assert pixels.shape[1] >= w * shot.scale_x  # full resolution: wider than in the screenshot
        client.ok("press_key", {"keys": "ctrl+c"})
        eventually(lambda: clipboard(a11y_display) == "42", 10, "galculator's 42 on the clipboard")
    finally:
        end(calculator)


def test_editor_types_unicode_and_saves(a11y_display: VirtualDisplay, client: McpClient,
                                        tmp_path: Path) -> None:
    """Mousepad: the editor area found in the snapshot, typed into by ref, saved with ctrl+s;
    the saved file holds the text, and the window title loses its unsaved mark."""
    needs("mousepad")
    note = tmp_path / "note.txt"
    note.write_bytes(b"")
    text = "héllo wörld ✓ 日本 ça 12+30=42"
    editor = a11y_display.launch(["mousepad", str(note)])
    try:
        client.ok("wait_for", {"target": '"note.txt"', "timeout": 60})
        client.ok("screenshot")
        area = None
        for _ in range(30):
            shown = text_of(client.ok("snapshot", {"window": "Mousepad"}))
            area = next((LINE.match(line) for line in shown.splitlines()
                         if LINE.match(line) and "editable" in line and "text" in line), None)
            if area is not None:
                break
            time.sleep(1)
        assert area is not None, f"no editable text area in the snapshot:\n{shown}"
        typed = client.ok("type_text", {"text": text, "into": area.group(1)})
        assert f"typed {len(text)} characters into {area.group(1)}" in text_of(typed)
        client.ok("press_key", {"keys": "ctrl+s"})
        eventually(lambda: note.read_bytes() == text.encode(), 15, "mousepad to save the file")
        titles = text_of(client.ok("snapshot", {"window": "Mousepad", "interactive_only": False}))
        assert re.search(r'^window "[^"*]*note\.txt - Mousepad"', titles, re.M), titles  # no "*"
    finally:
        end(editor)


def test_check_sees_the_accessibility_bus_with_a_minimal_environment(a11y_display: VirtualDisplay) -> None:
    """What a client's minimal environment gives the server: --display alone finds the bus
    (published on the display), so snapshot has the applications' own names."""
    import sys

    command = [sys.executable, "-m", "guiagent", "mcp", "--check", "--display", a11y_display.name]
    done = subprocess.run(command,
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert done.returncode == 0, done.stderr
    assert "ok   accessibility: the accessibility bus answers" in done.stdout
    assert f"ok   display: {a11y_display.name}, 3840x2160" in done.stdout
