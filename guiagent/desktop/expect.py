"""Visual expectations in the style of Playwright and Airtest: ``expect(target).to_be_visible()``.

Every expectation polls the screen until it holds or its timeout passes. A new look (grounding,
OCR) runs only when the captured pixels changed since the previous look, so waiting on a still
screen costs a capture and a frame comparison per poll. When an expectation fails it raises
:class:`ExpectationError` (an ``AssertionError``) that says what was looked for, the best
candidate seen and its score, and where the annotated screenshot of the last frame is.
"""

from __future__ import annotations

import contextvars
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.elements.locate import locate
from guiagent.errors import ExpectationError, GuiAgentError, ImageLoadError, NoDesktopError, TargetNotFound
from guiagent.geometry import Box
from guiagent.grounding.base import Match, Target
from guiagent.screen.polling import poll_screen

if TYPE_CHECKING:
    from guiagent.desktop.core import Desktop
    from guiagent.screen.annotate import Mark
    from guiagent.screen.capture import Frame

DEFAULT_TIMEOUT = 5.0
DEFAULT_INTERVAL = 0.1
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")

_CURRENT: contextvars.ContextVar[Desktop | None] = contextvars.ContextVar("guiagent_desktop",
                                                                          default=None)


@contextmanager
def using_desktop(desktop: Desktop) -> Iterator[Desktop]:
    """Make ``desktop`` the one ``expect(target)`` (without ``desktop=``) looks at, for the
    duration of the block; the pytest plugin does this around every test using ``desktop``."""
    token = _CURRENT.set(desktop)
    try:
        yield desktop
    finally:
        _CURRENT.reset(token)


def current_desktop() -> Desktop:
    desktop = _CURRENT.get()
    if desktop is None:
        raise NoDesktopError(
            "expect(target) has no desktop to look at: use the `desktop` fixture of the guiagent "
            "pytest plugin in this test, or call desktop.expect(target) / expect(target, "
            "desktop=d), or wrap the code in `with guiagent.testing.using_desktop(d):`"
        )
    return desktop


class Template:
    """An image of a target stored beside the code that names it (SikuliX/Airtest style).

    A relative ``path`` is resolved against ``base`` or, by default, the directory of the file
    whose code created the Template (a test module: ``Template("save.png")`` is the
    ``save.png`` beside it). ``threshold`` overrides the template grounder's minimum score.
    Capture one from the screen with ``desktop.save_template(match_or_box, "save.png")``.
    """

    __slots__ = ("path", "threshold")

    def __init__(self, path: str | os.PathLike[str], *, threshold: float | None = None,
                 base: str | os.PathLike[str] | None = None) -> None:
        given = Path(path)
        if not given.is_absolute():
            if base is None:
                caller = sys._getframe(1).f_globals.get("__file__")
                base = Path(caller).parent if caller else Path.cwd()
            given = Path(base) / given
        self.path = given.resolve()
        if threshold is not None and not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        extra = f", threshold={self.threshold}" if self.threshold is not None else ""
        return f"Template({self.path.name!r}{extra})"

    def target(self) -> Target:
        if not self.path.exists():
            raise ImageLoadError(
                f"template image {self.path} does not exist: capture it from the screen with "
                f"desktop.save_template(match_or_box, {str(self.path.name)!r}) or "
                "`guiagent capture FILE.png --region x,y,w,h`"
            )
        return Target.from_image_path(self.path)


def resolve_target(value: Any, base_dir: Path | None = None) -> tuple[Target, float | None]:
    """``value`` as a grounding Target and its minimum score (None: the grounder's own).

    A relative image path given as a string is looked up in ``base_dir`` (a test's directory)
    first, so tests can name the images stored beside them.
    """
    if isinstance(value, Template):
        return value.target(), value.threshold
    if (base_dir is not None and isinstance(value, str)
            and value.strip().lower().endswith(_IMAGE_SUFFIXES)
            and not Path(value.strip()).is_absolute()):
        beside = base_dir / value.strip()
        if beside.exists():
            return Target.from_image_path(beside.resolve()), None
    return Target.parse(value), None


@dataclass
class _Look:
    """The outcome of looking at one frame."""

    ok: bool
    frame: Frame
    match: Match | None = None
    matches: list[Match] = field(default_factory=list)
    best: float | None = None
    text: str | None = None
    box: Box | None = None  # frame pixels: where text was read


@dataclass
class _Polled:
    look: _Look
    looks: int
    polls: int
    elapsed: float


