"""``guiagent codegen``: record a task (or read a recorded demo) and write it as a pytest test,
a ``guiagent do`` script or a skill (argparse wiring; heavy imports happen on use)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

_SUFFIX = {"pytest": ".py", "do": ".do", "skill": ".json"}


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class _Output:
    """Writes the generated code (and the pictures it names) after every recorded step."""

    def __init__(self, out: Path, fmt: str, app: str | None) -> None:
        self.out = out
        self.fmt = fmt
        self.app = app
        self.prefix = out.stem
        self.problem = ""
        self.summary = ""

    def write(self, demo: Any) -> None:
        from guiagent.errors import GuiAgentError
        from guiagent.recording.codegen import generate

        try:
            generated = generate(demo, self.fmt, app=self.app, prefix=self.prefix)  # type: ignore[arg-type]
        except GuiAgentError as exc:  # e.g. a drag in a do script: said at the end, recording goes on
            self.problem = str(exc)
            return
        self.problem = ""
        for name, asset in generated.templates:
            destination = self.out.parent / name
            if not destination.exists():
                shutil.copyfile(demo.asset(asset), destination)
        _write_atomically(self.out, generated.source)
        self.summary = generated.stats.summary()


def cmd_codegen(args: argparse.Namespace) -> int:
    from guiagent.errors import RecordingError
    from guiagent.recording.format import load_demo

    out = Path(args.out)
    if out.suffix == "" and args.format != "skill":
        out = out.with_suffix(_SUFFIX[args.format])
    if not out.parent.is_dir():
        raise RecordingError(f"{out.parent} is not a folder; create it first")
    if args.source is not None:
        demo_folder = Path(args.source)
        from guiagent.recording.codegen import name_from_frames

        demo = name_from_frames(load_demo(demo_folder))
    else:
        demo_folder = Path(args.demo) if args.demo else out.parent / f"{out.stem}-demo"
        demo = _record(args, demo_folder, out)
    if args.format == "skill":
        from guiagent.recording.skills import skill_from_demo

        skill = skill_from_demo(out.stem, demo_folder, folder=out.parent, overwrite=True)
        print(f"{skill.path}: {len(skill.steps)} step(s)")
        return 0
    output = _Output(out, args.format, args.app)
    output.write(demo)
    if output.problem:
        from guiagent.errors import CodegenError

        raise CodegenError(output.problem)
    print(f"{out}: {output.summary} (demo: {demo_folder})")
    return 0


def _record(args: argparse.Namespace, folder: Path, out: Path) -> Any:
    from guiagent.recording.recorder import RecorderSettings, record
    from guiagent.screen.processes import end_program, start_program

    check_hotkey = None if args.check_hotkey.lower() in ("", "none") else args.check_hotkey
    settings = RecorderSettings(stop_hotkey=args.stop_hotkey, check_hotkey=check_hotkey, redact=True,
                                display=args.display, frame_rate=args.frame_rate, elements=True)
    live = _Output(out, args.format, args.app) if args.format != "skill" else None
    app = None
    if args.app:
        import shlex

        app = start_program(shlex.split(args.app), display=args.display)

    def ready() -> None:
        where = f"{out} grows as you go" if live is not None else f"{out} is written at the end"
        check = (f"; {check_hotkey} checks what is under the pointer" if check_hotkey else "")
        print(f"recording into {folder} ({where}): do the task, then press {args.stop_hotkey} "
              f"(or Ctrl+C) to stop{check}", file=sys.stderr, flush=True)

    try:
        return record(folder, settings, on_ready=ready, on_change=live.write if live is not None else None)
    finally:
        if app is not None:
            end_program(app)


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "codegen", parents=[common],
        help="record a task and write it as a pytest test (or a do script, a skill)",
        description="Record what you do on the screen and write it, step by step as you go, as a "
                    "pytest test (or a guiagent do script, or a skill). Targets are named by label, "
                    "by role and label, or by ordinal ('the second \"OK\"'), and only when none "
                    "exists by a picture saved beside the test. While recording, point at "
                    "something and press the check hotkey (default ctrl+alt+e) to add "
                    "expect(...).to_have_text(...) or .to_be_visible() for it; press the stop "
                    "hotkey (default ctrl+alt+r) or Ctrl+C to finish. Neither hotkey is recorded.")
    p.add_argument("out", help="the file to write: OUT.py (pytest), OUT.do, or the skill's name")
    p.add_argument("--format", choices=("pytest", "do", "skill"), default="pytest",
                   help="a pytest test using the guiagent plugin (default), a guiagent do script, "
                        "or a skill beside OUT")
    p.add_argument("--app", metavar="PROGRAM",
                   help="start this program first (and in the generated test), e.g. galculator")
    p.add_argument("--from", dest="source", metavar="DEMO",
                   help="convert a folder written by guiagent record instead of recording")
    p.add_argument("--demo", metavar="DIR", help="where to keep the recording (default: OUT-demo/)")
    p.add_argument("--stop-hotkey", default="ctrl+alt+r",
                   help="key combination that stops and saves (default: ctrl+alt+r)")
    p.add_argument("--check-hotkey", default="ctrl+alt+e",
                   help="key combination that adds an expectation about what is under the pointer: "
                        "expect(TARGET).to_have_text(TEXT) for a field or display, else "
                        ".to_be_visible() (default: ctrl+alt+e; 'none' turns it off)")
    p.add_argument("--frame-rate", type=float, default=10.0,
                   help="captures per second kept for the 'just before' frames (default 10)")
    p.set_defaults(handler=cmd_codegen)
