"""`guiagent ground` (and the wiring of `guiagent eval`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from guiagent.errors import TargetNotFound
from guiagent.grounding.base import EmptyTargetError
from guiagent.grounding.marks import match_marks
from guiagent.screen.annotate import save_annotated
from guiagent.screen.capture import Frame

GROUNDERS = ("auto", "template", "ocr", "vlm")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    from guiagent.grounding.vlm.options import vlm_arguments

    # Every grounding command takes the same model options (they only load a model when given).
    grounding = argparse.ArgumentParser(add_help=False, parents=[common, vlm_arguments()])
    p = sub.add_parser("ground", parents=[grounding],
                       help="find a target in a screenshot (text, description or --template)")
    p.add_argument("image", help="screenshot to search (PNG/JPEG)")
    p.add_argument("instruction", nargs="?", default="",
                   help='what to find: "Save" (quoted = exact text) or a description')
    p.add_argument("--template", help="find this image instead of text")
    p.add_argument("--grounder", default="auto", choices=GROUNDERS)
    p.add_argument("--single-stage", action="store_true", help="skip ECP: one full-frame pass")
    p.add_argument("--crop", type=int, default=1024, help="ECP stage-2 crop side (default 1024)")
    p.add_argument("--min-score", type=float, help="score from which a match counts")
    p.add_argument("--all", action="store_true", help="print every match, not only the best")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--annotate", metavar="OUT.png",
                   help="save the screenshot with candidates, crops and the result drawn on it")
    p.set_defaults(handler=cmd_ground)

    try:
        from guiagent.evaluation.screenspot import add_command
    except ImportError:
        return
    add_command(sub, grounding)

    p = sub.add_parser("ask", parents=[grounding],
                       help="answer a question about a screenshot with a VLM (ECP with global context)")
    p.add_argument("image", help="screenshot (PNG/JPEG)")
    p.add_argument("question", help='e.g. "what is the value in the status bar?"')
    p.add_argument("--crop", type=int, default=1024, help="side of the full-resolution crop")
    p.add_argument("--no-context", action="store_true",
                   help="send only the crop in stage 2, not the downsampled screen with it")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_ask)


def cmd_ground(args: argparse.Namespace) -> int:
    from guiagent.elements.locate import locate_all
    from guiagent.grounding.vlm.options import apply_vlm_arguments

    apply_vlm_arguments(args)

    if args.template:
        target: Any = args.template
    elif args.instruction.strip():
        target = args.instruction
    else:
        raise EmptyTargetError("say what to find: an INSTRUCTION such as '\"Save\"', or --template PNG")
    frame = Frame.load(Path(args.image))
    try:
        matches = locate_all(frame, target, grounder=args.grounder, ecp=not args.single_stage,
                             crop=args.crop, min_score=args.min_score,
                             limit=5 if args.all else 1)
    except TargetNotFound as exc:
        if args.annotate:
            seen = getattr(exc, "matches", [])
            path = save_annotated(frame, match_marks(seen), args.annotate)
            exc.annotated_path = str(path)
            raise TargetNotFound(f"{exc} (annotated screenshot: {path})",
                                 best_score=exc.best_score, annotated_path=str(path)) from None
        raise
    best = matches[0]
    if args.annotate:
        path = save_annotated(frame, match_marks(matches), args.annotate)
        if not args.json:
            print(f"annotated screenshot: {path}", file=sys.stderr)
    if args.json:
        payload = best.to_json()
        if args.all:
            payload["matches"] = [m.to_json() for m in matches]
        if args.annotate:
            payload["annotated"] = str(Path(args.annotate).resolve())
        print(json.dumps(payload, ensure_ascii=False))
    else:
        for m in matches:
            p = m.screen_point or m.point
            box = "" if m.box is None else " box " + ",".join(f"{v:g}" for v in
                                                                  (round(c) for c in m.box.corners))
            text = f" text {m.text!r}" if m.text else ""
            print(f"{p.x:.0f} {p.y:.0f} score {m.score:.3f}{box}{text} "
                  f"({m.grounder}, {m.elapsed_ms:.0f} ms)")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from guiagent.grounding import GrounderUnavailable, get_grounder
    from guiagent.grounding.vlm import VlmGrounder
    from guiagent.grounding.vlm.ask import ask_screen
    from guiagent.grounding.vlm.options import apply_vlm_arguments

    if not apply_vlm_arguments(args):
        raise GrounderUnavailable("guiagent ask needs a vision-language model: --model DIR (local "
                                  "checkpoint) or --vlm-url URL --vlm-model NAME (a server)")
    grounder = get_grounder("vlm")
    assert isinstance(grounder, VlmGrounder)
    frame = Frame.load(Path(args.image))
    answer = ask_screen(frame, args.question, grounder, crop=args.crop,
                        global_context=not args.no_context)
    if args.json:
        print(json.dumps({"answer": answer.text, "window": list(answer.window.corners),
                          "focus": None if answer.focus is None else [answer.focus.x, answer.focus.y],
                          "elapsed_ms": round(answer.elapsed_ms, 1),
                          "stages": [{"name": s.name, "elapsed_ms": round(s.elapsed_ms, 1), "note": s.note}
                                     for s in answer.stages]}, ensure_ascii=False))
    else:
        print(answer.text)
    return 0
