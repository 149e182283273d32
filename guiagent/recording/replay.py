"""Replay a recorded demo on the current screen, finding every target again.

:func:`load_demo` validates ``demo.json`` against its versioned schema by hand (types, ranges,
sizes, asset paths that must stay inside the folder and be real PNGs of sane size) and returns
typed :class:`~guiagent.recording.recorder.Demo` steps; nothing in the file is ever executed or used as a
path outside the folder.

:func:`replay` runs the steps. Each pointer step is grounded again on a fresh capture through a
cascade: the recorded template crops (ECP template matching; the crop sizes vote, so a crop whose
surroundings changed does not veto), then the recorded text (OCR), then a description (only when
a ``"vlm"`` grounder is registered), then, only with ``allow_raw_coordinates``, the recorded
point (moved with its window when the window is found again by title). Among several confident
places the one nearest where the window now puts the target wins. Before every step the replay
waits for the screen to settle and, while the target is not found, for it to appear; recorded
pauses are replayed only as far as settling has not already taken them (divided by ``speed``).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from guiagent.elements.locate import element_matches, search_elements
from guiagent.elements.query import parse_query
from guiagent.errors import DemoError, GuiAgentError, ReplayError, TargetNotFound
from guiagent.geometry import Box, Point
from guiagent.grounding.ecp import EcpSettings
from guiagent.platform import WindowInfo, WindowList, platform_for
from guiagent.recording.format import (
    ClickStep,
    Demo,
    DragStep,
    KeyStep,
    PointerTarget,
    ScrollStep,
    Step,
    TypeStep,
    describe_step,
    load_demo,
    parse_demo,
)
from guiagent.screen.capture import Frame
from guiagent.screen.polling import poll_screen

# -- replaying ----------------------------------------------------------------------------------


Method = Literal["element", "template", "text", "vlm", "raw", "keyboard"]


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """``speed`` divides the recorded pauses that remain after settling (capped at
    ``max_pause``); ``from_step`` is 1-based; ``dry_run`` grounds every step but touches no
    input device; ``allow_raw_coordinates`` lets a step fall back to its recorded point (moved
    with its window). ``settle_timeout``/``quiet`` bound the wait for a still screen,
    ``find_timeout`` the wait for a target to appear. ``secrets`` gives the text of secret type
    steps by step number. ``failure_dir`` is where annotated failure screenshots go (default: the
    system temp folder)."""

    speed: float = 1.0
    from_step: int = 1
    dry_run: bool = False
    allow_raw_coordinates: bool = False
    settle_timeout: float = 3.0
    quiet: float = 0.15
    find_timeout: float = 8.0
    max_pause: float = 1.0
    template_score: float = 0.85
    # One crop size alone: scores are full-resolution verdicts (a recorded 192 px crop of a
    # resized window reached 0.962 where it belongs; 24/24 benchmark replays pass at 0.96).
    template_alone_score: float = 0.96
    secrets: Mapping[int, str] = field(default_factory=dict)
    failure_dir: Path | None = None

    def __post_init__(self) -> None:
        if not (self.speed > 0 and math.isfinite(self.speed)):
            raise DemoError(f"speed must be a positive number, got {self.speed}")
        if self.from_step < 1:
            raise DemoError(f"from_step counts from 1, got {self.from_step}")


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What the replay did for one step; ``point`` is the screen point used (pointer steps)."""

    number: int
    description: str
    method: Method
    point: Point | None
    score: float | None
    elapsed: float
    performed: bool


@dataclass(frozen=True, slots=True)
class ReplayReport:
    demo: Path
    outcomes: tuple[StepOutcome, ...]
    elapsed: float

    @property
    def median_step_seconds(self) -> float:
        times = sorted(o.elapsed for o in self.outcomes)
        return float(np.median(times)) if times else 0.0


@dataclass(frozen=True, slots=True)
class _Found:
    point: Point  # frame pixels
    score: float
    method: Method
    note: str = ""


@dataclass(slots=True)
class _Attempt:
    """What grounding saw, for the failure message and picture."""

    template_best: float | None = None
    text_seen: bool = False
    candidates: list[tuple[Point, float, str]] = field(default_factory=list)


