"""Per-action input latency, and whether the events arrive intact, in a real X client.

Starts a 3840x2160 Xvfb display and the Tk probe (tests/apps/tk_probe.py), which reports every
click it receives and the content of its text widget after every change. For each tool it
times clicks on the probe's canvas and typing a 20-character ASCII and a 20-character Unicode
string into the text widget, and checks what the probe actually received:

- guiagent ``Desktop`` with each backend (pyautogui, pynput, xdotool), no pause, no fail-safe;
- plain pyautogui with its defaults (``PAUSE=0.1``, ``FAILSAFE=True``);
- plain pynput controllers and the plain ``xdotool`` command, with their defaults.

Every tool gets a fresh Xvfb (and probe), so none profits from keysyms another tool bound.

"call" is how long the call takes to return; "arrived" is from the start of the call until the
probe reported the click / the complete text (polled every 1 ms, so it includes the probe's own
event handling and file write).

Run: python benchmarks/input_latency.py [--clicks 30] [--trials 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from guiagent import Desktop, VirtualDisplay

sys.path.insert(0, str(Path(__file__).parent))
from results import machine_summary, write_section
from timing import Stats, ms

TITLE = "Input latency and delivery (Tk probe)"
PROBE = Path(__file__).resolve().parent.parent / "tests" / "apps" / "tk_probe.py"
# The Unicode string is the one from the brief; it has 19 code points (20 with the ASCII one).
TEXTS = {"ASCII": "The quick brown fox!", "Unicode": "héllo wörld ✓ 日本 ça"}
SETTLE_S = 1.0  # how long to wait for a text that does not arrive before calling it lost


class Probe:
    """The Tk probe app and an incremental reader of its JSON-lines report."""

    def __init__(self, display: VirtualDisplay, report: Path) -> None:
        report.write_text("")
        self.process = display.launch([sys.executable, str(PROBE), str(report),
                                       "--geometry", "900x600+200+150"])
        self._file = report.open(encoding="utf-8")
        self._partial = ""
        self.clicks = 0
        self.text = ""
        self.keys: list[str] = []
        self.ready: dict[str, Any] = {}
        self.poll_until(lambda: bool(self.ready), 20.0)
        if not self.ready:
            raise RuntimeError("the Tk probe did not report ready")

    def poll(self) -> None:
        chunk = self._file.read()
        if not chunk:
            return
        data = self._partial + chunk
        *lines, self._partial = data.split("\n")
        for line in lines:
            if not line.strip():
                continue
            event = json.loads(line)
            kind = event["event"]
            if kind == "click":
                self.clicks += 1
            elif kind == "key":
                self.keys.append(f"{event['keysym']}/{event['state']}")
            elif kind == "text":
                self.text = event["value"]
            elif kind == "ready":
                self.ready = event

    def poll_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Poll every 1 ms until ``condition()``; False on timeout."""
        deadline = time.perf_counter() + timeout
        while True:
            self.poll()
            if condition():
                return True
            if time.perf_counter() > deadline:
                return False
            if self.process.poll() is not None:
                raise RuntimeError(f"the Tk probe exited ({self.process.returncode})")
            time.sleep(0.001)

    def drain(self, seconds: float) -> None:
        """Keep reading the report for ``seconds``."""
        self.poll_until(lambda: False, seconds)

    @property
    def text_point(self) -> tuple[int, int]:
        return self.ready["text_x"] + 60, self.ready["text_y"] + 25

    @property
    def canvas_point(self) -> tuple[int, int]:
        return (self.ready["canvas_x"] + self.ready["canvas_w"] // 2,
                self.ready["canvas_y"] + self.ready["canvas_h"] // 2)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(5)
        self._file.close()


class Tool(Protocol):
    name: str

    def click(self, x: int, y: int) -> None: ...

    def type(self, text: str) -> None: ...

    def close(self) -> None: ...


class GuiagentTool:
    def __init__(self, display: VirtualDisplay, backend: str) -> None:
        self.name = f"guiagent Desktop, {backend} backend"
        self.desktop = Desktop(display, backend=backend, abort_hotkey=None, failsafe=False)

    def click(self, x: int, y: int) -> None:
        self.desktop.click((x, y))

    def type(self, text: str) -> None:
        self.desktop.type(text)

    def close(self) -> None:
        self.desktop.close()


class PyAutoGUITool:
    name = "plain pyautogui (defaults: PAUSE=0.1)"

    def __init__(self) -> None:
        import pyautogui  # opens $DISPLAY at import: the virtual display is up by now

        self.pg: Any = pyautogui
        if pyautogui.PAUSE != 0.1:
            raise RuntimeError(f"pyautogui.PAUSE is {pyautogui.PAUSE}, not its default 0.1")

    def click(self, x: int, y: int) -> None:
        self.pg.click(x, y)

    def type(self, text: str) -> None:
        self.pg.write(text)

    def close(self) -> None:
        pass


class PynputTool:
    name = "plain pynput Controllers"

    def __init__(self) -> None:
        from pynput import keyboard, mouse

        self.button = mouse.Button.left
        self.mouse = mouse.Controller()
        self.keyboard = keyboard.Controller()

    def click(self, x: int, y: int) -> None:
        self.mouse.position = (x, y)
        self.mouse.click(self.button)

    def type(self, text: str) -> None:
        self.keyboard.type(text)

    def close(self) -> None:
        # pynput closes its X connections in __del__, possibly after the display is gone.
        for controller in (self.mouse, self.keyboard):
            display = controller.__dict__.pop("_display", None)
            if display is not None:
                display.close()


class XdotoolTool:
    name = "plain xdotool command"

    def __init__(self, display: VirtualDisplay) -> None:
        self.env = display.env

    def click(self, x: int, y: int) -> None:
        subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], env=self.env, check=True)

    def type(self, text: str) -> None:
        subprocess.run(["xdotool", "type", "--", text], env=self.env, check=True)

    def close(self) -> None:
        pass


