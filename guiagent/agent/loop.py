"""The command loop: for every step capture -> ground (ECP) -> act -> verify, with a trace.

``Agent(desktop).run('click "File", then click "Save As…"')`` parses the command
(:mod:`guiagent.agent.language`), checks every target can be grounded and every program exists
before touching anything, then runs the steps in order:

- **ground**: :func:`guiagent.grounding.locate_all` on a fresh frame; a target not found is
  tried once more when the screen changes (UI still settling); several equally good matches
  are refused unless the command said which one ("the rightmost "+"");
- **act**: through the desktop's :class:`~guiagent.input.actions.Executor` (screen and
  ``allowed_region`` checks, dry run, abort hotkey);
- **verify**: wait (polling, no fixed sleeps) until the screen changes near the acted point,
  or for ``wait for`` steps until the target appears or disappears.

It stops at the first failed step and raises :class:`StepFailed` with the :class:`RunReport`.
Every run writes a trace folder (``trace.json`` + per-step frame, annotated picture and a
zoomed crop of the click point); it is removed afterwards unless asked for or a step failed.
"""

from __future__ import annotations

import json
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from guiagent.agent.language import (
    ClickStep,
    CommandError,
    DragStep,
    HoverStep,
    OpenStep,
    Planner,
    PressStep,
    RunSkillStep,
    ScrollStep,
    Step,
    TargetRef,
    TypeStep,
    WaitForStep,
    WaitStep,
    describe_steps,
    parse_commands,
    plan,
    step_targets,
)
from guiagent.agent.skills import Skill, load_skill
from guiagent.elements.locate import locate, locate_all
from guiagent.elements.model import Element
from guiagent.elements.query import parse_query
from guiagent.errors import (
    AbortedError,
    AmbiguousTarget,
    DisplayError,
    GuiAgentError,
    SkillConditionFailed,
    SkillsUnavailable,
    StepFailed,
    TargetNotFound,
    WaitTimeout,
)
from guiagent.geometry import Box, Point
from guiagent.grounding.base import ambiguity_message, equally_good
from guiagent.input.actions import (
    Action,
    Click,
    Drag,
    Executor,
    Move,
    Scroll,
    TypeText,
    Wait,
    key_action,
)
from guiagent.screen.annotate import MAGENTA, RED, Mark, save_annotated
from guiagent.screen.polling import poll_screen
from guiagent.screen.processes import start_program

if TYPE_CHECKING:
    from guiagent.desktop.core import Desktop
    from guiagent.grounding.base import Match
    from guiagent.screen.capture import Frame

NEAR_RADIUS = 512  # frame pixels around an acted point where its effect is looked for
BIG_CHANGE = 128 * 128  # a change this large anywhere counts (a dialog opened far away)
POLL_S = 0.02
MAX_SKILL_DEPTH = 8

Status = Literal["done", "dry-run", "failed", "not run"]


@dataclass(frozen=True, slots=True)
class SkillCondition(WaitForStep):
    """A skill's precondition (checked before its first step) or postcondition (after its last):
    a target that must be visible, waited for like ``wait for`` up to the run's timeout. A
    failure is a :class:`guiagent.agent.skills.SkillConditionFailed` naming the skill."""

    skill: str = ""
    when: Literal["before", "after"] = "before"

    def describe(self) -> str:
        which = "precondition" if self.when == "before" else "postcondition"
        return f"check skill {self.skill}'s {which}: {self.target.describe()} is visible"

    def to_dict(self) -> dict[str, Any]:  # a plain wait_for step, so traces load back
        return WaitForStep(self.target, self.gone, self.timeout).to_dict()


@dataclass(frozen=True, slots=True)
class AgentOptions:
    """How a command runs.

    ``timeout``: default limit for ``wait for`` steps and for a program to show a window.
    ``verify_timeout``: how long to wait for an action to show on screen before going on
    (``strict_verify``: fail the step instead; key presses, scrolling and hovering are never
    required to show). ``settle_timeout``: how
    long a not-found target may take to appear before the one retry. ``region``: act (and look)
    only inside this screen box. ``trace_dir``: keep the trace there (else a temporary folder,
    removed unless a step failed). ``annotate``: keep the trace and list each click's picture.
    ``detach_programs``: programs started by ``open`` outlive the desktop (the CLI's choice).
    """

    dry_run: bool = False
    timeout: float = 10.0
    verify_timeout: float = 1.5
    strict_verify: bool = False
    settle_timeout: float = 2.0
    region: Box | None = None
    trace_dir: Path | None = None
    annotate: bool = False
    grounder: str = "auto"
    detach_programs: bool = False
    assume_yes: bool = False


