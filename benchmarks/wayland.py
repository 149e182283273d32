"""Capture and input latency on headless sway at 3840x2160 (run as root: needs an unprivileged
account for sway, made and removed here); with ``--accuracy``, click and drag accuracy against
the Tk probe's own report (Xwayland) at output scale 1 and 2, and a ``guiagent.do`` step time;
with ``--typing``, lines typed into foot (native Wayland) and xterm (Xwayland) at output scale
1 and 2 through guiagent's virtual keyboard and through ``wtype`` (what guiagent used before),
each line checked against what the terminal received.

    python benchmarks/wayland.py [--runs 20] [--accuracy] [--typing [--lines 20]]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import guiagent
from guiagent import Desktop
from guiagent.platform import platform_for
from guiagent.screen.processes import end_program
from guiagent.screen.wayland_display import VirtualWaylandDisplay

PROBE = Path(__file__).resolve().parent.parent / "tests" / "apps" / "tk_probe.py"
UNICODE = "héllo wörld ✓ 日本 Ça va, ÀÉÎÕÜ € Ωmega"  # the text the X11 input test types
# Keys pressed one by one for each line of the key test, and the line the terminal reads back
# (cooked mode: backspace erases "y", ctrl+a and ctrl+e are control characters, up is ESC [ A).
KEY_PRESSES = ["x", "y", "backspace", "ctrl+a", "ctrl+e", "tab", "shift+a", "up"]
KEY_LINE = "x\x01\x05\tA\x1b[A"


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _events(report: Path, kind: str) -> list[dict[str, object]]:
    lines = report.read_text(encoding="utf-8").splitlines() if report.exists() else []
    return [e for e in map(json.loads, lines) if e["event"] == kind]


def _wait(report: Path, kind: str, count: int, timeout: float = 30.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while len(found := _events(report, kind)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"the probe reported {len(found)} of {count} {kind} events")
        time.sleep(0.05)
    return found


def accuracy(user: str | None, scale: int, clicks: int, drags: int) -> None:
    """Clicks and drags at spread-out points of the probe's canvas; each is exact when the
    probe reports the very screen point that was sent."""
    with VirtualWaylandDisplay(scale=scale, user=user, set_environment=False) as wl, \
            tempfile.TemporaryDirectory() as tmp, Desktop(wl, accessibility=False) as desktop:
        report = Path(tmp) / "probe.jsonl"
        wl.launch([sys.executable, str(PROBE), str(report), "--buttons", "Alpha,Bravo,Charlie"])
        ready = _wait(report, "ready", 1)[0]
        time.sleep(1)
        x0, y0 = int(ready["canvas_x"]) + 5, int(ready["canvas_y"]) + 5  # type: ignore[call-overload]
        w, h = int(ready["canvas_w"]) - 10, int(ready["canvas_h"]) - 10  # type: ignore[call-overload]
        points = [(x0 + (i * 613) % w, y0 + (i * 389) % h) for i in range(clicks)]
        for point in points:
            desktop.click(point)
        seen = [(e["x_root"], e["y_root"]) for e in _wait(report, "click", clicks)]
        errors = [max(abs(sx - px), abs(sy - py)) for (sx, sy), (px, py) in zip(seen, points, strict=True)]  # type: ignore[operator]
        exact = sum(e == 0 for e in errors)
        ends = [(points[i], points[(i + 7) % clicks]) for i in range(drags)]
        for start, end in ends:
            desktop.drag(start, end)
        releases = [(e["x_root"], e["y_root"]) for e in _wait(report, "release", clicks + drags)][clicks:]
        presses = [(e["x_root"], e["y_root"]) for e in _wait(report, "click", clicks + drags)][clicks:]
        drag_exact = sum(p == s and r == e for (s, e), p, r in zip(ends, presses, releases, strict=True))
        print(f"scale {scale}: clicks exact {exact}/{clicks} (max error {max(errors)} px), "
              f"drags exact at both ends {drag_exact}/{drags}")
        walls, parts = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            result = guiagent.do(desktop, 'click "Bravo"')
            walls.append((time.perf_counter() - t0) * 1000)
            parts.append(result.steps[0].timings.to_dict())
        pressed = len(_events(report, "button"))
        medians = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
        print(f"scale {scale}: do 'click Bravo' median {statistics.median(walls):.0f} ms wall, "
              f"step parts {medians}; the probe saw {pressed}/5 presses")


class Wtype:
    """Typing through ``wtype`` as guiagent did before its own keyboard: one call per text or
    key, with wtype's 25 ms pause after its keymap."""

    MODIFIERS: ClassVar[dict[str, str]] = {"ctrl": "ctrl", "shift": "shift", "alt": "alt",
                                           "super": "logo"}

    def __init__(self, env: dict[str, str]) -> None:
        self.wtype = shutil.which("wtype") or "wtype"
        self.env = env

    def type(self, text: str) -> None:
        subprocess.run([self.wtype, "-s", "25", "-"], input=text.encode(), env=self.env, check=True)

    def press(self, combo: str) -> None:
        args: list[str] = []
        release: list[str] = []
        for key in guiagent.keys.parse_keys(combo):
            spec = guiagent.keys.spec(key)
            if key in self.MODIFIERS:
                args += ["-M", self.MODIFIERS[key]]
                release = ["-m", self.MODIFIERS[key], *release]
            else:
                sym = spec.xdotool if spec is not None else key
                args += ["-P", sym]
                release = ["-p", sym, *release]
        subprocess.run([self.wtype, "-s", "25", *args, *release], env=self.env, check=True)


