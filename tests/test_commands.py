"""The command language: every form parses to the typed steps it should, every rejection says
what was and was not understood, and no input makes the parser raise anything but CommandError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guiagent.agent.language import (
    ClickStep,
    CommandError,
    DragStep,
    HoverStep,
    OpenStep,
    PressStep,
    RunSkillStep,
    ScrollStep,
    Step,
    TargetRef,
    TypeStep,
    WaitForStep,
    WaitStep,
    parse_commands,
    plan,
    split_clauses,
    step_from_dict,
)
from guiagent.errors import GuiAgentError


def T(spec: str, choice: str | None = None) -> TargetRef:
    return TargetRef(spec, choice)


PARSES: list[tuple[str, list[Step]]] = [
    # clicks
    ('click "File"', [ClickStep(T('"File"'))]),
    ('Click on "File"', [ClickStep(T('"File"'))]),
    ("tap the Save button", [ClickStep(T("the Save button"))]),
    ("double-click the Trash icon", [ClickStep(T("the Trash icon"), count=2)]),
    ('double click "notes.txt"', [ClickStep(T('"notes.txt"'), count=2)]),
    ('right-click "Desktop"', [ClickStep(T('"Desktop"'), "right")]),
    ("right click on 'Desktop'", [ClickStep(T("'Desktop'"), "right")]),
    ('middle-click "tab"', [ClickStep(T('"tab"'), "middle")]),
    ('triple-click "line"', [ClickStep(T('"line"'), count=3)]),
    ('click "OK" twice', [ClickStep(T('"OK"'), count=2)]),
    ("click Don't Save", [ClickStep(T("Don't Save"))]),
    ('click "OK".', [ClickStep(T('"OK"'))]),
    ("please click “Save”", [ClickStep(T("“Save”"))]),
    ('click the rightmost "+"', [ClickStep(T('"+"', "rightmost"))]),
    ('click the 2nd "OK" button', [ClickStep(T('"OK"', "2"))]),
    ('click the last "Delete"', [ClickStep(T('"Delete"', "last"))]),
    ("click the first result", [ClickStep(T("the first result"))]),  # a description stays whole
    ("click the Save and Exit button", [ClickStep(T("the Save and Exit button"))]),
    ("open the File menu", [ClickStep(T("the File menu"))]),
    # typing
    ('type "report.pdf"', [TypeStep("report.pdf")]),
    ("type report.pdf", [TypeStep("report.pdf")]),
    ("type hello, world", [TypeStep("hello, world")]),
    ('type "milk, eggs and bread"', [TypeStep("milk, eggs and bread")]),
    ('type "héllo wörld ✓ 日本"', [TypeStep("héllo wörld ✓ 日本")]),
    ("type 'it's fine'", [TypeStep("it's fine")]),
    ('type "say \\"hi\\""', [TypeStep('say "hi"')]),
    ('type "bob" into "User name"', [TypeStep("bob", T('"User name"'))]),
    ("type héllo into the search box", [TypeStep("héllo", T("the search box"))]),
    ('write "x" in "Name"', [TypeStep("x", T('"Name"'))]),
    # keys
    ("press enter", [PressStep("enter")]),
    ("press Enter", [PressStep("enter")]),
    ("press the Enter key", [PressStep("enter")]),
    ("press ctrl+shift+s", [PressStep("ctrl+shift+s")]),
    ("press ctrl + shift + s", [PressStep("ctrl+shift+s")]),
    ("press Control-S", [PressStep("ctrl+s")]),
    ("hit cmd+space", [PressStep("super+space")]),
    ("hotkey alt+f4", [PressStep("alt+f4")]),
    ("press tab 3 times", [PressStep("tab", 3)]),
    ("press down twice", [PressStep("down", 2)]),
    ("press page down", [PressStep("pagedown")]),
    ('press "+"', [PressStep("+")]),
    # scrolling
    ("scroll down", [ScrollStep("down", 3)]),
    ("scroll up 10", [ScrollStep("up", 10)]),
    ("scroll left by 2 notches", [ScrollStep("left", 2)]),
    ("scroll down five times", [ScrollStep("down", 5)]),
    ("scroll down 5 in the Settings window", [ScrollStep("down", 5, T("the Settings window"))]),
    ('scroll right over "Timeline"', [ScrollStep("right", 3, T('"Timeline"'))]),
    # drag, hover
    ('drag "a.txt" to "Trash"', [DragStep(T('"a.txt"'), T('"Trash"'))]),
    ('drag from "a.txt" onto "Trash"', [DragStep(T('"a.txt"'), T('"Trash"'))]),
    ('drag "Go to line" to "Bin"', [DragStep(T('"Go to line"'), T('"Bin"'))]),
    ('move to "Help"', [HoverStep(T('"Help"'))]),
    ('move the mouse over "Help"', [HoverStep(T('"Help"'))]),
    ('hover "Help"', [HoverStep(T('"Help"'))]),
    ('hover over the Help menu', [HoverStep(T("the Help menu"))]),
    ('point at "Help"', [HoverStep(T('"Help"'))]),
    # waiting
    ("wait 2 seconds", [WaitStep(2.0)]),
    ("wait for 500 ms", [WaitStep(0.5)]),
    ("wait 1.5 s", [WaitStep(1.5)]),
    ("wait two minutes", [WaitStep(120.0)]),
    ('wait for "Saved"', [WaitForStep(T('"Saved"'))]),
    ('wait for "Saved" to appear', [WaitForStep(T('"Saved"'))]),
    ('wait for "Loading" to disappear', [WaitForStep(T('"Loading"'), gone=True)]),
    ('wait for "Saved" up to 5 seconds', [WaitForStep(T('"Saved"'), timeout=5.0)]),
    ('wait for "Loading" to go away, up to 30 s',
     [WaitForStep(T('"Loading"'), gone=True, timeout=30.0)]),
    ('wait until "Done" appears', [WaitForStep(T('"Done"'))]),
    ('wait until "Spinner" disappears within 3 seconds',
     [WaitForStep(T('"Spinner"'), gone=True, timeout=3.0)]),
    # programs and skills
    ("open mousepad", [OpenStep("mousepad")]),
    ("launch galculator", [OpenStep("galculator")]),
    ("start xterm -fa Monospace", [OpenStep("xterm -fa Monospace")]),
    ('open "My App"', [OpenStep("'My App'")]),
    ("run skill save_as", [RunSkillStep("save_as")]),
    ('run skill save_as with name=report.pdf, folder="My Docs"',
     [RunSkillStep("save_as", (("name", "report.pdf"), ("folder", "My Docs")))]),
    ("run skill login with user bob and password 'x y'",
     [RunSkillStep("login", (("user", "bob"), ("password", "x y")))]),
    # sequences
    ('click "File", then click "Save As…", type "report.pdf" and press enter',
     [ClickStep(T('"File"')), ClickStep(T('"Save As…"')), TypeStep("report.pdf"), PressStep("enter")]),
    ("scroll down 5 in the Settings window then click Privacy",
     [ScrollStep("down", 5, T("the Settings window")), ClickStep(T("Privacy"))]),
    ('click "A"; click "B"\nclick "C"',
     [ClickStep(T('"A"')), ClickStep(T('"B"')), ClickStep(T('"C"'))]),
    ('click "OK". Then wait 1 second', [ClickStep(T('"OK"')), WaitStep(1.0)]),
    ('type "a, then b" and press enter', [TypeStep("a, then b"), PressStep("enter")]),
    ('click "Yes and no", and then press escape', [ClickStep(T('"Yes and no"')), PressStep("escape")]),
]


@pytest.mark.parametrize(("command", "expected"), PARSES, ids=[c for c, _ in PARSES])
def test_parses(command: str, expected: list[Step]) -> None:
    assert parse_commands(command) == expected


REJECTS: list[tuple[str, str]] = [
    ("", "empty command"),
    ("   ", "empty command"),
    ("frobnicate the thing, then click OK", r"no action 'frobnicate'.*understood: 2\. click OK"),
    ("click", "no target"),
    ("click it", "does not say which"),
    ("click there", "does not say which"),
    ("click OK or Cancel", "names alternatives"),
    ('type "abc', "unterminated quote"),
    ("type", "type what"),
    ('type ""', "nothing to type"),
    ("type hello.", "quote the text"),
    ("type I walked into the room into the box", "'into' twice"),
    ('type "x" onto', "expected 'into TARGET'"),
    ("press ctrl s", "unknown key"),
    ("press florp", "unknown key"),
    ("press ctrl+ctrl", "same key twice"),
    ("press enter 1000 times", "1 to 100"),
    ("scroll sideways", "scroll up\\|down"),
    ("scroll down 1000", "1 to 100"),
    ("scroll down 2.5", "whole notches"),
    ("drag a to b to c", "exactly one 'to'"),
    ("drag a", "exactly one 'to'"),
    ("move OK", "move to TARGET"),
    ("wait", "wait N seconds"),
    ("wait 99999 seconds", "0 to 3600"),
    ('wait for "x" up to 0 seconds', "above 0"),
    ("open", "open what"),
    ("open the door", "not a program name"),
    ("run", "run skill NAME"),
    ("run skill a/b", "skill names"),
    ("run skill s with a=1 b", "mixing"),
    ("run skill s with a", "pairs"),
    ("run skill s with a=1 a=2", "given twice"),
    ("click missing-image-for-guiagent-test.png", "image not found"),
    ('click "OK", frobnicate, press enter', r"step 2 of 3.*understood: 1\. click \"OK\"; 3\. press enter"),
    ('click ""', "empty quoted target"),
]


@pytest.mark.parametrize(("command", "message"), REJECTS, ids=[c or "<empty>" for c, _ in REJECTS])
def test_rejects(command: str, message: str) -> None:
    with pytest.raises(CommandError, match=message) as info:
        parse_commands(command)
    assert info.value.exit_code == 2
    assert isinstance(info.value, GuiAgentError)


def test_error_lists_understood_and_failed_clauses() -> None:
    with pytest.raises(CommandError) as info:
        parse_commands('click "File", florp "x", then press enter')
    error = info.value
    assert [i for i, _ in error.understood] == [1, 3]
    assert error.failed[0][:2] == (2, 'florp "x"')
    assert "nothing was done" in str(error)
    assert "\n" not in str(error)  # the CLI prints errors on one line


def test_image_target_is_a_template(tmp_path: Path) -> None:
    import numpy as np

    from guiagent.screen.capture import Frame

    icon = tmp_path / "gear.png"
    Frame(np.random.default_rng(1).integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(icon)
    (step,) = parse_commands(f"double-click {icon}")
    assert step == ClickStep(TargetRef(str(icon)), count=2)
    assert step.target.kind == "image"
    (step,) = parse_commands(f"click the second {icon}")
    assert step == ClickStep(TargetRef(str(icon), "2"))


def test_split_keeps_text_inside_quotes_and_non_verb_pieces() -> None:
    assert split_clauses('type "a; b, then c" then press enter') == ['type "a; b, then c"', "press enter"]
    assert split_clauses("click Save and Close") == ["click Save and Close"]


def test_target_kinds_follow_target_parse() -> None:
    assert TargetRef('"Save"').kind == "text"
    assert TargetRef("icons/gear.png").kind == "image"
    assert TargetRef("the gear icon").kind == "description"


ALL_FORMS = [step for _, steps in PARSES for step in steps]


@pytest.mark.parametrize("step", ALL_FORMS, ids=[s.describe() for s in ALL_FORMS])
def test_to_dict_round_trips_through_json(step: Step) -> None:
    data = json.loads(json.dumps(step.to_dict()))
    assert step_from_dict(data) == step
    assert step.describe()


@pytest.mark.parametrize("data", [
    None, [], {"kind": "explode"}, {"kind": "click"}, {"kind": "click", "target": 3},
    {"kind": "click", "target": "x", "count": "2"}, {"kind": "click", "target": "x", "count": True},
    {"kind": "click", "target": "x", "rm": "-rf"}, {"kind": "wait", "seconds": -1},
    {"kind": "press", "keys": "os.system"}, {"kind": "run_skill", "name": "s", "params": {"a": 1}},
    {"kind": "type", "text": ""}, {"kind": "click", "target": {"spec": "x", "choice": "middle-ish"}},
])
def test_step_from_dict_rejects_malformed_data(data: Any) -> None:
    with pytest.raises(CommandError):
        step_from_dict(data)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_any_text_gives_steps_or_command_error(text: str) -> None:
    try:
        steps = parse_commands(text)
    except CommandError:
        return
    assert steps and all(s.describe() for s in steps)


WORDS = st.sampled_from(["click", "double-click", "type", "press", "scroll", "down", "drag", "to",
                         "into", "wait", "for", "up", "5", "seconds", "open", "run", "skill", "with",
                         "and", "then", ",", ";", '"', "'", "OK", "the", "button", "ctrl+s", "x=1",
                         "twice", "rightmost", "hover", "over", "menu", ".", "«", "»", "\n", "é"])


@settings(max_examples=400, deadline=None)
@given(st.lists(WORDS, max_size=12).map(" ".join))
def test_command_like_text_gives_steps_or_command_error(text: str) -> None:
    try:
        steps = parse_commands(text)
    except CommandError:
        return
    for step in steps:
        assert step_from_dict(json.loads(json.dumps(step.to_dict()))) == step


class _ListPlanner:
    """A stand-in for a model in tests: it proposes fixed data, as a model's parsed output."""

    def __init__(self, proposal: list[Any]) -> None:
        self.proposal = proposal
        self.asked: list[str] = []

    def propose(self, command: str, error: CommandError) -> list[Any]:
        self.asked.append(command)
        return self.proposal


