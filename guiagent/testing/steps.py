"""What a UI test did, step by step, with pictures: the :class:`StepLog` and the
:class:`RecordedDesktop` the pytest plugin hands to tests as ``desktop``."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from guiagent.desktop.core import Desktop, DesktopTarget
from guiagent.desktop.expect import ExpectationError, resolve_target
from guiagent.elements.locate import locate_all as locate_all_elements
from guiagent.errors import CaptureError, GuiAgentError, TargetNotFound
from guiagent.geometry import Box, BoxLike, as_box
from guiagent.grounding.base import Match, TargetLike
from guiagent.input.actions import Action, ActionRecord, Click, Drag, Move, Scroll, describe
from guiagent.screen.annotate import GREEN, RED, Mark, annotate
from guiagent.screen.capture import Frame
from guiagent.screen.display import VirtualDisplay

THUMBNAIL_WIDTH = 1280
VIDEO_SIZE = (960, 540)
VIDEO_FRAME_MS = 700
MAX_VIDEO_FRAMES = 120


@dataclass
class TestStep:
    """One thing a test did or checked. Times are seconds since the test started; ``image`` is
    a JPEG thumbnail of the (annotated) screen, ``screenshot`` the full-resolution PNG written
    for failures."""

    index: int
    title: str
    kind: str  # "launch", "action", "expect", "screen"
    passed: bool
    start_s: float
    duration_s: float
    detail: str = ""
    image: str | None = None
    screenshot: str | None = None


class StepLog:
    """Collects the steps of one test and writes their pictures under ``directory``.

    ``thumbnails``: keep a small annotated picture of every step (for the HTML report);
    ``video``: keep frames for an animated GIF of the test. Full-resolution annotated
    screenshots are written for failed steps either way.
    """

    def __init__(self, directory: Path, *, thumbnails: bool = False, video: bool = False) -> None:
        self.directory = directory
        self.thumbnails = thumbnails
        self.video = video
        self.steps: list[TestStep] = []
        self.started = time.monotonic()
        self._frames: list[np.ndarray] = []

    @property
    def wants_frames(self) -> bool:
        """Whether steps that pass need a picture (the report or the video needs them)."""
        return self.thumbnails or self.video

    def add_step(self, title: str, kind: str, frame: Frame | None, marks: Sequence[Mark] = (),
                 *, passed: bool = True, duration_s: float = 0.0, detail: str = "",
                 full: bool = False) -> TestStep:
        """Record a step; ``full`` writes the full-resolution annotated screenshot too."""
        start = max(0.0, time.monotonic() - self.started - duration_s)
        step = TestStep(len(self.steps) + 1, title, kind, passed, round(start, 3), round(duration_s, 3),
                    detail)
        self.steps.append(step)
        if frame is None or not (self.wants_frames or full):
            return step
        import cv2

        picture = annotate(frame, marks) if marks else np.ascontiguousarray(frame.bgr())
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = f"step-{step.index:02d}-{_slug(title, 40)}"
        if full:
            path = self.directory / f"{stem}.png"
            if not cv2.imwrite(str(path), picture, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
                raise OSError(f"could not write {path}")
            step.screenshot = str(path.resolve())
        small = _shrink(_focus(picture, marks), THUMBNAIL_WIDTH)
        if self.thumbnails or full:
            path = self.directory / f"{stem}.jpg"
            if not cv2.imwrite(str(path), small, [cv2.IMWRITE_JPEG_QUALITY, 82]):
                raise OSError(f"could not write {path}")
            step.image = str(path.resolve())
        if self.video and len(self._frames) < MAX_VIDEO_FRAMES:
            self._frames.append(_fit(small, *VIDEO_SIZE))
        return step

    def write_video(self) -> Path | None:
        """An animated GIF of the steps' pictures (None when no step had one)."""
        if not self._frames:
            return None
        from PIL import Image

        images = [Image.fromarray(f[:, :, ::-1].copy()) for f in self._frames]
        durations = [VIDEO_FRAME_MS] * len(images)
        durations[-1] = 3 * VIDEO_FRAME_MS
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / "video.gif"
        images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0,
                       optimize=False)
        return path.resolve()

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(step) for step in self.steps]


