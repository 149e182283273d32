"""Code from a recording: a demo becomes a readable pytest test or a ``guiagent do`` script.

Each pointer step names its target the most robust way the recording allows:

1. the element's whole label, quoted (``desktop.click('"Save As…"')``), when that label picked
   this element and no other on the screen it was recorded on;
2. its role and label (``desktop.click('the "Bold" toggle button')``) when the label alone was
   ambiguous, or when the control is icon-only (its name is the application's, not on the pixels);
3. the text read under the point (OCR), quoted, for demos recorded without elements;
4. a picture of it (``Template("test_x_step3.png")``, saved beside the test) when none of these
   exists.

Where the screen changed and the next target's label appeared, the test waits for it
(``expect(...).to_be_visible()``); the labels new on the screen when the recording stopped become
the test's final expectation. Text typed into password-like fields was never stored: the test
reads it from ``os.environ``.

The functions that turn a :class:`Demo` into source text are pure (no screen, no files);
:func:`element_query` and :func:`new_labels` are the pure pieces the recorder uses to name an
element among the others on its frame.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from guiagent.elements.model import Element
from guiagent.elements.query import ROLE_WORDS, normalize_label, parse_query, pick, rank_elements
from guiagent.errors import CodegenError
from guiagent.recording.format import (
    ClickStep,
    Demo,
    DragStep,
    ElementRef,
    KeyStep,
    PointerTarget,
    ScrollStep,
    TypeStep,
)

Format = Literal["pytest", "do"]
NameKind = Literal["label", "role", "text", "template"]
# Roles whose label is the state of the application (a display, a heading), preferred as the
# final expectation over labels of controls that merely appeared (a tooltip reads like a button).
_STATE_ROLES = ("text field", "text", "label", "heading", "cell", "list item")
_QUOTE_PAIRS = (('"', '"'), ("“", "”"), ("«", "»"), ("'", "'"))
_APP_TIMEOUT = 30  # seconds the first target may take to appear after launching the app


# -- naming an element among the others on its screen -----------------------------------------


def quote_label(text: str) -> str | None:
    """``text`` in quotes that a target reader takes as exact text (None: it holds every kind)."""
    for left, right in _QUOTE_PAIRS:
        if left not in text and right not in text:
            return f"{left}{text}{right}"
    return None


def _same(a: Element, b: Element) -> bool:
    return a.box == b.box and a.name == b.name and a.role == b.role


def _picks_only(query_text: str, element: Element, elements: Sequence[Element]) -> bool:
    query = parse_query(query_text)
    if query is None:
        return False
    picked = pick([r for r in rank_elements(elements, query) if r.score >= 0.8], query)
    return len(picked) == 1 and _same(picked[0].element, element)


def element_query(element: Element, elements: Sequence[Element], *, visible: bool = True
                  ) -> str | None:
    """A target that picks ``element`` and no other among ``elements``: its quoted whole label
    when that label is on the pixels (``visible``) and unique, else ``the "label" ROLE`` (or
    ``the ROLE`` for an unnamed control alone in its role); None when neither does."""
    name = element.name.strip()
    quoted = quote_label(name) if name else None
    if quoted is not None and visible and _picks_only(quoted, element, elements):
        return quoted
    role = element.role if element.role in ROLE_WORDS else None
    if role is None:
        return None
    candidate = f"the {quoted} {role}" if quoted is not None else (f"the {role}" if not name else None)
    if candidate is not None and _picks_only(candidate, element, elements):
        return candidate
    return None


def new_labels(before: Sequence[Element], after: Sequence[Element], *, limit: int = 10
               ) -> tuple[str, ...]:
    """Whole labels of ``after`` that ``before`` did not show and that pick one element alone,
    best first for an expectation: states of the application (a display, a text) before controls,
    longer labels before shorter."""
    seen = {normalize_label(e.name) for e in before}
    fresh: dict[str, Element] = {}
    for element in after:
        key = normalize_label(element.name)
        if key and key not in seen and key not in fresh:
            quoted = quote_label(element.name.strip())
            if quoted is not None and _picks_only(quoted, element, after):
                fresh[key] = element
    ordered = sorted(fresh.values(), key=lambda e: (e.role not in _STATE_ROLES, -len(e.name.strip())))
    return tuple(e.name.strip() for e in ordered[:limit])


# -- from steps to targets --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Named:
    """How one pointer step names its target: ``kind`` and, for text targets, the ``query``
    (``'"Save"'``); a template target has ``template`` (the asset to copy beside the code)."""

    kind: NameKind
    query: str = ""
    template: str = ""
    label: str = ""  # the label the query carries ("" for templates)


def name_target(target: PointerTarget) -> Named:
    """The most robust name the recording has for a pointer step's target (see the module)."""
    element: ElementRef | None = target.element
    if element is not None and element.query:
        kind: NameKind = "role" if element.query.startswith("the ") else "label"
        return Named(kind, element.query, label=element.name.strip())
    if element is None and target.text:
        quoted = quote_label(target.text.strip())
        if quoted is not None:
            return Named("text", quoted, label=target.text.strip())
    if target.templates:
        return Named("template", template=target.templates[len(target.templates) // 2].image)
    return Named("template")


@dataclass(frozen=True, slots=True)
class CodegenStats:
    """What the generator did: lines per step and how targets were named."""

    steps: int = 0
    step_lines: int = 0  # lines that act (clicks, typing...) or wait, without the header
    by_label: int = 0
    by_role: int = 0
    by_text: int = 0
    by_template: int = 0
    expectations: int = 0
    secrets: int = 0

    @property
    def lines_per_step(self) -> float:
        return self.step_lines / self.steps if self.steps else 0.0

    def summary(self) -> str:
        pointer = self.by_label + self.by_role + self.by_text + self.by_template
        return (f"{self.steps} step(s), {self.step_lines} line(s) ({self.lines_per_step:.2f} a step); "
                f"targets: {self.by_label} by label, {self.by_role} by role and label, "
                f"{self.by_text} by OCR text, {self.by_template} of {pointer} by image; "
                f"{self.expectations} expectation(s), {self.secrets} secret(s) from the environment")


@dataclass(frozen=True, slots=True)
class Generated:
    """Source text, the pictures to save beside it (file name -> demo asset), and stats."""

    source: str
    templates: tuple[tuple[str, str], ...]
    stats: CodegenStats


def secret_variable(index: int) -> str:
    """The environment variable the ``index``-th (1-based) secret of a test is read from."""
    return f"GUIAGENT_SECRET_{index}"


def _template_file(prefix: str, number: int) -> str:
    return f"{prefix}_step{number}.png"


def _test_name(prefix: str) -> str:
    words = re.sub(r"\W+", "_", prefix).strip("_").lower() or "recorded"
    words = words.removeprefix("test_")
    name = f"test_{words}" if words else "test_recorded"
    return name if name.isidentifier() and not keyword.iskeyword(name) else "test_recorded"


@dataclass
class _Writer:
    """Collects lines and counts while walking the steps (one generator run)."""

    prefix: str
    lines: list[str]
    templates: list[tuple[str, str]]
    stats: dict[str, int]

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.stats["step_lines"] += 1

    def named(self, number: int, target: PointerTarget) -> tuple[Named, str]:
        named = name_target(target)
        self.stats[f"by_{named.kind}"] += 1
        if named.kind != "template":
            return named, named.query
        if not named.template:
            raise CodegenError(f"step {number} has no element, no text and no picture of its target "
                               "(recorded without a screen?); write that step by hand")
        file = _template_file(self.prefix, number)
        self.templates.append((file, named.template))
        return named, file


def _appeared(named: Named, target: PointerTarget) -> bool:
    wanted = normalize_label(named.label)
    return bool(wanted) and wanted in {normalize_label(label) for label in target.appeared}


def _pytest_target(named: Named, reference: str) -> str:
    return f"Template({reference!r})" if named.kind == "template" else repr(reference)


def generate_pytest(demo: Demo, *, app: str | None = None, prefix: str = "recorded",
                    source: str = "guiagent codegen") -> Generated:
    """A pytest test (the guiagent plugin's ``desktop`` fixture) doing what ``demo`` recorded.

    ``app`` is launched first; ``prefix`` names the test (``test_<prefix>``) and the pictures
    saved beside it (``<prefix>_stepN.png``)."""
    writer = _Writer(prefix, [], [], {k: 0 for k in ("step_lines", "by_label", "by_role", "by_text",
                                                       "by_template", "expectations", "secrets")})
    uses: set[str] = set()
    if app is not None:
        writer.add(f"desktop.launch({app!r})")
    first_pointer = True
    for number, step in enumerate(demo.steps, 1):
        if isinstance(step, TypeStep):
            if step.secret or step.text is None:
                writer.stats["secrets"] += 1
                uses.add("os")
                writer.add(f"desktop.type(os.environ[{secret_variable(writer.stats['secrets'])!r}])")
            else:
                writer.add(f"desktop.type({step.text!r})")
            continue
        if isinstance(step, KeyStep):
            times = f", presses={step.presses}" if step.presses > 1 else ""
            writer.add(f"desktop.press({step.keys!r}{times})")
            continue
        named, reference = writer.named(number, step.target)
        target = _pytest_target(named, reference)
        if named.kind == "template":
            uses.add("Template")
        if first_pointer and app is not None:
            writer.add(f"expect({target}).to_be_visible(timeout={_APP_TIMEOUT})")
            writer.add("desktop.wait_still()  # a new window moves and lays itself out for a while")
            writer.stats["expectations"] += 1
            uses.add("expect")
        elif _appeared(named, step.target):
            writer.add(f"expect({target}).to_be_visible()")
            writer.stats["expectations"] += 1
            uses.add("expect")
        first_pointer = False
        if isinstance(step, ClickStep):
            if step.modifiers:
                writer.lines.append(f"# recorded with {'+'.join(step.modifiers)} held: desktop.click "
                                    "takes no modifier keys")
            verb = {1: "click", 2: "double_click"}.get(step.count, "click")
            extra = f", clicks={step.count}" if step.count > 2 else ""
            if step.button != "left":
                verb, extra = f"{step.button}_click", ""
            writer.add(f"desktop.{verb}({target}{extra})")
        elif isinstance(step, ScrollStep):
            writer.add(f"desktop.scroll({step.direction!r}, {step.amount}, at={target})")
        elif isinstance(step, DragStep):
            dx = round(step.end[0] - step.target.point[0])
            dy = round(step.end[1] - step.target.point[1])
            writer.add(f"desktop.move_to({target})")
            writer.add(f"desktop.drag(desktop.position(), desktop.position().offset({dx}, {dy}))")
    if demo.appeared_at_end:
        final = quote_label(demo.appeared_at_end[0])
        if final is not None:
            writer.add(f"expect({final!r}).to_be_visible()")
            writer.stats["expectations"] += 1
            uses.add("expect")
    header = [f'"""Recorded with `{source}`' + (f" on {demo.created}" if demo.created else "")
              + f": {len(demo.steps)} step(s)."]
    if writer.stats["secrets"]:
        names = ", ".join(secret_variable(i) for i in range(1, writer.stats["secrets"] + 1))
        header.append("")
        header.append(f"Text typed into password-like fields was not recorded: set {names}.")
    header.append('"""')
    header.append("")
    if "os" in uses:
        header += ["import os", ""]
    testing = [name for name in ("Template", "expect") if name in uses]
    if testing:
        header += [f"from guiagent.testing import {', '.join(testing)}", ""]
    header += ["", f"def {_test_name(prefix)}(desktop):"]
    body = [f"    {line}" for line in writer.lines] or ["    pass"]
    stats = CodegenStats(steps=len(demo.steps), **writer.stats)
    return Generated("\n".join(header + body) + "\n", tuple(writer.templates), stats)


def _do_quoted(text: str, number: int) -> str:
    quoted = quote_label(text)
    if quoted is None:
        raise CodegenError(f"step {number}: cannot quote {text!r} for a command (it holds every kind "
                           "of quote); use --format pytest")
    return quoted


def generate_do(demo: Demo, *, app: str | None = None, prefix: str = "recorded") -> Generated:
    """A ``guiagent do`` script, one command a line (pictures are named relative to the script's
    folder: run it from there). Secrets and drags have no form in the command language: both
    are refused, naming the step."""
    writer = _Writer(prefix, [], [], {k: 0 for k in ("step_lines", "by_label", "by_role", "by_text",
                                                       "by_template", "expectations", "secrets")})
    if app is not None:
        writer.add(f"open {app}")
    first_pointer = True
    for number, step in enumerate(demo.steps, 1):
        if isinstance(step, TypeStep):
            if step.secret or step.text is None:
                raise CodegenError(f"step {number} types a secret that was not recorded; a do script "
                                   "cannot read it from the environment: use --format pytest")
            writer.add(f"type {_do_quoted(step.text, number)}")
            continue
        if isinstance(step, KeyStep):
            writer.add(f"press {step.keys}" + (f" {step.presses} times" if step.presses > 1 else ""))
            continue
        if isinstance(step, DragStep):
            raise CodegenError(f"step {number} is a drag, whose destination has no name in a command; "
                               "use --format pytest or write it as drag SOURCE to DESTINATION")
        named, target = writer.named(number, step.target)
        if first_pointer and app is not None:
            writer.add(f"wait for {target} up to {_APP_TIMEOUT} seconds")
            writer.stats["expectations"] += 1
        elif _appeared(named, step.target):
            writer.add(f"wait for {target}")
            writer.stats["expectations"] += 1
        first_pointer = False
        if isinstance(step, ClickStep):
            verb = {1: "click", 2: "double-click"}.get(step.count, "click")
            if step.button != "left":
                verb = f"{step.button}-click"
            writer.add(f"{verb} {target}")
        else:
            writer.add(f"scroll {step.direction} {step.amount} in {target}")
    if demo.appeared_at_end:
        writer.add(f"wait for {_do_quoted(demo.appeared_at_end[0], len(demo.steps))}")
        writer.stats["expectations"] += 1
    stats = CodegenStats(steps=len(demo.steps), **writer.stats)
    return Generated("\n".join(writer.lines) + "\n", tuple(writer.templates), stats)


def name_from_frames(demo: Demo) -> Demo:
    """``demo`` with an element for every pointer step recorded without one, found among the
    vision elements of the step's stored frame (for demos recorded before elements were kept,
    or without them); the labels that appeared between frames too. Reads the frames and runs
    OCR: not pure, unlike the generators."""
    from dataclasses import replace

    from guiagent.elements.snapshot import vision_elements
    from guiagent.geometry import Point
    from guiagent.screen.capture import Frame

    steps = list(demo.steps)
    previous: list[Element] | None = None
    for index, step in enumerate(steps):
        if not isinstance(step, (ClickStep, DragStep, ScrollStep)) or step.target.frame is None:
            continue
        frame = Frame.load(demo.asset(step.target.frame))
        found = vision_elements(frame)[0]
        target = step.target
        if target.element is None:
            point = Point(*target.point)
            under = [e for e in found if e.box.contains(point)]
            if under:
                best = min(under, key=lambda e: (not e.interactive, e.box.area))
                b = best.box
                ref = ElementRef(best.role, best.name, best.source, best.path,
                                 (round(b.left), round(b.top), round(b.width), round(b.height)),
                                 element_query(best, found))
                target = replace(target, element=ref)
        if previous is not None and not target.appeared:
            target = replace(target, appeared=new_labels(previous, found))
        previous = found
        steps[index] = replace(step, target=target)
    return replace(demo, steps=tuple(steps))


def generate(demo: Demo, fmt: Format, *, app: str | None = None, prefix: str = "recorded") -> Generated:
    """:func:`generate_pytest` or :func:`generate_do`."""
    if fmt == "pytest":
        return generate_pytest(demo, app=app, prefix=prefix)
    return generate_do(demo, app=app, prefix=prefix)


__all__ = [
    "CodegenError",
    "CodegenStats",
    "Generated",
    "Named",
    "element_query",
    "generate",
    "generate_do",
    "generate_pytest",
    "name_from_frames",
    "name_target",
    "new_labels",
    "quote_label",
    "secret_variable",
]
