"""Natural-language desktop commands -> typed steps, with no model.

``parse_commands('click "File", then click "Save As…", type "report.pdf" and press enter')``
returns frozen dataclasses (:class:`ClickStep`, :class:`TypeStep`, :class:`PressStep`...) that
the agent (:mod:`guiagent.agent.loop`) grounds and performs. Targets keep the form
:meth:`guiagent.grounding.base.Target.parse` reads: quoted text is exactly that visible text,
an image path is a template, anything else is a description.

The parser never guesses: input it cannot read completely raises :class:`CommandError`, whose
message lists what it understood and what it did not. Steps serialise to JSON-safe dicts
(:meth:`to_dict` / :func:`step_from_dict`) for traces, skills and model-backed planners, whose
output only ever becomes these typed steps.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, get_args, runtime_checkable

from guiagent.errors import (
    CommandError,
    GuiAgentError,
)
from guiagent.keys import parse_keys

Button = Literal["left", "right", "middle"]
Direction = Literal["up", "down", "left", "right"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
_OPEN_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»"}
_VERBS = ("click, double-click, right-click, middle-click, select, choose, toggle, check, uncheck, "
          "go to, type, press, scroll, drag, move to, hover, wait, open, run skill")
MAX_WAIT_S = 3600.0
MAX_REPEAT = 100


# -- targets ---------------------------------------------------------------------------------

_CHOICE_WORDS = {
    "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5", "last": "last",
    "leftmost": "leftmost", "left-most": "leftmost", "rightmost": "rightmost",
    "right-most": "rightmost", "topmost": "topmost", "top-most": "topmost", "uppermost": "topmost",
    "highest": "topmost", "lowest": "bottommost", "bottommost": "bottommost",
    "bottom-most": "bottommost",
}
CHOICES = frozenset({*_CHOICE_WORDS.values()})


@dataclass(frozen=True, slots=True)
class TargetRef:
    """A target as written, plus which one when several match equally.

    ``spec`` is what :meth:`Target.parse` reads ('"Save"', 'icons/gear.png', 'the Save button').
    ``choice`` picks among equally good matches: "1", "2", ... in reading order, "last",
    "leftmost", "rightmost", "topmost", "bottommost"; None means there must be only one.
    """

    spec: str
    choice: str | None = None

    def __post_init__(self) -> None:
        if not self.spec.strip():
            raise CommandError("empty target: say what to act on, e.g. \"Save\" or an image path")
        if self.choice is not None and not (self.choice in CHOICES or self.choice.isdigit()):
            raise CommandError(f"unknown choice {self.choice!r}; use first, second, ..., last, "
                               "leftmost, rightmost, topmost or bottommost")

    @property
    def kind(self) -> Literal["text", "image", "description"]:
        text = self.spec.strip()
        if len(text) >= 2 and text[0] in _OPEN_QUOTES and text[-1] == _OPEN_QUOTES[text[0]]:
            return "text"
        if text.lower().endswith(_IMAGE_SUFFIXES) and "\n" not in text:
            return "image"
        return "description"

    def describe(self) -> str:
        which = ""
        if self.choice is not None:
            which = (f"#{self.choice} " if self.choice.isdigit() else f"{self.choice} ")
        if self.kind == "image":
            return f"{which}image {self.spec}"
        return which + self.spec

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "choice": self.choice}

    @classmethod
    def from_dict(cls, data: Any) -> TargetRef:
        if isinstance(data, str):
            return cls(data)
        if not isinstance(data, Mapping) or not isinstance(data.get("spec"), str):
            raise CommandError(f"a target must be a string or {{'spec': str, 'choice': ...}}, got {data!r}")
        choice = data.get("choice")
        if choice is not None and not isinstance(choice, str):
            raise CommandError(f"a target's choice must be a string, got {choice!r}")
        return cls(data["spec"], choice)


# -- steps -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClickStep:
    target: TargetRef
    button: Button = "left"
    count: int = 1
    kind: ClassVar[str] = "click"

    def __post_init__(self) -> None:
        if self.button not in get_args(Button):
            raise CommandError(f"unknown mouse button {self.button!r}; use left, right or middle")
        if not 1 <= self.count <= 3:
            raise CommandError(f"a click is 1 to 3 presses (triple-click), got {self.count}")

    def describe(self) -> str:
        what = {1: "click", 2: "double-click", 3: "triple-click"}[self.count]
        prefix = "" if self.button == "left" else f"{self.button}-"
        return f"{prefix}{what} {self.target.describe()}"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True, slots=True)
class TypeStep:
    """Type ``text`` exactly; with ``target``, click it first to put the focus there."""

    text: str
    target: TargetRef | None = None
    kind: ClassVar[str] = "type"

    def __post_init__(self) -> None:
        if not self.text:
            raise CommandError("nothing to type: the text is empty")

    def describe(self) -> str:
        into = f" into {self.target.describe()}" if self.target else ""
        return f"type {self.text!r}{into}"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True, slots=True)
class PressStep:
    """Press a key or a combination (canonical names joined by "+") ``presses`` times."""

    keys: str
    presses: int = 1
    kind: ClassVar[str] = "press"

    def __post_init__(self) -> None:
        try:
            canonical = "+".join(parse_keys(self.keys))
        except GuiAgentError as exc:
            raise CommandError(str(exc)) from None
        object.__setattr__(self, "keys", canonical)
        if not 1 <= self.presses <= MAX_REPEAT:
            raise CommandError(f"presses must be 1 to {MAX_REPEAT}, got {self.presses}")

    def describe(self) -> str:
        return f"press {self.keys}" + (f" {self.presses} times" if self.presses > 1 else "")

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True, slots=True)
class ScrollStep:
    """``amount`` wheel notches; over ``target`` when given, else where the pointer is."""

    direction: Direction
    amount: int = 3
    target: TargetRef | None = None
    kind: ClassVar[str] = "scroll"

    def __post_init__(self) -> None:
        if self.direction not in get_args(Direction):
            raise CommandError(f"scroll direction must be up, down, left or right, got {self.direction!r}")
        if not 1 <= self.amount <= MAX_REPEAT:
            raise CommandError(f"scroll amount must be 1 to {MAX_REPEAT} notches, got {self.amount}")

    def describe(self) -> str:
        where = f" over {self.target.describe()}" if self.target else ""
        return f"scroll {self.direction} {self.amount}{where}"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True, slots=True)
class DragStep:
    source: TargetRef
    destination: TargetRef
    kind: ClassVar[str] = "drag"

    def describe(self) -> str:
        return f"drag {self.source.describe()} to {self.destination.describe()}"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True, slots=True)
class HoverStep:
    target: TargetRef
    kind: ClassVar[str] = "hover"

    def describe(self) -> str:
        return f"move the pointer to {self.target.describe()}"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True, slots=True)
class WaitForStep:
    """Wait until ``target`` is visible (or, with ``gone``, no longer visible).

    ``timeout`` None means the run's default timeout."""

    target: TargetRef
    gone: bool = False
    timeout: float | None = None
    kind: ClassVar[str] = "wait_for"

    def __post_init__(self) -> None:
        if self.timeout is not None and not 0 < self.timeout <= MAX_WAIT_S:
            raise CommandError(f"a wait's time limit must be above 0 and at most {MAX_WAIT_S:g} s, "
                               f"got {self.timeout:g}")

    def describe(self) -> str:
        state = "disappear" if self.gone else "appear"
        limit = f" (up to {self.timeout:g} s)" if self.timeout is not None else ""
        return f"wait for {self.target.describe()} to {state}{limit}"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True, slots=True)
