"""Skills from demos: a recorded demo becomes a parameterised skill (``guiagent skill new``).

Clicks become ``click "their text"``, or the recorded picture where there was no text; typed
text and keys become ``type`` and ``press`` steps; chosen typed texts become ``{param}`` slots.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from guiagent.agent.skills import (
    _NAME,
    _PARAM,
    SKILL_DIR,
    Skill,
    SkillParam,
    parse_skill,
    read_skill_file,
    write_skill,
)
from guiagent.errors import SkillError
from guiagent.recording.recorder import ClickStep, DragStep, KeyStep, ScrollStep, TypeStep
from guiagent.recording.replay import load_demo


def _quoted(text: str) -> str:
    for left, right in (('"', '"'), ("'", "'"), ("“", "”"), ("«", "»")):
        if left not in text and right not in text:
            return f"{left}{text}{right}"
    raise SkillError(f"cannot quote {text!r} for a command: it holds every kind of quote")


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def skill_from_demo(name: str, demo_folder: str | os.PathLike[str], *, description: str = "",
                    params: Mapping[str, str] | None = None, folder: str | os.PathLike[str] | None = None,
                    overwrite: bool = False) -> Skill:
    """A skill whose steps are the demo's steps as ``guiagent do`` commands.

    ``params`` maps a parameter name to ``step:N.text``: the text typed in step N (or the text
    clicked in step N) becomes ``{name}``, with the recorded text as its default. Pointer steps
    are written by the text under them; one with no text by its recorded picture, which is copied
    next to the skill file (``NAME.stepN.png``, used as ``{skill_dir}/NAME.stepN.png``). With
    ``folder`` the skill is written there (``NAME.json``, pictures) and read back."""
    demo = load_demo(demo_folder)
    slots: dict[int, str] = {}
    for param_name, spec in (params or {}).items():
        m = re.fullmatch(r"step:(\d+)\.text", spec)
        if not _PARAM.match(param_name) or m is None:
            raise SkillError(f"--param {param_name}={spec}: write NAME=step:N.text (NAME an identifier)")
        number = int(m.group(1))
        if not 1 <= number <= len(demo.steps):
            raise SkillError(f"--param {param_name}={spec}: the demo has steps 1 to {len(demo.steps)}")
        slots[number] = param_name
    if not _NAME.match(name):
        raise SkillError(f"skill names are letters, digits, '_', '-' and '.', got {name!r}")
    out = Path(folder) if folder is not None else None
    if out is not None and (out / f"{name}.json").exists() and not overwrite:
        raise SkillError(f"{out / (name + '.json')} exists; choose another name or delete it first")
    pictures: list[tuple[Path, str]] = []
    lines: list[str] = []
    skill_params: list[SkillParam] = []
    for number, step in enumerate(demo.steps, 1):
        param = slots.get(number)
        if isinstance(step, TypeStep):
            if step.secret and param is None:
                raise SkillError(f"step {number} types a secret that was not recorded; make it a parameter: "
                                 f"--param secret=step:{number}.text")
            if param is not None:
                skill_params.append(SkillParam(param, f"the text typed in step {number}",
                                               None if step.secret else step.text))
                lines.append(f'type "{{{param}}}"')
            else:
                assert step.text is not None
                lines.append(f"type {_escape(_quoted(step.text))}")
            continue
        if isinstance(step, KeyStep):
            lines.append(f"press {step.keys}" + (f" {step.presses} times" if step.presses > 1 else ""))
            continue
        text = step.target.text
        if text is None:
            templates = step.target.templates
            if not templates or out is None:
                why = "no picture either" if not templates else "no folder to keep its picture in"
                raise SkillError(f"step {number} ({type(step).__name__}) has no text under its point and "
                                 f"{why}; write that step by hand")
            picture = f"{name}.step{number}.png"
            pictures.append((demo.asset(templates[len(templates) // 2].image), picture))
            where: str = f"{{{SKILL_DIR}}}/{picture}"
        elif param is not None:
            skill_params.append(SkillParam(param, f"the text clicked in step {number}", text))
            where = f'"{{{param}}}"'
        else:
            where = _escape(_quoted(text))
        if isinstance(step, ClickStep):
            verb = {1: "click", 2: "double-click", 3: "triple-click"}[step.count]
            if step.button != "left":
                verb = f"{step.button}-click"
            lines.append(f"{verb} {where}")
        elif isinstance(step, ScrollStep):
            lines.append(f"scroll {step.direction} {step.amount} in {where}")
        elif isinstance(step, DragStep):
            raise SkillError(f"step {number} is a drag, which a skill cannot express from a recording "
                             "(its destination has no text); write it by hand as drag SOURCE to DESTINATION")
    skill = Skill(name, description or f"Recorded from {Path(demo_folder).name}", tuple(lines),
                  tuple(skill_params))
    if out is None:
        return parse_skill(skill.to_json(), where=f"skill {name}")  # the same checks as a file
    import shutil

    out.mkdir(parents=True, exist_ok=True)
    for source, picture in pictures:
        shutil.copyfile(source, out / picture)
    return read_skill_file(write_skill(skill, out, overwrite=True))  # read back: validated
