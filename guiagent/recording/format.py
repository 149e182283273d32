"""The demo format, schema version :data:`SCHEMA_VERSION`: its typed steps, and the one place
that writes (:func:`write_demo`) and reads (:func:`load_demo`) it.

A demo is a folder: ``demo.json`` and PNG assets under ``assets/``. Loading is validation: types,
ranges, sizes, asset paths that must stay inside the folder and be real PNGs of sane size are
checked by hand and a problem is refused with the field's path (``steps[3].target.point``);
nothing in the file is ever executed or used as a path outside the folder.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from guiagent.errors import DemoError, GuiAgentError
from guiagent.platform import WindowInfo

SCHEMA_VERSION = 1
DEMO_FILE = "demo.json"
ASSETS = "assets"

MouseButtonName = Literal["left", "middle", "right"]
ScrollName = Literal["up", "down", "left", "right"]
_BUTTONS: dict[int, MouseButtonName] = {1: "left", 2: "middle", 3: "right"}
_WHEEL: dict[int, ScrollName] = {4: "up", 5: "down", 6: "left", 7: "right"}


# -- the demo format ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TemplateAsset:
    """A crop around the point: ``image`` (a path inside the demo folder) and ``offset``, the
    point's position inside the crop in frame pixels of the recording."""

    image: str
    offset: tuple[float, float]


@dataclass(frozen=True, slots=True)
class ElementRef:
    """The UI element under a pointer step's point when it was recorded (optional).

    ``role`` and ``name`` as :class:`guiagent.elements.Element` has them, ``source`` where it
    came from (``"a11y"``: the application's accessibility tree; ``"vision"``: a control box of
    the frame with its OCR label), ``path`` its place in its application's tree (empty for vision
    elements), ``box`` its screen box then. ``query`` is a target that picked this element and no
    other on that screen (``'"Save As…"'``, ``'the "Bold" toggle button'``), or None when neither
    its label nor its role and label did; ``visible`` whether its label could be read off the
    pixels (an icon-only control's name comes from the tree alone).
    """

    role: str
    name: str
    source: Literal["a11y", "vision"]
    path: tuple[int, ...] = ()
    box: tuple[int, int, int, int] | None = None
    query: str | None = None
    visible: bool = True


@dataclass(frozen=True, slots=True)
class PointerTarget:
    """Everything recorded to find a pointer step's target again.

    ``point`` is in screen coordinates at recording time; ``text`` the words read under it and
    ``text_offset`` the point minus the centre of those words (frame pixels); ``description``
    (hand-written or from a model) feeds a VLM grounder at replay. ``element`` is the UI element
    under the point, when one was found; ``appeared`` the whole labels seen on this step's frame
    that were not on the previous pointer step's frame (the screen changed: a menu, a dialog...).
    """

    point: tuple[float, float]
    frame: str | None = None
    templates: tuple[TemplateAsset, ...] = ()
    text: str | None = None
    text_offset: tuple[float, float] | None = None
    window: WindowInfo | None = None
    description: str | None = None
    element: ElementRef | None = None
    appeared: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClickStep:
    time: float
    target: PointerTarget
    button: MouseButtonName = "left"
    count: int = 1
    modifiers: tuple[str, ...] = ()
    kind: Literal["click"] = "click"


@dataclass(frozen=True, slots=True)
class DragStep:
    time: float
    target: PointerTarget
    end: tuple[float, float]  # screen point of the release at recording time
    button: MouseButtonName = "left"
    kind: Literal["drag"] = "drag"


@dataclass(frozen=True, slots=True)
class ScrollStep:
    time: float
    target: PointerTarget
    direction: ScrollName = "down"
    amount: int = 1
    kind: Literal["scroll"] = "scroll"


@dataclass(frozen=True, slots=True)
class TypeStep:
    """Typed text; a ``secret`` step has no text (it was never written) and needs it at replay."""

    time: float
    text: str | None
    secret: bool = False
    kind: Literal["type"] = "type"


