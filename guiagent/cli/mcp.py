"""`guiagent mcp`: serve the desktop to LLM clients over the Model Context Protocol."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from guiagent.cli.args import region_argument
from guiagent.platform import session_display


def add_commands(sub: Any, common: argparse.ArgumentParser, acting: argparse.ArgumentParser) -> None:
    from guiagent.grounding.vlm.options import vlm_arguments

    p = sub.add_parser(
        "mcp", parents=[acting, vlm_arguments()],
        help="serve this desktop as MCP tools for LLM clients (Claude Desktop, Claude Code, ...)",
        description="An MCP server (stdio by default) with tools to look at and drive this desktop: "
                    "screenshot, zoom, snapshot, find, click, type_text, press_key, scroll, drag, "
                    "wait_for, do, ask. Coordinates in and out are pixels of the last screenshot.",
    )
    p.add_argument("--http", metavar="HOST:PORT",
                   help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (loopback "
                        "unless a --token is given)")
    p.add_argument("--token", help="bearer token required on every HTTP request (default: "
                                   "$GUIAGENT_MCP_TOKEN); needed for any non-loopback address")
    p.add_argument("--region", type=region_argument, metavar="X,Y,W,H",
                   help="look and act only inside this screen box")
    p.add_argument("--window", metavar="TITLE",
                   help="look and act only inside the window whose title contains TITLE (its box "
                        "when the server starts)")
    p.add_argument("--read-only", action="store_true",
                   help="only the tools that look (screenshot, zoom, snapshot, find, wait_for, ask)")
    p.add_argument("--image-size", type=int, default=1568, metavar="N",
                   help="long side of screenshots in pixels (default 1568, what Claude shows unscaled)")
    p.add_argument("--max-bytes", type=int, default=1_000_000, metavar="N",
                   help="most bytes one tool result may take, base64 included (default 1000000)")
    p.add_argument("--abort-hotkey", default="ctrl+alt+shift+q", metavar="KEYS",
                   help="stops every action for the rest of the session (default ctrl+alt+shift+q; "
                        "'none' to disable)")
    p.add_argument("--verify-timeout", type=float, default=1.0, metavar="S",
                   help="seconds a click waits for the screen to change near it (default 1)")
    p.add_argument("--confirm", choices=("off", "destructive", "all"), default="off",
                   help="ask the user (MCP elicitation, where the client supports it) before a click: "
                        "'destructive' for controls named delete, discard, send, quit...; 'all' for "
                        "every click (default off). A client without elicitation gets those clicks "
                        "refused")
    p.add_argument("--audit", metavar="FILE", type=Path,
                   help="append one JSON line per tool call (typed text replaced by its length)")
    p.add_argument("--check", action="store_true",
                   help="report what the server can see and use (display, capture, input, OCR, "
                        "model), then exit")
    p.set_defaults(handler=cmd_mcp)


def cmd_mcp(args: argparse.Namespace) -> int:
    from guiagent.geometry import as_box
    from guiagent.grounding.vlm.options import apply_vlm_arguments
    from guiagent.mcp import ServerOptions, build_server, check_http_access, parse_http_address, run_http
    from guiagent.mcp.session import display_missing_message

    token = args.token or os.environ.get("GUIAGENT_MCP_TOKEN") or None
    address = parse_http_address(args.http) if args.http else None
    if address is not None:
        check_http_access(address[0], token)  # before anything else starts
    display = args.display or session_display()
    region = as_box(args.region) if args.region else None
    if args.window:
        if not display:
            from guiagent.errors import DisplayError

            raise DisplayError(f"--window needs a display: {display_missing_message()}")
        from guiagent.cli.do import window_region

        region = window_region(display, args.window, region)
    try:
        options = ServerOptions(
            display=display, region=region, image_size=args.image_size, max_bytes=args.max_bytes,
            dry_run=args.dry_run, read_only=args.read_only, backend=args.backend,
            failsafe=not args.no_failsafe,
            abort_hotkey=None if args.abort_hotkey.lower() == "none" else args.abort_hotkey,
            verify_timeout=args.verify_timeout, model=apply_vlm_arguments(args), confirm=args.confirm,
        )
    except ValueError as exc:
        from guiagent.errors import InvalidActionError

        raise InvalidActionError(str(exc)) from None
    if args.check:
        from guiagent.mcp.check import run_checks

        results = run_checks(options)
        for result in results:
            print(result.line())
        essential = {r.name: r.ok for r in results}
        return 0 if essential.get("display") and essential.get("capture") else 4

    def say(line: str) -> None:
        print(f"guiagent mcp: {line}", file=sys.stderr, flush=True)

    if not display:
        say(f"warning: {display_missing_message()}; every tool will answer with this error")
    server, runner = build_server(options, audit=args.audit)
    mode = ", ".join(m for m in ("dry run" if args.dry_run else "", "read-only" if args.read_only else "",
                                 f"region {args.region}" if region else "",
                                 f"confirm {args.confirm}" if args.confirm != "off" else "") if m)
    try:
        if address is None:
            say(f"serving on stdio (display {display or 'none'}{', ' + mode if mode else ''})")
            server.run("stdio")
        else:
            run_http(server, address[0], address[1], token,
                     on_ready=lambda url: say(f"serving {url} (display {display or 'none'}"
                                              f"{', ' + mode if mode else ''})"))
    finally:
        runner.close()
    return 0
