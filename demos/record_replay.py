"""Replay a recorded demo after the application moved, grew and gained a button.

Starts a 3840x2160 virtual display and a small Tk app (tests/apps/tk_probe.py: a text box and a
row of buttons), elsewhere and larger than when ``demos/greet`` was recorded, with an extra
button and the buttons in another order; replays ``demos/greet`` (click the text box, type a
greeting, Enter, click Beta, double-click Gamma) and prints what the app received, plus an
annotated screenshot of the end state.

    python demos/record_replay.py            # replay the shipped recording
    python demos/record_replay.py --record   # record demos/greet again (drives xdotool)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from guiagent import Desktop, VirtualDisplay
from guiagent.recording.recorder import Recorder, RecorderSettings
from guiagent.recording.replay import ReplayOptions, replay
from guiagent.screen.annotate import GREEN, Mark, save_annotated
from guiagent.screen.display import wait_until

HERE = Path(__file__).resolve().parent
FOLDER = HERE / "greet"
APP = HERE.parent / "tests" / "apps" / "tk_probe.py"
TITLE = "guiagent-greet"


def start_app(display: VirtualDisplay, report: Path, labels: str, geometry: str) -> subprocess.Popen[bytes]:
    process = display.launch([sys.executable, str(APP), str(report), "--buttons", labels, "--font-size", "14",
                              "--title", TITLE, "--geometry", geometry])
    wait_until(lambda: report.exists() and '"ready"' in report.read_text(), 30, "the Tk app")
    return process


def events(report: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in report.read_text().splitlines() if line.strip()]


def record_again(display: VirtualDisplay, work: Path) -> None:
    report = work / "recording.jsonl"
    process = start_app(display, report, "Alpha,Beta,Gamma", "900x600+200+150")
    ready = next(e for e in events(report) if e["event"] == "ready")
    shutil.rmtree(FOLDER, ignore_errors=True)
    recorder = Recorder(FOLDER, RecorderSettings(display=display.name))
    recorder.start()
    thread = threading.Thread(target=recorder.run)
    thread.start()

    def xdotool(*args: str) -> None:
        subprocess.run(["xdotool", *args], env=display.env, check=True)

    def centre(label: str) -> list[str]:
        x, y, w, h = ready["buttons"][label]  # type: ignore[index]
        return [str(x + w // 2), str(y + h // 2)]

    try:
        xdotool("mousemove", str(ready["text_x"] + 30), str(ready["text_y"] + 30), "click", "1")  # type: ignore[operator]
        time.sleep(0.3)
        xdotool("type", "--delay", "40", "Hello from a recorded demo")
        xdotool("key", "Return")
        time.sleep(0.4)
        xdotool("mousemove", *centre("Beta"), "click", "1")
        time.sleep(0.5)
        xdotool("mousemove", *centre("Gamma"), "click", "--repeat", "2", "--delay", "80", "1")
        time.sleep(0.5)
    finally:
        recorder.stop()
        thread.join(60)
        process.terminate()
        process.wait()
    print(f"recorded {len(recorder.demo.steps)} steps into {FOLDER}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help="record demos/greet again first")
    parser.add_argument("--out", default="guiagent-replay-demo.png", help="annotated screenshot path")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="guiagent-replay-demo-"))
    with VirtualDisplay((3840, 2160)) as display:
        if args.record:
            record_again(display, work)
        report = work / "replay.jsonl"
        process = start_app(display, report, "Delta,Gamma,Alpha,Beta", "1400x900+1900+1000")
        with Desktop(display, failsafe=False) as desktop:
            result = replay(FOLDER, desktop, ReplayOptions(), log=lambda line: print("  " + line))
            time.sleep(0.3)
            marks = [Mark(point=desktop.capture().from_screen(o.point), label=f"step {o.number}", color=GREEN)
                     for o in result.outcomes if o.point is not None]
            picture = save_annotated(desktop.capture(), marks, args.out)
        received = events(report)
        process.terminate()
        process.wait()
    texts = [e["value"] for e in received if e["event"] == "text"]
    buttons = [e["label"] for e in received if e["event"] == "button"]
    print(f"the app's text box now holds {texts[-1] if texts else ''!r}; buttons pressed: {buttons}")
    print(f"{len(result.outcomes)} steps in {result.elapsed:.1f} s; annotated screenshot: {picture}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