class RecordedDesktop(Desktop):
    """A :class:`~guiagent.desktop.core.Desktop` that records every action and expectation of a test
    (with the frame it acted on), resolves image paths against the test's directory and knows
    the run's default expectation timeout. The pytest plugin's ``desktop`` fixture is one."""

    def __init__(self, display: str | VirtualDisplay | None = None, *,
                 recorder: StepLog | None = None, base_dir: Path | None = None,
                 expect_timeout: float | None = None, **settings: Any) -> None:
        super().__init__(display, **settings)
        self.recorder = recorder
        self.base_dir = base_dir
        self.expect_timeout = expect_timeout
        self.last_frame: Frame | None = None
        self.last_miss: tuple[Frame, TargetNotFound] | None = None
        self._last_find: tuple[Frame, Match, str] | None = None
        self._found: tuple[Frame | None, Match, str] | None = None  # what the next action targets

    # -- seeing --------------------------------------------------------------------------
    def capture(self, *, monitor: int | None = None, region: BoxLike | None = None) -> Frame:
        frame = super().capture(monitor=monitor, region=region)
        self.last_frame = frame
        return frame

    def find_all(self, target: TargetLike, *, limit: int = 5, **options: Any) -> list[Match]:
        parsed, threshold = resolve_target(target, self.base_dir)
        if threshold is not None:
            options.setdefault("min_score", threshold)
        frame = self.capture()
        try:
            matches = locate_all_elements(frame, parsed, accessibility=self.accessibility,
                                          windows=self.windows, limit=limit, **options)
        except TargetNotFound as exc:
            self.last_miss = (frame, exc)
            raise
        self._last_find = (frame, matches[0], parsed.describe())
        return matches

    def _resolve(self, target: DesktopTarget) -> Any:
        # Remember what an action's target was found as, for its step in the report.
        self._last_find = None
        point = super()._resolve(target)
        if self._last_find is not None:
            self._found = self._last_find
        elif isinstance(target, Match):
            self._found = (None, target, repr(target.text) if target.text else "a match")
        return point

    def wait_for(self, target: TargetLike, *, timeout: float = 10.0, gone: bool = False,
                 interval: float = 0.1, **options: Any) -> Match | None:
        parsed, threshold = resolve_target(target, self.base_dir)
        if threshold is not None:
            options.setdefault("min_score", threshold)
        return super().wait_for(parsed, timeout=timeout, gone=gone, interval=interval, **options)

    def save_template(self, what: Any, path: str | os.PathLike[str], *, pad: int = 0) -> Path:
        """Save the screen pixels of ``what`` as a template image and return its path.

        ``what``: a Match (from ``find``/``to_be_visible``), a screen Box or ``(x, y, w, h)``,
        or any target ``find`` accepts (it is found first). A relative ``path`` is stored
        beside the test, where :class:`~guiagent.testing.Template` looks for it.
        """
        if isinstance(what, Match):
            box = what.screen_box
            if box is None:
                raise GuiAgentError("this match has no box to save; pass a Box around the target")
        elif isinstance(what, Box) or (isinstance(what, (tuple, list)) and len(what) == 4):
            box = as_box(what)
        else:
            match = self.find(what)
            if match.screen_box is None:
                raise GuiAgentError(f"{what!r} was found without a box; pass a Box instead")
            box = match.screen_box
        if pad:
            box = Box(box.left - pad, box.top - pad, box.width + 2 * pad, box.height + 2 * pad)
        desktop_box = self.screen.monitor(0).box
        inside = box.integer().intersection(desktop_box)
        if inside is None:
            raise CaptureError(f"{box} is not on the screen; nothing to save")
        out = Path(path)
        if not out.is_absolute():
            out = (self.base_dir or Path.cwd()) / out
        saved = self.capture(region=inside).save(out).resolve()
        if self.recorder is not None:
            self.recorder.add_step(f"save template {out.name}", "action", None,
                                   detail=str(saved))
        return saved

    # -- acting --------------------------------------------------------------------------
    def run(self, action: Action) -> ActionRecord:
        recorder = self.recorder
        found, self._found = self._found, None
        if recorder is None:
            return super().run(action)
        frame: Frame | None = None
        marks: list[Mark] = []
        title = describe(action)
        if found is not None:
            frame, match, what = found
            title += f" on {what}"
        if frame is None and recorder.wants_frames:
            frame = self.capture()
        if found is not None and frame is not None:
            box = match.screen_box
            if box is not None:  # found on this frame or an earlier one: draw it where it is
                corner = frame.from_screen((box.left, box.top))
                far = frame.from_screen((box.right, box.bottom))
                box = Box.from_corners(corner.x, corner.y, far.x, far.y)
            marks.append(Mark(box=box, point=None if box else frame.from_screen(
                match.screen_point or match.point), color=GREEN, thickness=2,
                label=f"{match.grounder} {match.score:.2f}"))
        if frame is not None:
            marks += [Mark(point=frame.from_screen(p), color=RED) for p in _points(action)]
        started = time.monotonic()
        try:
            record = super().run(action)
        except Exception as exc:
            recorder.add_step(title, "action", frame, marks, passed=False,
                              duration_s=time.monotonic() - started, detail=str(exc), full=True)
            raise
        recorder.add_step(title, "action", frame, marks, duration_s=time.monotonic() - started)
        return record

    def launch(self, command: str | Sequence[str], *, env: Mapping[str, str] | None = None,
               cwd: str | os.PathLike[str] | None = None) -> subprocess.Popen[bytes]:
        process = super().launch(command, env=env, cwd=cwd)
        if self.recorder is not None:
            shown = command if isinstance(command, str) else " ".join(map(str, command))
            self.recorder.add_step(f"launch {shown}", "launch", None, detail=f"pid {process.pid}")
        return process

    # -- failures ------------------------------------------------------------------------
    def failure_screenshot(self, error: BaseException) -> Path | None:
        """The annotated screenshot for a failed test: the expectation's own, the frame a
        target was not found on (with its candidates), or else the screen as it is now."""
        if isinstance(error, ExpectationError):
            return error.screenshot
        if self.recorder is None:
            return None
        from guiagent.grounding.marks import match_marks

        marks: list[Mark] = []
        if self.last_miss is not None and self.last_miss[1] is error:
            frame = self.last_miss[0]
            marks = match_marks(list(getattr(error, "matches", []) or []))
        else:
            try:
                frame = self.capture()
            except GuiAgentError:
                return None
        step = self.recorder.add_step(f"failed: {type(error).__name__}", "screen", frame, marks,
                                      passed=False, detail=_first_line(error), full=True)
        return Path(step.screenshot) if step.screenshot else None


