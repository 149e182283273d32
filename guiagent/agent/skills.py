"""Skills: named, documented, parameterised procedures stored as data (JSON or YAML).

A skill file (``skills/NAME.json`` or ``.yaml``, safe-loaded, validated against schema version
:data:`SKILL_VERSION`) holds command strings in the ``guiagent do`` language with ``{param}``
slots (``{{`` and ``}}`` are literal braces), and optional preconditions (targets that must be
visible before) and postconditions (targets that must be visible after)::

    {"version": 1, "name": "terminal-run", "description": "Run a shell command ...",
     "params": {"command": {"description": "the command line"}},
     "steps": ["type \\"{command}\\"", "press enter"]}

:func:`load_skill` finds a skill by name on the skill path (``$GUIAGENT_SKILLS``, ``./skills``,
the ``skills/`` folder next to the package); :meth:`Skill.expand` fills the slots and refuses a
value that would change the command's structure (a quote or separator smuggling in another
step). :func:`skill_from_demo` turns a recorded demo into a skill. Nothing in a skill file is
executed: its steps only ever become typed command steps.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guiagent.errors import GuiAgentError, SkillConditionFailed, SkillError

SKILL_VERSION = 1
MAX_SKILL_BYTES = 1024 * 1024
MAX_STEPS = 200
MAX_TEXT = 2000
MAX_VALUE = 1000
SUFFIXES = (".json", ".yaml", ".yml")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")
_SLOT = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SKILL_DIR = "skill_dir"  # built-in slot: the folder of the skill file (for its pictures)


@dataclass(frozen=True, slots=True)
class SkillParam:
    name: str
    description: str = ""
    default: str | None = None  # None: the parameter must be given


@dataclass(frozen=True, slots=True)
class Skill:
    name: str
    description: str
    steps: tuple[str, ...]
    params: tuple[SkillParam, ...] = ()
    preconditions: tuple[str, ...] = ()
    postconditions: tuple[str, ...] = ()
    path: Path | None = None

    def values(self, params: Mapping[str, str]) -> dict[str, str]:
        """The parameter values to use: ``params`` checked, defaults filled in."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise SkillError(f"skill {self.name} has no parameter {', '.join(unknown)}; its parameters: "
                             f"{', '.join(known) or 'none'}")
        values: dict[str, str] = {}
        for param in self.params:
            value = params.get(param.name, param.default)
            if value is None:
                about = param.description or "no description"
                raise SkillError(f"skill {self.name} needs {param.name}=... ({about})")
            if not isinstance(value, str):
                raise SkillError(f"skill {self.name}: {param.name} must be text, got {type(value).__name__}")
            if len(value) > MAX_VALUE or _CONTROL.search(value):
                raise SkillError(f"skill {self.name}: {param.name} must be one line of at most {MAX_VALUE} "
                                 "characters without control characters")
            values[param.name] = value
        return values

    @property
    def folder(self) -> Path:
        return self.path.parent.resolve() if self.path is not None else Path.cwd()

    def expand(self, params: Mapping[str, str]) -> list[str]:
        """The step command strings with every ``{param}`` filled in.

        A value may not change a step's structure: the expanded line must parse into the same
        kinds of steps as the line with a plain placeholder (so ``q3.pdf" and press ctrl+q`` is
        refused instead of running a second command)."""
        values = self.values(params)
        builtin = {SKILL_DIR: str(self.folder)}
        return [_checked(self.name, line, {**values, **builtin}, builtin) for line in self.steps]

    def expand_conditions(self, params: Mapping[str, str]) -> tuple[list[str], list[str]]:
        values = {**self.values(params), SKILL_DIR: str(self.folder)}
        return ([_fill(t, values) for t in self.preconditions],
                [_fill(t, values) for t in self.postconditions])

    def to_json(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for p in self.params:
            params[p.name] = {"description": p.description}
            if p.default is not None:
                params[p.name]["default"] = p.default
        out: dict[str, Any] = {"version": SKILL_VERSION, "name": self.name,
                               "description": self.description, "params": params,
                               "steps": list(self.steps)}
        if self.preconditions:
            out["preconditions"] = list(self.preconditions)
        if self.postconditions:
            out["postconditions"] = list(self.postconditions)
        return out


def _fill(line: str, values: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return values[match.group(1)]

    return _SLOT.sub(replace, line)


def _structure(line: str) -> list[str] | None:
    try:
        from guiagent.agent.language import parse_commands
    except ImportError:  # pragma: no cover - the commands module ships with guiagent
        return None
    return [type(step).__name__ for step in parse_commands(line)]


def _checked(skill: str, template: str, values: Mapping[str, str], builtin: Mapping[str, str]) -> str:
    line = _fill(template, values)
    params = {k: v for k, v in values.items() if k not in builtin}
    if not params:
        return line
    expected = _structure(_fill(template, {**dict.fromkeys(params, "x"), **builtin}))
    try:
        got = _structure(line)
    except GuiAgentError as exc:
        raise SkillError(f"skill {skill}: the parameters make {line!r} unreadable ({exc}); avoid quotes "
                         "in parameter values") from None
    if expected is None or got is None:
        if any(q in v for v in params.values() for q in "\"'“”‘’«»"):
            raise SkillError(f"skill {skill}: parameter values may not contain quotes")
        return line
    if got != expected:
        raise SkillError(f"skill {skill}: a parameter value turns {template!r} into {len(got)} step(s) "
                         f"({', '.join(got)}) instead of {', '.join(expected)}; values may not add steps "
                         "(quotes or separators like ', then')")
    return line


# -- validation ----------------------------------------------------------------------------------


def _fail(where: str, path: str, problem: str) -> SkillError:
    return SkillError(f"{where}: {path} {problem}; fix the skill file (schema version {SKILL_VERSION})")


def _text(where: str, value: Any, path: str, *, empty: bool = False, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise _fail(where, path, f"must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise _fail(where, path, f"is longer than {limit} characters")
    if not empty and not value.strip():
        raise _fail(where, path, "must not be empty")
    return value


def _slots(where: str, line: str, path: str, params: set[str]) -> None:
    for match in _SLOT.finditer(line):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise _fail(where, path, f"has a lone {token!r}; write {token * 2} for a literal brace")
        if name not in params and name != SKILL_DIR:
            raise _fail(where, path, f"uses {{{name}}}, which is not among the params "
                                     f"({', '.join(sorted(params)) or 'none'})")


def parse_skill(data: Any, *, where: str = "skill", path: Path | None = None) -> Skill:
    """Validate decoded skill data; raises :class:`SkillError` naming the field and the fix."""
    if not isinstance(data, dict):
        raise _fail(where, "the file", f"must be a mapping, got {type(data).__name__}")
    allowed = {"version", "name", "description", "params", "steps", "preconditions", "postconditions"}
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise _fail(where, "the file", f"has unknown field(s) {', '.join(unknown[:5])}")
    for key in ("version", "name", "description", "steps"):
        if key not in data:
            raise _fail(where, "the file", f"lacks {key}")
    version = data["version"]
    if isinstance(version, bool) or version != SKILL_VERSION:
        raise SkillError(f"{where}: skill schema version {version!r} is not supported; this guiagent "
                         f"reads version {SKILL_VERSION}")
    name = _text(where, data["name"], "name", limit=100)
    if not _NAME.match(name):
        raise _fail(where, "name", "must be letters, digits, '_', '-' and '.' (starting with a letter "
                                   "or digit)")
    description = _text(where, data["description"], "description")
    raw_params = data.get("params", {})
    if raw_params is None:
        raw_params = {}
    if not isinstance(raw_params, dict) or len(raw_params) > 50:
        raise _fail(where, "params", "must be a mapping of at most 50 parameter names")
    params = []
    for key, spec in raw_params.items():
        if not isinstance(key, str) or not _PARAM.match(key) or key == SKILL_DIR:
            raise _fail(where, f"params.{key}", "must be named like an identifier (letters, digits, _), "
                                                f"not {SKILL_DIR}")
        if spec is None:
            spec = {}
        if not isinstance(spec, dict) or set(spec) - {"description", "default"}:
            raise _fail(where, f"params.{key}", "must be a mapping with description and optional default")
        default = spec.get("default")
        if default is not None:
            default = _text(where, default, f"params.{key}.default", empty=True, limit=MAX_VALUE)
        params.append(SkillParam(key, _text(where, spec.get("description", ""), f"params.{key}.description",
                                            empty=True), default))
    names = {p.name for p in params}
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("steps", "preconditions", "postconditions"):
        raw = data.get(key, [])
        if raw is None:
            raw = []
        if not isinstance(raw, list) or len(raw) > MAX_STEPS:
            raise _fail(where, key, f"must be a list of at most {MAX_STEPS} strings")
        items = []
        for i, item in enumerate(raw):
            line = _text(where, item, f"{key}[{i}]")
            if _CONTROL.search(line):
                raise _fail(where, f"{key}[{i}]", "must be one line (no control characters)")
            _slots(where, line, f"{key}[{i}]", names)
            items.append(line)
        lists[key] = tuple(items)
    if not lists["steps"]:
        raise _fail(where, "steps", "must hold at least one step")
    folder = path.parent.resolve() if path is not None else Path.cwd()
    for i, line in enumerate(lists["steps"]):
        try:
            _structure(_fill(line, {**dict.fromkeys(names, "x"), SKILL_DIR: str(folder)}))
        except GuiAgentError as exc:
            raise _fail(where, f"steps[{i}]", f"is not a guiagent do command ({exc})") from None
    return Skill(name, description, lists["steps"], tuple(params), lists["preconditions"],
                 lists["postconditions"], path)


def read_skill_file(path: Path) -> Skill:
    """Load and validate one skill file (JSON, or YAML with PyYAML's safe loader)."""
    if path.suffix not in SUFFIXES:
        raise SkillError(f"{path}: a skill file ends in {', '.join(SUFFIXES)}")
    try:
        size = path.stat().st_size
        if size > MAX_SKILL_BYTES:
            raise SkillError(f"{path} is {size} bytes, more than {MAX_SKILL_BYTES}; not a skill file")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise SkillError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise SkillError(f"cannot read {path}: {exc}") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SkillError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        except RecursionError:
            raise SkillError(f"{path} nests too deeply to be a skill") from None
    else:
        try:
            import yaml
        except ImportError:
            raise SkillError(f"{path} is YAML, which needs PyYAML (pip install pyyaml); or write the "
                             "skill as JSON") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SkillError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        except RecursionError:
            raise SkillError(f"{path} nests too deeply to be a skill") from None
    skill = parse_skill(data, where=str(path), path=path)
    if skill.name != path.stem:
        raise SkillError(f"{path}: its name is {skill.name!r} but the file is {path.name}; make them agree")
    return skill


def skill_paths(extra: Sequence[str | os.PathLike[str]] = ()) -> list[Path]:
    """Where skills are looked up, first match wins: ``extra``, ``$GUIAGENT_SKILLS`` (os.pathsep
    separated), ``./skills``, the ``skills/`` folder of a source checkout, and the skills shipped
    inside the package (``guiagent/skill_library``, put there when the wheel is built)."""
    paths = [Path(p) for p in extra]
    env = os.environ.get("GUIAGENT_SKILLS", "")
    paths += [Path(p) for p in env.split(os.pathsep) if p]
    package = Path(__file__).resolve().parents[1]
    paths += [Path.cwd() / "skills", package.parent / "skills", package / "skill_library"]
    seen: list[Path] = []
    for path in paths:
        if path not in seen:
            seen.append(path)
    return seen


def load_skill(name: str, *, paths: Sequence[str | os.PathLike[str]] = ()) -> Skill:
    """The skill called ``name`` (or a path to a skill file)."""
    if not isinstance(name, str) or not name:
        raise SkillError("say which skill: a name from `guiagent skill list`")
    if name.endswith(SUFFIXES) and ("/" in name or Path(name).is_file()):
        return read_skill_file(Path(name))
    if not _NAME.match(name):
        raise SkillError(f"skill names are letters, digits, '_', '-' and '.', got {name!r}")
    searched = skill_paths(paths)
    for folder in searched:
        for suffix in SUFFIXES:
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return read_skill_file(candidate)
    raise SkillError(f"no skill {name!r} in {', '.join(str(p) for p in searched)}; "
                     "see `guiagent skill list`, or create it with `guiagent skill new`")


def list_skills(*, paths: Sequence[str | os.PathLike[str]] = ()) -> list[Skill | SkillError]:
    """Every skill on the skill path (a broken file is listed as its error)."""
    found: list[Skill | SkillError] = []
    names: set[str] = set()
    for folder in skill_paths(paths):
        if not folder.is_dir():
            continue
        for file in sorted(folder.iterdir()):
            if file.suffix not in SUFFIXES or file.stem in names:
                continue
            names.add(file.stem)
            try:
                found.append(read_skill_file(file))
            except SkillError as exc:
                found.append(exc)
    return found


def write_skill(skill: Skill, folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    path = Path(folder) / f"{skill.name}.json"
    if path.exists() and not overwrite:
        raise SkillError(f"{path} exists; choose another name or delete it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(skill.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


__all__ = [
    "SKILL_VERSION",
    "Skill",
    "SkillConditionFailed",
    "SkillError",
    "SkillParam",
    "list_skills",
    "load_skill",
    "parse_skill",
    "read_skill_file",
    "skill_paths",
    "write_skill",
]
