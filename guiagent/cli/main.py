"""The ``guiagent`` command. Errors are one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from guiagent import __version__
from guiagent.cli import codegen, do, ground, inspect, mcp, record
from guiagent.cli.args import region_argument as _region
from guiagent.errors import GuiAgentError

Handler = Callable[[argparse.Namespace], int]


def _desktop(args: argparse.Namespace) -> Any:
    from guiagent.desktop.core import Desktop

    return Desktop(
        args.display,
        backend=args.backend,
        dry_run=args.dry_run,
        failsafe=not args.no_failsafe,
        abort_hotkey=None,  # one-shot commands finish before anyone could press it
    )


def cmd_capture(args: argparse.Namespace) -> int:
    from guiagent.screen.capture import Screen

    with Screen(args.display) as screen:
        frame = screen.capture(monitor=args.monitor, region=args.region)
        out = frame.save(args.out)
    print(f"{out} {frame.width}x{frame.height} at {frame.origin.x:g},{frame.origin.y:g}")
    return 0


def cmd_click(args: argparse.Namespace) -> int:
    from guiagent.geometry import Point
    from guiagent.input.actions import Click, describe

    with _desktop(args) as desktop:
        record = desktop.run(Click(Point(args.x, args.y), args.button,
                                   2 if args.double else args.clicks))
    print(("would " if not record.performed else "") + describe(record.action))
    return 0


def cmd_type(args: argparse.Namespace) -> int:
    from guiagent.input.actions import describe

    with _desktop(args) as desktop:
        record = desktop.type(args.text, interval=args.interval)
    print(("would " if not record.performed else "") + describe(record.action))
    return 0


def cmd_press(args: argparse.Namespace) -> int:
    from guiagent.input.actions import describe

    with _desktop(args) as desktop:
        record = desktop.press(args.keys, presses=args.presses)
    print(("would " if not record.performed else "") + describe(record.action))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from guiagent.cli.demo import run_demo

    return run_demo(out=Path(args.out), keep_open=args.keep_open)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="guiagent",
        description="See a desktop and drive it the way a person does.",
    )
    parser.add_argument("--version", action="version", version=f"guiagent {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--display", help="X display to use (default: $DISPLAY)")
    acting = argparse.ArgumentParser(add_help=False, parents=[common])
    acting.add_argument("--backend", default="pyautogui", choices=("pyautogui", "pynput", "xdotool"),
                        help="input backend (default: pyautogui)")
    acting.add_argument("--dry-run", action="store_true",
                        help="check and print the action without touching mouse or keyboard")
    acting.add_argument("--no-failsafe", action="store_true",
                        help="act even when the pointer sits in a screen corner")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("capture", parents=[common], help="save a screenshot")
    p.add_argument("out", help="output image (.png)")
    p.add_argument("--monitor", type=int, default=0, help="monitor number, 0 = all (default)")
    p.add_argument("--region", type=_region, help="x,y,width,height in screen pixels")
    p.set_defaults(handler=cmd_capture)

    p = sub.add_parser("click", parents=[acting], help="click at screen coordinates")
    p.add_argument("x", type=float)
    p.add_argument("y", type=float)
    p.add_argument("--button", default="left", choices=("left", "right", "middle"))
    p.add_argument("--clicks", type=int, default=1)
    p.add_argument("--double", action="store_true", help="double-click")
    p.set_defaults(handler=cmd_click)

    p = sub.add_parser("type", parents=[acting], help="type text (any Unicode) at the focus")
    p.add_argument("text")
    p.add_argument("--interval", type=float, default=0.0, help="seconds between characters")
    p.set_defaults(handler=cmd_type)

    p = sub.add_parser("press", parents=[acting], help="press a key or combination (ctrl+s)")
    p.add_argument("keys")
    p.add_argument("--presses", type=int, default=1)
    p.set_defaults(handler=cmd_press)

    p = sub.add_parser("demo", help="start a 3840x2160 virtual display, drive a real app, "
                                    "save an annotated screenshot")
    p.add_argument("--out", default="guiagent-demo.png", help="annotated screenshot path")
    p.add_argument("--keep-open", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_demo)

    ground.add_commands(sub, common)
    inspect.add_commands(sub, common)
    record.add_commands(sub, common, acting)
    codegen.add_commands(sub, common)
    do.add_commands(sub, common, acting)
    mcp.add_commands(sub, common, acting)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except GuiAgentError as exc:
        print(f"guiagent: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("guiagent: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: still one line, with a way to report it
        print(f"guiagent: internal error: {type(exc).__name__}: {exc} "
              "(please report it with the command you ran)", file=sys.stderr)
        return 70