def expect(target: Any, *, desktop: Desktop | None = None, region: Any = None,
           timeout: float | None = None, interval: float = DEFAULT_INTERVAL,
           **locate_options: Any) -> Expectation:
    """Start an expectation about ``target``: visible text ('"Save"'), an image path or
    :class:`Template`, a description, or a screen :class:`~guiagent.geometry.Box` (a region
    whose text ``to_have_text`` reads). Without ``desktop`` it looks at the current test's."""
    return Expectation(target, desktop=desktop, region=region, timeout=timeout, interval=interval,
                       **locate_options)


class Expectation:
    """Assertions about one target, polled until ``timeout`` seconds (default: the desktop's
    ``expect_timeout``, else 5 s). ``region`` (a Box in screen coordinates) limits the search.
    Further keywords go to :func:`guiagent.elements.locate.locate` (``grounder``, ``min_score``...).
    """

    def __init__(self, target: Any, *, desktop: Desktop | None = None, region: Any = None,
                 timeout: float | None = None, interval: float = DEFAULT_INTERVAL,
                 **locate_options: Any) -> None:
        from guiagent.geometry import as_box

        self._target = target
        self._desktop = desktop
        self.region: Box | None = as_box(region) if region is not None else None
        if isinstance(target, Box):
            if region is not None:
                raise ValueError("pass either a Box target or region=, not both")
            self.region = target
        self.timeout = timeout
        self.interval = interval
        self.locate_options = locate_options
        self._resolved: tuple[Target, dict[str, Any]] | None = None

    # -- the assertions ----------------------------------------------------------------------
    def to_be_visible(self, *, timeout: float | None = None) -> Match:
        """Wait until the target is on the screen; returns its Match (click it, read its box)."""
        self._needs_target("to_be_visible")
        polled = self._poll(self._find, timeout)
        if polled.look.ok and polled.look.match is not None:
            self._record("to be visible", polled, passed=True)
            return polled.look.match
        raise self._failure("to be visible", "not found", polled, timeout)

    def not_to_be_visible(self, *, timeout: float | None = None) -> None:
        """Wait until the target is no longer on the screen."""
        self._needs_target("not_to_be_visible")
        polled = self._poll(lambda frame: self._invert(self._find(frame)), timeout)
        if polled.look.ok:
            self._record("not to be visible", polled, passed=True)
            return
        raise self._failure("not to be visible", "still visible", polled, timeout)

    def to_have_text(self, text: str | re.Pattern[str], *, timeout: float | None = None) -> str:
        """Wait until the text read in the target's box (or the region) is ``text`` (compared
        like OCR grounding does: any case, any spacing, OCR look-alikes such as 0/O alike) or
        matches the regular expression. Returns the text read."""
        return self._text("to have text", text, contains=False, timeout=timeout)

    def to_contain_text(self, text: str | re.Pattern[str], *, timeout: float | None = None) -> str:
        """Like :meth:`to_have_text`, but the expected text may be part of what is read."""
        return self._text("to contain text", text, contains=True, timeout=timeout)

    # -- internals -----------------------------------------------------------------------------
    @property
    def desktop(self) -> Desktop:
        return self._desktop if self._desktop is not None else current_desktop()

    def _needs_target(self, method: str) -> None:
        if isinstance(self._target, Box):
            raise TypeError(f"{method}() needs something to find, not a region; use "
                            "expect(region).to_have_text(...) or expect(target, region=...)")

    def _parsed(self) -> tuple[Target, dict[str, Any]]:
        """The target, parsed (an image loaded) once, and the options for ``locate``."""
        if self._resolved is None:
            base = getattr(self.desktop, "base_dir", None)
            target, threshold = resolve_target(self._target, base)
            options = dict(self.locate_options)
            if threshold is not None:
                options.setdefault("min_score", threshold)
            self._resolved = (target, options)
        return self._resolved

    def describe(self) -> str:
        if isinstance(self._target, Box):
            b = self._target
            return f"region ({b.left:g}, {b.top:g}, {b.width:g}x{b.height:g})"
        if isinstance(self._target, Template):
            return repr(self._target)
        return self._parsed()[0].describe()

    def _find(self, frame: Frame) -> _Look:
        target, options = self._parsed()
        try:
            # Elements first (the desktop's accessibility tree, vision elements), then pixels.
            match = locate(frame, target, accessibility=getattr(self.desktop, "accessibility", None),
                           windows=getattr(self.desktop, "windows", None), **options)
        except TargetNotFound as exc:
            matches = list(getattr(exc, "matches", []) or [])
            return _Look(False, frame, matches=matches, best=exc.best_score)
        return _Look(True, frame, match=match, matches=[match], best=match.score)

    @staticmethod
    def _invert(look: _Look) -> _Look:
        look.ok = not look.ok
        return look

    def _text(self, verb: str, expected: str | re.Pattern[str], *, contains: bool,
              timeout: float | None) -> str:
        def check(frame: Frame) -> _Look:
            if isinstance(self._target, Box):
                look = _Look(True, frame, box=frame.bounds)
            else:
                look = self._find(frame)
                if not look.ok or look.match is None:
                    return look
                look.box = look.match.box or Box(look.match.point.x - 1, look.match.point.y - 1,
                                                 2, 2)
            assert look.box is not None
            look.text = read_text(frame, look.box)
            look.ok = text_matches(look.text, expected, contains=contains)
            return look

        polled = self._poll(check, timeout)
        shown = expected.pattern if isinstance(expected, re.Pattern) else expected
        if polled.look.ok and polled.look.text is not None:
            self._record(f"{verb} {shown!r}", polled, passed=True)
            return polled.look.text
        if polled.look.text is None:
            raise self._failure(f"{verb} {shown!r}", "not found", polled, timeout)
        raise self._failure(f"{verb} {shown!r}", f"read {polled.look.text!r}", polled, timeout)

    def _poll(self, check: Callable[[Frame], _Look], timeout: float | None) -> _Polled:
        latest: list[_Look] = []

        def look(frame: Frame) -> _Look | None:
            latest[:] = [check(frame)]
            return latest[0] if latest[0].ok else None

        polled = poll_screen(lambda: self.desktop.capture(region=self.region), look,
                             timeout=self._timeout(timeout), interval=self.interval)
        return _Polled(latest[0], polled.looks, polled.polls, polled.elapsed)

    def _timeout(self, timeout: float | None) -> float:
        for value in (timeout, self.timeout, getattr(self.desktop, "expect_timeout", None)):
            if value is not None:
                return float(value)
        return DEFAULT_TIMEOUT

    def _title(self, verb: str) -> str:
        return f"expect {self.describe()} {verb}"

    def _marks(self, look: _Look, passed: bool) -> list[Mark]:
        from guiagent.grounding.marks import match_marks
        from guiagent.screen.annotate import GREEN, RED, Mark

        marks = match_marks(look.matches) if look.matches else []
        if look.box is not None and look.text is not None:
            color = GREEN if passed else RED
            marks.append(Mark(box=look.box, color=color, label=f"read: {look.text[:60]}"))
        return marks

    def _record(self, verb: str, polled: _Polled, *, passed: bool) -> Path | None:
        """Tell the desktop's test recorder (if any) about this expectation; on failure write
        the annotated screenshot. Returns the screenshot path, if one was written."""
        marks = self._marks(polled.look, passed)
        recorder = getattr(self.desktop, "recorder", None)
        title = self._title(verb)
        detail = _counts(polled)
        if recorder is not None:
            step = recorder.add_step(title, "expect", polled.look.frame, marks,
                                     passed=passed, duration_s=polled.elapsed, detail=detail,
                                     full=not passed)
            return Path(step.screenshot) if step.screenshot else None
        if passed:
            return None
        from guiagent.screen.annotate import save_annotated

        folder = Path(tempfile.gettempdir()) / "guiagent-failures"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"expect-{time.strftime('%Y%m%d-%H%M%S')}-{_slug(self.describe())}.png"
        return save_annotated(polled.look.frame, marks, folder / name)

    def _failure(self, verb: str, outcome: str, polled: _Polled,
                 timeout: float | None) -> ExpectationError:
        try:
            screenshot = self._record(verb, polled, passed=False)
        except OSError as exc:  # a full disk must not hide the failure itself
            screenshot, note = None, f"annotated screenshot not written: {exc}"
        else:
            note = f"annotated screenshot: {screenshot}" if screenshot else "no screenshot"
        look = polled.look
        lines = [
            f"{self._title(verb)}: {outcome} within {self._timeout(timeout):g} s "
            f"({_counts(polled)}, {polled.elapsed:.1f} s)",
            "  " + self._best_candidate(look, negated=verb.startswith("not")),
            f"  {note}",
            "  next: look at the screenshot; " + _hint(verb, self._target),
        ]
        return ExpectationError("\n".join(lines), best_score=look.best, screenshot=screenshot)

    def _best_candidate(self, look: _Look, *, negated: bool) -> str:
        if look.text is not None and look.box is not None:
            b = look.frame.to_screen_transform.apply_box(look.box)
            return (f"text read in the box ({b.left:.0f}, {b.top:.0f}, {b.width:.0f}x{b.height:.0f}):"
                    f" {look.text!r}")
        if not look.matches:
            if look.best is not None:
                return f"best score {look.best:.3f}"
            return "best candidate: none at all (best score: none)"
        best = max(look.matches, key=lambda m: m.score)
        point = look.frame.to_screen(best.point)
        read = f" reading {best.text!r}" if best.text else ""
        needed = self._threshold(best)
        need = f"; the {best.grounder or 'chosen'} grounder needs {needed:.2f}" if needed else ""
        what = "found" if negated else "best candidate"
        return (f"{what}{read} at ({point.x:.0f}, {point.y:.0f}), best score {best.score:.3f}{need}")

    def _threshold(self, match: Match) -> float | None:
        if "min_score" in self.locate_options:
            return float(self.locate_options["min_score"])
        if isinstance(self._target, Template) and self._target.threshold is not None:
            return self._target.threshold
        try:
            from guiagent.grounding import get_grounder

            return get_grounder(match.grounder).min_score if match.grounder else None
        except GuiAgentError:
            return None


