"""`guiagent do "..."`: natural-language commands from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from guiagent.cli.args import region_argument


def add_commands(sub: Any, common: argparse.ArgumentParser, acting: argparse.ArgumentParser) -> None:
    from guiagent.grounding.vlm.options import vlm_arguments

    p = sub.add_parser(
        "do", parents=[acting, vlm_arguments()],
        help='run a command in plain English: do \'click "File", then click "Save As…"\'',
        description="Parse the command into steps (click, type, press, scroll, drag, move to, wait, "
                    "open, run skill) and run each: capture, find the target, act, check the screen "
                    "reacted. Stops at the first failed step and keeps a trace of what it saw.",
    )
    p.add_argument("text", nargs="+", help="the command; several words are joined with spaces")
    p.add_argument("--yes", action="store_true",
                   help="run the steps a model proposed (with --model/--vlm-url, for a command that "
                        "does not parse) without asking first")
    p.add_argument("--trace", metavar="DIR", type=Path,
                   help="keep the trace (trace.json, frames, annotated pictures) in DIR")
    p.add_argument("--annotate", action="store_true",
                   help="print the annotated screenshot path of every click (keeps the trace)")
    p.add_argument("--region", type=region_argument, metavar="X,Y,W,H",
                   help="look and act only inside this screen box")
    p.add_argument("--window", metavar="TITLE",
                   help="look and act only inside the window whose title contains TITLE")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for targets and programs (default 10)")
    p.add_argument("--json", action="store_true", help="print the run report as JSON")
    p.set_defaults(handler=cmd_do)


def _confirm(steps: list[Any]) -> bool:
    from guiagent.agent.language import describe_steps

    print("the model proposed these steps:\n" + describe_steps(steps), file=sys.stderr)
    if not sys.stdin.isatty():
        print("not asking (stdin is not a terminal): pass --yes to run proposed steps", file=sys.stderr)
        return False
    print("run them? [y/N] ", end="", file=sys.stderr, flush=True)  # stdout is for the report
    try:
        return input().strip().lower() in ("y", "yes")
    except EOFError:
        return False


def cmd_do(args: argparse.Namespace) -> int:
    from guiagent.agent.language import CommandError, parse_commands
    from guiagent.agent.loop import Agent, AgentOptions, StepFailed
    from guiagent.desktop.core import Desktop
    from guiagent.geometry import as_box
    from guiagent.grounding.vlm.options import apply_vlm_arguments

    text = " ".join(args.text)
    with_model = apply_vlm_arguments(args)
    try:
        parse_commands(text)  # an unreadable command fails here, before any display is opened,
    except CommandError:
        if not with_model:  # ... unless a model may propose the steps (guiagent.agent.planner)
            raise
    region = as_box(args.region) if args.region else None
    if args.window:
        region = window_region(args.display, args.window, region)
    options = AgentOptions(
        dry_run=args.dry_run, timeout=args.timeout, region=region,
        trace_dir=args.trace, annotate=args.annotate, detach_programs=True, assume_yes=args.yes,
    )
    echo = (lambda line: print(line, file=sys.stderr)) if not args.json else None
    with Desktop(args.display, backend=args.backend, dry_run=args.dry_run,
                 failsafe=not args.no_failsafe) as desktop:
        planner = None
        if with_model:
            from guiagent.agent.planner import VlmPlanner

            planner = VlmPlanner(capture=lambda: desktop.capture(region=options.region))
        agent = Agent(desktop, options, planner=planner, confirm=_confirm, echo=echo)
        try:
            report = agent.run(text)
        except StepFailed as failed:
            _print_report(failed.report, args)
            raise
    _print_report(report, args)
    return 0


def window_region(display: str | None, title: str, region: Any) -> Any:
    """The screen box of the one window whose title contains ``title`` (within ``region``)."""
    from guiagent.errors import OutOfBoundsError, TargetNotFound
    from guiagent.geometry import Box
    from guiagent.platform import platform_for, windows_titled

    windows = platform_for(display).windows(display)
    try:
        found = windows_titled(windows, title)
        if len(found) != 1:
            titles = ", ".join(repr(w.title) for w in windows.all() if w.title) or "none"
            what = "no window" if not found else f"{len(found)} windows"
            raise TargetNotFound(f"--window {title!r}: {what} with that title; open windows: {titles}")
    finally:
        windows.close()
    box = Box(*found[0].box)
    if region is not None:
        inside = box.intersection(region)
        if inside is None:
            raise OutOfBoundsError(f"--window {title!r} lies outside --region {region}")
        box = inside
    return box


def _print_report(report: Any, args: argparse.Namespace) -> None:
    import json

    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    if args.annotate:
        for path in report.annotated():
            print(path)
    if report.trace_dir is not None:
        print(f"trace: {report.trace_dir}", file=sys.stderr)