@dataclass(frozen=True, slots=True)
class KeyStep:
    """A key or combination (``"enter"``, ``"ctrl+s"``) pressed ``presses`` times."""

    time: float
    keys: str
    presses: int = 1
    kind: Literal["key"] = "key"


Step = ClickStep | DragStep | ScrollStep | TypeStep | KeyStep
PointerStep = ClickStep | DragStep | ScrollStep


@dataclass(frozen=True, slots=True)
class Check:
    """An expectation the person asked for while recording (the assertion hotkey): what was
    under the pointer (``target``: point, frame, crops, element) after the first ``after``
    steps, and ``text``, what its box read then (None: nothing legible)."""

    after: int
    target: PointerTarget
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Demo:
    """A loaded or recorded demo. ``folder`` is where its assets live."""

    steps: tuple[Step, ...]
    folder: Path
    screen: tuple[int, int] = (0, 0)
    created: str = ""
    redacted: bool = False
    version: int = SCHEMA_VERSION
    appeared_at_end: tuple[str, ...] = ()  # labels new on the screen when the recording stopped
    checks: tuple[Check, ...] = ()  # expectations asked for while recording (codegen's)

    def asset(self, relative: str) -> Path:
        return self.folder / relative

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "created": self.created,
            "screen": list(self.screen),
            "redacted": self.redacted,
            "steps": [step_to_json(s) for s in self.steps],
        }
        if self.appeared_at_end:
            out["appeared_at_end"] = list(self.appeared_at_end)
        if self.checks:
            out["checks"] = [{"after": c.after, "target": _target_json(c.target), "text": c.text}
                             for c in self.checks]
        return out


def _target_json(target: PointerTarget) -> dict[str, Any]:
    out: dict[str, Any] = {
        "point": [round(target.point[0], 2), round(target.point[1], 2)],
        "frame": target.frame,
        "templates": [{"image": t.image, "offset": [round(t.offset[0], 2), round(t.offset[1], 2)]}
                      for t in target.templates],
        "text": target.text,
        "text_offset": None if target.text_offset is None else
        [round(target.text_offset[0], 2), round(target.text_offset[1], 2)],
        "window": None if target.window is None else
        {"title": target.window.title, "box": list(target.window.box)},
    }
    if target.description is not None:
        out["description"] = target.description
    if target.element is not None:
        e = target.element
        out["element"] = {"role": e.role, "name": e.name, "source": e.source, "path": list(e.path),
                          "box": None if e.box is None else list(e.box), "query": e.query,
                          "visible": e.visible}
    if target.appeared:
        out["appeared"] = list(target.appeared)
    return out


def step_to_json(step: Step) -> dict[str, Any]:
    base: dict[str, Any] = {"kind": step.kind, "time": round(step.time, 3)}
    if isinstance(step, ClickStep):
        base.update(button=step.button, count=step.count, modifiers=list(step.modifiers),
                    target=_target_json(step.target))
    elif isinstance(step, DragStep):
        base.update(button=step.button, end=[round(step.end[0], 2), round(step.end[1], 2)],
                    target=_target_json(step.target))
    elif isinstance(step, ScrollStep):
        base.update(direction=step.direction, amount=step.amount, target=_target_json(step.target))
    elif isinstance(step, TypeStep):
        base.update(text=None if step.secret else step.text, secret=step.secret)
    else:
        base.update(keys=step.keys, presses=step.presses)
    return base


def describe_step(step: Step) -> str:
    """A short human description: ``click "Save"``, ``type 'hello'``, ``press ctrl+s``."""
    if isinstance(step, TypeStep):
        return "type a secret text" if step.secret else f"type {step.text!r}"
    if isinstance(step, KeyStep):
        return f"press {step.keys}" + (f" x{step.presses}" if step.presses > 1 else "")
    target = step.target
    where = (f'"{target.text}"' if target.text else
             f"({target.point[0]:g}, {target.point[1]:g})")
    if target.window is not None and target.window.title:
        where += f" in {target.window.title!r}"
    if isinstance(step, ClickStep):
        mods = "+".join(step.modifiers) + "+" if step.modifiers else ""
        what = {1: "click", 2: "double-click"}.get(step.count, f"{step.count}x click")
        button = "" if step.button == "left" else f"{step.button} "
        return f"{mods}{button}{what} {where}"
    if isinstance(step, DragStep):
        return f"drag from {where} by ({step.end[0] - target.point[0]:g}, " \
               f"{step.end[1] - target.point[1]:g})"
    return f"scroll {step.direction} x{step.amount} at {where}"


