"""``guiagent inspect``: the UI elements on the screen (or in a screenshot), like an
accessibility inspector: a tree, JSON, a search, or a picture with every element's ref."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from guiagent.elements.model import Element, Snapshot


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("inspect", parents=[common],
                       help="list the UI elements on the screen (accessibility tree + vision elements)")
    p.add_argument("image", nargs="?", help="a screenshot to inspect instead of the screen "
                                            "(vision elements only)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--find", metavar="QUERY", help='only the elements QUERY means, best first, e.g. '
                                                  '"the Bold button" or \'"Save"\'')
    p.add_argument("--annotate", metavar="OUT.png", help="save the frame with every element's box and ref")
    p.add_argument("--window", metavar="TITLE", help="only elements of windows whose title contains TITLE")
    p.add_argument("--interactive", action="store_true", help="only controls (buttons, fields, links...)")
    p.add_argument("--no-accessibility", action="store_true",
                   help="ignore the accessibility tree (vision elements only)")
    p.add_argument("--budget", type=int, default=2000, help="at most this many elements (default 2000)")
    p.set_defaults(handler=cmd_inspect)


def _snapshot(args: argparse.Namespace) -> Snapshot:
    from guiagent.elements.snapshot import take_snapshot
    from guiagent.screen.capture import Frame

    if args.image:
        return take_snapshot(Frame.load(Path(args.image)), window=args.window,
                             interactive_only=args.interactive, budget=args.budget)
    from guiagent.desktop.core import Desktop

    with Desktop(args.display, accessibility=not args.no_accessibility, abort_hotkey=None) as desktop:
        return desktop.snapshot(window=args.window, interactive_only=args.interactive,
                                budget=args.budget)


def _tree_lines(snapshot: Snapshot) -> list[str]:
    """Elements indented under their parents (vision elements are roots)."""
    lines: list[str] = []

    def walk(parent: Element | None, depth: int) -> None:
        for child in snapshot.children(parent):
            lines.append("  " * depth + child.describe() + (f"  ({child.source})" if child.source == "vision"
                                                             else ""))
            walk(child, depth + 1)

    walk(None, 0)
    return lines


def cmd_inspect(args: argparse.Namespace) -> int:
    from guiagent.elements.locate import _resolve
    from guiagent.elements.query import parse_query
    from guiagent.errors import InvalidActionError, TargetNotFound

    snapshot = _snapshot(args)
    shown: list[Element] = list(snapshot.elements)
    scores: dict[str, float] = {}
    if args.find:
        query = parse_query(args.find)
        if query is None:
            raise InvalidActionError(f"{args.find!r} names no label, role or relation: name an element by "
                                     'its text ("Save"), a role (the Bold button) or both')
        ranked, _picked = _resolve(snapshot.elements, query)
        if not ranked:
            raise TargetNotFound(f"no element fits {query.describe()} among {len(snapshot)} elements")
        shown = [r.element for r in ranked]
        scores = {r.element.ref: r.score for r in ranked}
    if args.annotate:
        from guiagent.screen.annotate import GREEN, Mark, save_annotated

        if snapshot.frame is None:
            raise InvalidActionError("--annotate needs a frame")
        marks = [Mark(box=snapshot.to_frame_box(e), color=GREEN, thickness=2, label=e.ref) for e in shown]
        path = save_annotated(snapshot.frame, marks, args.annotate)
        print(f"annotated screenshot: {path}", file=sys.stderr)
    if args.json:
        payload = {"elements": [dict(e.to_json(), **({"match": scores[e.ref]} if e.ref in scores else {}))
                                for e in shown], "notes": list(snapshot.notes)}
        print(json.dumps(payload, ensure_ascii=False))
        return 0
    for note in snapshot.notes:
        print(f"# {note}", file=sys.stderr)
    if args.find:
        for e in shown:
            print(f"{scores[e.ref]:.2f} {e.describe()}  ({e.source})")
    else:
        print("\n".join(_tree_lines(snapshot)))
    return 0