def test_planner_output_becomes_typed_steps_only() -> None:
    planner = _ListPlanner([{"kind": "click", "target": '"Save"'}, PressStep("enter")])
    steps, proposed = plan("save the document please", planner)
    assert proposed and steps == [ClickStep(T('"Save"')), PressStep("enter")]
    steps, proposed = plan('click "OK"', planner)  # parsed: the planner is not asked
    assert not proposed and planner.asked == ["save the document please"]
    with pytest.raises(CommandError, match="unknown step kind"):
        plan("do something", _ListPlanner([{"kind": "exec", "code": "import os"}]))
    with pytest.raises(CommandError, match="no action"):
        plan("do something", None)


def test_run_skill_expands_through_the_skills_api(monkeypatch: pytest.MonkeyPatch) -> None:
    from guiagent.agent.loop import Agent

    calls: list[tuple[str, dict[str, str]]] = []

    class Skill:
        def __init__(self, name: str) -> None:
            self.name = name

        def expand(self, params: dict[str, str]) -> list[str]:
            calls.append((self.name, params))
            if self.name == "outer":
                return [f'click "{params["button"]}"', "run skill inner"]
            return ["press ctrl+s"]

        def expand_conditions(self, params: dict[str, str]) -> tuple[list[str], list[str]]:
            return [], []  # no pre- or postconditions

    monkeypatch.setattr("guiagent.agent.loop.load_skill", Skill)
    agent = Agent.__new__(Agent)
    agent.skills = {}
    steps = agent._expand(parse_commands('run skill outer with button="Save As"'), "", 0)
    assert steps == [(ClickStep(T('"Save As"')), "skill outer"), (PressStep("ctrl+s"), "skill inner")]
    assert calls == [("outer", {"button": "Save As"}), ("inner", {})]
