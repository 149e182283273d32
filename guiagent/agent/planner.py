"""A vision-language model proposes the steps of a command the parser could not read.

:class:`VlmPlanner` implements :class:`guiagent.agent.language.Planner`: it shows the configured VLM
the current screen (downsampled to about 1M pixels) and the command, and asks it to rewrite the
command in guiagent's command language, one step per line, ending with ``END``. The answer is
only ever *parsed*, line by line, with :func:`guiagent.agent.language.parse_commands`: it is never run
as code. Any line that does not parse, an answer that is too long, has too many steps or is cut
off refuses the whole plan with :class:`PlanRefused`, which carries the model's raw text.

Two more rules keep a model from doing what the command did not ask for: a proposed ``type``
step may only type text the command itself contains (never text read off the screen), and an
``open`` step may only launch a program the command names. The agent then shows the steps and
runs them only after confirmation (or ``--yes`` / ``assume_yes=True``).

    planner = VlmPlanner(capture=desktop.capture)        # the "vlm" grounder's model
    guiagent.do(desktop, "save this as report.pdf", planner=planner, confirm=lambda steps: True)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guiagent.agent.language import CommandError, OpenStep, Step, TypeStep, parse_commands
from guiagent.errors import PlanRefused

if TYPE_CHECKING:
    from PIL import Image

    from guiagent.grounding.vlm.base import Generation
    from guiagent.grounding.vlm.grounder import ModelHandle
    from guiagent.screen.capture import Frame

END = "END"
CANNOT = "CANNOT"

# The command language as the model is told it: every form here parses (tests check each line).
FORMS = """\
click TARGET
double-click TARGET
right-click TARGET
middle-click TARGET
type "TEXT"
type "TEXT" into TARGET
press KEY
press KEY N times
scroll up N
scroll down N in TARGET
drag TARGET to TARGET
move to TARGET
wait N seconds
wait for TARGET up to N seconds
wait for TARGET to disappear up to N seconds
open PROGRAM"""

KEYS = ("enter, tab, escape, space, backspace, delete, home, end, pageup, pagedown, up, down, left, "
        "right, f1 to f12, a single character; combinations join keys with +: ctrl+s, ctrl+shift+t, alt+f4")

# (request, answer) pairs shown to the model; every answer line parses (tests check it).
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("save the document as report.pdf",
     'click "File"\nclick "Save As…"\ntype "report.pdf"\npress enter'),
    ("make the page bigger and go to the bottom",
     "press ctrl++ 2 times\nscroll down 10"),
    ('search the settings for "dark mode"',
     'type "dark mode" into the search field in the top bar\npress enter\n'
     'wait for "Dark mode" up to 10 seconds'),
    ("close that dialog without saving",
     'click "Don\'t Save"\nwait for "Don\'t Save" to disappear up to 5 seconds'),
)


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    """``max_steps``: the most steps a plan may have. ``max_chars``: the longest answer read.
    ``max_new_tokens``: the model's answer budget (an answer cut off there has no END line and is
    refused). ``max_pixels``: area of the downsampled screen the model sees. ``allow_new_text``:
    let ``type`` steps type text that is not in the command (off: a model must not copy what it
    reads on the screen somewhere else)."""

    max_steps: int = 20
    max_chars: int = 2000
    max_new_tokens: int = 512
    max_pixels: int = 1_003_520
    allow_new_text: bool = False


class VlmPlanner:
    """Asks a VLM to rewrite an unreadable command as typed steps (see the module docstring).

    ``handle``: the model to ask; default: the registered "vlm" grounder's main (``fine``)
    model, resolved on first use. ``capture``: returns the current screen (a :class:`Frame` or a
    PIL image); without it the model sees only the text.
    """

    def __init__(self, handle: ModelHandle | None = None, *,
                 capture: Callable[[], Frame | Image.Image] | None = None,
                 settings: PlannerSettings | None = None) -> None:
        self._handle = handle
        self.capture = capture
        self.settings = settings or PlannerSettings()
        self.last_generation: Generation | None = None
        self.last_image: Image.Image | None = None

    @property
    def handle(self) -> ModelHandle:
        if self._handle is None:
            self._handle = _configured_handle()
        return self._handle

    def propose(self, command: str, error: CommandError) -> list[Step]:
        """The model's steps for ``command``; PlanRefused when its answer is not a clean plan."""
        from guiagent.grounding.vlm.grounder import _effective_rule
        from guiagent.grounding.vlm.resize import resize_for_model

        handle = self.handle
        images: list[Image.Image] = []
        if self.capture is not None:
            screen = self.capture()
            pixels: Any = getattr(screen, "pixels", screen)  # a Frame's BGR(A) array, or PIL
            images.append(resize_for_model(pixels, _effective_rule(handle, self.settings.max_pixels)))
        self.last_image = images[0] if images else None
        prompt = planning_prompt(command, error, max_steps=self.settings.max_steps,
                                 with_screen=bool(images))
        messages = handle.family.question_messages(prompt, len(images))
        generation = handle.runtime.generate(messages, images, max_new_tokens=self.settings.max_new_tokens)
        self.last_generation = generation
        try:
            return parse_plan(generation.text, command, self.settings)
        except PlanRefused as refused:
            unread = f"could not understand {error.failed[0][1]!r}" if error.failed else str(error)
            raise PlanRefused(f"{unread}, and the steps a model proposed were refused: {refused.reason}",
                              raw=refused.raw, failed=refused.failed) from None