class Replayer:
    """Replays one demo on one :class:`~guiagent.desktop.core.Desktop`."""

    def __init__(self, demo: Demo, desktop: Any, options: ReplayOptions | None = None,
                 *, log: Callable[[str], None] | None = None) -> None:
        self.demo = demo
        self.desktop = desktop
        self.options = options or ReplayOptions()
        self.log = log or (lambda _line: None)
        self._images: dict[str, np.ndarray] = {}
        self._windows_list: WindowList | None = None

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> ReplayReport:
        options = self.options
        steps = self.demo.steps
        if options.from_step > max(1, len(steps)):
            raise DemoError(f"from_step {options.from_step} is past the last step ({len(steps)})")
        for number, step in enumerate(steps, 1):
            if number >= options.from_step and isinstance(step, TypeStep) and step.secret \
                    and number not in options.secrets:
                raise DemoError(f"step {number} types a secret that was not recorded; give its text "
                                f"(secrets={{{number}: ...}}, or run interactively to be asked)")
        started = time.monotonic()
        outcomes = []
        previous_time: float | None = None
        try:
            for number, step in enumerate(steps, 1):
                if number < options.from_step:
                    continue
                pause = 0.0 if previous_time is None else max(0.0, step.time - previous_time)
                previous_time = step.time
                outcome = self._step(number, step, min(pause, options.max_pause) / options.speed)
                self.log(("would " if not outcome.performed else "") + outcome.description +
                         (f"  [{outcome.method}" + (f" {outcome.score:.2f}" if outcome.score is not None
                                                   else "") + "]"))
                outcomes.append(outcome)
            if not options.dry_run:
                self._settle()
        finally:
            if self._windows_list is not None:
                self._windows_list.close()
                self._windows_list = None
        return ReplayReport(self.demo.folder, tuple(outcomes), time.monotonic() - started)

    def _step(self, number: int, step: Step, pause: float) -> StepOutcome:
        from guiagent.input.actions import Click, Drag, Scroll, TypeText, key_action

        began = time.monotonic()
        if not self.options.dry_run:
            self._settle()
        description = describe_step(step)
        if isinstance(step, (TypeStep, KeyStep)):
            self._sleep_rest(began, pause)
            if isinstance(step, TypeStep):
                text = self.options.secrets[number] if step.secret else step.text
                assert text is not None
                performed = self._perform(TypeText(text))
            else:
                performed = self._perform(key_action(step.keys, presses=step.presses))
            return StepOutcome(number, description, "keyboard", None, None,
                               time.monotonic() - began, performed)
        if isinstance(step, ClickStep) and step.modifiers:
            raise DemoError(f"step {number} is a {'+'.join(step.modifiers)}+click, which replay "
                            "cannot perform yet (it cannot hold modifier keys during a click); "
                            "edit the demo or re-record that step without modifiers")
        frame, found = self._find(number, step)
        point = frame.to_screen(found.point)
        self._sleep_rest(began, pause)
        if isinstance(step, ClickStep):
            action: Any = Click(point, step.button, step.count)
        elif isinstance(step, DragStep):
            dx = step.end[0] - step.target.point[0]
            dy = step.end[1] - step.target.point[1]
            action = Drag(point, point.offset(dx, dy), step.button)
        else:
            action = Scroll(point, step.direction, step.amount)
        performed = self._perform(action)
        return StepOutcome(number, description, found.method, point, found.score,
                           time.monotonic() - began, performed)

    def _perform(self, action: Any) -> bool:
        """Run ``action`` unless this is a dry run (checked even then: points must be on screen)."""
        if self.options.dry_run:
            from guiagent.input.actions import action_points

            for point in action_points(action):
                self.desktop.executor.check_point(point)
            return False
        return bool(self.desktop.run(action).performed)

    @staticmethod
    def _sleep_rest(began: float, pause: float) -> None:
        rest = pause - (time.monotonic() - began)
        if rest > 0:
            time.sleep(rest)

    def _settle(self) -> Frame:
        return self.desktop.wait_still(quiet=self.options.quiet, timeout=self.options.settle_timeout)

    # -- grounding -------------------------------------------------------------------------------
    def _find(self, number: int, step: ClickStep | DragStep | ScrollStep) -> tuple[Frame, _Found]:
        target = step.target
        attempt = _Attempt()

        def look(frame: Frame) -> _Found | None:
            return self._cascade(target, frame, self._expected_points(target, frame), attempt)

        # A dry run looks once: nothing it does could make the target appear.
        polled = poll_screen(self.desktop.capture, look, tolerance=8,
                             timeout=0.0 if self.options.dry_run else self.options.find_timeout)
        if polled.value is None:
            raise self._failure(number, step, polled.frame, attempt)
        return polled.frame, polled.value

    def _expected_points(self, target: PointerTarget, frame: Frame) -> list[Point]:
        """Where the target would be if only its window moved or resized (frame pixels)."""
        if target.window is None:
            return []
        try:
            windows = self._windows(target.window.title)
        except Exception:
            return []
        if not windows:
            return []
        rx, ry, rw, rh = target.window.box
        dx, dy = target.point[0] - rx, target.point[1] - ry
        points = []
        for window in windows[:3]:
            x, y, w, h = window.box
            points.append(frame.from_screen(Point(x + dx, y + dy)))
            points.append(frame.from_screen(Point(x + dx * w / rw, y + dy * h / rh)))
        return points

    def _windows(self, title: str) -> list[WindowInfo]:
        if self._windows_list is None:
            self._windows_list = platform_for(self.desktop.display_name).windows(self.desktop.display_name)
        return [window for window in self._windows_list.all() if window.title == title]

    def _cascade(self, target: PointerTarget, frame: Frame, expected: list[Point],
                 attempt: _Attempt) -> _Found | None:
        found = self._by_element(target, frame)
        if found is None:
            found = self._by_template(target, frame, expected, attempt)
        if found is None and target.text:
            found = self._by_text(target, frame, expected, attempt)
        if found is None:
            found = self._by_vlm(target, frame)
        if found is None and self.options.allow_raw_coordinates:
            point = expected[0] if expected else frame.from_screen(Point(*target.point))
            if frame.bounds.contains(point, inclusive=False):
                found = _Found(point, 0.0, "raw", "recorded coordinates")
        return found

    def _by_element(self, target: PointerTarget, frame: Frame) -> _Found | None:
        """The recorded accessibility element, when the application still has one that alone
        fits the recorded target (its whole label, or its role and label)."""
        element = target.element
        accessibility = getattr(self.desktop, "accessibility", None)
        if element is None or element.source != "a11y" or not element.query or accessibility is None:
            return None
        query = parse_query(element.query)
        if query is None:
            return None
        search = search_elements(frame, query, accessibility=accessibility, vision="never")
        picked = [m for m in element_matches(frame, search) if m.score >= 0.95]
        if search.source != "a11y" or len(picked) != 1:
            return None
        return _Found(picked[0].point, picked[0].score, "element",
                      f"accessibility element {element.role} {element.name!r}")

    def _image(self, relative: str) -> np.ndarray:
        if relative not in self._images:
            frame = Frame.load(self.demo.asset(relative))
            self._images[relative] = frame.bgr()
        return self._images[relative]

    def _by_template(self, target: PointerTarget, frame: Frame, expected: list[Point],
                     attempt: _Attempt) -> _Found | None:
        from guiagent.grounding import locate_all

        hits: list[tuple[Point, float, int]] = []
        for index, template in enumerate(target.templates):
            image = self._image(template.image)
            try:
                matches = locate_all(frame, image, grounder="template", limit=5,
                                     min_score=self.options.template_score, settings=_TEMPLATE_ECP)
            except TargetNotFound as exc:
                if exc.best_score is not None:
                    attempt.template_best = max(attempt.template_best or 0.0, exc.best_score)
                continue
            except GuiAgentError:  # e.g. a template too flat to match
                continue
            height, width = image.shape[:2]
            for match in matches:
                if match.box is None:
                    continue
                point = Point(match.box.left + template.offset[0] * match.box.width / width,
                              match.box.top + template.offset[1] * match.box.height / height)
                hits.append((point, match.score, index))
                attempt.template_best = max(attempt.template_best or 0.0, match.score)
                attempt.candidates.append((point, match.score, f"t{index}"))
        clusters: list[list[tuple[Point, float, int]]] = []
        for hit in sorted(hits, key=lambda h: -h[1]):
            for cluster in clusters:
                if cluster[0][0].distance_to(hit[0]) <= 10:
                    cluster.append(hit)
                    break
            else:
                clusters.append([hit])
        accepted = []
        for cluster in clusters:
            support = len({h[2] for h in cluster})
            best = max(h[1] for h in cluster)
            if support >= 2 or best >= self.options.template_alone_score:
                accepted.append((support, best, cluster[0][0]))
        if not accepted:
            return None
        most = max(a[0] for a in accepted)
        top = [a for a in accepted if a[0] == most]
        best_score = max(a[1] for a in top)
        close = [a for a in top if a[1] >= best_score - 0.05]
        chosen = min(close, key=lambda a: _nearest(a[2], expected)) if expected else \
            max(close, key=lambda a: a[1])
        return _Found(chosen[2], chosen[1], "template", f"{chosen[0]} crop size(s) agree")

    def _by_text(self, target: PointerTarget, frame: Frame, expected: list[Point],
                 attempt: _Attempt) -> _Found | None:
        from guiagent.grounding import GrounderUnavailable, locate_all

        assert target.text is not None
        try:
            matches = locate_all(frame, f'"{target.text}"', grounder="ocr", limit=5)
        except (TargetNotFound, GrounderUnavailable):
            return None
        attempt.text_seen = True
        best = matches[0].score
        close = [m for m in matches if m.score >= best - 0.05]
        match = min(close, key=lambda m: _nearest(m.point, expected)) if expected else close[0]
        point = match.point
        if target.text_offset is not None and match.box is not None:
            centre = match.box.center
            dx, dy = target.text_offset
            if abs(dx) <= match.box.width and abs(dy) <= max(match.box.height, 20):
                point = Point(centre.x + dx, centre.y + dy)
        for m in matches:
            attempt.candidates.append((m.point, m.score, "text"))
        return _Found(point, match.score, "text", f"text {target.text!r}")

    def _by_vlm(self, target: PointerTarget, frame: Frame) -> _Found | None:
        from guiagent.grounding import locate, vlm_configured

        if not vlm_configured():
            return None
        description = target.description or (f'the element labelled "{target.text}"'
                                              if target.text else None)
        if description is None:
            return None
        try:
            match = locate(frame, description, grounder="vlm")
        except GuiAgentError:
            return None
        return _Found(match.point, match.score, "vlm", description)

    # -- failure ---------------------------------------------------------------------------------
    def _failure(self, number: int, step: ClickStep | DragStep | ScrollStep, frame: Frame | None,
                 attempt: _Attempt) -> ReplayError:
        from guiagent.screen.annotate import BLUE, RED, YELLOW, Mark, save_annotated

        target = step.target
        seen = []
        if target.templates:
            best = attempt.template_best
            seen.append("template best score " + (f"{best:.2f}" if best is not None else "none") +
                        f" (needed {self.options.template_score:.2f} with two crop sizes agreeing, or "
                        f"{self.options.template_alone_score:.2f})")
        if target.text:
            seen.append(f"text {target.text!r} " + ("found too weakly" if attempt.text_seen
                                                    else "not seen"))
        if not seen:
            seen.append("the step recorded nothing to look for but its coordinates")
        path = None
        if frame is not None:
            marks = [Mark(point=p, label=f"{how} {score:.2f}", color=YELLOW)
                     for p, score, how in attempt.candidates[:10]]
            recorded = frame.from_screen(Point(*target.point))
            if frame.bounds.contains(recorded):
                marks.append(Mark(point=recorded, label=f"step {number} was recorded here", color=RED))
            for expected in self._expected_points(target, frame)[:1]:
                marks.append(Mark(box=Box(expected.x - 40, expected.y - 40, 80, 80),
                                  label="its window puts it here", color=BLUE))
            folder = self.options.failure_dir or Path(tempfile.gettempdir())
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.demo.folder.resolve().name) or "demo"
            path = str(save_annotated(frame, marks, folder / f"guiagent-replay-{name}-step{number}.png"))
        waited = "" if self.options.dry_run else f" within {self.options.find_timeout:g} s"
        hint = ("" if self.options.allow_raw_coordinates else
                "; or rerun with --allow-raw-coordinates to click where it was recorded")
        message = (f"step {number} ({describe_step(step)}): target not found{waited}: "
                   f"{'; '.join(seen)}. See {path}. Bring the application to the state the step "
                   f"expects, re-record the step{hint}")
        return ReplayError(message, best_score=attempt.template_best, annotated_path=path)


