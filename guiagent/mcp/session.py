"""What every MCP tool does, as plain synchronous Python over one :class:`~guiagent.Desktop`.

The server (:mod:`guiagent.mcp.server`) runs these methods one at a time on one thread (mss
and the X input connections belong to the thread that opened them) and turns their
:class:`ToolOutput` into MCP results. Coordinates in and out are pixels of the last screenshot
image (:class:`~guiagent.mcp.images.ImageMapping`); before the first screenshot, pixels of the
image a plain ``screenshot`` would send. Failures the client can act on are ``ToolError``s
whose message says what to do.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from mcp.server.mcpserver.exceptions import ToolError

from guiagent.errors import AbortedError, OutOfBoundsError
from guiagent.geometry import Box, Point, Size
from guiagent.input.backends import MouseButton, ScrollDirection
from guiagent.mcp.images import (
    DEFAULT_IMAGE_SIZE,
    DEFAULT_MAX_BYTES,
    EncodedImage,
    ImageMapping,
    box_json,
    encode_image,
    fit_size,
    fmt_box,
    fmt_point,
)
from guiagent.mcp.listing import CHARS_PER_TOKEN, DEFAULT_BUDGET, MAX_BUDGET, acts_on, build_listing
from guiagent.mcp.refs import RefTable, element_changed, parse_ref
from guiagent.platform import session_display
from guiagent.screen.capture import Frame

if TYPE_CHECKING:
    from guiagent.desktop.core import Desktop
    from guiagent.elements.model import Snapshot
    from guiagent.grounding.base import Match

CONFIRM_MODES = ("off", "destructive", "all")
CHANGE_RADIUS = 256  # screen pixels around a click where its effect is looked for
_XY = re.compile(r"^\(?\s*(-?\d+(?:\.\d+)?)\s*[, ]\s*(-?\d+(?:\.\d+)?)\s*\)?$")
_SCREEN_POINT = re.compile(r"\((-?\d+), (-?\d+)\)")  # the agent's _fmt(point) in step texts


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How ``guiagent mcp`` runs. ``region``: look and act only inside this screen box.
    ``image_size``: the long side of screenshots; ``max_bytes``: the most one result may
    take, base64 included. ``verify_timeout``: how long a click waits for the screen to change
    near it. ``abort_hotkey``: stops every action for the rest of the session (None: off)."""

    display: str | None = None
    region: Box | None = None
    image_size: int = DEFAULT_IMAGE_SIZE
    max_bytes: int = DEFAULT_MAX_BYTES
    dry_run: bool = False
    read_only: bool = False
    backend: str = "pyautogui"
    failsafe: bool = True
    abort_hotkey: str | None = "ctrl+alt+shift+q"
    verify_timeout: float = 1.0
    model: bool = False  # a vision-language model is configured (guiagent.grounding.vlm)
    confirm: str = "off"  # ask the user (MCP elicitation) before clicks: off, destructive, all

    def __post_init__(self) -> None:
        if self.image_size < 64:
            raise ValueError(f"--image-size must be at least 64 pixels, got {self.image_size}")
        if self.confirm not in CONFIRM_MODES:
            raise ValueError(f"--confirm must be one of {', '.join(CONFIRM_MODES)}, got {self.confirm!r}")
        if self.max_bytes < 100_000:
            raise ValueError(f"the result size limit must be at least 100000 bytes, got {self.max_bytes}")