class WaitStep:
    seconds: float
    kind: ClassVar[str] = "wait"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and 0 <= self.seconds <= MAX_WAIT_S):
            raise CommandError(f"wait 0 to {MAX_WAIT_S:g} seconds, got {self.seconds:g}")

    def describe(self) -> str:
        return f"wait {self.seconds:g} s"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True, slots=True)
class OpenStep:
    """Launch a program: ``program`` is a command line (split like a shell, never run by one)."""

    program: str
    kind: ClassVar[str] = "open"

    def __post_init__(self) -> None:
        try:
            argv = shlex.split(self.program)
        except ValueError as exc:
            raise CommandError(f"cannot read the program {self.program!r}: {exc}") from None
        if not argv:
            raise CommandError("open what? say which program, e.g. open mousepad")

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.program)

    def describe(self) -> str:
        return f"open {self.program}"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


_PARAM_KEY = re.compile(r"^[A-Za-z_][\w-]*$")


@dataclass(frozen=True, slots=True)
class RunSkillStep:
    """Run a skill (see guiagent.agent.skills): it expands to more command steps with ``params``."""

    name: str
    params: tuple[tuple[str, str], ...] = ()
    kind: ClassVar[str] = "run_skill"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[\w][\w.-]*", self.name):
            raise CommandError(f"skill names are letters, digits, '_', '-' and '.', got {self.name!r}")
        keys = [k for k, _ in self.params]
        for key in keys:
            if not _PARAM_KEY.match(key):
                raise CommandError(f"skill parameter names are identifiers, got {key!r}")
        if len(set(keys)) != len(keys):
            raise CommandError(f"a skill parameter is given twice in {keys}")

    def describe(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.params)
        return f"run skill {self.name}" + (f" with {given}" if given else "")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "params": dict(self.params)}