@dataclass(frozen=True, slots=True)
class StepTimings:
    capture_ms: float = 0.0
    ground_ms: float = 0.0
    act_ms: float = 0.0
    verify_ms: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {"capture_ms": round(self.capture_ms, 1), "ground_ms": round(self.ground_ms, 1),
                "act_ms": round(self.act_ms, 1), "verify_ms": round(self.verify_ms, 1)}


@dataclass(frozen=True, slots=True)
class StepResult:
    index: int
    step: Step
    status: Status
    decision: str
    timings: StepTimings = StepTimings()
    points: tuple[Point, ...] = ()
    matches: tuple[dict[str, Any], ...] = ()
    verified: str = ""
    error: str = ""
    files: dict[str, str] = field(default_factory=dict)
    origin: str = ""  # "skill NAME" for steps a skill expanded to
    acted_at: float = 0.0  # seconds from the run's start to the end of this step's action
    cause: BaseException | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "step": self.step.to_dict(), "description": self.step.describe(),
            "status": self.status, "decision": self.decision, "timings": self.timings.to_dict(),
            "points": [[round(p.x, 1), round(p.y, 1)] for p in self.points],
            "matches": list(self.matches), "verified": self.verified, "error": self.error,
            "files": self.files, "origin": self.origin, "acted_at_s": round(self.acted_at, 3),
        }


@dataclass(frozen=True, slots=True)
class RunReport:
    command: str
    steps: tuple[StepResult, ...]
    ok: bool
    dry_run: bool
    elapsed_s: float
    trace_dir: Path | None
    proposed: bool = False  # the steps came from a planner, not the parser

    @property
    def failed(self) -> StepResult | None:
        return next((s for s in self.steps if s.status == "failed"), None)

    @property
    def last_action_s(self) -> float:
        """Seconds from the start of the run to the end of its last action."""
        return max((s.acted_at for s in self.steps), default=0.0)

    def annotated(self) -> list[str]:
        return [s.files["annotated"] for s in self.steps if "annotated" in s.files]

    def summary(self) -> str:
        lines = []
        for s in self.steps:
            mark = {"done": "ok", "dry-run": "dry", "failed": "FAILED", "not run": "--"}[s.status]
            detail = s.error if s.status == "failed" else s.decision
            lines.append(f"{s.index:>2}. [{mark}] {s.step.describe()}: {detail}")
        if self.trace_dir is not None:
            lines.append(f"trace: {self.trace_dir}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "ok": self.ok, "dry_run": self.dry_run,
                "proposed_by_planner": self.proposed, "elapsed_s": round(self.elapsed_s, 3),
                "last_action_s": round(self.last_action_s, 3),
                "steps": [s.to_dict() for s in self.steps]}