def _sink(wl: VirtualWaylandDisplay, app: str, out: Path) -> tuple[int, int]:
    """A terminal (foot or xterm) writing what it reads to ``out``; the centre of its window."""
    title = f"sink-{out.stem}"
    command = f"stty -echo; cat > {out}"
    argv = (["xterm", "-T", title, "-e", "sh", "-c", command] if app == "xterm"
            else ["foot", "-T", title, "sh", "-c", command])
    wl.launch(argv)
    windows = platform_for(wl.name).windows(wl.name)
    deadline = time.monotonic() + 30
    try:
        while not out.exists() or not (found := [w for w in windows.all() if w.title == title]):
            if time.monotonic() > deadline:
                raise SystemExit(f"{app} did not start")
            time.sleep(0.05)
    finally:
        windows.close()
    time.sleep(1)  # let it draw and settle
    x, y, width, height = found[0].box
    return x + width // 2, y + height // 2


def _read_lines(out: Path, count: int, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and out.read_text(errors="replace").count("\n") < count:
        time.sleep(0.05)
    time.sleep(0.3)
    return out.read_text(errors="replace").split("\n")[:-1]


def _growing(wl: VirtualWaylandDisplay, desktop: Desktop, app: str, out: Path, lines: int) -> str:
    """Lines that each bring 3 characters the keyboard's map lacks (so it grows and is
    uploaded for every line while the terminal still reads the keys before)."""
    centre = _sink(wl, app, out)
    sent = [f"{i} {chr(0x3B1 + i)}{chr(0x4E00 + 7 * i)}{chr(0x2600 + i)} end" for i in range(lines)]
    desktop.click(centre)
    for line in sent:
        desktop.type(line)
        desktop.press("enter")
    got = _read_lines(out, lines)
    ok = sum(a == b for a, b in zip(got, sent, strict=False))
    wrong = [g for g, s in zip(got, sent, strict=False) if g != s][:2]
    return f"new characters every line {ok}/{lines}{f' (first wrong: {wrong!r})' if wrong else ''}"


def typing(user: str | None, lines: int, settle_ms: float | None) -> None:
    """``lines`` lines of the X11 test's text + Enter (a click on the window before each) and
    ``lines`` lines of key presses, per terminal, output scale and typist; a line counts when
    the terminal read exactly what was sent. For guiagent's keyboard also lines that make its
    keymap grow every time (``settle_ms``: its pause after an upload, default its own)."""
    from guiagent.platform.wayland import virtual_keyboard

    if settle_ms is not None:
        virtual_keyboard.KEYMAP_SETTLE_S = settle_ms / 1000
    print(f"typing: {lines} lines each; text {UNICODE!r} + enter; keys {KEY_PRESSES} + enter; "
          f"keymap settle {virtual_keyboard.KEYMAP_SETTLE_S * 1000:g} ms")
    for scale in (1, 2):
        with VirtualWaylandDisplay(scale=scale, user=user, set_environment=False) as wl, \
                tempfile.TemporaryDirectory() as tmp, \
                Desktop(wl, accessibility=False, failsafe=False) as desktop:
            os.chmod(tmp, 0o755)
            wtype = Wtype(wl.env)
            for app in ("foot", "xterm"):
                if app == "xterm" and not wl.x_display:
                    print(f"scale {scale}: no Xwayland, xterm skipped")
                    continue
                for typist in ("guiagent", "wtype") if shutil.which("wtype") else ("guiagent",):
                    kind = "wtype" if typist == "wtype" else "guiagent"
                    type_text = wtype.type if kind == "wtype" else desktop.type
                    press = wtype.press if kind == "wtype" else desktop.press
                    text_out = Path(tmp) / f"{app}-{kind}-{scale}-text.txt"
                    centre = _sink(wl, app, text_out)
                    times = []
                    for i in range(lines):
                        desktop.click(centre)
                        t0 = time.perf_counter()
                        type_text(f"{i} {UNICODE}")
                        press("enter")
                        times.append(time.perf_counter() - t0)
                    got = _read_lines(text_out, lines)
                    text_ok = sum(f"{i} {UNICODE}" in got[i:i + 1] for i in range(lines))
                    wrong = [line for i, line in enumerate(got) if line != f"{i} {UNICODE}"][:2]
                    keys_out = Path(tmp) / f"{app}-{kind}-{scale}-keys.txt"
                    centre = _sink(wl, app, keys_out)
                    key_times = []
                    for _ in range(lines):
                        desktop.click(centre)
                        for key in KEY_PRESSES:
                            t0 = time.perf_counter()
                            press(key)
                            key_times.append(time.perf_counter() - t0)
                        press("enter")
                    keyed = _read_lines(keys_out, lines)
                    keys_ok = sum(line == KEY_LINE for line in keyed[:lines])
                    wrong_keys = [line for line in keyed[:lines] if line != KEY_LINE][:2]
                    # wtype's keymap has one level: its shift+a arrives as "a"
                    keys_but_case = sum(line.replace("\ta", "\tA") == KEY_LINE
                                        for line in keyed[:lines])
                    print(f"scale {scale} {app:5s} {kind:8s}: text lines {text_ok}/{lines} "
                          f"(median {statistics.median(times) * 1000:.0f} ms per line), key lines "
                          f"{keys_ok}/{lines}, {keys_but_case}/{lines} if shift+a may give a "
                          f"(median {statistics.median(key_times) * 1000:.1f} ms per key)"
                          f"{f'; first wrong: {wrong!r}' if wrong else ''}"
                          f"{f'; first wrong keys: {wrong_keys!r}' if wrong_keys else ''}")
                    if kind == "guiagent":
                        grow = _growing(wl, desktop, app, Path(tmp) / f"{app}-grow-{scale}.txt",
                                        lines)
                        print(f"scale {scale} {app:5s} guiagent: {grow}")
                    for process in list(wl._launched):
                        end_program(process)
            keyboard = desktop.executor.backend._injector.keyboard  # type: ignore[attr-defined]
            uploads = keyboard.upload_times
            print(f"scale {scale}: guiagent's keyboard uploaded its keymap {len(uploads)} times, "
                  f"round trip median {statistics.median(uploads) * 1000:.1f} ms, "
                  f"max {max(uploads) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--accuracy", action="store_true")
    parser.add_argument("--typing", action="store_true")
    parser.add_argument("--lines", type=int, default=20)
    parser.add_argument("--settle-ms", type=float, default=None,
                        help="guiagent keyboard's pause after a keymap upload (default: its own)")
    args = parser.parse_args()
    runs = args.runs
    user = None
    if os.getuid() == 0:
        user = f"guiagentbench{os.getpid()}"
        subprocess.run(["useradd", "-r", "-M", user], check=True)
    try:
        if args.accuracy:
            for scale in (1, 2):
                accuracy(user, scale, clicks=50, drags=10)
            return
        if args.typing:
            typing(user, args.lines, args.settle_ms)
            return
        with VirtualWaylandDisplay(user=user, set_environment=False) as wl, \
                tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "typed.txt"
            wl.launch(["foot", "sh", "-c", f"stty -echo; cat > {out}"])
            time.sleep(2)
            env = wl.env
            grim = shutil.which("grim") or "grim"
            rows = [
                ("grim PNG to a file (grim's default)",
                 median_ms(lambda: subprocess.run([grim, str(Path(tmp) / "s.png")], env=env,
                                                  check=True), runs)),
                ("grim -t ppm to a pipe",
                 median_ms(lambda: subprocess.run([grim, "-t", "ppm", "-"], env=env, check=True,
                                                  capture_output=True), runs)),
            ]
            with Desktop(wl, accessibility=False, failsafe=False) as desktop:
                rows += [
                    ("Desktop.capture() full 4K frame (grim ppm + BGRA)", median_ms(desktop.capture, runs)),
                    ("Desktop.capture(region 1024x1024)",
                     median_ms(lambda: desktop.capture(region=(1000, 500, 1024, 1024)), runs)),
                    ("Desktop.move (virtual pointer)",
                     median_ms(lambda: desktop.executor.backend.move(1900, 1000, 0), runs)),
                    ("Desktop.click", median_ms(lambda: desktop.click((1900, 1000)), runs)),
                    ("Desktop.type 10 characters (virtual keyboard)",
                     median_ms(lambda: desktop.type("héllo ✓ 12"), runs)),
                    ("Desktop.press enter (virtual keyboard)",
                     median_ms(lambda: desktop.press("enter"), runs)),
                ]
        print(f"headless sway 3840x2160, pixman renderer, median of {runs} runs")
        for name, ms in rows:
            print(f"  {name:55s} {ms:8.1f} ms")
    finally:
        if user is not None:
            subprocess.run(["userdel", user], check=False)


if __name__ == "__main__":
    main()