@dataclass(slots=True)
class ToolOutput:
    """A tool's answer: text for the model, ``data`` for ``structured_content``, maybe an image."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)
    image: EncodedImage | None = None


@dataclass(frozen=True, slots=True)
class _Place:
    """A resolved place to act: its screen point, how the client named it, its screen box."""

    point: Point
    what: str
    box: Box | None = None
    label: str = ""  # the words on it, as far as known (to tell destructive clicks)


SNAPSHOT_A11Y_TIMEOUT_S = 5.0


def display_missing_message() -> str:
    return ("no display: the server was started without --display and without $DISPLAY (or "
            "$WAYLAND_DISPLAY). MCP clients start servers with a minimal environment: add "
            '--display :0 to the server\'s arguments, or "env": {"DISPLAY": ":0"} to its entry in '
            "the client config")


class DesktopSession:
    """The state one MCP session keeps: the desktop, the last mapping, the last refs."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self._desktop: Desktop | None = None
        self._mapping: ImageMapping | None = None
        self.refs = RefTable()

    # -- the desktop ------------------------------------------------------------------------
    @property
    def display(self) -> str | None:
        return self.options.display or session_display()

    def desktop(self) -> Desktop:
        if self._desktop is None:
            if not self.display:
                raise ToolError(display_missing_message())
            from guiagent.desktop.core import Desktop

            o = self.options  # an abort hotkey that cannot listen warns on stderr, the client's log
            self._desktop = Desktop(self.display, backend=o.backend, dry_run=o.dry_run,
                                    failsafe=o.failsafe, allowed_region=o.region,
                                    abort_hotkey=None if o.dry_run else o.abort_hotkey)
        return self._desktop

    def close(self) -> None:
        if self._desktop is not None:
            self._desktop.close()
            self._desktop = None

    def screen_size(self) -> Size:
        box = self.desktop().screen.monitor(0).box
        return Size(int(box.width), int(box.height))

    def view(self) -> Box:
        """The screen box tools look at and act in: ``--region`` or the whole desktop."""
        desktop_box = self.desktop().screen.monitor(0).box
        region = self.options.region
        if region is None:
            return desktop_box
        inside = region.intersection(desktop_box)
        if inside is None:
            raise ToolError(f"the server's --region {fmt_box(region)} lies outside the screen "
                            f"{fmt_box(desktop_box)}: restart it with a region on the screen")
        return inside.integer()

    def capture(self, box: Box | None = None) -> Frame:
        return self.desktop().capture(region=box or self.view())

    def mapping(self) -> ImageMapping:
        """The last screenshot's mapping, or the one a plain screenshot would have."""
        if self._mapping is None:
            frame = self.capture()
            self._mapping = ImageMapping.for_frame(
                frame, fit_size(frame.width, frame.height, self.options.image_size), self.screen_size())
        return self._mapping

    # -- seeing -----------------------------------------------------------------------------
    def screenshot(self, region: Any = None) -> ToolOutput:
        box = self._region_to_screen(region) if region is not None else self.view()
        frame = self.capture(box)
        size = fit_size(frame.width, frame.height, self.options.image_size)
        image = encode_image(frame.pixels, size, max_bytes=self.options.max_bytes)
        mapping = ImageMapping.for_frame(frame, image.size, self.screen_size())
        self._mapping = mapping
        text = (f"{mapping.describe()}. {image.format.upper()}, {image.sent_bytes} bytes sent. "
                "Every tool takes and returns coordinates in pixels of this image until the next "
                "screenshot.")
        return ToolOutput(text, {"mapping": mapping.to_json(), "format": image.format,
                                 "bytes": image.sent_bytes}, image)

    def zoom(self, region: Any) -> ToolOutput:
        shot = self.mapping()
        box = self._region_to_screen(region)
        frame = self.capture(box)
        size = fit_size(frame.width, frame.height, self.options.image_size)
        image = encode_image(frame.pixels, size, max_bytes=self.options.max_bytes)
        mapping = ImageMapping.for_frame(frame, image.size, self.screen_size(), kind="zoom")
        # zoom pixel (u, v) -> screenshot pixel: origin + (u, v) * factor
        origin = shot.from_screen(mapping.origin)
        factor = mapping.scale_x / shot.scale_x
        resolution = ("full resolution" if abs(mapping.scale_x * frame.scale - 1) < 1e-6
                      else f"{100 / (mapping.scale_x * frame.scale):.0f}% of full resolution")
        text = (f"{mapping.describe()} ({resolution}). This zoom does not change the coordinate "
                f"space: a point (u, v) of this image is screenshot pixel "
                f"({origin.x:.1f} + u * {factor:.4g}, {origin.y:.1f} + v * {factor:.4g}); "
                "pass screenshot pixels to the other tools.")
        return ToolOutput(text, {
            "mapping": mapping.to_json(),
            "to_screenshot": {"origin": [round(origin.x, 3), round(origin.y, 3)],
                              "scale": round(factor, 6)},
            "format": image.format, "bytes": image.sent_bytes,
        }, image)

    def snapshot(self, window: str | None = None, interactive_only: bool = True,
                 budget: int | None = None, region: Any = None) -> ToolOutput:
        from guiagent.elements.snapshot import take_snapshot

        tokens = DEFAULT_BUDGET if budget is None else int(budget)
        if not 100 <= tokens <= MAX_BUDGET:
            raise ToolError(f"budget is in tokens of listing text, between 100 and {MAX_BUDGET}; "
                            f"got {budget!r}")
        mapping = self.mapping()
        area = self._region_to_screen(region) if region is not None else self.view()
        desktop = self.desktop()
        # A whole busy screen's tree can take more than a grounding step's 2 s on a loaded
        # machine; a snapshot is the client's map, worth waiting a little longer for.
        snapshot: Snapshot = take_snapshot(desktop, window=window, a11y_timeout=SNAPSHOT_A11Y_TIMEOUT_S)
        elements = [e for e in snapshot.elements if area.contains(e.box.center)
                    and (acts_on(e) or not interactive_only)]
        header = ("{count} of {total} elements listed, grouped by window; boxes are x,y,w,h in "
                  "screenshot pixels; click one with ref=\"e3\" (refs stay valid until the next "
                  "snapshot)")
        limit_tokens = min(tokens, max(1000, self.options.max_bytes // 3) // CHARS_PER_TOKEN)
        listing = build_listing(elements, mapping.box_from_screen, budget_tokens=limit_tokens,
                                reserve_chars=len(header) + 16)
        self.refs.set_snapshot(snapshot, [e for e in elements if e.ref in {x.ref for x in listing.listed}])
        scope = [f"window={window!r}"] if window else []
        if region is not None:
            scope.append(f"region {fmt_box(mapping.box_from_screen(area))}")
        if not interactive_only:
            scope.append("all elements")
        first = header.format(count=len(listing.listed), total=listing.total)
        if scope:
            first += f" ({', '.join(scope)})"
        notes = [*snapshot.notes, *listing.notes]
        text = "\n".join([first, *listing.lines, *(f"note: {n}" for n in notes)])
        data = {
            "mapping": mapping.to_json(),
            "elements": listing.structured(),
            "total": listing.total,
            "left_out": listing.left_out,
            "notes": notes,
        }
        return ToolOutput(text, data)

    def find(self, target: str, limit: int = 5) -> ToolOutput:
        from guiagent.grounding import locate_all

        mapping = self.mapping()
        frame = self.capture()
        matches = locate_all(frame, target, limit=max(1, min(int(limit), 20)))
        lines, items = [], []
        for ref, match in self.refs.set_matches(matches).items():
            item = self._match_json(ref, match, mapping)
            items.append(item)
            lines.append(_match_line(item))
        header = (f"{len(matches)} match{'es' if len(matches) != 1 else ''} for {target}; points "
                  "and boxes (x,y,w,h) in screenshot pixels; click one with ref=\"m1\"")
        return ToolOutput("\n".join([header, *lines]), {"mapping": mapping.to_json(), "matches": items})

    def wait_for(self, target: str, gone: bool = False, timeout: float = 10.0) -> ToolOutput:
        from guiagent.errors import TargetNotFound, WaitTimeout
        from guiagent.grounding import locate
        from guiagent.grounding.base import Target
        from guiagent.screen.polling import poll_screen

        timeout = min(max(0.0, float(timeout)), 120.0)
        mapping = self.mapping()
        parsed = Target.parse(target)

        def look(frame: Frame) -> tuple[Match | None] | None:
            try:
                match = locate(frame, parsed)
            except TargetNotFound:
                return (None,) if gone else None
            return None if gone else (match,)

        started = time.perf_counter()
        polled = poll_screen(self.capture, look, timeout=timeout, interval=0.1)
        elapsed = time.perf_counter() - started
        if polled.value is None:
            state = "disappear" if gone else "appear"
            raise WaitTimeout(f"{parsed.describe()} did not {state} within {timeout:g} s; take a "
                              "screenshot to see what the screen shows")
        match = polled.value[0]
        if match is None:
            return ToolOutput(f"{parsed.describe()} is gone (after {elapsed:.2f} s)",
                              {"gone": True, "elapsed_s": round(elapsed, 3)})
        self.refs.set_matches([match])
        item = self._match_json("m1", match, mapping)
        return ToolOutput(f"{parsed.describe()} is visible after {elapsed:.2f} s: {_match_line(item)}",
                          {"match": item, "elapsed_s": round(elapsed, 3), "mapping": mapping.to_json()})

    def ask(self, question: str) -> ToolOutput:
        if not self.options.model:
            raise ToolError("ask needs a vision-language model: restart the server with --model DIR "
                            "(a local checkpoint) or --vlm-url URL --vlm-model NAME; or read the "
                            "screen yourself with screenshot and zoom")
        from guiagent.grounding import get_grounder
        from guiagent.grounding.vlm import VlmGrounder
        from guiagent.grounding.vlm.ask import ask_screen

        grounder = get_grounder("vlm")
        if not isinstance(grounder, VlmGrounder):  # pragma: no cover - registered by configure_vlm
            raise ToolError("the configured model grounder cannot answer questions")
        mapping = self.mapping()
        frame = self.capture()
        answer = ask_screen(frame, question, grounder)
        window = mapping.box_from_screen(frame.to_screen_transform.apply_box(answer.window))
        return ToolOutput(f"{answer.text}\n(read from screenshot area {fmt_box(window)})",
                          {"answer": answer.text, "window": box_json(window),
                           "elapsed_ms": round(answer.elapsed_ms, 1)})

    # -- acting -----------------------------------------------------------------------------
    def click_place(self, target: str | None = None, ref: str | None = None, x: float | None = None,
                    y: float | None = None, button: str = "left", count: int = 1) -> _Place:
        """Where a click would land (arguments checked, the target grounded), nothing done."""
        if button not in ("left", "right", "middle"):
            raise ToolError(f"button must be left, right or middle, got {button!r}")
        if not 1 <= int(count) <= 3:
            raise ToolError(f"count must be 1, 2 (double-click) or 3, got {count}")
        self._check_not_aborted()
        return self._place(target=target, ref=ref, x=x, y=y)

    def confirmation(self, place: _Place, button: str = "left", count: int = 1) -> str | None:
        """The question to ask the user before this click (``--confirm``), or None."""
        mode = self.options.confirm
        if mode == "off" or self.options.dry_run:
            return None
        if mode == "destructive" and not is_destructive(place.label):
            return None
        verb = {1: "click", 2: "double-click", 3: "triple-click"}[int(count)]
        verb = verb if button == "left" else f"{button}-{verb}"
        at = fmt_point(self.mapping().from_screen(place.point))
        what = f"{place.what} " if place.what else ""
        return f"An AI assistant wants to {verb} {what}at {at} (screenshot pixels) on your desktop. Allow it?"

    def click(self, target: str | None = None, ref: str | None = None, x: float | None = None,
              y: float | None = None, button: str = "left", count: int = 1,
              place: _Place | None = None) -> ToolOutput:
        """Click; ``place``: one :meth:`click_place` resolved (and the user confirmed)."""
        from guiagent.input.actions import Click

        if place is None:
            place = self.click_place(target, ref, x, y, button, count)
        else:
            self._check_not_aborted()
        before = self._near_capture(place.point)
        record = self._act(Click(place.point, cast(MouseButton, button), int(count)))
        mapping = self.mapping()
        at = mapping.from_screen(place.point)
        verb = {1: "clicked", 2: "double-clicked", 3: "triple-clicked"}[int(count)]
        verb = verb if button == "left" else f"{button}-{verb}"
        data: dict[str, Any] = {"point": [round(at.x, 1), round(at.y, 1)], "target": place.what or None,
                                "performed": record.performed}
        if not record.performed:
            data["changed"] = None
            return ToolOutput(f"dry run: would have {verb} {_on(place)}at {fmt_point(at)}", data)
        changed, waited = self._await_change(before)
        data["changed"] = changed is not None
        if changed is not None:
            where = mapping.box_from_screen(changed)
            data["changed_box"] = box_json(where)
            seen = f"the screen changed near it ({fmt_box(where)}) after {waited * 1000:.0f} ms"
        else:
            seen = (f"no change on the screen near it within {self.options.verify_timeout:g} s "
                    "(the click may have missed, or the target shows no reaction)")
        return ToolOutput(f"{verb} {_on(place)}at {fmt_point(at)}; {seen}", data)

    def type_text(self, text: str, into: str | None = None) -> ToolOutput:
        from guiagent.input.actions import Click, TypeText

        if not text:
            raise ToolError("text is empty: pass the text to type")
        self._check_not_aborted()
        clicked = ""
        if into:
            place = self._place_spec(into)
            self._act(Click(place.point))
            clicked = f" into {_on(place)}at {fmt_point(self.mapping().from_screen(place.point))}"
        record = self._act(TypeText(text))
        prefix = "dry run: would have typed" if not record.performed else "typed"
        return ToolOutput(f"{prefix} {len(text)} characters{clicked}",
                          {"characters": len(text), "performed": record.performed})

    def press_key(self, keys: str, presses: int = 1) -> ToolOutput:
        from guiagent.input.actions import key_action

        self._check_not_aborted()
        presses = int(presses)
        if not 1 <= presses <= 100:
            raise ToolError(f"presses must be between 1 and 100, got {presses}")
        action = key_action(keys, presses=presses)
        record = self._act(action)
        times = f" {presses} times" if presses > 1 else ""
        prefix = "dry run: would have pressed" if not record.performed else "pressed"
        return ToolOutput(f"{prefix} {keys}{times}", {"keys": keys, "presses": presses,
                                                      "performed": record.performed})

    def scroll(self, direction: str = "down", amount: int = 3, target: str | None = None,
               ref: str | None = None, x: float | None = None, y: float | None = None) -> ToolOutput:
        from guiagent.input.actions import Scroll

        if direction not in ("up", "down", "left", "right"):
            raise ToolError(f"direction must be up, down, left or right, got {direction!r}")
        self._check_not_aborted()
        if target is None and ref is None and x is None and y is None:
            place = _Place(self.view().center, "the middle of the screen area")
        else:
            place = self._place(target=target, ref=ref, x=x, y=y)
        amount = max(1, min(int(amount), 50))
        record = self._act(Scroll(place.point, cast(ScrollDirection, direction), amount))
        at = self.mapping().from_screen(place.point)
        prefix = "dry run: would have scrolled" if not record.performed else "scrolled"
        return ToolOutput(f"{prefix} {direction} {amount} over {_on(place)}at {fmt_point(at)}",
                          {"point": [round(at.x, 1), round(at.y, 1)], "performed": record.performed})

    def drag(self, start: str, end: str, duration: float = 0.3) -> ToolOutput:
        from guiagent.input.actions import Drag

        self._check_not_aborted()
        a, b = self._place_spec(start), self._place_spec(end)
        duration = min(max(0.0, float(duration)), 10.0)
        record = self._act(Drag(a.point, b.point, "left", duration))
        mapping = self.mapping()
        pa, pb = mapping.from_screen(a.point), mapping.from_screen(b.point)
        prefix = "dry run: would have dragged" if not record.performed else "dragged"
        return ToolOutput(f"{prefix} from {_on(a)}{fmt_point(pa)} to {_on(b)}{fmt_point(pb)}",
                          {"start": [round(pa.x, 1), round(pa.y, 1)], "end": [round(pb.x, 1), round(pb.y, 1)],
                           "performed": record.performed})

    def do(self, command: str, timeout: float = 10.0) -> ToolOutput:
        from guiagent.agent.loop import do
        from guiagent.errors import StepFailed

        self._check_not_aborted()
        mapping = self.mapping()
        try:
            report = do(self.desktop(), command, dry_run=self.options.dry_run, region=self.options.region,
                        timeout=min(max(0.0, float(timeout)), 120.0))
        except StepFailed as failed:
            raise ToolError(f"{failed}\n{self._steps_text(failed.report, mapping)}") from None
        data = report.to_dict()
        for step in data["steps"]:
            step["points"] = [[round(c, 1) for c in mapping.from_screen(p)] for p in step["points"]]
            step["decision"] = _image_points(step["decision"], mapping)
        outcome = "dry run, nothing was done" if report.dry_run else "done"
        return ToolOutput(f"{outcome} in {report.elapsed_s:.2f} s:\n{self._steps_text(report, mapping)}",
                          {"ok": report.ok, "dry_run": report.dry_run, "steps": data["steps"],
                           "mapping": mapping.to_json()})

    # -- helpers ----------------------------------------------------------------------------
    def _steps_text(self, report: Any, mapping: ImageMapping) -> str:
        lines = []
        for s in report.steps:
            mark = {"done": "ok", "dry-run": "dry", "failed": "FAILED", "not run": "--"}[s.status]
            detail = s.error if s.status == "failed" else s.decision
            lines.append(f"{s.index}. [{mark}] {s.step.describe()}: {_image_points(detail, mapping)}")
        return "\n".join(lines)

    def _region_to_screen(self, region: Any) -> Box:
        """A region argument (x,y,w,h in screenshot pixels) -> a whole-pixel screen box in view."""
        values = _numbers(region, 4, "region", "x,y,w,h in screenshot pixels, e.g. \"100,80,400,300\"")
        if values[2] <= 0 or values[3] <= 0:
            raise ToolError(f"region width and height must be positive, got {region!r}")
        mapping = self.mapping()
        box = mapping.box_to_screen(Box(*values)).integer()
        view = self.view()
        inside = box.intersection(view)
        if inside is None:
            shown = mapping.box_from_screen(view)
            raise ToolError(f"region {fmt_box(Box(*values))} lies outside the area this server may "
                            f"look at ({fmt_box(shown)} in screenshot pixels)")
        return inside.integer()

    def _place(self, *, target: str | None, ref: str | None, x: float | None,
               y: float | None) -> _Place:
        given = [name for name, v in (("target", target), ("ref", ref)) if v not in (None, "")]
        if x is not None or y is not None:
            given.append("x,y")
        if len(given) != 1:
            what = "none" if not given else " and ".join(given)
            raise ToolError(f"give exactly one of target (e.g. '\"Save\"'), ref (e.g. 'e12' from "
                            f"snapshot or 'm1' from find) or x and y (screenshot pixels); got {what}")
        if ref:
            return self._ref_place(ref)
        if target:
            return self._target_place(target)
        if x is None or y is None:
            raise ToolError("give both x and y (screenshot pixels)")
        return self._xy_place(float(x), float(y))

    def _place_spec(self, spec: str) -> _Place:
        """One string naming a place: a ref ("e12", "m1"), a point "x,y" or a target."""
        text = str(spec).strip()
        if parse_ref(text) is not None:
            return self._ref_place(text)
        xy = _XY.match(text)
        if xy:
            return self._xy_place(float(xy.group(1)), float(xy.group(2)))
        return self._target_place(text)

    def _xy_place(self, x: float, y: float) -> _Place:
        mapping = self.mapping()
        if not mapping.contains((x, y)):
            w, h = mapping.image_size.width, mapping.image_size.height
            raise ToolError(f"point ({x:g}, {y:g}) is outside the last screenshot ({w}x{h} pixels): "
                            "coordinates are pixels of the last screenshot image, 0 <= x < "
                            f"{w}, 0 <= y < {h}; nothing was done")
        point = mapping.to_screen((x, y))
        return _Place(point, "", label=self._label_at(point))

    def _ref_place(self, ref: str) -> _Place:
        key = parse_ref(ref)
        if key is None:
            raise ToolError(f"{ref!r} is not a ref: refs look like e12 (from snapshot) or m1 (from find)")
        if key.startswith("m"):
            match = self.refs.match(key)
            assert match.screen_point is not None  # locate_all sets it
            return _Place(match.screen_point, f"{key} ({_match_name(match)})", match.screen_box,
                          label=match.text or "")
        element = self.refs.element(key)
        if element_changed(self.refs.snapshot_frame, element, self.capture(element.box.integer())):
            raise ToolError(f"stale ref {key!r}: the screen changed where {element.role} "
                            f"{element.name!r} was when the snapshot was taken; take a new snapshot")
        return _Place(element.box.center, f"{key} ({element.role} {element.name!r})", element.box,
                      label=element.name)

    def _target_place(self, target: str) -> _Place:
        from guiagent.grounding import locate_all

        if parse_ref(target) is not None:
            return self._ref_place(target)
        frame = self.capture()
        matches = locate_all(frame, target, limit=3)
        best = matches[0]
        rivals = [m for m in matches[1:] if best.score - m.score <= 0.02 and not _same_place(best, m)]
        if rivals:
            mapping = self.mapping()
            found = self.refs.set_matches([best, *rivals])
            options = "; ".join(_match_line(self._match_json(r, m, mapping)) for r, m in found.items())
            raise ToolError(f"{target} matches {len(found)} places equally well: {options}. "
                            "Say which with ref=\"m1\" (or m2...), or describe it more precisely")
        assert best.screen_point is not None
        return _Place(best.screen_point, f"{target} ({_match_name(best)})", best.screen_box,
                      label=f"{target} {best.text or ''}")

    def _label_at(self, point: Point) -> str:
        """The name of the smallest element of the last snapshot under a screen point."""
        under = [e for e in self.refs.elements() if e.box.contains(point)]
        return min(under, key=lambda e: e.box.area).name if under else ""

    def _act(self, action: Any) -> Any:
        try:
            return self.desktop().run(action)
        except AbortedError as exc:
            raise ToolError(self._aborted_message(exc)) from None
        except OutOfBoundsError as exc:
            raise ToolError(self._outside_message(action, exc)) from None

    def _outside_message(self, action: Any, exc: OutOfBoundsError) -> str:
        from guiagent.input.actions import action_points

        mapping = self.mapping()
        points = ", ".join(fmt_point(mapping.from_screen(p)) for p in action_points(action))
        region = self.options.region
        if region is not None:
            allowed = mapping.box_from_screen(region)
            return (f"point {points} (screenshot pixels) is outside the region this server may act "
                    f"in ({fmt_box(allowed)} in screenshot pixels); nothing was done")
        return f"point {points} (screenshot pixels) is outside the screen; nothing was done ({exc})"

    def _check_not_aborted(self) -> None:
        desktop = self.desktop()
        if desktop.executor.aborted:
            raise ToolError(self._aborted_message(None))

    def _aborted_message(self, exc: BaseException | None) -> str:
        hotkey = self.options.abort_hotkey or "the abort hotkey"
        if exc is not None and not str(exc).startswith("stopped by the abort hotkey"):
            return f"stopped: {exc}"
        return (f"the user pressed the abort hotkey ({hotkey}): this server refuses every action "
                "from now on; tell the user, who can restart the server to go on")

    def _near_capture(self, point: Point) -> tuple[Box, Frame] | None:
        if self.options.dry_run:
            return None
        box = Box(point.x - CHANGE_RADIUS, point.y - CHANGE_RADIUS, 2 * CHANGE_RADIUS,
                  2 * CHANGE_RADIUS).intersection(self.desktop().screen.monitor(0).box)
        if box is None:
            return None
        box = box.integer()
        return box, self.capture(box)

    def _await_change(self, before: tuple[Box, Frame] | None) -> tuple[Box | None, float]:
        """Poll until the screen around a click differs from ``before``: the changed screen box
        (or None after the verify timeout) and the seconds waited."""
        from guiagent.screen.polling import poll_screen

        if before is None:
            return None, 0.0
        box, frame = before

        def changed(now: Frame) -> Box | None:
            boxes = now.changed_since(frame, tolerance=8)
            if not boxes:
                return None
            union = boxes[0]
            for b in boxes[1:]:
                union = union.union(b)
            return now.to_screen_transform.apply_box(union)

        started = time.perf_counter()
        polled = poll_screen(lambda: self.capture(box), changed, timeout=self.options.verify_timeout,
                             interval=0.03, on_change_only=False)
        return polled.value, time.perf_counter() - started

    def _match_json(self, ref: str, match: Match, mapping: ImageMapping) -> dict[str, Any]:
        assert match.screen_point is not None
        point = mapping.from_screen(match.screen_point)
        item: dict[str, Any] = {"ref": ref, "point": [round(point.x, 1), round(point.y, 1)],
                                "score": round(match.score, 3), "grounder": match.grounder,
                                "text": match.text, "on_screenshot": mapping.contains(point)}
        if match.screen_box is not None:
            item["box"] = box_json(mapping.box_from_screen(match.screen_box))
        return item


DESTRUCTIVE = re.compile(
    r"\b(delete|remove|discard|erase|destroy|wipe|purge|uninstall|reset|overwrite|replace|"
    r"don'?t save|do not save|without saving|empty (?:the )?(?:trash|bin)|move to (?:the )?(?:trash|bin)|"
    r"permanently|send|pay|purchase|buy|shut ?down|restart|log ?out|sign ?out|quit)\b", re.IGNORECASE)


def is_destructive(label: str) -> bool:
    """Whether a control's words say that clicking it destroys, sends or ends something."""
    return bool(DESTRUCTIVE.search(label.replace("\u2019", "'")))


def _on(place: _Place) -> str:
    """How a place was named, followed by a space ("" for a bare point)."""
    return f"{place.what} " if place.what else ""


def _match_line(item: dict[str, Any]) -> str:
    box = f" box {','.join(str(v) for v in item['box'])}" if "box" in item else ""
    text = f" {item['text']!r}" if item.get("text") else ""
    off = "" if item["on_screenshot"] else " (outside the last screenshot)"
    x, y = item["point"]
    score = f"score {item['score']:.2f} ({item['grounder']})"
    return f"[{item['ref']}]{text} at ({x:.0f}, {y:.0f}){box} {score}{off}"


def _match_name(match: Match) -> str:
    what = repr(match.text) if match.text else "match"
    return f"{what}, {match.grounder} {match.score:.2f}"


def _same_place(a: Match, b: Match) -> bool:
    assert a.screen_point is not None and b.screen_point is not None
    return a.screen_point.distance_to(b.screen_point) <= 8


def _image_points(text: str, mapping: ImageMapping) -> str:
    """Rewrite the screen points the agent writes into step texts, ``(x, y)``, as screenshot
    pixels."""
    def convert(found: re.Match[str]) -> str:
        return fmt_point(mapping.from_screen((float(found.group(1)), float(found.group(2)))))

    return _SCREEN_POINT.sub(convert, text)


def _numbers(value: Any, count: int, name: str, form: str) -> list[float]:
    """Numbers from a list, a "1,2,3,4" string or a JSON list in a string (some clients send
    lists as strings)."""
    items: Any = value
    if isinstance(value, str):
        items = [v for v in re.split(r"[\s,;]+", value.strip().strip("[]()")) if v]
    try:
        numbers = [float(v) for v in items]
    except (TypeError, ValueError):
        raise ToolError(f"{name} must be {form}; got {value!r}") from None
    if len(numbers) != count:
        raise ToolError(f"{name} must be {form}; got {value!r}")
    return numbers