def write_demo(demo: Demo) -> Path:
    """Atomically (re)write ``demo.json``: a reader or a kill never sees half a file."""
    path = demo.folder / DEMO_FILE
    temporary = demo.folder / f".{DEMO_FILE}.{os.getpid()}.tmp"
    data = json.dumps(demo.to_json(), ensure_ascii=False, indent=1)
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(data + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path




MAX_STEPS = 10_000
MAX_TEMPLATES = 8
MAX_TEXT = 10_000
MAX_COORDINATE = 1_000_000.0
MAX_IMAGE_SIDE = 16_384
MAX_ASSET_BYTES = 64 * 1024 * 1024
MAX_DEMO_BYTES = 32 * 1024 * 1024
MAX_COUNT = 100
MAX_LABELS = 50
MAX_PATH = 64
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_ASSET_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


# -- loading and validation ---------------------------------------------------------------------


class _Checker:
    """Walks the JSON with a path for messages: ``steps[3].target.point``."""

    def __init__(self, folder: Path, where: str) -> None:
        self.folder = folder
        self.where = where

    def fail(self, path: str, problem: str) -> DemoError:
        return DemoError(f"{self.where}: {path} {problem}; fix or re-record the demo "
                         f"(schema version {SCHEMA_VERSION})")

    def obj(self, value: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
            ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be an object, got {_kind(value)}")
        missing = [k for k in required if k not in value]
        if missing:
            raise self.fail(path, f"lacks {', '.join(missing)}")
        unknown = sorted(str(k) for k in value if k not in required and k not in optional)
        if unknown:
            raise self.fail(path, f"has unknown field(s) {', '.join(unknown[:5])}")
        return value

    def number(self, value: Any, path: str, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise self.fail(path, f"must be a number, got {_kind(value)}")
        if not low <= value <= high:
            raise self.fail(path, f"must be between {low:g} and {high:g}, got {value:g}")
        return float(value)

    def integer(self, value: Any, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be a whole number, got {_kind(value)}")
        if not low <= value <= high:
            raise self.fail(path, f"must be between {low} and {high}, got {value}")
        return value

    def string(self, value: Any, path: str, *, max_length: int = MAX_TEXT, empty: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"must be text, got {_kind(value)}")
        if len(value) > max_length:
            raise self.fail(path, f"is {len(value)} characters long, more than {max_length}")
        if not empty and not value:
            raise self.fail(path, "must not be empty")
        return value

    def optional_string(self, value: Any, path: str) -> str | None:
        return None if value is None else self.string(value, path)

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> Any:
        if value not in choices or not isinstance(value, str):
            raise self.fail(path, f"must be one of {', '.join(choices)}, got {_short(value)}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {_kind(value)}")
        return value

    def pair(self, value: Any, path: str, limit: float = MAX_COORDINATE) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(path, f"must be a list of two numbers, got {_short(value)}")
        return (self.number(value[0], f"{path}[0]", -limit, limit),
                self.number(value[1], f"{path}[1]", -limit, limit))

    def asset(self, value: Any, path: str) -> str:
        text = self.string(value, path, max_length=512)
        if text.startswith("/") or "\\" in text or not _ASSET_PATH.match(text) or \
                any(part in ("..", ".") for part in text.split("/")):
            raise self.fail(path, f"must be a relative path inside the demo folder, got {text!r}")
        full = self.folder / text
        try:
            resolved = full.resolve(strict=True)
            inside = resolved.is_relative_to(self.folder.resolve())
        except (OSError, RuntimeError):
            raise self.fail(path, f"names a missing asset {text!r} (expected the file {full})") from None
        if not inside:
            raise self.fail(path, f"{text!r} leads outside the demo folder (a link?)")
        if not resolved.is_file():
            raise self.fail(path, f"{text!r} is not a file")
        size = resolved.stat().st_size
        if size > MAX_ASSET_BYTES:
            raise self.fail(path, f"{text!r} is {size} bytes, more than {MAX_ASSET_BYTES}")
        with open(resolved, "rb") as handle:
            header = handle.read(24)
        if len(header) < 24 or header[:8] != _PNG_MAGIC or header[12:16] != b"IHDR":
            raise self.fail(path, f"{text!r} is not a PNG image")
        width, height = struct.unpack(">II", header[16:24])
        if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
            raise self.fail(path, f"{text!r} is {width}x{height} pixels; at most "
                                  f"{MAX_IMAGE_SIDE} a side")
        return text


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null",
             int: "a number", float: "a number"}
    return f"{names.get(type(value), type(value).__name__)} ({_short(value)})"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _target(check: _Checker, value: Any, path: str) -> PointerTarget:
    data = check.obj(value, path, ("point",),
                     ("frame", "templates", "text", "text_offset", "window", "description", "element",
                      "appeared"))
    point = check.pair(data["point"], f"{path}.point")
    frame = data.get("frame")
    if frame is not None:
        frame = check.asset(frame, f"{path}.frame")
    raw_templates = data.get("templates", [])
    if not isinstance(raw_templates, list):
        raise check.fail(f"{path}.templates", f"must be a list, got {_kind(raw_templates)}")
    if len(raw_templates) > MAX_TEMPLATES:
        raise check.fail(f"{path}.templates", f"has {len(raw_templates)} entries, at most {MAX_TEMPLATES}")
    templates = []
    for i, item in enumerate(raw_templates):
        where = f"{path}.templates[{i}]"
        entry = check.obj(item, where, ("image", "offset"))
        templates.append(TemplateAsset(check.asset(entry["image"], f"{where}.image"),
                                       check.pair(entry["offset"], f"{where}.offset", MAX_IMAGE_SIDE)))
    text = check.optional_string(data.get("text"), f"{path}.text")
    offset = data.get("text_offset")
    text_offset = None if offset is None else check.pair(offset, f"{path}.text_offset", MAX_IMAGE_SIDE)
    window = None
    if data.get("window") is not None:
        w = check.obj(data["window"], f"{path}.window", ("title", "box"))
        title = check.string(w["title"], f"{path}.window.title", max_length=1000, empty=True)
        box = w["box"]
        if not isinstance(box, list) or len(box) != 4:
            raise check.fail(f"{path}.window.box", f"must be [x, y, width, height], got {_short(box)}")
        x = check.integer(box[0], f"{path}.window.box[0]", -100_000, 100_000)
        y = check.integer(box[1], f"{path}.window.box[1]", -100_000, 100_000)
        width = check.integer(box[2], f"{path}.window.box[2]", 1, 100_000)
        height = check.integer(box[3], f"{path}.window.box[3]", 1, 100_000)
        window = WindowInfo(title, (x, y, width, height))
    description = check.optional_string(data.get("description"), f"{path}.description")
    element = None if data.get("element") is None else _element(check, data["element"], f"{path}.element")
    appeared = _labels(check, data.get("appeared", []), f"{path}.appeared")
    return PointerTarget(point, frame, tuple(templates), text, text_offset, window, description,
                         element, appeared)


def _labels(check: _Checker, value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise check.fail(path, f"must be a list of labels, got {_kind(value)}")
    if len(value) > MAX_LABELS:
        raise check.fail(path, f"has {len(value)} entries, at most {MAX_LABELS}")
    return tuple(check.string(v, f"{path}[{i}]", max_length=1000) for i, v in enumerate(value))


def _element(check: _Checker, value: Any, path: str) -> ElementRef:
    data = check.obj(value, path, ("role", "name", "source"), ("path", "box", "query", "visible"))
    role = check.string(data["role"], f"{path}.role", max_length=100)
    name = check.string(data["name"], f"{path}.name", max_length=1000, empty=True)
    source = check.choice(data["source"], f"{path}.source", ("a11y", "vision"))
    raw_path = data.get("path", [])
    if not isinstance(raw_path, list) or len(raw_path) > MAX_PATH:
        raise check.fail(f"{path}.path", f"must be a list of at most {MAX_PATH} child indexes, "
                                         f"got {_short(raw_path)}")
    tree_path = tuple(check.integer(v, f"{path}.path[{i}]", 0, 1_000_000) for i, v in enumerate(raw_path))
    box = None
    if data.get("box") is not None:
        raw = data["box"]
        if not isinstance(raw, list) or len(raw) != 4:
            raise check.fail(f"{path}.box", f"must be [x, y, width, height], got {_short(raw)}")
        box = (check.integer(raw[0], f"{path}.box[0]", -100_000, 100_000),
               check.integer(raw[1], f"{path}.box[1]", -100_000, 100_000),
               check.integer(raw[2], f"{path}.box[2]", 0, 100_000),
               check.integer(raw[3], f"{path}.box[3]", 0, 100_000))
    query = None if data.get("query") is None else check.string(data["query"], f"{path}.query",
                                                                  max_length=1100)
    visible = check.boolean(data.get("visible", True), f"{path}.visible")
    return ElementRef(role, name, source, tree_path, box, query, visible)


_TARGET_KINDS = ("click", "drag", "scroll")


def _step(check: _Checker, value: Any, path: str) -> Step:
    if not isinstance(value, dict):
        raise check.fail(path, f"must be an object, got {_kind(value)}")
    kind = check.choice(value.get("kind"), f"{path}.kind", ("click", "drag", "scroll", "type", "key"))
    fields = {
        "click": (("kind", "time", "target"), ("button", "count", "modifiers")),
        "drag": (("kind", "time", "target", "end"), ("button",)),
        "scroll": (("kind", "time", "target", "direction"), ("amount",)),
        "type": (("kind", "time"), ("text", "secret")),
        "key": (("kind", "time", "keys"), ("presses",)),
    }[kind]
    data = check.obj(value, path, *fields)
    at = check.number(data["time"], f"{path}.time", 0, 10 * 365 * 86400)
    if kind == "click":
        modifiers = data.get("modifiers", [])
        if not isinstance(modifiers, list) or len(modifiers) > 5:
            raise check.fail(f"{path}.modifiers", f"must be a list of key names, got {_short(modifiers)}")
        mods = tuple(check.choice(m, f"{path}.modifiers[{i}]", ("ctrl", "alt", "altgr", "shift", "super"))
                     for i, m in enumerate(modifiers))
        return ClickStep(at, _target(check, data["target"], f"{path}.target"),
                         check.choice(data.get("button", "left"), f"{path}.button",
                                      ("left", "middle", "right")),
                         check.integer(data.get("count", 1), f"{path}.count", 1, 3), mods)
    if kind == "drag":
        return DragStep(at, _target(check, data["target"], f"{path}.target"),
                        check.pair(data["end"], f"{path}.end"),
                        check.choice(data.get("button", "left"), f"{path}.button",
                                     ("left", "middle", "right")))
    if kind == "scroll":
        return ScrollStep(at, _target(check, data["target"], f"{path}.target"),
                          check.choice(data["direction"], f"{path}.direction",
                                       ("up", "down", "left", "right")),
                          check.integer(data.get("amount", 1), f"{path}.amount", 1, MAX_COUNT))
    if kind == "type":
        secret = check.boolean(data.get("secret", False), f"{path}.secret")
        text = data.get("text")
        if secret:
            if text is not None:
                raise check.fail(f"{path}.text", "must be null in a secret step (a secret is never "
                                                 "stored)")
            return TypeStep(at, None, True)
        return TypeStep(at, check.string(text, f"{path}.text"))
    keys = check.string(data["keys"], f"{path}.keys", max_length=100)
    from guiagent.keys import parse_keys

    try:
        parse_keys(keys)
    except GuiAgentError as exc:
        raise check.fail(f"{path}.keys", f"is not a key combination ({exc})") from None
    return KeyStep(at, keys, check.integer(data.get("presses", 1), f"{path}.presses", 1, MAX_COUNT))


def parse_demo(data: Any, folder: str | os.PathLike[str], *, where: str = DEMO_FILE) -> Demo:
    """Validate decoded JSON ``data`` (assets looked up in ``folder``); raises :class:`DemoError`."""
    root = Path(folder)
    check = _Checker(root, where)
    obj = check.obj(data, "the file", ("version", "steps"),
                    ("created", "screen", "redacted", "appeared_at_end", "checks"))
    version = obj["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version != SCHEMA_VERSION:
        raise DemoError(
            f"{where}: schema version {_short(version)} is not supported; this guiagent reads "
            f"version {SCHEMA_VERSION} (re-record the demo, or use the guiagent that recorded it)"
        )
    steps_raw = obj["steps"]
    if not isinstance(steps_raw, list):
        raise check.fail("steps", f"must be a list, got {_kind(steps_raw)}")
    if len(steps_raw) > MAX_STEPS:
        raise check.fail("steps", f"has {len(steps_raw)} entries, at most {MAX_STEPS}")
    steps = tuple(_step(check, s, f"steps[{i}]") for i, s in enumerate(steps_raw))
    created = check.string(obj.get("created", ""), "created", max_length=100, empty=True)
    screen = obj.get("screen", [0, 0])
    if not isinstance(screen, list) or len(screen) != 2:
        raise check.fail("screen", f"must be [width, height], got {_short(screen)}")
    size = (check.integer(screen[0], "screen[0]", 0, 100_000),
            check.integer(screen[1], "screen[1]", 0, 100_000))
    redacted = check.boolean(obj.get("redacted", False), "redacted")
    appeared = _labels(check, obj.get("appeared_at_end", []), "appeared_at_end")
    checks_raw = obj.get("checks", [])
    if not isinstance(checks_raw, list) or len(checks_raw) > MAX_STEPS:
        raise check.fail("checks", f"must be a list of at most {MAX_STEPS} checks, got {_short(checks_raw)}")
    checks = []
    for i, raw in enumerate(checks_raw):
        data = check.obj(raw, f"checks[{i}]", ("after", "target"), ("text",))
        checks.append(Check(check.integer(data["after"], f"checks[{i}].after", 0, len(steps)),
                            _target(check, data["target"], f"checks[{i}].target"),
                            check.optional_string(data.get("text"), f"checks[{i}].text")))
    return Demo(steps, root, size, created, redacted, version, appeared, tuple(checks))


def load_demo(folder: str | os.PathLike[str]) -> Demo:
    """Read and validate ``folder/demo.json``; raises :class:`DemoError` saying what is wrong."""
    root = Path(folder)
    path = root / DEMO_FILE
    if not root.is_dir():
        raise DemoError(f"{root} is not a folder; pass the folder `guiagent record` wrote")
    if not path.is_file():
        raise DemoError(f"{root} holds no {DEMO_FILE}; pass the folder `guiagent record` wrote")
    size = path.stat().st_size
    if size > MAX_DEMO_BYTES:
        raise DemoError(f"{path} is {size} bytes, more than {MAX_DEMO_BYTES}; this is not a demo file")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DemoError(f"{path} is not UTF-8 text ({exc.reason}); re-record the demo") from None
    except json.JSONDecodeError as exc:
        raise DemoError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                        f"{exc.msg}); re-record the demo or fix the file") from None
    except RecursionError:
        raise DemoError(f"{path} nests too deeply to be a demo file") from None
    return parse_demo(data, root, where=str(path))


