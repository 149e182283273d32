"""``guiagent record``, ``replay`` and ``skill``: argparse wiring (heavy imports happen on use)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _step_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"steps are numbered from 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"steps are numbered from 1, got {text!r}")
    return value


def cmd_record(args: argparse.Namespace) -> int:
    from guiagent.recording.recorder import RecorderSettings, record

    settings = RecorderSettings(stop_hotkey=args.stop_hotkey, redact=args.redact, display=args.display,
                                frame_rate=args.frame_rate, ocr=not args.no_ocr)

    def ready() -> None:
        print(f"recording into {args.folder}: do the task, then press {args.stop_hotkey} "
              "(or Ctrl+C) to stop and save", file=sys.stderr, flush=True)

    demo = record(args.folder, settings, on_ready=ready)
    secret = sum(1 for s in demo.steps if getattr(s, "secret", False))
    note = f" ({secret} secret text step(s) not stored)" if secret else ""
    print(f"saved {len(demo.steps)} step(s) to {demo.folder / 'demo.json'}{note}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from guiagent.desktop.core import Desktop
    from guiagent.grounding.vlm.options import apply_vlm_arguments
    from guiagent.recording.replay import ReplayOptions, load_demo, replay

    demo = load_demo(args.folder)
    secrets = _ask_secrets(demo.steps, args.from_step)
    apply_vlm_arguments(args)  # --model / --vlm-url: the cascade's description stage
    options = ReplayOptions(speed=args.speed, from_step=args.from_step, dry_run=args.dry_run,
                            allow_raw_coordinates=args.allow_raw_coordinates,
                            find_timeout=args.timeout, secrets=secrets)
    with Desktop(args.display, backend=args.backend, dry_run=args.dry_run,
                 failsafe=not args.no_failsafe) as desktop:
        report = replay(demo, desktop, options,
                        log=lambda line: print(line, flush=True))
    verb = "checked" if args.dry_run else "replayed"
    print(f"{verb} {len(report.outcomes)} step(s) in {report.elapsed:.1f} s "
          f"(median {report.median_step_seconds:.2f} s a step)")
    return 0


def _ask_secrets(steps: Any, from_step: int) -> dict[int, str]:
    """Secret text steps were never stored: ask for them on a terminal, before anything runs."""
    from guiagent.recording.recorder import TypeStep
    from guiagent.recording.replay import DemoError

    wanted = [n for n, s in enumerate(steps, 1)
              if n >= from_step and isinstance(s, TypeStep) and s.secret]
    if not wanted:
        return {}
    if not sys.stdin.isatty():
        raise DemoError(f"step(s) {', '.join(map(str, wanted))} type secret text that was not recorded; "
                        "run guiagent replay on a terminal to be asked for it")
    import getpass

    return {n: getpass.getpass(f"secret text for step {n}: ") for n in wanted}


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


def cmd_skill_new(args: argparse.Namespace) -> int:
    from guiagent.recording.skills import skill_from_demo

    skill = skill_from_demo(args.name, args.source, description=args.description or "",
                            params=dict(args.param), folder=args.dir, overwrite=args.force)
    print(f"{skill.path}: {len(skill.steps)} step(s), parameters: "
          f"{', '.join(p.name for p in skill.params) or 'none'}")
    for line in skill.steps:
        print(f"  {line}")
    return 0


def cmd_skill_run(args: argparse.Namespace) -> int:
    from guiagent.agent.loop import run_skill
    from guiagent.agent.skills import load_skill
    from guiagent.desktop.core import Desktop

    skill = load_skill(args.name)
    params = dict(args.params)
    for line in skill.expand(params):  # bad parameters fail before a display is opened
        print(("would " if args.dry_run else "") + line, file=sys.stderr)
    with Desktop(args.display, backend=args.backend, dry_run=args.dry_run,
                 failsafe=not args.no_failsafe) as desktop:
        run_skill(skill, params, desktop, timeout=args.timeout, dry_run=args.dry_run)
    print(f"skill {skill.name}: {'checked' if args.dry_run else 'done'}")
    return 0


def cmd_skill_list(args: argparse.Namespace) -> int:
    from guiagent.agent.skills import SkillError, list_skills

    for item in list_skills():
        if isinstance(item, SkillError):
            print(f"(broken) {item}")
            continue
        params = " ".join(f"{p.name}=" + (f"[{p.default}]" if p.default is not None else "...")
                          for p in item.params)
        print(f"{item.name} {params}".rstrip() + f"  - {item.description}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser, acting: argparse.ArgumentParser) -> None:
    from guiagent.grounding.vlm.options import vlm_arguments

    skill = sub.add_parser("skill", help="reusable, parameterised procedures (new, run, list)")
    skill_sub = skill.add_subparsers(dest="skill_command", metavar="ACTION", required=True)
    p = skill_sub.add_parser("new", help="make a skill from a recorded demo")
    p.add_argument("name", help="the skill's name (letters, digits, _ - .)")
    p.add_argument("--from", dest="source", required=True, help="a folder written by guiagent record")
    p.add_argument("--param", type=_key_value, action="append", default=[], metavar="NAME=step:N.text",
                   help="turn the text of step N into the parameter NAME (repeatable)")
    p.add_argument("--description", help="what the skill does (default: where it was recorded from)")
    p.add_argument("--dir", default="skills", help="where to write NAME.json (default: ./skills)")
    p.add_argument("--force", action="store_true", help="replace an existing skill file")
    p.set_defaults(handler=cmd_skill_new)
    p = skill_sub.add_parser("run", parents=[acting], help="run a skill: skill run NAME key=value ...")
    p.add_argument("name")
    p.add_argument("params", nargs="*", type=_key_value, metavar="NAME=VALUE")
    p.add_argument("--timeout", type=_positive, default=10.0,
                   help="seconds to wait for targets and conditions (default 10)")
    p.set_defaults(handler=cmd_skill_run)
    p = skill_sub.add_parser("list", help="list the skills on the skill path")
    p.set_defaults(handler=cmd_skill_list)

    p = sub.add_parser("record", parents=[common],
                       help="record clicks and keys into a demo folder (replayable after windows move)")
    p.add_argument("folder", help="new folder for demo.json and its PNG assets")
    p.add_argument("--stop-hotkey", default="ctrl+alt+r",
                   help="key combination that stops and saves (default: ctrl+alt+r)")
    p.add_argument("--redact", action="store_true",
                   help="never store text typed into password-like fields (asked for at replay)")
    p.add_argument("--frame-rate", type=_positive, default=10.0,
                   help="captures per second kept for the 'just before' frames (default 10)")
    p.add_argument("--no-ocr", action="store_true", help="do not read the text under each click")
    p.set_defaults(handler=cmd_record)

    p = sub.add_parser("replay", parents=[acting, vlm_arguments()],
                       help="replay a recorded demo, finding each target again on the screen")
    p.add_argument("folder", help="a folder written by guiagent record")
    p.add_argument("--speed", type=_positive, default=1.0,
                   help="divide the recorded pauses that remain after the UI settled (default 1)")
    p.add_argument("--from-step", type=_step_number, default=1, help="start at this step (1 = first)")
    p.add_argument("--allow-raw-coordinates", action="store_true",
                   help="when a target cannot be found, click where it was recorded (moved with its "
                        "window)")
    p.add_argument("--timeout", type=_positive, default=8.0,
                   help="seconds to wait for each step's target to appear (default 8)")
    p.set_defaults(handler=cmd_replay)