@dataclass
class Result:
    name: str
    click_call: list[float] = field(default_factory=list)
    click_arrived: list[float] = field(default_factory=list)
    clicks_sent: int = 0
    clicks_received: int = 0
    type_call: dict[str, list[float]] = field(default_factory=dict)
    type_arrived: dict[str, list[float]] = field(default_factory=dict)
    intact: dict[str, int] = field(default_factory=dict)
    trials: dict[str, int] = field(default_factory=dict)
    received: dict[str, str] = field(default_factory=dict)  # one wrong text, as an example


def xdotool(display: VirtualDisplay, *args: str) -> None:
    subprocess.run(["xdotool", *args], env=display.env, check=True)


def bench_clicks(tool: Tool, probe: Probe, result: Result, clicks: int) -> None:
    x, y = probe.canvas_point
    tool.click(x, y)  # warm-up: opens the backend's connection
    probe.poll_until(lambda: probe.clicks > 0, 2.0)
    probe.drain(0.3)
    first = probe.clicks
    for i in range(clicks):
        px = x + (i % 5) * 30 - 60  # move a little each time, as an agent does
        before = probe.clicks
        start = time.perf_counter()
        tool.click(px, y)
        call = time.perf_counter() - start
        arrived = probe.poll_until(lambda: probe.clicks > before, 2.0)
        total = time.perf_counter() - start
        result.clicks_sent += 1
        result.click_call.append(call * 1000)
        if arrived:
            result.click_arrived.append(total * 1000)
        time.sleep(0.02)
    probe.drain(0.3)  # late (or duplicate) arrivals
    result.clicks_received = probe.clicks - first


def focus_text(display: VirtualDisplay, probe: Probe) -> None:
    """Click into the text widget (with xdotool, not the tool under test) to give it focus."""
    x, y = probe.text_point
    xdotool(display, "mousemove", str(x), str(y), "click", "1")
    probe.drain(0.6)  # past Tk's double-click time, so the next click starts afresh


def clear_text(display: VirtualDisplay, probe: Probe) -> None:
    """Empty the text widget with xdotool (select all, delete), not with the tool under test."""
    for attempt in range(3):
        probe.drain(0.05)
        if probe.text == "":
            return
        if attempt:
            print(f"    clearing again; last keys: {probe.keys[-6:]}", file=sys.stderr)
        xdotool(display, "key", "ctrl+slash", "Delete")
        if probe.poll_until(lambda: probe.text == "", 1.0):
            return
    raise RuntimeError(f"could not clear the probe's text: {probe.text!r}")


def bench_typing(display: VirtualDisplay, tool: Tool, probe: Probe, result: Result, label: str,
                 text: str, trials: int) -> None:
    calls: list[float] = []
    arrivals: list[float] = []
    intact = 0
    focus_text(display, probe)
    for i in range(trials + 1):  # the first one is a warm-up (binds missing keysyms, if any)
        clear_text(display, probe)
        start = time.perf_counter()
        tool.type(text)
        call = time.perf_counter() - start
        arrived = probe.poll_until(lambda: probe.text == text, SETTLE_S)
        total = time.perf_counter() - start
        if not arrived:
            probe.drain(0.2)
        if i == 0:
            continue
        calls.append(call * 1000)
        if arrived:
            intact += 1
            arrivals.append(total * 1000)
        elif label not in result.received:
            result.received[label] = probe.text
    result.type_call[label] = calls
    result.type_arrived[label] = arrivals
    result.intact[label] = intact
    result.trials[label] = trials


