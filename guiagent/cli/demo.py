"""`guiagent demo`: a virtual 4K display, a real application, a command performed on it, and an
annotated screenshot of what happened."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from guiagent.desktop.core import Desktop
from guiagent.errors import DisplayError
from guiagent.geometry import Box, Point
from guiagent.platform import platform_for
from guiagent.screen.annotate import GREEN, RED, Mark, save_annotated
from guiagent.screen.display import VirtualDisplay
from guiagent.screen.polling import wait_until

GREETING = "héllo from guiagent ✓"
# The shell computes the answer, so the text we look for is on screen only if the command ran.
COMMAND = f'echo "{GREETING}, the answer is $((6 * 7))"'
ANSWER = "the answer is 42"


def _window_box(display: VirtualDisplay, title: str, timeout: float = 15.0) -> Box:
    """The screen box of the window titled ``title`` once the window manager shows it (a window
    can be listed for a moment at 0,0 and 1x1, before it is placed)."""
    windows = platform_for(display.name).windows(display.name)
    try:
        def placed() -> bool:
            return any(w.title == title and w.box[2] > 1 and w.box[3] > 1 for w in windows.all())

        wait_until(placed, timeout, f"the {title!r} window")
        found = next(w for w in windows.all() if w.title == title and w.box[2] > 1)
    finally:
        windows.close()
    return Box(*found.box)


def run_demo(out: Path, keep_open: bool = False) -> int:
    for tool in ("Xvfb", "openbox", "xdotool", "xterm"):
        if shutil.which(tool) is None:
            raise DisplayError(
                f"{tool} is missing: sudo apt-get install xvfb openbox xdotool xterm "
                "(the README's first command installs everything)"
            )
    print("starting a 3840x2160 virtual display ...", file=sys.stderr)
    with VirtualDisplay((3840, 2160)) as display:
        title = "guiagent demo terminal"
        terminal = display.launch(
            ["xterm", "-u8", "-fa", "DejaVu Sans Mono", "-fs", "16", "-geometry", "90x24+600+400",
             "-T", title],
            env={"LC_ALL": "C.UTF-8"},
        )
        try:
            window = _window_box(display, title)
            print(f"xterm is up at {window.left:g},{window.top:g} {window.width:g}x"
                  f"{window.height:g}", file=sys.stderr)
            with Desktop(display, abort_hotkey=None) as desktop:
                click_at = window.center
                desktop.click(click_at)
                command = COMMAND
                desktop.type(command + "\n")
                print(f"clicked at ({click_at.x:g}, {click_at.y:g}) and typed {command!r}",
                      file=sys.stderr)
                marks = [Mark(point=click_at, color=RED, label="clicked here, then typed")]
                found = _find_output(desktop)
                marks.extend(found or [])
                frame = desktop.capture()
            path = save_annotated(frame, marks, out)
        finally:
            terminal.terminate()
            terminal.wait(5)
        if keep_open:  # pragma: no cover - manual inspection aid
            time.sleep(3600)
    print(f"annotated screenshot: {path}")
    return 0 if found is not None else 1


def _find_output(desktop: Desktop) -> list[Mark] | None:
    """Find the shell's answer on screen by OCR (the shell printed it, we only read pixels).

    Returns the marks to draw, [] when OCR is not installed, None when the answer was not seen."""
    from guiagent.grounding import GrounderUnavailable

    try:
        match = desktop.wait_for(f'"{ANSWER}"', timeout=20)
    except GrounderUnavailable as exc:
        print(f"(skipping the OCR check: {exc})", file=sys.stderr)
        return []
    except TimeoutError as exc:
        print(f"the shell's answer was not read back from the screen: {exc}", file=sys.stderr)
        return None
    assert match is not None
    point = match.screen_point or match.point
    print(f"read the shell's answer back from the screen at ({point.x:.0f}, {point.y:.0f}), "
          f"score {match.score:.2f}, {match.elapsed_ms:.0f} ms", file=sys.stderr)
    return [Mark(box=match.box, point=Point(match.point.x, match.point.y), color=GREEN,
                 label=f"the answer, found on screen by OCR ({match.score:.2f})")]