# Templates come from this very application, so a miss of stage 1's top candidates means the
# target changed look: the tiled full-resolution sweep ECP would widen to (seconds at 4K for
# each crop size) rarely finds it, while the text grounder next in the cascade usually does.
_TEMPLATE_ECP = EcpSettings(top_k=5, widen_k=10, tiles=False)


def _nearest(point: Point, expected: list[Point]) -> float:
    return min((point.distance_to(e) for e in expected), default=0.0)


def replay(demo: Demo | str | os.PathLike[str], desktop: Any = None,
           options: ReplayOptions | None = None, *, log: Callable[[str], None] | None = None
           ) -> ReplayReport:
    """Replay ``demo`` (a :class:`Demo` or its folder) on ``desktop`` (default: a new
    :class:`~guiagent.desktop.core.Desktop` on ``$DISPLAY``, dry run when ``options.dry_run``)."""
    loaded = demo if isinstance(demo, Demo) else load_demo(demo)
    options = options or ReplayOptions()
    if desktop is None:
        from guiagent.desktop.core import Desktop

        with Desktop(dry_run=options.dry_run) as own:
            return Replayer(loaded, own, options, log=log).run()
    return Replayer(loaded, desktop, options, log=log).run()


__all__ = [
    "DemoError",
    "ReplayError",
    "ReplayOptions",
    "ReplayReport",
    "Replayer",
    "StepOutcome",
    "load_demo",
    "parse_demo",
    "replay",
]