def _points(action: Action) -> list[Any]:
    if isinstance(action, (Click, Move, Scroll)):
        return [action.point]
    if isinstance(action, Drag):
        return [action.start, action.end]
    return []


def _focus(image: np.ndarray, marks: Sequence[Mark], *, margin: int = 240,
           minimum: tuple[int, int] = (1600, 900)) -> np.ndarray:
    """The part of ``image`` around the marks (at least ``minimum`` pixels, 16:9 where it
    fits), so that a thumbnail of a 4K screen shows the target legibly."""
    boxes = [m.box for m in marks if m.box is not None]
    boxes += [Box(m.point.x - 1, m.point.y - 1, 2, 2) for m in marks if m.point is not None]
    height, width = image.shape[:2]
    if not boxes or (width <= minimum[0] and height <= minimum[1]):
        return image
    left = min(b.left for b in boxes) - margin
    top = min(b.top for b in boxes) - margin
    right = max(b.right for b in boxes) + margin
    bottom = max(b.bottom for b in boxes) + margin
    w = max(right - left, minimum[0], (bottom - top) * 16 / 9)
    h = max(bottom - top, minimum[1], w * 9 / 16)
    w, h = min(w, width), min(h, height)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    x0 = int(min(max(0, cx - w / 2), width - w))
    y0 = int(min(max(0, cy - h / 2), height - h))
    return image[y0:y0 + int(h), x0:x0 + int(w)]


def _shrink(image: np.ndarray, width: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    if w <= width:
        return image
    return cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to fit inside ``width`` x ``height``, centred on a dark canvas."""
    import cv2

    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 32, np.uint8)
    top, left = (height - nh) // 2, (width - nw) // 2
    canvas[top:top + nh, left:left + nw] = small
    return canvas


def _slug(text: str, limit: int = 80) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug[:limit] or "step"


def artefact_directory(output: Path, nodeid: str) -> Path:
    """Where one test's pictures go: a readable, unique folder name for its node id."""
    digest = hashlib.sha1(nodeid.encode()).hexdigest()[:8]
    return output / f"{_slug(nodeid.replace('::', '--'), 90)}-{digest}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
