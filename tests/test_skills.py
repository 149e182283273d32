"""Skills: loading (JSON and YAML, schema-validated, fuzzed), parameter expansion that cannot
smuggle in steps, skills made from a demo, and skills run on the 4K Xvfb display."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ProbeApp, start_probe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guiagent import Desktop, VirtualDisplay
from guiagent.recording import ClickStep, Demo, KeyStep, PointerTarget, TypeStep, write_demo
from guiagent.skills import (
    Skill,
    SkillError,
    list_skills,
    load_skill,
    parse_skill,
    read_skill_file,
    run_skill,
    skill_from_demo,
    write_skill,
)

REPO_SKILLS = Path(__file__).resolve().parent.parent / "skills"

VALID: dict[str, Any] = {
    "version": 1,
    "name": "fill-name",
    "description": "Type a name into the Name field and confirm.",
    "params": {"name": {"description": "the name"}, "button": {"description": "", "default": "OK"}},
    "preconditions": ['"Name"'],
    "steps": ['click "Name"', 'type "{name}"', 'click "{button}"', "press enter"],
    "postconditions": ['"Hello {name}"'],
}


def test_expand_fills_slots_and_defaults() -> None:
    skill = parse_skill(VALID)
    assert skill.expand({"name": "Ada Lovelace"}) == [
        'click "Name"', 'type "Ada Lovelace"', 'click "OK"', "press enter"]
    assert skill.expand({"name": "Ada", "button": "Apply"})[2] == 'click "Apply"'
    assert skill.expand_conditions({"name": "Ada"}) == (['"Name"'], ['"Hello Ada"'])


@pytest.mark.parametrize(("params", "message"), [
    ({}, "needs name="),
    ({"name": "x", "colour": "red"}, "has no parameter colour"),
    ({"name": "two\nlines"}, "one line"),
    ({"name": "x" * 1001}, "at most 1000"),
    ({"name": 'Ada" and press ctrl+q and type "x'}, "values may not add steps"),
    ({"name": "Ada", "button": "OK\", then press alt+f4, then click \"OK"}, "values may not add steps"),
])
def test_parameters_are_checked_and_cannot_add_steps(params: dict[str, str], message: str) -> None:
    with pytest.raises(SkillError, match=message):
        parse_skill(VALID).expand(params)


def changed(**fields: Any) -> dict[str, Any]:
    return {**VALID, **fields}


@pytest.mark.parametrize(("doc", "message"), [
    (changed(version=2), "schema version 2 is not supported"),
    (changed(name="../evil"), "name must be letters"),
    (changed(steps=[]), "steps must hold at least one step"),
    (changed(steps=["rm -rf /"]), r"steps\[0\] is not a guiagent do command"),
    (changed(steps=['type "{nope}"']), r"uses \{nope\}, which is not among the params"),
    (changed(steps=['type "{"']), "lone '{'"),
    (changed(steps=["press enter\npress enter"]), "one line"),
    (changed(params={"1bad": {}}), "named like an identifier"),
    (changed(params={"name": {"default": 3}}), "default must be text"),
    (changed(exec="import os"), "unknown field"),
    ([], "must be a mapping"),
])
def test_malformed_skills_are_rejected(doc: Any, message: str) -> None:
    with pytest.raises(SkillError, match=message):
        parse_skill(doc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from([*VALID, "extra"]), value=json_values, drop=st.booleans())
def test_fuzzed_skills_give_a_clear_error_or_a_skill(key: str, value: Any, drop: bool) -> None:
    doc = dict(VALID)
    if drop:
        doc.pop(key, None)
    else:
        doc[key] = value
    try:
        skill = parse_skill(doc)
    except SkillError as exc:
        assert "skill" in str(exc)
    else:
        assert isinstance(skill, Skill)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.text(max_size=300), suffix=st.sampled_from([".json", ".yaml"]))
def test_fuzzed_skill_files_give_a_clear_error(tmp_path: Path, content: str, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SkillError):
        read_skill_file(path)


def test_yaml_is_safe_loaded(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "fill-name.yaml"
    path.write_text("version: 1\nname: fill-name\ndescription: d\nsteps:\n  - press enter\n")
    assert read_skill_file(path).steps == ("press enter",)
    evil = tmp_path / "evil.yaml"
    evil.write_text("!!python/object/apply:os.system ['touch /tmp/guiagent-pwned']\n")
    with pytest.raises(SkillError, match="not valid YAML"):
        read_skill_file(evil)


def test_load_by_name_from_the_skill_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUIAGENT_SKILLS", str(tmp_path))
    (tmp_path / "fill-name.json").write_text(json.dumps(VALID))
    assert load_skill("fill-name").path == tmp_path / "fill-name.json"
    assert {s.name for s in list_skills() if isinstance(s, Skill)} >= {"fill-name", "terminal-run",
                                                                      "gtk-save-as"}
    with pytest.raises(SkillError, match="no skill 'nope'"):
        load_skill("nope")
    with pytest.raises(SkillError, match="skill names are letters"):
        load_skill("../../etc/passwd")
    (tmp_path / "wrong.json").write_text(json.dumps(VALID))
    with pytest.raises(SkillError, match="make them agree"):
        load_skill("wrong")


def test_shipped_skills_are_valid() -> None:
    shipped = sorted(REPO_SKILLS.glob("*.json"))
    assert shipped
    for path in shipped:
        skill = read_skill_file(path)
        assert skill.description and skill.steps


def synthetic_demo(folder: Path) -> Demo:
    """A demo as the recorder writes it (no pictures needed): click Beta, type, click Gamma."""
    folder.mkdir(parents=True)
    steps = (ClickStep(0.0, PointerTarget((300.0, 300.0), text="Beta")),
             TypeStep(1.0, "report {q3}.txt"),
             KeyStep(1.5, "enter"),
             ClickStep(2.0, PointerTarget((400.0, 300.0), text="Gamma"), count=2))
    demo = Demo(steps, folder, (3840, 2160))
    write_demo(demo)
    return demo


def test_skill_from_demo_with_parameters(tmp_path: Path) -> None:
    synthetic_demo(tmp_path / "demo")
    skill = skill_from_demo("pick", tmp_path / "demo",
                            params={"button": "step:1.text", "file": "step:2.text"})
    assert skill.steps == ('click "{button}"', 'type "{file}"', "press enter", 'double-click "Gamma"')
    assert skill.expand({}) == ['click "Beta"', 'type "report {q3}.txt"', "press enter",
                                'double-click "Gamma"']
    plain = skill_from_demo("plain", tmp_path / "demo")
    assert plain.steps[1] == 'type "report {{q3}}.txt"'  # literal braces survive
    assert plain.expand({})[1] == 'type "report {q3}.txt"'
    path = write_skill(skill, tmp_path / "skills")
    assert read_skill_file(path).expand({"button": "Alpha"})[0] == 'click "Alpha"'
    with pytest.raises(SkillError, match="exists"):
        write_skill(skill, tmp_path / "skills")
    with pytest.raises(SkillError, match=r"step:N\.text"):
        skill_from_demo("bad", tmp_path / "demo", params={"x": "step:one"})
    with pytest.raises(SkillError, match="steps 1 to 4"):
        skill_from_demo("bad", tmp_path / "demo", params={"x": "step:9.text"})


def test_skill_from_demo_refuses_what_it_cannot_express(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    folder.mkdir()
    write_demo(Demo((ClickStep(0.0, PointerTarget((5.0, 5.0))),), folder))
    with pytest.raises(SkillError, match=r"step 1 .* has no text"):
        skill_from_demo("x", folder)


# -- on the display -----------------------------------------------------------------------------


@pytest.fixture()
def labelled_probe(vdisplay: VirtualDisplay, tmp_path: Path) -> Any:
    app = start_probe(vdisplay, tmp_path / "probe.jsonl", "--buttons", "Alpha,Beta,Gamma",
                      "--font-size", "14", geometry="1000x600+1400+800")
    app.ready  # noqa: B018 - waits for the window
    yield app
    app.process.terminate()
    app.process.wait(10)


@pytest.mark.display
def test_a_skill_made_from_the_recorded_demo_runs_with_a_new_parameter(
        vdisplay: VirtualDisplay, labelled_probe: ProbeApp, tmp_path: Path) -> None:
    """demos/greet was recorded on the Tk probe; as a skill its typed text is a parameter and its
    click into the (label-less) text box is found by the recorded picture."""
    skill = skill_from_demo("greet", REPO_SKILLS.parent / "demos" / "greet",
                            params={"greeting": "step:2.text"}, folder=tmp_path / "skills")
    assert skill.steps[0] == "click {skill_dir}/greet.step1.png"
    assert skill.steps[1:] == ('type "{greeting}"', "press enter", 'click "Beta"', 'double-click "Gamma"')
    with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as desktop:
        run_skill(skill, {"greeting": "Bonjour from a skill"}, desktop, timeout=10)
    labelled_probe.wait_for(lambda ev: sum(e["event"] == "button" for e in ev) >= 3, what="the clicks")
    assert [e["label"] for e in labelled_probe.events("button")] == ["Beta", "Gamma", "Gamma"]
    assert labelled_probe.text() == "Bonjour from a skill\n"


@pytest.mark.display
def test_cli_skill_run_terminal_run_in_xterm(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    from Xlib import display as xdisplay

    from guiagent.display import wait_until
    from guiagent.recording import find_windows

    out = tmp_path / "skill-out.txt"
    terminal = vdisplay.launch(["xterm", "-T", "skill-xterm", "-geometry", "80x20+600+500",
                                "-e", "bash", "--norc", "--noprofile"])
    conn = xdisplay.Display(vdisplay.name)
    try:
        wait_until(lambda: bool(find_windows(conn, "skill-xterm")), 20, "the xterm window")
        x, y, width, height = find_windows(conn, "skill-xterm")[0].box
        with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as desktop:
            desktop.move_to((x + width // 2, y + height // 2))  # focus follows the mouse
        done = subprocess.run([sys.executable, "-m", "guiagent", "skill", "run", "terminal-run",
                               f"command=echo from-a-skill > {out}", "--no-failsafe"],
                              env=vdisplay.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "skill terminal-run: done" in done.stdout
        wait_until(out.exists, 10, f"the shell to write {out}")
        wait_until(lambda: out.read_text() == "from-a-skill\n", 5, "the whole line in the file")
    finally:
        conn.close()
        terminal.terminate()
        terminal.wait(10)
    refused = subprocess.run([sys.executable, "-m", "guiagent", "skill", "run", "terminal-run",
                              'command=x" and press ctrl+q and type "y'],
                             env=vdisplay.env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "values may not add steps" in refused.stderr


@pytest.mark.display
def test_shipped_gtk_save_as_saves_a_mousepad_document(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    import shutil

    if shutil.which("mousepad") is None:
        pytest.skip("mousepad is not installed (bash .ci/install installs it)")
    out = tmp_path / "q3 notes.txt"
    editor = vdisplay.launch(["mousepad"], env={"XDG_CONFIG_HOME": str(tmp_path / "config")})
    try:
        with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as desktop:
            menu = desktop.wait_for('"File"', timeout=60)
            assert menu is not None and menu.screen_point is not None
            inside = (menu.screen_point.x + 300, menu.screen_point.y + 300)
            desktop.click(inside)  # focus follows the mouse; the click puts the caret in the text
            desktop.type("hello from a skill")
            run_skill(load_skill("gtk-save-as"), {"filename": str(out)}, desktop, timeout=30)
        from guiagent.display import wait_until

        wait_until(out.exists, 15, f"mousepad to write {out}")
        assert out.read_text().startswith("hello from a skill")
    finally:
        editor.terminate()
        editor.wait(10)