def _configured_handle() -> ModelHandle:
    from guiagent.grounding import get_grounder, vlm_configured
    from guiagent.grounding.vlm.grounder import ModelHandle

    if not vlm_configured():
        raise CommandError("no vision-language model is configured to plan the command: pass "
                           "--model DIR or --vlm-url URL, or write the steps in the command language")
    fine = getattr(get_grounder("vlm"), "fine", None)
    if not isinstance(fine, ModelHandle):
        raise CommandError("the registered 'vlm' grounder has no model to plan with; pass a "
                           "ModelHandle to VlmPlanner")
    return fine


def planning_prompt(command: str, error: CommandError, *, max_steps: int = 20,
                    with_screen: bool = True) -> str:
    """The instruction the model gets: the command, what the parser made of it, the accepted
    forms, and examples."""
    understood = "; ".join(step.describe() for _, step in error.understood)
    not_read = "; ".join(f"{clause!r} ({reason})" for _, clause, reason in error.failed)
    parser_said = ""
    if not_read:
        parser_said = f"The parser could not read: {not_read}."
        if understood:
            parser_said += f" It did read: {understood}."
    examples = "\n\n".join(f"Request: {request}\n{answer}\n{END}" for request, answer in EXAMPLES)
    screen = "The image is the screen as it is now. " if with_screen else ""
    return (
        f"{screen}Rewrite the user's request for this desktop as steps of a small command language, "
        "one step per line.\n\n"
        f"Request: {command}\n{parser_said}\n\n"
        f"Use only these forms (N is a number):\n{FORMS}\n\n"
        'A TARGET is the exact text shown on the element, in double quotes ("Save As…"), or, for an '
        'element without text, a short description ("the gear icon left of Help"). When the same '
        'text is shown several times, say which: the rightmost "+", the second "OK". '
        f"Keys: {KEYS}.\n"
        "Type only text that the request itself gives, and open only a program it names. "
        f"At most {max_steps} steps. Write the steps and nothing else (no numbers, no "
        f"explanations), then a last line {END}. If the request cannot be done with these forms, "
        f"answer one line: {CANNOT} and the reason.\n\n"
        f"Examples:\n\n{examples}\n\n"
        f"Request: {command}\n"
    )