class _TraceWriter:
    """Writes trace pictures on a background thread: PNG encoding (0.1-0.4 s at 4K) must not
    sit between two actions."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._jobs: queue.Queue[Callable[[], object] | None] = queue.Queue()
        self._errors: list[str] = []
        self._thread = threading.Thread(target=self._work, name="guiagent-trace", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception as exc:  # a trace picture must never fail the run
                self._errors.append(f"{type(exc).__name__}: {exc}")

    def frame(self, name: str, frame: Frame) -> str:
        path = self.folder / name
        self._jobs.put(lambda: frame.save(path))
        return str(path)

    def annotated(self, name: str, frame: Frame, marks: list[Mark]) -> str:
        path = self.folder / name
        self._jobs.put(lambda: save_annotated(frame, marks, path))
        return str(path)

    def crop(self, name: str, frame: Frame, points: Sequence[Point], boxes: Sequence[Box],
             side: int = 512) -> str:
        """A full-resolution crop around the first point with thin marks (the matched boxes and
        the acted points), for a close look at exactly where it clicked."""
        path = self.folder / name
        focus = points[0]
        left = int(min(max(0, focus.x - side / 2), max(0, frame.width - side)))
        top = int(min(max(0, focus.y - side / 2), max(0, frame.height - side)))
        window = Box(left, top, min(side, frame.width), min(side, frame.height))
        marks = [Mark(box=Box(b.left - left, b.top - top, b.width, b.height), color=RED, thickness=1)
                 for b in boxes]
        marks += [Mark(point=Point(p.x - left, p.y - top), color=MAGENTA, thickness=1) for p in points]
        self._jobs.put(lambda: save_annotated(frame.crop(window), marks, path))
        return str(path)

    def finish(self, report: dict[str, Any]) -> list[str]:
        self._jobs.put(None)
        self._thread.join()
        (self.folder / "trace.json").write_text(json.dumps(report, indent=2, ensure_ascii=False),
                                                encoding="utf-8")
        return self._errors


class Agent:
    """Runs commands on one :class:`~guiagent.desktop.core.Desktop`."""

    def __init__(self, desktop: Desktop, options: AgentOptions | None = None, *,
                 planner: Planner | None = None,
                 confirm: Callable[[list[Step]], bool] | None = None,
                 echo: Callable[[str], None] | None = None,
                 skills: Mapping[str, Skill] | None = None) -> None:
        self.desktop = desktop
        self.skills = dict(skills or {})  # skills given as objects; others load by name
        self.options = options or AgentOptions()
        self.planner = planner
        self.confirm = confirm
        self.echo = echo or (lambda _line: None)
        self._own_executor = (self.options.dry_run and not desktop.settings.dry_run) or (
            self.options.region is not None and self.options.region != desktop.settings.allowed_region)
        if self._own_executor:
            settings = replace(desktop.settings, dry_run=desktop.settings.dry_run or self.options.dry_run,
                               allowed_region=self.options.region or desktop.settings.allowed_region)
            self.executor = Executor(desktop._desktop_box, settings, display=desktop.display_name)
        else:
            self.executor = desktop.executor
        self.dry_run = self.executor.settings.dry_run
        self._start = 0.0

    # -- planning ------------------------------------------------------------------------
    def plan(self, command: str | Sequence[Step]) -> tuple[list[tuple[Step, str]], bool]:
        """The steps to run (skills expanded) and whether a planner proposed them."""
        if isinstance(command, str):
            steps, proposed = plan(command, self.planner)
        else:
            steps, proposed = list(command), False
        if proposed and self.options.assume_yes:
            self.echo("the planner proposed these steps (running them: --yes):\n" + describe_steps(steps))
        elif proposed:
            shown = describe_steps(steps)
            if self.confirm is None or not self.confirm(steps):
                raise CommandError(f"the planner proposed steps that were not confirmed: {shown} "
                                   "(pass --yes / assume_yes=True to run proposed steps)")
        return self._expand(steps, "", 0), proposed

    def _expand(self, steps: Sequence[Step], origin: str, depth: int) -> list[tuple[Step, str]]:
        out: list[tuple[Step, str]] = []
        for step in steps:
            if not isinstance(step, RunSkillStep):
                out.append((step, origin))
                continue
            if depth >= MAX_SKILL_DEPTH:
                raise CommandError(f"skills nest deeper than {MAX_SKILL_DEPTH} levels at "
                                   f"{step.describe()}: does a skill run itself?")
            skill = self.skills.get(step.name) or load_skill(step.name)
            lines = skill.expand(dict(step.params))
            before, after = skill.expand_conditions(dict(step.params))
            expanded: list[Step] = []
            for line in lines:
                try:
                    expanded.extend(parse_commands(line))
                except CommandError as exc:
                    raise CommandError(f"skill {step.name}: {exc}") from None
            inner = f"skill {step.name}"
            out.extend((_condition(step.name, target, "before"), inner) for target in before)
            out.extend(self._expand(expanded, inner, depth + 1))
            out.extend((_condition(step.name, target, "after"), inner) for target in after)
        return out

    def preflight(self, steps: Sequence[tuple[Step, str]]) -> None:
        """Fail before acting when a target cannot be grounded at all or a program is missing."""
        from guiagent.grounding import choose_grounder
        from guiagent.grounding.base import Target

        for step, _origin in steps:
            for ref in step_targets(step):
                target = Target.parse(ref.spec)
                if self.options.grounder == "auto" and parse_query(ref.spec) is not None:
                    continue  # UI elements may name it (accessibility, vision elements)
                choose_grounder(target, self.options.grounder)
            if isinstance(step, OpenStep) and _which(step.argv[0]) is None:
                raise DisplayError(f"{step.describe()}: program {step.argv[0]!r} is not installed "
                                   "(not on PATH): install it or give its full path; nothing was done")

    # -- running -------------------------------------------------------------------------
    def run(self, command: str | Sequence[Step]) -> RunReport:
        """Run a command (text or steps); returns the report or raises StepFailed / CommandError."""
        self._start = time.perf_counter()  # parsing and checks count in the time to act
        text = command if isinstance(command, str) else describe_steps(list(command))
        steps, proposed = self.plan(command)
        self.preflight(steps)
        keep = self.options.trace_dir is not None or self.options.annotate
        folder = Path(self.options.trace_dir) if self.options.trace_dir else Path(
            tempfile.mkdtemp(prefix="guiagent-trace-"))
        folder.mkdir(parents=True, exist_ok=True)
        writer = _TraceWriter(folder)
        results: list[StepResult] = []
        failure: BaseException | None = None
        try:
            for index, (step, origin) in enumerate(steps, 1):
                result = self._run_step(index, step, origin, writer)
                results.append(result)
                self.echo(f"{index}. {step.describe()}: {result.error or result.decision}")
                if result.status == "failed" and not (self.dry_run and _may_continue(result)):
                    failure = result.cause
                    break
        finally:
            elapsed = time.perf_counter() - self._start
            ran = {r.index for r in results}
            results += [StepResult(i, s, "not run", "an earlier step failed", origin=o)
                        for i, (s, o) in enumerate(steps, 1) if i not in ran]
            failed = next((r for r in results if r.status == "failed"), None)
            keep = keep or failed is not None
            report = RunReport(text, tuple(results), failed is None, self.dry_run, elapsed,
                               folder if keep else None, proposed)
            writer.finish(report.to_dict())
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)
            if self._own_executor:
                self.executor.close()
        if failed is not None:
            raise StepFailed(f"step {failed.index} ({failed.step.describe()}) failed: {failed.error}; "
                             f"trace kept in {folder}", report, failure or failed.cause)
        return report

    def _run_step(self, index: int, step: Step, origin: str, writer: _TraceWriter) -> StepResult:
        state = _StepState(index, writer)
        try:
            self._check_abort()
            decision = self._perform(step, state)
            status: Status = "dry-run" if self.dry_run else "done"
            return state.result(step, status, decision, origin)
        except GuiAgentError as exc:
            if isinstance(step, SkillCondition) and isinstance(exc, WaitTimeout):
                exc = _condition_failed(step, exc)
            return state.result(step, "failed", state.decision, origin, error=str(exc), cause=exc)

    # -- the steps -----------------------------------------------------------------------
    def _perform(self, step: Step, state: _StepState) -> str:
        if isinstance(step, ClickStep):
            (match,) = self._ground(state, step.target)
            action = Click(_point(match), step.button, step.count)
            self._act(state, action)
            decision = f"{_verb(step)} at {_fmt(action.point)} on {_match_text(match)}"
            if self._use_element_action(state, step, match):
                decision += "; the click changed nothing there, so the element's own action ran"
            return state.decide(decision)
        if isinstance(step, TypeStep):
            where = ""
            if step.target is not None:
                (match,) = self._ground(state, step.target)
                self._act(state, Click(_point(match)))
                where = f" into {_match_text(match)} (clicked {_fmt(_point(match))})"
            self._act(state, TypeText(step.text))
            return state.decide(f"typed {step.text!r}{where}")
        if isinstance(step, PressStep):
            for _ in range(step.presses):
                self._act(state, key_action(step.keys), quick=True)
            return state.decide(f"pressed {step.keys}" + (f" x{step.presses}" if step.presses > 1 else ""))
        if isinstance(step, ScrollStep):
            if step.target is not None:
                (match,) = self._ground(state, step.target)
                point, what = _point(match), f" over {_match_text(match)}"
            else:
                point, what = self._pointer(), " at the pointer"
            self._act(state, Scroll(point, step.direction, step.amount), quick=True)
            return state.decide(f"scrolled {step.direction} {step.amount}{what} {_fmt(point)}")
        if isinstance(step, DragStep):
            (start, end) = self._ground(state, step.source, step.destination)
            drag = Drag(_point(start), _point(end))
            self._act(state, drag)
            return state.decide(f"dragged {_match_text(start)} {_fmt(drag.start)} to "
                                f"{_match_text(end)} {_fmt(drag.end)}")
        if isinstance(step, HoverStep):
            (match,) = self._ground(state, step.target)
            self._act(state, Move(_point(match)), quick=True)
            return state.decide(f"moved the pointer to {_fmt(_point(match))} on {_match_text(match)}")
        if isinstance(step, WaitStep):
            self._act(state, Wait(step.seconds), verify=False)
            return state.decide(f"waited {step.seconds:g} s")
        if isinstance(step, WaitForStep):
            return self._wait_for(state, step)
        if isinstance(step, OpenStep):
            return self._open(state, step)
        raise CommandError(f"{step.describe()}: skills expand before a run; nothing to do here")

    def _check_abort(self) -> None:
        if self.executor.aborted:
            raise AbortedError("stopped by the abort hotkey; the remaining steps were not run")

    def _capture(self, state: _StepState | None = None) -> Frame:
        started = time.perf_counter()
        frame = self.desktop.capture(region=self.options.region) if self.options.region else \
            self.desktop.capture()
        if state is not None:
            state.capture_ms += (time.perf_counter() - started) * 1000
        return frame

    def _ground(self, state: _StepState, *refs: TargetRef) -> tuple[Match, ...]:
        """Every target on one fresh frame; not found -> once more after the screen changes."""
        frame = self._capture(state)
        try:
            return self._locate(state, frame, refs)
        except TargetNotFound as first:
            self._check_abort()
            changed = self._await_change(frame, (), self.options.settle_timeout, state, "ground")
            if changed is None:
                raise TargetNotFound(
                    f"{first} (the screen did not change within {self.options.settle_timeout:g} s, "
                    "so it was not tried again); see the trace for what was on screen",
                    best_score=first.best_score) from None
            frame = self._capture(state)
            state.notes.append("not found on the first frame; found after the screen changed")
            return self._locate(state, frame, refs)

    def _locate(self, state: _StepState, frame: Frame, refs: Sequence[TargetRef]) -> tuple[Match, ...]:
        state.frame = frame
        picked: list[Match] = []
        started = time.perf_counter()
        try:
            for ref in refs:
                try:
                    matches = locate_all(frame, ref.spec, grounder=self.options.grounder, limit=5,
                                         accessibility=self.desktop.accessibility,
                                         windows=self.desktop.windows)
                except TargetNotFound as exc:
                    state.failed_matches = list(getattr(exc, "matches", []))
                    raise
                picked.append(_pick(ref, matches))
                state.candidates.append(matches)
        finally:
            state.ground_ms += (time.perf_counter() - started) * 1000
        state.picked = picked
        return tuple(picked)

    def _pointer(self) -> Point:
        if self.dry_run:  # asking for the pointer opens the input backend: a dry run never does
            box = self.options.region or self.desktop._desktop_box()
            return box.center
        return self.executor.position()

    def _use_element_action(self, state: _StepState, step: ClickStep, match: Match) -> bool:
        """A plain click on an accessibility element that changed nothing near it (a first click
        on an unfocused LibreOffice window only focuses the window) runs the element's own
        action instead, and is verified again. True when that happened."""
        element = match.extra.get("element")
        accessibility = self.desktop.accessibility
        if (self.dry_run or not isinstance(element, Element) or element.source != "a11y"
                or not element.actions or accessibility is None or step.button != "left"
                or step.count != 1 or not state.verified.startswith("no visible change")):
            return False
        before = self._capture()
        if not accessibility.do_action(element.node()):
            return False
        changed = self._await_change(before, (before.from_screen(element.box.center),),
                                     self.options.verify_timeout, state, "verify")
        state.verified = (f"after the element's own action the screen changed at {_fmt_box(changed)}"
                          if changed is not None else state.verified)
        return True

    def _act(self, state: _StepState, action: Action, *, quick: bool = False,
             verify: bool = True) -> None:
        """Perform one action, then wait until the screen shows it.

        A click may rightly change nothing visible (a button already highlighted under the
        pointer flashes and looks the same again before the next capture), so no change is noted
        in the trace and the run goes on, unless ``strict_verify``. ``quick``: actions that
        often change nothing (keys, scrolling, hovering) wait at most 1 s."""
        points = tuple(p for p in (getattr(action, "point", None), getattr(action, "start", None),
                                   getattr(action, "end", None)) if p is not None)
        state.points += points
        before = None
        if verify and not self.dry_run:
            started = time.perf_counter()
            before = self._capture()
            state.verify_ms += (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        self.executor.run(action)
        state.act_ms += (time.perf_counter() - started) * 1000
        state.acted_at = time.perf_counter() - self._start
        if before is None:
            state.verified = "dry run: not verified" if self.dry_run else "not verified (a wait)"
            return
        near = tuple(before.from_screen(p) for p in points)
        timeout = min(1.0, self.options.verify_timeout) if quick else self.options.verify_timeout
        required = self.options.strict_verify and not quick
        changed = self._await_change(before, near, timeout, state, "verify")
        if changed is not None:
            state.verified = f"the screen changed at {_fmt_box(changed)} after {state.verify_wait_ms:.0f} ms"
        elif required:
            where = f" near {', '.join(_fmt(p) for p in points)}" if points else ""
            raise WaitTimeout(f"the screen did not change{where} within {timeout:g} s after "
                               f"{_describe_action(action)}: did it reach the application? "
                               "(or run without strict verification)")
        else:
            state.verified = f"no visible change within {timeout:g} s (the action may have none)"

    def _await_change(self, before: Frame, near: Sequence[Point], timeout: float, state: _StepState,
                      phase: Literal["verify", "ground"]) -> Box | None:
        """Poll until the screen differs from ``before`` near one of ``near`` (frame pixels) or
        by a large area anywhere; None when ``timeout`` passes first."""
        started = time.perf_counter()

        def changed_near(frame: Frame) -> Box | None:
            for box in frame.changed_since(before):
                if not near or box.area >= BIG_CHANGE or any(_near(box, p) for p in near):
                    return box
            return None

        try:
            polled = poll_screen(self._capture, changed_near, timeout=timeout, interval=POLL_S,
                                 on_change_only=False, between=self._check_abort)
            if polled.value is not None:
                state.verify_wait_ms = (time.perf_counter() - started) * 1000
            return polled.value
        finally:
            spent = (time.perf_counter() - started) * 1000
            if phase == "verify":
                state.verify_ms += spent
            else:
                state.ground_ms += spent

    def _wait_for(self, state: _StepState, step: WaitForStep) -> str:
        timeout = step.timeout if step.timeout is not None else self.options.timeout
        wanted = "disappear" if step.gone else "appear"

        def look(frame: Frame) -> str | None:
            state.frame = frame
            started = time.perf_counter()
            try:
                match = locate(frame, step.target.spec, grounder=self.options.grounder,
                               accessibility=self.desktop.accessibility, windows=self.desktop.windows)
            except TargetNotFound:
                match = None
            finally:
                state.ground_ms += (time.perf_counter() - started) * 1000
            if match is not None:
                state.picked = [match]
            if (match is None) == step.gone:
                state.acted_at = time.perf_counter() - self._start
                where = f" at {_fmt(_point(match))}" if match is not None else ""
                return f"{step.target.describe()} did {wanted}{where}"
            return None

        # A dry run looks once: it cannot make anything appear or disappear.
        polled = poll_screen(lambda: self._capture(state), look, interval=POLL_S * 5,
                             timeout=0.0 if self.dry_run else timeout, between=self._check_abort)
        if polled.value is not None:
            return state.decide(polled.value)
        if self.dry_run:
            return state.decide(f"dry run: {step.target.describe()} has not {wanted}ed yet "
                                f"(a real run waits up to {timeout:g} s)")
        raise WaitTimeout(f"{step.target.describe()} did not {wanted} within {timeout:g} s "
                          "(say 'up to N seconds' to wait longer)")

    def _open(self, state: _StepState, step: OpenStep) -> str:
        argv = step.argv
        program = _which(argv[0]) or argv[0]
        if self.dry_run:
            return state.decide(f"dry run: would start {program}")
        before = self._capture()
        started = time.perf_counter()
        launch = getattr(self.desktop, "launch", None)
        if self.options.detach_programs or launch is None:
            process = start_program([program, *argv[1:]], display=self.desktop.display_name)
        else:
            process = launch([program, *argv[1:]])
        state.act_ms += (time.perf_counter() - started) * 1000
        state.acted_at = time.perf_counter() - self._start
        changed = self._await_change(before, (), self.options.timeout, state, "verify")
        code = process.poll()
        if code not in (None, 0):
            raise DisplayError(f"{program} exited with status {code} right after it started")
        if changed is None:
            raise WaitTimeout(f"{program} started (pid {process.pid}) but nothing appeared on the "
                               f"screen within {self.options.timeout:g} s (raise --timeout for a slow "
                               "program)")
        state.verified = f"the screen changed at {_fmt_box(changed)}"
        return state.decide(f"started {program} (pid {process.pid})")


@dataclass
class _StepState:
    """What one step gathered while running: timings, frames, matches, for its result."""

    index: int
    writer: _TraceWriter
    capture_ms: float = 0.0
    ground_ms: float = 0.0
    act_ms: float = 0.0
    verify_ms: float = 0.0
    verify_wait_ms: float = 0.0
    acted_at: float = 0.0
    frame: Frame | None = None
    points: tuple[Point, ...] = ()
    picked: list[Match] = field(default_factory=list)
    candidates: list[list[Match]] = field(default_factory=list)
    failed_matches: list[Match] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verified: str = ""
    decision: str = ""

    def decide(self, decision: str) -> str:
        self.decision = decision
        return decision

    def result(self, step: Step, status: Status, decision: str, origin: str, *, error: str = "",
               cause: BaseException | None = None) -> StepResult:
        files: dict[str, str] = {}
        if self.frame is not None:
            prefix = f"step-{self.index:02d}"
            files["frame"] = self.writer.frame(f"{prefix}-frame.png", self.frame)
            marks = self._marks(status)
            if marks:
                files["annotated"] = self.writer.annotated(f"{prefix}-annotated.png", self.frame, marks)
                focus = self._frame_points()
                if focus:
                    boxes = [m.box for m in self.picked if m.box is not None]
                    files["crop"] = self.writer.crop(f"{prefix}-crop.png", self.frame, focus, boxes)
        matches = tuple(m.to_json() for m in self.picked)
        timings = StepTimings(self.capture_ms, self.ground_ms, self.act_ms, self.verify_ms)
        decision = "; ".join([decision, *self.notes]) if self.notes else decision
        return StepResult(self.index, step, status, decision, timings, self.points, matches,
                          self.verified, error, files, origin, self.acted_at, cause)

    def _frame_points(self) -> list[Point]:
        assert self.frame is not None
        frame = self.frame
        return [frame.from_screen(p) for p in self.points if frame.screen_box.contains(p)]

    def _marks(self, status: Status) -> list[Mark]:
        from guiagent.grounding.marks import match_marks

        marks: list[Mark] = []
        for matches in self.candidates:
            marks += match_marks(matches)
        if self.failed_matches:
            marks += match_marks(self.failed_matches, label_best="best (below threshold)")
        for i, point in enumerate(self._frame_points()):
            label = "dry run" if status == "dry-run" else ("click" if i == 0 else f"point {i + 1}")
            marks.append(Mark(point=point, color=MAGENTA, label=label, thickness=2))
        return marks


def _condition(skill: str, target: str, when: Literal["before", "after"]) -> SkillCondition:
    which = "precondition" if when == "before" else "postcondition"
    try:
        return SkillCondition(TargetRef(target), skill=skill, when=when)
    except CommandError as exc:
        raise CommandError(f"skill {skill}: {which} {target!r}: {exc}") from None


def _condition_failed(step: SkillCondition, exc: WaitTimeout) -> GuiAgentError:
    """The error for a skill condition that did not become visible (exit code 3, like
    ``guiagent skill run``)."""

    target = step.target.describe()
    if step.when == "before":
        return SkillConditionFailed(f"skill {step.skill}: {target} must be visible before it runs, and is "
                                    f"not ({exc}); bring the application to that state first; none of "
                                    "its steps ran")
    return SkillConditionFailed(f"skill {step.skill}: {target} must be visible after it ran, and is not "
                                f"({exc}); its steps ran but the application did not get there")


def _may_continue(result: StepResult) -> bool:
    """A dry run goes on past targets it cannot see yet: earlier steps did not really act."""
    return isinstance(result.cause, (TargetNotFound, AmbiguousTarget, TimeoutError))


def _pick(ref: TargetRef, matches: Sequence[Match]) -> Match:
    """The one match the command means: the best when it is alone in the tie band, else the one
    ``ref.choice`` names; AmbiguousTarget otherwise (never a guess)."""
    tied = equally_good(matches)
    choice = ref.choice
    if choice is None:
        if len(tied) == 1:
            return tied[0]
        raise AmbiguousTarget(ambiguity_message(ref.describe(), tied, ref.spec) + " (--region)")
    ordered = sorted(tied, key=lambda m: (round(_point(m).y / 8), _point(m).x))  # reading order
    if choice == "last":
        return ordered[-1]
    if choice.isdigit():
        n = int(choice)
        if not 1 <= n <= len(ordered):
            raise AmbiguousTarget(f"{ref.describe()}: asked for #{n}, but only {len(ordered)} equally "
                                  "good match(es) are on screen")
        return ordered[n - 1]
    key: Callable[[Match], float] = {
        "leftmost": lambda m: _point(m).x, "rightmost": lambda m: -_point(m).x,
        "topmost": lambda m: _point(m).y, "bottommost": lambda m: -_point(m).y,
    }[choice]
    return min(tied, key=key)


def _point(match: Match) -> Point:
    assert match.screen_point is not None  # locate_all always sets it
    return match.screen_point


def _near(box: Box, point: Point) -> bool:
    dx = max(box.left - point.x, 0.0, point.x - box.right)
    dy = max(box.top - point.y, 0.0, point.y - box.bottom)
    return dx * dx + dy * dy <= NEAR_RADIUS * NEAR_RADIUS


def _which(program: str) -> str | None:
    return shutil.which(program) or shutil.which(program.lower())


def _verb(step: ClickStep) -> str:
    what = {1: "clicked", 2: "double-clicked", 3: "triple-clicked"}[step.count]
    return what if step.button == "left" else f"{step.button}-{what}"


def _match_text(match: Match) -> str:
    how = f"{match.grounder} {match.score:.2f}"
    return f"{match.text!r} ({how})" if match.text else f"the match ({how})"


def _fmt(point: Point) -> str:
    return f"({point.x:.0f}, {point.y:.0f})"


def _fmt_box(box: Box) -> str:
    return f"{box.left:.0f},{box.top:.0f} {box.width:.0f}x{box.height:.0f}"


def _describe_action(action: Action) -> str:
    from guiagent.input.actions import describe

    return describe(action)


def do(desktop: Desktop, command: str | Sequence[Step], **options: Any) -> RunReport:
    """Run ``command`` on ``desktop`` (see :class:`AgentOptions` for ``options``, plus
    ``planner``, ``confirm`` and ``echo``); raises StepFailed at the first failed step."""
    extra = {k: options.pop(k) for k in ("planner", "confirm", "echo") if k in options}
    if "region" in options and options["region"] is not None and not isinstance(options["region"], Box):
        from guiagent.geometry import as_box

        options["region"] = as_box(options["region"])
    if "trace_dir" in options and options["trace_dir"] is not None:
        options["trace_dir"] = Path(options["trace_dir"])
    return Agent(desktop, AgentOptions(**options), **extra).run(command)


def run_skill(skill: Skill, params: Mapping[str, str], desktop: Desktop, *, timeout: float = 10.0,
              dry_run: bool = False, echo: Callable[[str], None] | None = None) -> RunReport:
    """Run one skill as ``run skill NAME with ...`` would: its preconditions, its steps, its
    postconditions; raises StepFailed (its ``cause`` a SkillConditionFailed for a condition)."""
    agent = Agent(desktop, AgentOptions(dry_run=dry_run, timeout=timeout), echo=echo,
                  skills={skill.name: skill})
    return agent.run([RunSkillStep(skill.name, tuple(params.items()))])


__all__ = [
    "Agent",
    "AgentOptions",
    "AmbiguousTarget",
    "RunReport",
    "SkillCondition",
    "SkillsUnavailable",
    "StepFailed",
    "StepResult",
    "StepTimings",
    "do",
    "run_skill",
]