def _counts(polled: _Polled) -> str:
    looks = f"{polled.looks} look{'s' if polled.looks != 1 else ''}"
    return f"{looks} at {polled.polls} capture{'s' if polled.polls != 1 else ''}"


def _hint(verb: str, target: Any) -> str:
    if verb.startswith("not"):
        return "if something else should have removed it first, wait for that, or raise timeout="
    if verb.startswith("to have") or verb.startswith("to contain"):
        return ("if the box holds more or less text than expected, expect a region Box around "
                "exactly the text, or use to_contain_text")
    if isinstance(target, Template) or (isinstance(target, str)
                                        and target.lower().endswith(_IMAGE_SUFFIXES)):
        return ("if the target is there but looks different (theme, scale), re-capture it with "
                "desktop.save_template() or lower Template(..., threshold=); if it comes later, "
                "raise timeout=")
    return ("if the target is there but reads differently, quote the exact visible text; if it "
            "comes later, raise timeout=")


def read_text(frame: Frame, box: Box) -> str:
    """The text OCR reads inside ``box`` (frame pixels), lines joined by single spaces."""
    from guiagent.grounding import get_grounder
    from guiagent.grounding.ocr import OcrGrounder

    grounder = get_grounder("ocr")
    if not isinstance(grounder, OcrGrounder):
        raise GuiAgentError("to_have_text needs the OCR grounder: repair RapidOCR with "
                            "`pip install --force-reinstall rapidocr-onnxruntime onnxruntime`")
    pad = 4  # OCR reads glyphs touching the box's edge badly
    left, top = max(0, int(box.left) - pad), max(0, int(box.top) - pad)
    right = min(frame.width, int(box.right + 0.999) + pad)
    bottom = min(frame.height, int(box.bottom + 0.999) + pad)
    if right <= left or bottom <= top:
        return ""
    lines = [ln for ln in grounder.read(frame.crop(Box(left, top, right - left, bottom - top)))
             if ln.text.strip()]
    # Rows: pieces whose vertical centres lie within half a line of each other, left to right.
    rows: list[list[Any]] = []
    for line in sorted(lines, key=lambda ln: ln.box.center.y):
        row = rows[-1] if rows else None
        if row and abs(line.box.center.y - row[0].box.center.y) <= max(row[0].box.height,
                                                                       line.box.height) / 2:
            row.append(line)
        else:
            rows.append([line])
    return " ".join(" ".join(" ".join(ln.text.split()) for ln in sorted(row, key=lambda ln: ln.box.left))
                    for row in rows)


def text_matches(read: str, expected: str | re.Pattern[str], *, contains: bool) -> bool:
    """Whether OCR's ``read`` is ``expected``: a regex searches the whitespace-normalised text;
    a string compares folded (any case, no spaces, OCR look-alikes merged)."""
    normal = " ".join(read.split())
    if isinstance(expected, re.Pattern):
        return expected.search(normal) is not None
    from guiagent.grounding.textmatch import fold

    want, got = fold(expected), fold(normal)
    return want in got if contains else want == got


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")
    return slug[:60] or "target"