Step = (ClickStep | TypeStep | PressStep | ScrollStep | DragStep | HoverStep | WaitForStep | WaitStep
        | OpenStep | RunSkillStep)
STEP_TYPES: dict[str, type[Any]] = {
    cls.kind: cls for cls in (ClickStep, TypeStep, PressStep, ScrollStep, DragStep, HoverStep,
                              WaitForStep, WaitStep, OpenStep, RunSkillStep)
}


def step_targets(step: Step) -> tuple[TargetRef, ...]:
    """The targets a step grounds, in the order it uses them."""
    if isinstance(step, DragStep):
        return (step.source, step.destination)
    target = getattr(step, "target", None)
    return (target,) if isinstance(target, TargetRef) else ()


def _to_dict(step: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": step.kind}
    for f in fields(step):
        value = getattr(step, f.name)
        out[f.name] = value.to_dict() if isinstance(value, TargetRef) else value
    return out


def step_from_dict(data: Any) -> Step:
    """The step a :meth:`to_dict` dict describes; CommandError for anything else (unknown kind,
    missing or mistyped fields), so untrusted JSON (a trace, a skill, a model) stays data."""
    if not isinstance(data, Mapping):
        raise CommandError(f"a step must be a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    cls = STEP_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise CommandError(f"unknown step kind {kind!r}; known: {', '.join(STEP_TYPES)}")
    if cls is RunSkillStep:
        params = data.get("params", {})
        if not isinstance(params, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
            raise CommandError(f"skill params must map names to strings, got {params!r}")
        return RunSkillStep(_typed(data.get("name"), str, "name"), tuple(params.items()))
    names = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(names) - {"kind"}
    if unknown:
        raise CommandError(f"unknown field(s) {sorted(unknown)} for a {kind} step")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name == "kind":
            continue
        if name in ("target", "source", "destination"):
            optional = name == "target" and cls in (TypeStep, ScrollStep)
            values[name] = None if value is None and optional else TargetRef.from_dict(value)
        elif name in ("count", "presses", "amount"):
            values[name] = _typed(value, int, name)
        elif name in ("seconds", "timeout"):
            if value is None and name == "timeout":
                values[name] = None
            else:
                values[name] = float(_typed(value, (int, float), name))
        elif name == "gone":
            values[name] = _typed(value, bool, name)
        else:
            values[name] = _typed(value, str, name)
    try:
        step: Step = cls(**values)
    except TypeError as exc:
        raise CommandError(f"a {kind} step needs other fields: {exc}") from None
    return step


def _typed(value: Any, types: type | tuple[type, ...], name: str) -> Any:
    if isinstance(value, bool) and types is not bool:
        raise CommandError(f"{name} must be {types}, got a boolean")
    if not isinstance(value, types):
        raise CommandError(f"{name} must be {types}, got {value!r}")
    return value


# -- planner seam ----------------------------------------------------------------------------


@runtime_checkable
class Planner(Protocol):
    """Proposes steps for a command the parser could not read (e.g. a vision-language model).

    It returns typed steps or their :meth:`to_dict` dicts; dicts go through
    :func:`step_from_dict`, so a model's output is validated data, never code. Proposed steps
    are shown to the user before they run unless they said ``--yes``.
    """

    def propose(self, command: str, error: CommandError) -> Sequence[Step | Mapping[str, Any]]: ...


def plan(command: str, planner: Planner | None = None) -> tuple[list[Step], bool]:
    """The steps for ``command`` and whether a planner proposed them (rather than the parser)."""
    try:
        return parse_commands(command), False
    except CommandError as error:
        if planner is None:
            raise
        proposal = planner.propose(command, error)
        steps: list[Step] = []
        for item in proposal:  # a model's output: only typed steps or validated dicts get through
            typed = isinstance(item, tuple(STEP_TYPES.values()))
            steps.append(item if typed else step_from_dict(item))  # type: ignore[arg-type]
        if not steps:
            raise CommandError(f"{error} (the planner proposed no steps either)") from None
        return steps, True


# -- splitting into clauses ------------------------------------------------------------------

_QUOTE_FILL = "\x01"  # stands for quoted characters in the masked text: keywords never match there


def _mask(text: str) -> str:
    """``text`` with the inside of every quoted part replaced, same length, so keyword searches
    see only unquoted words. Raises CommandError for an unterminated double quote."""
    out = list(text)
    i = 0
    while i < len(text):
        char = text[i]
        close = _OPEN_QUOTES.get(char)
        apostrophe = char in "'‘"
        if close is None or (apostrophe and i > 0 and not (text[i - 1].isspace() or text[i - 1] in "(,;:=")):
            i += 1
            continue
        end = _closing(text, i, close, apostrophe)
        if end is None:
            if apostrophe:  # "Don't" or a lone ‘: an apostrophe, not a quote
                i += 1
                continue
            raise CommandError(f"unterminated quote {char} at character {i + 1}: close it "
                               f"({char}...{close})")
        for j in range(i + 1, end):
            out[j] = _QUOTE_FILL
        i = end + 1
    return "".join(out)


def _closing(text: str, start: int, close: str, apostrophe: bool) -> int | None:
    j = start + 1
    while j < len(text):
        if text[j] == "\\" and j + 1 < len(text) and text[j + 1] == close:
            j += 2
            continue
        if text[j] == close and (not apostrophe or j + 1 == len(text) or not text[j + 1].isalnum()):
            return j
        j += 1
    return None


def _unquote(token: str) -> str | None:
    """The inside of a wholly quoted token (``\\"`` unescaped), else None."""
    token = token.strip()
    if len(token) >= 2 and token[0] in _OPEN_QUOTES and token[-1] == _OPEN_QUOTES[token[0]]:
        masked = _mask(token)
        if masked[1:-1].strip(_QUOTE_FILL) == "":
            return token[1:-1].replace("\\" + token[-1], token[-1])
    return None


_SEPARATOR = re.compile(r"[;\n]|,|\.(?=\s)|\b(?:and|then)\b", re.IGNORECASE)
_VERB_START = re.compile(
    r"^\s*(?:please\s+)?(?:(?:left|right|middle)[- ]?)?(?:(?:double|triple)[- ]?)?click\b|"
    r"^\s*(?:please\s+)?(?:tap|type|write|press|hit|hotkey|scroll|drag|move|hover|point|wait|open|"
    r"launch|start|run|select|choose|pick|toggle|check|uncheck|tick|untick|activate|follow|go\s+to)\b",
    re.IGNORECASE,
)


def split_clauses(text: str) -> list[str]:
    """Split a command into step clauses at ``,`` ``;`` newlines, "then" and "and" (outside
    quotes). A piece that does not start with an action word belongs to the clause before it
    ("click the Save and Exit button", "type hello, world")."""
    masked = _mask(text)
    pieces: list[tuple[int, int]] = []
    start = 0
    for sep in _SEPARATOR.finditer(masked):
        pieces.append((start, sep.start()))
        start = sep.end()
    pieces.append((start, len(text)))
    clauses: list[tuple[int, int]] = []
    for begin, end in pieces:
        piece = text[begin:end]
        if not piece.strip():
            continue
        before = text[clauses[-1][0]:clauses[-1][1]].rstrip() if clauses else ""
        quoted_end = before.endswith(tuple(_OPEN_QUOTES.values()))  # 'click "OK", florp' is 2 steps
        if clauses and not quoted_end and not _VERB_START.match(masked[begin:end]):
            clauses[-1] = (clauses[-1][0], end)  # glue back, separator included
        else:
            clauses.append((begin, end))
    return [text[b:e].strip() for b, e in clauses]


# -- parsing one clause ----------------------------------------------------------------------

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "twenty": 20, "thirty": 30}
_NUM = r"(?:\d+(?:\.\d+)?|\.\d+|" + "|".join(_NUMBER_WORDS) + r")"
_TIMES = rf"(?:\s+(?P<times>{_NUM})\s+times|\s+(?P<twice>once|twice|thrice))?"
_UNIT = r"(?:ms|milliseconds?|s|secs?|seconds?|mins?|minutes?)"
_PRONOUNS = {"it", "this", "that", "there", "here", "them", "him", "her", "the one"}
_ROLE_TAIL = re.compile(r"\s+(?:button|link|menu|tab|item|field|box|label|option|checkbox|entry)$",
                        re.IGNORECASE)
_CHOICE = re.compile(r"^(?:the\s+)?(?P<choice>" + "|".join(sorted(_CHOICE_WORDS, key=len, reverse=True))
                     + r"|\d+(?:st|nd|rd|th))\s+(?P<rest>\S.*)$", re.IGNORECASE | re.DOTALL)


class _Clause:
    """One clause and its masked twin (quoted parts blanked), searched together."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.masked = _mask(text)

    def match(self, pattern: str) -> _ClauseMatch | None:
        found = re.fullmatch(pattern, self.masked, re.IGNORECASE | re.DOTALL)
        return _ClauseMatch(self, found) if found else None


class _ClauseMatch:
    def __init__(self, clause: _Clause, found: re.Match[str]) -> None:
        self.clause = clause
        self.found = found

    def __getitem__(self, name: str) -> str | None:
        if self.found.group(name) is None:
            return None
        return self.clause.text[self.found.start(name):self.found.end(name)]


def _number(word: str, what: str) -> float:
    word = word.lower()
    value = float(_NUMBER_WORDS[word]) if word in _NUMBER_WORDS else float(word)
    if not math.isfinite(value):
        raise CommandError(f"{what} must be a number, got {word!r}")
    return value


def _count(m: _ClauseMatch, default: int = 1) -> int:
    if m["twice"]:
        return {"once": 1, "twice": 2, "thrice": 3}[str(m["twice"]).lower()]
    if m["times"]:
        value = _number(str(m["times"]), "a repeat count")
        if value != int(value) or not 1 <= value <= MAX_REPEAT:
            raise CommandError(f"repeat 1 to {MAX_REPEAT} whole times, got {m['times']}")
        return int(value)
    return default


def _seconds(number: str, unit: str | None) -> float:
    value = _number(number, "a time")
    unit = (unit or "s").lower()
    if unit.startswith("m") and unit not in ("ms",) and not unit.startswith("milli"):
        return value * 60
    if unit == "ms" or unit.startswith("milli"):
        return value / 1000
    return value


def _target(phrase: str | None, *, allow_choice: bool = True) -> TargetRef:
    """A TargetRef from the words naming a target; rejects pronouns and unquoted "or"."""
    text = (phrase or "").strip()
    text = re.sub(r"^(?:on|at)\s+", "", text, flags=re.IGNORECASE)
    if not text:
        raise CommandError("no target: say what to act on, e.g. \"Save\" or icons/gear.png")
    masked = _mask(text)
    if text.lower() in _PRONOUNS:
        raise CommandError(f"{text!r} does not say which thing: name it (its text in quotes, or an image)")
    if re.search(r"\bor\b", masked, re.IGNORECASE):
        raise CommandError(f"{text!r} names alternatives: say which one")
    choice: str | None = None
    picked = _CHOICE.match(masked) if allow_choice else None
    if picked is not None:
        rest = text[picked.start("rest"):]
        core = _ROLE_TAIL.sub("", rest)
        if _unquote(core) is not None or core.lower().endswith(_IMAGE_SUFFIXES):
            word = picked.group("choice").lower()
            choice = _CHOICE_WORDS.get(word) or str(int(re.sub(r"\D", "", word)))
            text = core
    ref = TargetRef(text, choice)
    if ref.kind == "image":
        if not Path(text).is_file():
            raise CommandError(f"image not found: {text} (relative to {Path.cwd()}); "
                               "pass the path of a PNG of the target")
    else:
        from guiagent.grounding.base import Target

        try:
            Target.parse(text)
        except GuiAgentError as exc:
            raise CommandError(str(exc)) from None
    return ref


def _parse_clause(text: str) -> Step:
    clause = _Clause(re.sub(r"^\s*please\s+", "", text, flags=re.IGNORECASE).strip())
    # A sentence's final full stop is not part of a target (type keeps it; see _parse_type).
    if not re.match(r"(?i)(type|write)\b", clause.masked) and clause.masked.endswith((".", "!")):
        clause = _Clause(clause.text[:-1].rstrip())
    verb = (clause.masked.split() or [""])[0].lower()

    m = clause.match(r"(?P<button>left|right|middle)?[- ]?(?P<mult>double|triple)?[- ]?"
                     r"(?:click|tap)(?:\s+(?:on|at))?(?:\s+(?P<target>.+?))?" + _TIMES)
    if m is not None and (clause.masked.lower().startswith(("click", "tap")) or m["button"] or m["mult"]):
        count = {"double": 2, "triple": 3}.get(str(m["mult"] or "").lower(), 1)
        count *= _count(m)
        button = str(m["button"] or "left").lower()
        return ClickStep(_target(m["target"]), button, count)  # type: ignore[arg-type]

    if verb in ("type", "write"):
        return _parse_type(clause)

    choice = _parse_choice(clause, verb)
    if choice is not None:
        return choice

    m = clause.match(r"(?:press|hit|hotkey|push)\s+(?:the\s+)?(?P<keys>.+?)(?:\s+keys?)?" + _TIMES)
    if m is not None:
        return PressStep(_keys(str(m["keys"])), _count(m))

    if verb == "scroll":
        m = clause.match(rf"scroll\s+(?P<dir>up|down|left|right)(?:\s+(?:by\s+)?(?P<n>{_NUM})"
                         r"(?:\s+(?:times|notches|clicks|steps|lines))?)?"
                         r"(?:\s+(?:in|over|on|inside|within)\s+(?P<target>.+))?")
        if m is None:
            raise CommandError("say scroll up|down|left|right [N] [in TARGET], e.g. scroll down 5")
        amount = 3
        if m["n"]:
            value = _number(str(m["n"]), "a scroll amount")
            if value != int(value):
                raise CommandError(f"scroll whole notches, got {m['n']}")
            amount = int(value)
        target = _target(m["target"]) if m["target"] else None
        return ScrollStep(str(m["dir"]).lower(), amount, target)  # type: ignore[arg-type]

    if verb == "drag":
        m = clause.match(r"drag\s+(?:from\s+)?(?P<rest>.+)")
        rest = _Clause(str(m["rest"])) if m else None
        joint_words = r"\s+(?:to|onto|into|over to)\s+"
        joints = list(re.finditer(joint_words, rest.masked, re.IGNORECASE)) if rest else []
        if rest is None or len(joints) != 1:
            raise CommandError("say drag SOURCE to DESTINATION, with exactly one 'to' outside quotes "
                               "(quote a target that contains 'to')")
        joint = joints[0]
        return DragStep(_target(rest.text[:joint.start()]), _target(rest.text[joint.end():]))

    if verb in ("move", "hover", "point"):
        m = clause.match(r"(?:move|hover|point)(?:\s+(?:the\s+)?(?:mouse|pointer|cursor))?"
                         r"(?P<prep>\s+(?:over|to|at|onto|on))?\s+(?P<target>.+)")
        if m is None or (verb != "hover" and not m["prep"]):
            raise CommandError("say move to TARGET or hover over TARGET")
        return HoverStep(_target(m["target"]))

    if verb == "wait":
        return _parse_wait(clause)

    if verb in ("open", "launch", "start"):
        return _parse_open(clause, verb)

    if verb == "run":
        m = clause.match(r"run\s+(?:the\s+)?skill\s+(?P<name>\S+)(?:\s+with\s+(?P<params>.+))?")
        if m is None:
            raise CommandError("say run skill NAME [with key=value ...]; to launch a program say open NAME")
        name = _unquote(str(m["name"])) or str(m["name"])
        return RunSkillStep(name, _skill_params(m["params"]) if m["params"] else ())

    shown = verb or text.strip()
    raise CommandError(f"no action {shown!r}: start each step with one of {_VERBS}")


# Verbs that mean "click it" for the thing they name: select "B2", choose "notes.txt" from the
# menu, toggle the "Show grid" checkbox, check "Remember me", go to the Settings tab, press the
# OK button (a press of a named control, not a key), follow the link ...
_CHOICE_VERBS = ("select", "choose", "pick", "toggle", "check", "uncheck", "tick", "untick",
                 "activate", "follow", "go")
_FROM_CONTAINER = re.compile(
    r"\s+(?:from|in|on|of)\s+(?:the\s+)?(?:[\w.-]+\s+)?(?:menu|submenu|list|drop-?down|context menu|"
    r"toolbar|menu bar)$", re.IGNORECASE)
_PRESSABLE = re.compile(r"\S\s+(?:button|link|tab|icon|checkbox|check box|menu item)$", re.IGNORECASE)


def _parse_choice(clause: _Clause, verb: str) -> ClickStep | None:
    """A click phrased as choosing, toggling or going somewhere; None for other verbs."""
    if verb == "press":
        m = clause.match(r"press\s+(?P<target>.+)")
        what = str(m["target"]) if m else ""
        if not _PRESSABLE.search(_mask(what)):
            return None  # press enter, press "+", press tab: keys
        return ClickStep(_target(what))
    if verb not in _CHOICE_VERBS:
        return None
    m = clause.match(r"(?:go\s+to|follow|\w+)(?:\s+(?:on|at))?\s+(?P<target>.+)")
    if verb == "go" and not re.match(r"(?i)go\s+to\b", clause.masked):
        return None
    if m is None:
        raise CommandError(f"{verb} what? say e.g. {verb} \"Show grid\"")
    what = str(m["target"])
    masked = _mask(what)
    container = _FROM_CONTAINER.search(masked)
    if container is not None:  # choose "notes.txt" from the menu: the item is the target
        what = what[:container.start()]
    return ClickStep(_target(what))


def _parse_type(clause: _Clause) -> TypeStep:
    m = clause.match(r"(?:type|write)(?:\s+(?P<rest>.+))?")
    rest = _Clause(str(m["rest"]).strip()) if m and m["rest"] else None
    if rest is None:
        raise CommandError('type what? say type "the text" [into TARGET]')
    quoted = re.match(r"\S\x01*\S", rest.masked)
    if quoted and _unquote(rest.text[:quoted.end()]) is not None:
        text = _unquote(rest.text[:quoted.end()]) or ""
        after = _Clause(rest.text[quoted.end():].strip())
        if not after.text or after.text in (".", "!"):
            return TypeStep(text)
        into = after.match(r"(?:into|in|on)\s+(?P<target>.+?)[.!]?")
        if into is None:
            raise CommandError(f"after the quoted text, expected 'into TARGET', got {after.text!r}")
        return TypeStep(text, _target(into["target"]))
    joints = list(re.finditer(r"\s+into\s+", rest.masked, re.IGNORECASE))
    if len(joints) > 1:
        raise CommandError(f"{rest.text!r} has 'into' twice: quote the text to type")
    text, target = rest.text, None
    if joints:
        text, target = rest.text[:joints[0].start()], _target(rest.text[joints[0].end():])
    if text.rstrip().endswith((".", "!")):
        raise CommandError(f"does the final {text.rstrip()[-1]!r} of {text!r} belong to the text? "
                           "quote the text to type")
    return TypeStep(text, target)


def _keys(words: str) -> str:
    keys = _unquote(words) or words
    keys = re.sub(r"\s*\+\s*(?=\S)", "+", keys.strip())
    # "ctrl-s" and "Control-Shift-S" read as combinations when the parts before are modifiers.
    keys = re.sub(r"(?i)\b(ctrl|control|shift|alt|cmd|command|super|win|meta|option)-(?=\S)", r"\1+", keys)
    parts = parse_keys(keys) if keys else ()
    if len(parts) > 1:  # "Ctrl+S" is how shortcuts are written; it means the s key, not shift
        parts = tuple(p.lower() if len(p) == 1 and p.isascii() else p for p in parts)
    return "+".join(parts) if parts else keys


def _parse_wait(clause: _Clause) -> Step:
    m = clause.match(rf"wait(?:\s+for)?\s+(?P<n>{_NUM})\s*(?P<unit>{_UNIT})?")
    if m is not None:
        return WaitStep(_seconds(str(m["n"]), m["unit"]))
    limit = (rf"(?:,?\s+(?:for\s+)?(?:up\s+to|at\s+most|within|max(?:imum)?|no\s+more\s+than)\s+"
             rf"(?P<n>{_NUM})\s*(?P<unit>{_UNIT})?)?")
    m = clause.match(r"wait\s+for\s+(?P<target>.+?)(?:\s+to\s+(?P<state>appear|show(?:\s+up)?|"
                     r"be\s+visible|disappear|vanish|go\s+away|be\s+gone|close))?" + limit)
    if m is None:
        m = clause.match(r"wait\s+(?:until|till)\s+(?P<target>.+?)\s+(?P<state>appears|shows(?:\s+up)?|"
                         r"is\s+visible|disappears|vanishes|goes\s+away|is\s+gone|closes)" + limit)
    if m is None:
        raise CommandError('say wait N seconds, wait for TARGET [to disappear] [up to N seconds], '
                           'or wait until TARGET appears')
    state = str(m["state"] or "appear").lower()
    gone = state.startswith(("disappear", "vanish", "go", "be gone", "is gone", "close"))
    timeout = _seconds(str(m["n"]), m["unit"]) if m["n"] else None
    return WaitForStep(_target(m["target"]), gone, timeout)


def _parse_open(clause: _Clause, verb: str) -> Step:
    m = clause.match(r"(?:open|launch|start)(?:\s+(?P<what>.+))?")
    what = str(m["what"]).strip() if m and m["what"] else ""
    if not what:
        raise CommandError(f"{verb} what? say {verb} PROGRAM, e.g. {verb} mousepad")
    menu = _Clause(what).match(r"(?:the\s+)?(?P<name>.+?)\s+(?:menu|submenu|tab|link|dialog)")
    if verb == "open" and menu is not None:
        return ClickStep(_target(what, allow_choice=False))  # "open the File menu" clicks "File"
    link = _Clause(what).match(r"(?:the\s+)?(?P<role>link|tab|menu)\s+(?P<name>\S.*)")
    if verb == "open" and link is not None:  # open the link <its text>: that text, as a link
        return ClickStep(_target(f"{_quote(str(link['name']))} {str(link['role']).lower()}",
                                 allow_choice=False))
    program = _unquote(what)
    if program is None and re.match(r"(?i)(the|a|an|my)\s", what):
        raise CommandError(f"{what!r} is not a program name: to launch a program say {verb} NAME "
                           "(e.g. open mousepad); to open a menu say open the NAME menu or click \"NAME\"")
    return OpenStep(what if program is None else shlex.quote(program))


def _quote(text: str) -> str:
    """``text`` in the first kind of quotes it does not contain (already quoted: as it is)."""
    if _unquote(text) is not None:
        return text
    for left, right in _OPEN_QUOTES.items():
        if left not in text and right not in text:
            return f"{left}{text}{right}"
    raise CommandError(f"cannot quote {text!r}: it holds every kind of quote")


def _skill_params(text: str) -> tuple[tuple[str, str], ...]:
    tokens = _param_tokens(text)
    if not tokens:
        raise CommandError("'with' needs parameters: with key=value ... or with key value ...")
    if any(sep for _, sep in tokens):
        pairs = []
        for token, sep in tokens:
            if not sep:
                raise CommandError(f"mixing key=value and key value forms at {token!r}: use one")
            key, value = token.split("=", 1)
            pairs.append((key, _unquote(value) if _unquote(value) is not None else value))
        return tuple((k, v or "") for k, v in pairs)
    words = [_unquote(t) if _unquote(t) is not None else t for t, _ in tokens]
    if len(words) % 2:
        raise CommandError(f"parameters come in pairs (key value), got {len(words)} words: {words}")
    return tuple((str(words[i]), str(words[i + 1])) for i in range(0, len(words), 2))


def _param_tokens(text: str) -> list[tuple[str, bool]]:
    """Whitespace/comma separated tokens (quotes kept), with whether each is key=value."""
    masked = _mask(text)
    tokens: list[tuple[str, bool]] = []
    for found in re.finditer(r"[^\s,]+", masked):
        token = text[found.start():found.end()]
        if found.group().lower() == "and":
            continue
        is_pair = "=" in found.group().split(_QUOTE_FILL)[0] and not token.startswith(tuple(_OPEN_QUOTES))
        tokens.append((token, is_pair))
    return tokens


def parse_commands(text: str) -> list[Step]:
    """The typed steps of a command; CommandError (showing what was and was not understood) for
    anything it cannot read completely. Never guesses, never needs a model."""
    if not isinstance(text, str):
        raise CommandError(f"a command is text, got {type(text).__name__}")
    if not text.strip():
        raise CommandError(f"empty command: say what to do, e.g. click \"OK\" (actions: {_VERBS})")
    clauses = split_clauses(text)
    if not clauses:
        raise CommandError(f"no step in {text!r}: only separators; say what to do, e.g. click \"OK\"")
    steps: list[tuple[int, Step]] = []
    failed: list[tuple[int, str, str]] = []
    for index, clause in enumerate(clauses, 1):
        try:
            steps.append((index, _parse_clause(clause)))
        except CommandError as exc:
            failed.append((index, clause, str(exc)))
        except GuiAgentError as exc:  # a key name, an image: still the command's fault
            failed.append((index, clause, str(exc)))
    if failed:
        index, clause, reason = failed[0]
        understood = "; ".join(f"{i}. {s.describe()}" for i, s in steps) or "nothing"
        more = f" ({len(failed) - 1} more step(s) not understood either)" if len(failed) > 1 else ""
        raise CommandError(
            f"could not understand step {index} of {len(clauses)}, {clause!r}: {reason}{more} | "
            f"understood: {understood} | nothing was done",
            understood=steps, failed=failed,
        )
    return [s for _, s in steps]


def describe_steps(steps: Sequence[Step]) -> str:
    return "\n".join(f"{i}. {s.describe()}" for i, s in enumerate(steps, 1))


__all__ = [
    "ClickStep",
    "CommandError",
    "DragStep",
    "HoverStep",
    "OpenStep",
    "Planner",
    "PressStep",
    "RunSkillStep",
    "ScrollStep",
    "Step",
    "TargetRef",
    "TypeStep",
    "WaitForStep",
    "WaitStep",
    "describe_steps",
    "parse_commands",
    "plan",
    "split_clauses",
    "step_from_dict",
    "step_targets",
]