def run_tool(make: Callable[[VirtualDisplay], Tool], clicks: int, trials: int,
             display: VirtualDisplay | None = None) -> Result:
    """Measure one tool with a probe on ``display`` (default: a fresh display of its own)."""
    with contextlib.ExitStack() as stack:
        if display is None:
            display = stack.enter_context(VirtualDisplay())
        scratch = stack.enter_context(tempfile.TemporaryDirectory())
        probe = Probe(display, Path(scratch) / "probe.jsonl")
        try:
            tool = make(display)
            result = Result(tool.name)
            print(f"... {tool.name}", file=sys.stderr)
            try:
                bench_clicks(tool, probe, result, clicks)
                for label, text in TEXTS.items():
                    bench_typing(display, tool, probe, result, label, text, trials)
            finally:
                tool.close()
        finally:
            probe.close()
    return result


def summary(samples: list[float]) -> str:
    if not samples:
        return "-"
    stats = Stats(tuple(samples))
    return f"{ms(stats.median)} / {ms(stats.p95)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=30, help="timed clicks per tool")
    parser.add_argument("--trials", type=int, default=10, help="timed typings per tool and text")
    args = parser.parse_args()
    # Each tool gets a fresh X server, so no tool profits from (or suffers) keysyms another
    # one bound. Plain pyautogui goes first: it connects to the display it finds at import for
    # good. That display stays up until the end, so that later displays get other names:
    # guiagent's pyautogui backend rebinds pyautogui only when the display *name* differs, and
    # a restarted display of the same name would leave it on a dead connection.
    makers: list[Callable[[VirtualDisplay], Tool]] = [
        *(lambda display, b=b: GuiagentTool(display, b) for b in ("pyautogui", "pynput", "xdotool")),
        lambda _display: PynputTool(),
        XdotoolTool,
    ]
    with VirtualDisplay() as first:
        results = [run_tool(lambda _display: PyAutoGUITool(), args.clicks, args.trials, first)]
        results += [run_tool(make, args.clicks, args.trials) for make in makers]

    lines = [
        "| tool | click call ms (median / p95) | click arrived ms | clicks received | "
        + " | ".join(f"type {label} call ms | {label} arrived ms | {label} intact"
                     for label in TEXTS) + " |",
        "| --- | --- | --- | --- | " + " | ".join("--- | --- | ---" for _ in TEXTS) + " |",
    ]
    for r in results:
        cells = [r.name, summary(r.click_call), summary(r.click_arrived),
                 f"{r.clicks_received}/{r.clicks_sent}"]
        for label in TEXTS:
            cells += [summary(r.type_call[label]), summary(r.type_arrived[label]),
                      f"{r.intact[label]}/{r.trials[label]}"]
        lines.append("| " + " | ".join(cells) + " |")

    wrong = [(r.name, label, got) for r in results for label, got in r.received.items()]
    if wrong:
        lines.append("")
        lines.append("What arrived instead of the expected text (first failed trial):")
        lines.append("")
        for name, label, got in wrong:
            lines.append(f"- {name}, {label}: {got!r} (expected {TEXTS[label]!r})")

    by_name = {r.name: r for r in results}
    plain = by_name[PyAutoGUITool.name]
    lines.append("")
    for r in results:
        if not r.name.startswith("guiagent"):
            continue
        click_ratio = Stats(tuple(plain.click_call)).median / Stats(tuple(r.click_call)).median
        type_ratio = (Stats(tuple(plain.type_call["ASCII"])).median
                      / Stats(tuple(r.type_call["ASCII"])).median)
        lines.append(f"- {r.name}: click call {click_ratio:.1f}x faster, ASCII typing call "
                     f"{type_ratio:.1f}x faster than plain pyautogui (medians).")

    body = "\n".join([
        f"One Tk probe window (tests/apps/tk_probe.py) on a 3840x2160 Xvfb display with openbox. "
        f"Per tool: {args.clicks} clicks on the probe's canvas and {args.trials} typings of each "
        f"string (ASCII {TEXTS['ASCII']!r}, {len(TEXTS['ASCII'])} characters; Unicode "
        f"{TEXTS['Unicode']!r}, {len(TEXTS['Unicode'])} characters) into its "
        "emptied text widget, each after one untimed warm-up. Times are median / p95 in ms. "
        "'call' = until the call returns; 'arrived' = from the call's start until the probe "
        "reported the click or the complete text (1 ms polling, includes the probe's own "
        f"handling). 'intact' = the probe's text equalled the string (waited up to {SETTLE_S:g} s). "
        "guiagent runs with `abort_hotkey=None, failsafe=False` and its default pause 0; plain "
        "pyautogui with its defaults (PAUSE=0.1 s after each call). Plain pynput and xdotool are "
        "extra baselines. Every tool runs on a fresh Xvfb and probe (a clean keyboard map).",
        "",
        *lines,
    ])
    print(body)
    write_section(TITLE, body + "\n\n" + machine_summary())


if __name__ == "__main__":
    main()
