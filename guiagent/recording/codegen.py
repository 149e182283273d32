"""Code from a recording: a demo becomes a readable pytest test or a ``guiagent do`` script.

Each pointer step names its target the most robust way the recording allows:

1. the element's whole label, quoted (``desktop.click('"Save As…"')``), when that label picked
   this element and no other on the screen it was recorded on;
2. its role and label (``desktop.click('the "Bold" button')``) when the label alone was
   ambiguous, or when the control is icon-only (its name is the application's, not on the pixels);
   an ordinal (``'the second "OK"'``, ``'the third "Open" button'``: reading order) when the label
   occurs more than once and neither form picks it alone;
3. the text read under the point (OCR), quoted, for demos recorded without elements;
4. a picture of it (``Template("test_x_step3.png")``, saved beside the test) when none of these
   exists.

Where the screen changed and the next target's label appeared, the test waits for it
(``expect(...).to_be_visible()``); the labels new on the screen when the recording stopped become
the test's final expectation (unless the person checked something at the end; never a label
holding a file path, such as a window title). Text typed into password-like fields was never stored: the test
reads it from ``os.environ``.

A check asked for while recording (the assertion hotkey, :class:`~guiagent.recording.format.Check`)
becomes ``expect(TARGET).to_have_text(TEXT)`` when the element under the pointer is named apart
from the text it showed (a field, a display), else ``expect(TARGET).to_be_visible()``.

The functions that turn a :class:`Demo` into source text are pure (no screen, no files);
:func:`element_query` and :func:`new_labels` are the pure pieces the recorder uses to name an
element among the others on its frame.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from guiagent.elements.model import Element
from guiagent.elements.query import ROLE_WORDS, normalize_label, parse_query, pick, rank_elements
from guiagent.errors import CodegenError
from guiagent.recording.format import (
    Check,
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
NameKind = Literal["label", "role", "ordinal", "text", "template"]
# Roles whose label is the state of the application (a display, a heading), preferred as the
# final expectation over labels of controls that merely appeared (a tooltip reads like a button).
_STATE_ROLES = ("text field", "text", "label", "heading", "cell", "list item")
_QUOTE_PAIRS = (('"', '"'), ("“", "”"), ("«", "»"), ("'", "'"))
_APP_TIMEOUT = 30  # seconds the first target may take to appear after launching the app
_ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
                  "ninth", "tenth")
# What people call a role, where it is not the role's own word ("the Bold button").
_SPOKEN_ROLES = {"toggle button": "button"}
_ORDINAL_QUERY = re.compile(r"^the (?:" + "|".join(_ORDINAL_WORDS) + r"|last) ")


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


def _ordinal(query_text: str, element: Element, elements: Sequence[Element]) -> str | None:
    """``the second "OK"``: the word that picks ``element`` among the equally good matches of
    ``query_text`` in reading order (as :func:`~guiagent.elements.query.pick` orders them)."""
    query = parse_query(query_text)
    if query is None:
        return None
    best = pick([r for r in rank_elements(elements, query) if r.score >= 0.8], query)
    ordered = sorted(best, key=lambda r: (round(r.element.box.center.y / 8), r.element.box.center.x))
    index = next((i for i, r in enumerate(ordered) if _same(r.element, element)), None)
    if index is None or len(ordered) < 2:
        return None
    if index < len(_ORDINAL_WORDS):
        return _ORDINAL_WORDS[index]
    return "last" if index == len(ordered) - 1 else None


def element_query(element: Element, elements: Sequence[Element], *, visible: bool = True
                  ) -> str | None:
    """A target that picks ``element`` and no other among ``elements``: its quoted whole label
    when that label is on the pixels (``visible``) and unique, else ``the "label" ROLE`` (or
    ``the ROLE`` for an unnamed control alone in its role), else the same with an ordinal
    (``the second "OK"``, ``the second "OK" button``); None when none of these does."""
    name = element.name.strip()
    quoted = quote_label(name) if name else None
    if quoted is not None and visible and _picks_only(quoted, element, elements):
        return quoted
    role = element.role if element.role in ROLE_WORDS else None
    candidate = None
    for word in (_SPOKEN_ROLES.get(element.role), role):
        if word is None:
            continue
        form = f"{quoted} {word}" if quoted is not None else (word if not name else None)
        if form is not None and _picks_only(f"the {form}", element, elements):
            return f"the {form}"
        candidate = candidate or form
    for form in ([quoted] if quoted is not None and visible else []) + ([candidate] if candidate else []):
        word = _ordinal(form, element, elements)
        if word is not None and _picks_only(f"the {word} {form}", element, elements):
            return f"the {word} {form}"
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
        kind: NameKind = ("ordinal" if _ORDINAL_QUERY.match(element.query) else
                          "role" if element.query.startswith("the ") else "label")
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
    by_ordinal: int = 0
    by_text: int = 0
    by_template: int = 0
    expectations: int = 0
    checks: int = 0  # expectations asked for with the assertion hotkey (also in expectations)
    secrets: int = 0

    @property
    def lines_per_step(self) -> float:
        return self.step_lines / self.steps if self.steps else 0.0

    def summary(self) -> str:
        pointer = self.by_label + self.by_role + self.by_ordinal + self.by_text + self.by_template
        return (f"{self.steps} step(s), {self.step_lines} line(s) ({self.lines_per_step:.2f} a step); "
                f"targets: {self.by_label} by label, {self.by_role} by role and label, "
                f"{self.by_ordinal} by ordinal, {self.by_text} by OCR text, "
                f"{self.by_template} of {pointer} by image; {self.expectations} expectation(s) "
                f"({self.checks} asked for), {self.secrets} secret(s) from the environment")


@dataclass(frozen=True, slots=True)
class Generated:
    """Source text, the pictures to save beside it (file name -> demo asset), and stats."""

    source: str
    templates: tuple[tuple[str, str], ...]
    stats: CodegenStats


def secret_variable(index: int) -> str:
    """The environment variable the ``index``-th (1-based) secret of a test is read from."""
    return f"GUIAGENT_SECRET_{index}"


def _template_file(prefix: str, number: int, what: str = "step") -> str:
    return f"{prefix}_{what}{number}.png"


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
    cache: dict[tuple[str, int], tuple[Named, str]] = field(default_factory=dict)

    def first_pointer(self, demo: Demo) -> tuple[int, Named, str] | None:
        """The first pointer step (its number, name and reference), or None."""
        for number, step in enumerate(demo.steps, 1):
            if isinstance(step, (ClickStep, DragStep, ScrollStep)):
                return (number, *self.named(number, step.target))
        return None

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.stats["step_lines"] += 1

    def named(self, number: int, target: PointerTarget, what: str = "step") -> tuple[Named, str]:
        if (what, number) in self.cache:  # the launch wait names the first target early
            return self.cache[(what, number)]
        self.cache[(what, number)] = self._name(number, target, what)
        return self.cache[(what, number)]

    def _name(self, number: int, target: PointerTarget, what: str) -> tuple[Named, str]:
        named = name_target(target)
        self.stats[f"by_{named.kind}"] += 1
        if named.kind != "template":
            return named, named.query
        if not named.template:
            raise CodegenError(f"{what} {number} has no element, no text and no picture of its target "
                               "(recorded without a screen?); write it by hand")
        file = _template_file(self.prefix, number, what)
        self.templates.append((file, named.template))
        return named, file

    def checks(self, demo: Demo, after: int, render: Callable[[Check, Named, str], str]) -> None:
        """The lines of the checks asked for after the first ``after`` steps."""
        for number, check in enumerate(demo.checks, 1):
            if check.after == after:
                named, reference = self.named(number, check.target, "check")
                self.add(render(check, named, reference))
                self.stats["expectations"] += 1
                self.stats["checks"] += 1


def check_text(check: Check, named: Named) -> str | None:
    """The text a check expects its target to read: for a field, a display, a text (a state of
    the application), not for a named control; None when the name says it all (a label that is
    the text itself: being visible is the check)."""
    text = " ".join((check.text or "").split())
    element = check.target.element
    if not text or named.kind in ("text", "template") or element is None:
        return None
    if element.name.strip() and element.role not in _STATE_ROLES:
        return None  # a control: what OCR reads on it (an icon's glyph) is no state to expect
    if normalize_label(text) == normalize_label(named.label):
        return None
    return text


def _new_writer(prefix: str) -> _Writer:
    counts = ("step_lines", "by_label", "by_role", "by_ordinal", "by_text", "by_template",
              "expectations", "checks", "secrets")
    return _Writer(prefix, [], [], dict.fromkeys(counts, 0))


_PATH = re.compile(r"(?:^|[\s(\[])(?:~|[A-Za-z]:)?[/\\]\S*[/\\]")


def _final_label(demo: Demo) -> str | None:
    """The label the test ends expecting: the first label new on the screen when the recording
    stopped, unless the person checked something after the last step themselves. A label that
    holds a file path (a window title) is skipped: it names where the test ran, not what it did."""
    if any(check.after == len(demo.steps) for check in demo.checks):
        return None
    return next((label for label in demo.appeared_at_end if not _PATH.search(label)), None)


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
    writer = _new_writer(prefix)
    uses: set[str] = set()

    def check(asked: Check, named: Named, reference: str) -> str:
        target = _pytest_target(named, reference)
        uses.add("expect")
        if named.kind == "template":
            uses.add("Template")
        text = check_text(asked, named)
        timeout = f"timeout={_APP_TIMEOUT}" if asked.after == 0 and app is not None else ""
        if text is not None:
            return f"expect({target}).to_have_text({text!r}{', ' if timeout else ''}{timeout})"
        return f"expect({target}).to_be_visible({timeout})"

    if app is not None:
        # Started, the app is ready when what the person checked first, or else the first
        # target they pointed at, shows (before any typing: keys need its window).
        writer.add(f"desktop.launch({app!r})")
        writer.checks(demo, 0, check)
        first = writer.first_pointer(demo) if not any(c.after == 0 for c in demo.checks) else None
        if first is not None:
            _, named, reference = first
            if named.kind == "template":
                uses.add("Template")
            writer.add(f"expect({_pytest_target(named, reference)}).to_be_visible(timeout={_APP_TIMEOUT})")
            writer.stats["expectations"] += 1
            uses.add("expect")
        writer.add("desktop.wait_still()  # a new window moves and lays itself out for a while")
    for number, step in enumerate(demo.steps, 1):
        if number > 1 or app is None:
            writer.checks(demo, number - 1, check)
        if isinstance(step, TypeStep):
            if step.secret or step.text is None:
                writer.stats["secrets"] += 1
                uses.add("os")
                writer.add(f"desktop.type(os.environ[{secret_variable(writer.stats['secrets'])!r}])")
            else:
                writer.add(f"desktop.type({step.text!r})")
            continue
        if isinstance(step, KeyStep):
            if number > 1 and isinstance(demo.steps[number - 2], TypeStep):
                # what was typed may still be settling (a completion popup) when the key comes
                writer.add("desktop.wait_still()")
            times = f", presses={step.presses}" if step.presses > 1 else ""
            writer.add(f"desktop.press({step.keys!r}{times})")
            continue
        named, reference = writer.named(number, step.target)
        target = _pytest_target(named, reference)
        if named.kind == "template":
            uses.add("Template")
        if _appeared(named, step.target):
            writer.add(f"expect({target}).to_be_visible()")
            writer.stats["expectations"] += 1
            uses.add("expect")
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
    final = _final_label(demo)
    quoted_final = quote_label(final) if final is not None else None
    if demo.steps:
        # let the app finish what the last step started (a sum, a save...): the checks may hold
        # already, and one look of an expectation at 4K can outlast its timeout on a busy
        # machine, so its first frame must already show the outcome
        writer.add("desktop.wait_still()")
    writer.checks(demo, len(demo.steps), check)
    if final is not None:
        final = quoted_final
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
    writer = _new_writer(prefix)

    def check(asked: Check, named: Named, target: str) -> str:
        text = check_text(asked, named)
        quoted = quote_label(text) if text is not None else None
        limit = f" up to {_APP_TIMEOUT} seconds" if asked.after == 0 and app is not None else ""
        return f"wait for {quoted if quoted is not None else target}{limit}"

    if app is not None:
        writer.add(f"open {app}")
        writer.checks(demo, 0, check)
        first = writer.first_pointer(demo) if not any(c.after == 0 for c in demo.checks) else None
        if first is not None:
            writer.add(f"wait for {first[2]} up to {_APP_TIMEOUT} seconds")
            writer.stats["expectations"] += 1
    for number, step in enumerate(demo.steps, 1):
        if number > 1 or app is None:
            writer.checks(demo, number - 1, check)
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
        if _appeared(named, step.target):
            writer.add(f"wait for {target}")
            writer.stats["expectations"] += 1
        if isinstance(step, ClickStep):
            verb = {1: "click", 2: "double-click"}.get(step.count, "click")
            if step.button != "left":
                verb = f"{step.button}-click"
            writer.add(f"{verb} {target}")
        else:
            writer.add(f"scroll {step.direction} {step.amount} in {target}")
    writer.checks(demo, len(demo.steps), check)
    final = _final_label(demo)
    if final is not None:
        writer.add(f"wait for {_do_quoted(final, len(demo.steps))}")
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
    "Check",
    "CodegenError",
    "CodegenStats",
    "Generated",
    "Named",
    "check_text",
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
