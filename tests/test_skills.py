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

import guiagent
from guiagent import Desktop, VirtualDisplay
from guiagent.agent.loop import run_skill
from guiagent.agent.skills import (
    Skill,
    SkillError,
    list_skills,
    load_skill,
    parse_skill,
    read_skill_file,
    write_skill,
)
from guiagent.recording.recorder import ClickStep, Demo, KeyStep, PointerTarget, TypeStep, write_demo
from guiagent.recording.skills import skill_from_demo

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
    app.ready
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

    from guiagent.platform.x11.windows import find_windows
    from guiagent.screen.polling import wait_until

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
def test_shipped_gtk_save_as_saves_a_mousepad_document(vdisplay: VirtualDisplay, desktop: Desktop,
                                                       tmp_path: Path) -> None:
    import shutil

    if shutil.which("mousepad") is None:
        pytest.skip("mousepad is not installed (bash .ci/install installs it)")
    out = tmp_path / "q3 notes.txt"
    # Its own instance (no session bus to find another on): a second Mousepad on a display hands
    # its window to the first and exits, so one still ending from another test would take this
    # window with it (a full run under load once ended here with no window on the screen).
    editor = vdisplay.launch(["mousepad"], env={"XDG_CONFIG_HOME": str(tmp_path / "config"),
                                                "DBUS_SESSION_BUS_ADDRESS": "disabled:"})
    try:
        menu = desktop.wait_for('"File"', timeout=60)
        assert menu is not None and menu.screen_point is not None
        inside = (menu.screen_point.x + 300, menu.screen_point.y + 300)
        desktop.click(inside)  # focus follows the mouse; the click puts the caret in the text
        desktop.type("hello from a skill")
        run_skill(load_skill("gtk-save-as"), {"filename": str(out)}, desktop, timeout=30)
        from guiagent.screen.polling import wait_until

        wait_until(out.exists, 30, f"mousepad to write {out}")
        assert out.read_text().startswith("hello from a skill")
    finally:
        editor.terminate()
        editor.wait(10)


# -- skills run through the agent: conditions, and the shipped application skills ---------------


def _window_titles(display: VirtualDisplay, pattern: str) -> list[str]:
    """The names of the visible windows whose name matches ``pattern`` (xdotool, i.e. what the
    application itself set as its title)."""
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", pattern], env=display.env,
                           capture_output=True, text=True, timeout=10)
    titles = []
    for window in found.stdout.split():
        name = subprocess.run(["xdotool", "getwindowname", window], env=display.env,
                              capture_output=True, text=True, timeout=10)
        titles.append(name.stdout.strip())
    return titles


CONDITIONED: dict[str, Any] = {
    "version": 1,
    "name": "press-gamma",
    "description": "Click Gamma on the probe, which must show Beta first and {shown} after.",
    "params": {"shown": {"description": "a text that must be visible afterwards"},
               "before": {"description": "a text that must be visible before", "default": "Beta"}},
    "preconditions": ['"{before}"'],
    "steps": ['click "Gamma"'],
    "postconditions": ['"{shown}"'],
}