_FENCE = re.compile(r"^\s*```")
_NUMBERING = re.compile(r"^\s*(?:(?:step\s*)?\d{1,3}\s*[.):]\s*|[-*•]\s+)", re.IGNORECASE)


def plan_lines(raw: str) -> list[str]:
    """The answer's non-empty lines without code fences, list numbering/bullets or backticks."""
    lines = []
    for line in raw.splitlines():
        if _FENCE.match(line):
            continue
        line = _NUMBERING.sub("", line, count=1).strip()
        if len(line) >= 2 and line[0] == line[-1] == "`":
            line = line[1:-1].strip()
        if line:
            lines.append(line)
    return lines


def parse_plan(raw: str, command: str, settings: PlannerSettings | None = None) -> list[Step]:
    """Typed steps from a model's answer, or PlanRefused. Only :func:`parse_commands` reads it."""
    settings = settings or PlannerSettings()
    if len(raw) > settings.max_chars:
        raise PlanRefused(f"the model's answer is {len(raw)} characters long, over the "
                          f"{settings.max_chars} a plan may have", raw=raw)
    lines = plan_lines(raw)
    if not lines:
        raise PlanRefused("the model proposed no steps", raw=raw)
    if lines[0].upper().startswith(CANNOT):
        reason = lines[0][len(CANNOT):].strip(" :.-") or "no reason given"
        raise PlanRefused(f"the model could not plan it: {reason}", raw=raw)
    ends = [i for i, line in enumerate(lines) if line.rstrip(".").upper() == END]
    if not ends:
        raise PlanRefused(f"the plan does not end with a line {END} (cut off, or not a plan)", raw=raw)
    if ends[0] != len(lines) - 1:
        raise PlanRefused(f"the model wrote more after {END}: {lines[ends[0] + 1]!r}", raw=raw)
    lines = lines[:-1]
    if not lines:
        raise PlanRefused("the model proposed no steps", raw=raw)
    if len(lines) > settings.max_steps:
        raise PlanRefused(f"the plan has {len(lines)} lines, more than the {settings.max_steps} steps "
                          "a plan may have", raw=raw)
    steps: list[Step] = []
    failed: list[tuple[int, str, str]] = []
    for number, line in enumerate(lines, 1):
        try:
            parsed = parse_commands(line)
            for step in parsed:
                _check_allowed(step, command, settings)
        except CommandError as exc:
            reason = exc.failed[0][2] if exc.failed else str(exc)
            failed.append((number, line, reason))
            continue
        steps.extend(parsed)
    if failed:
        listed = "; ".join(f"line {n} {line!r}: {reason}" for n, line, reason in failed)
        raise PlanRefused(f"the model's plan has {len(failed)} line(s) that are not valid steps: {listed}",
                          raw=raw, failed=failed)
    if len(steps) > settings.max_steps:
        raise PlanRefused(f"the plan has {len(steps)} steps, more than the {settings.max_steps} "
                          "a plan may have", raw=raw)
    return steps


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def _check_allowed(step: Step, command: str, settings: PlannerSettings) -> None:
    """A proposed step may type only text the command contains and open only a program it names."""
    said = _normal(command)
    if isinstance(step, TypeStep) and not settings.allow_new_text and _normal(step.text) not in said:
        raise CommandError(f"it types {step.text!r}, which the command does not contain (a planned "
                           "step types only text the command gives)")
    if isinstance(step, OpenStep):
        program = re.escape(_normal(" ".join(step.argv)))  # as a whole word: "calc" is not "calculator"
        if not re.search(rf"(?<![\w./-]){program}(?![\w/-])", said):
            raise CommandError(f"it starts {step.program!r}, which the command does not name (a "
                               "planned step opens only a program the command names)")


__all__ = [
    "EXAMPLES",
    "FORMS",
    "PlanRefused",
    "PlannerSettings",
    "VlmPlanner",
    "parse_plan",
    "plan_lines",
    "planning_prompt",
]