@pytest.mark.display
def test_guiagent_do_checks_a_skills_pre_and_postconditions(
        vdisplay: VirtualDisplay, labelled_probe: ProbeApp, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`run skill` inside a command checks the precondition before the skill's first step and the
    postcondition after its last; a failed one stops the run (exit code 3) and says which skill
    and which condition, and a failed precondition leaves the skill's steps undone."""
    from guiagent.agent.loop import SkillCondition, StepFailed, do
    from guiagent.agent.skills import SkillConditionFailed

    folder = tmp_path / "skills"
    folder.mkdir()
    (folder / "press-gamma.json").write_text(json.dumps(CONDITIONED))
    monkeypatch.setenv("GUIAGENT_SKILLS", str(folder))
    clicks = lambda: [e["label"] for e in labelled_probe.events("button")]
    with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as desktop:
        report = do(desktop, 'run skill press-gamma with shown=Alpha, then click "Beta"', timeout=5)
        kinds = [(type(r.step).__name__, r.origin, r.status) for r in report.steps]
        assert kinds == [("SkillCondition", "skill press-gamma", "done"),
                         ("ClickStep", "skill press-gamma", "done"),
                         ("SkillCondition", "skill press-gamma", "done"),
                         ("ClickStep", "", "done")]
        first = report.steps[0].step.describe()
        assert first == "check skill press-gamma's precondition: \"Beta\" is visible"
        labelled_probe.wait_for(lambda ev: sum(e["event"] == "button" for e in ev) >= 2, what="two clicks")
        assert clicks() == ["Gamma", "Beta"]

        with pytest.raises(StepFailed) as before:
            do(desktop, "run skill press-gamma with shown=Alpha before=Nowhere-to-be-seen", timeout=1)
        assert isinstance(before.value.cause, SkillConditionFailed) and before.value.exit_code == 3
        assert "step 1 (check skill press-gamma's precondition" in str(before.value)
        assert '"Nowhere-to-be-seen" must be visible before it runs' in str(before.value)
        assert [r.status for r in before.value.report.steps] == ["failed", "not run", "not run"]

        with pytest.raises(StepFailed) as after:
            do(desktop, "run skill press-gamma with shown=Delta", timeout=1)
        assert isinstance(after.value.cause, SkillConditionFailed) and after.value.exit_code == 3
        assert '"Delta" must be visible after it ran' in str(after.value)
        failed = after.value.report.failed
        assert failed is not None and isinstance(failed.step, SkillCondition) and failed.index == 3
    labelled_probe.wait_for(lambda ev: sum(e["event"] == "button" for e in ev) >= 3, what="the third click")
    assert clicks() == ["Gamma", "Beta", "Gamma"]  # the precondition failure clicked nothing


CHROMIUM_FLAGS = ("--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")


def _page(path: Path, title: str, heading: str) -> str:
    path.write_text(f"<!doctype html><html><head><title>{title}</title></head><body>"
                    f"<h1 style='font-size:64px'>{heading}</h1></body></html>", encoding="utf-8")
    return path.as_uri()


@pytest.mark.display
def test_shipped_chromium_open_url_loads_the_page(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    """The second URL is a prefix of the first, so Chromium's omnibox completes it inline to the
    page already visited: the skill's Delete must drop that completion, or the wrong page loads.
    Chromium's own window title says which page it shows."""
    import shutil

    from guiagent.screen.polling import wait_until

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (bash .ci/install installs it)")
    longer = _page(tmp_path / "page.html.html", "Longer page 4711", "The longer page")
    short = _page(tmp_path / "page.html", "Short page 1147", "The short page")
    assert longer.startswith(short)
    with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as desktop:
        desktop.launch([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                        "--window-position=300,200", "--window-size=1800,1200", "about:blank"])
        wait_until(lambda: bool(_window_titles(vdisplay, "Chromium$")), 60, "the Chromium window")
        desktop.move_to((1200, 900))  # focus follows the mouse
        report = guiagent.do(desktop, f'run skill chromium-open-url with url={longer} expect="The longer page"',
                            timeout=30)
        assert report.ok and report.steps[-1].step.describe().startswith("check skill chromium-open-url")
        assert _window_titles(vdisplay, "^Longer page 4711") == ["Longer page 4711 - Chromium"]
        guiagent.do(desktop, f'run skill chromium-open-url with url={short} expect="The short page"', timeout=30)
        assert _window_titles(vdisplay, "^Short page 1147") == ["Short page 1147 - Chromium"]
        assert _window_titles(vdisplay, "^Longer page 4711") == []


@pytest.mark.display
def test_shipped_calc_fill_cells_fills_a_libreoffice_sheet(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    """Fills four cells (text, a number and a cell reference with doubled characters, a formula,
    and a text Calc's AutoInput would complete to the one above it), saves the sheet with Ctrl+S
    and reads it back through LibreOffice's own CSV export.

    Calc runs with its GTK interface, as on a GNOME/Xfce desktop (tests/test_input.py types into
    its bare X11 one)."""
    import csv
    import shutil

    from guiagent.screen.polling import wait_until

    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (bash .ci/install installs libreoffice-calc)")
    if not any(Path(soffice).resolve().parent.glob("libvclplug_gtk3*")):
        pytest.skip("LibreOffice's GTK interface is not installed (bash .ci/install installs "
                    "libreoffice-gtk3)")
    saved = tmp_path / "filled.ods"
    with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as desktop:
        desktop.launch([soffice, "--calc", "--norestore", "--nologo",
                        f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}"],
                       env={"SAL_USE_VCLPLUGIN": "gtk3"})
        wait_until(lambda: bool(_window_titles(vdisplay, "LibreOffice Calc$")), 120, "the Calc window")
        desktop.wait_for('"Sheet1"', timeout=120)  # the sheet tabs: Calc is drawn...
        # ... but under load its first shortcut could still go astray (A1 once held "A1"):
        # give the grid the focus with a click and let Calc finish drawing before typing.
        desktop.click((1900, 1100))
        desktop.wait_still(quiet=1.0, timeout=30)
        guiagent.do(desktop, "run skill calc-fill-cells with cell=A1 value=Apple, "
                   "then run skill calc-fill-cells with cell=B11 value=1100, "
                   'then run skill calc-fill-cells with cell=C3 value="=B11*2", '
                   "then run skill calc-fill-cells with cell=A2 value=Ap", timeout=30)
        guiagent.do(desktop, f'press ctrl+s, wait for "Save" up to 60 seconds, press ctrl+a, type "{saved}", '
                   "press enter", timeout=30)
        wait_until(saved.exists, 60, f"Calc to write {saved}")
        wait_until(lambda: _window_titles(vdisplay, "^filled.ods") != [], 30, "the saved document's title")
    out = tmp_path / "csv"
    subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'lo-convert').as_uri()}", "--headless",
                    "--convert-to", "csv", "--outdir", str(out), str(saved)],
                   capture_output=True, timeout=120, check=True)
    with (out / "filled.csv").open(newline="", encoding="utf-8") as file:
        cells = {(row, column): value for row, values in enumerate(csv.reader(file), 1)
                 for column, value in enumerate(values, 1) if value}
    assert cells == {(1, 1): "Apple", (2, 1): "Ap", (3, 3): "2200", (11, 2): "1100"}
