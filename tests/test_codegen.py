"""Record once, get a test: the code generator (pure, on hand-made demos) and `guiagent codegen`
end to end on a real calculator at 4K (record by synthetic input, run the generated test, run it
again on a screen where the window sits elsewhere)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import guiagent
from guiagent.agent.language import parse_commands
from guiagent.elements.model import Element
from guiagent.errors import DemoError
from guiagent.geometry import Box
from guiagent.recording.codegen import (
    CodegenError,
    element_query,
    generate_do,
    generate_pytest,
    new_labels,
    quote_label,
)
from guiagent.recording.format import (
    Check,
    ClickStep,
    Demo,
    DragStep,
    ElementRef,
    KeyStep,
    PointerTarget,
    ScrollStep,
    TemplateAsset,
    TypeStep,
    load_demo,
    write_demo,
)
from guiagent.screen.processes import end_program


def element(role: str, name: str, x: int, y: int = 100, source: str = "a11y") -> Element:
    return Element(ref=f"e{x}{y}", role=role, name=name, box=Box(x, y, 80, 30), source=source)  # type: ignore[arg-type]


def ref(e: Element, elements: list[Element], *, visible: bool = True) -> ElementRef:
    b = e.box
    box = (int(b.left), int(b.top), int(b.width), int(b.height))
    return ElementRef(e.role, e.name, e.source, (0, 1), box, element_query(e, elements, visible=visible),
                      visible)


def click(target: PointerTarget, **options: object) -> ClickStep:
    return ClickStep(1.0, target, **options)  # type: ignore[arg-type]


def ruff_clean(source: str, tmp_path: Path) -> None:
    compile(source, "generated.py", "exec")
    path = tmp_path / "test_generated.py"
    path.write_text(source, encoding="utf-8")
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    result = subprocess.run([ruff, "check", "--no-cache", "--isolated", "--line-length", "110",
                             "--select", "E,F,W,I,UP,B,SIM,RUF", "--ignore", "RUF001", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr + source


# -- naming targets ---------------------------------------------------------------------------


def test_a_unique_label_is_quoted_and_quotes_inside_it_pick_another_pair() -> None:
    save_as = element("menu item", "Save As…", 10)
    other = element("menu item", "Save", 100)
    assert element_query(save_as, [save_as, other]) == '"Save As…"'
    said = element("button", 'Say "hi"', 10)
    assert element_query(said, [said]) == '“Say "hi"”'
    assert quote_label('a "b" “c” «d» \'e\'') is None


def test_an_ambiguous_label_is_named_by_role_and_label() -> None:
    button = element("button", "Open", 10)
    item = element("menu item", "Open", 200)
    assert element_query(button, [button, item]) == 'the "Open" button'
    assert element_query(item, [button, item]) == 'the "Open" menu item'
    ok_label = element("label", "OK", 300)
    ok_field = element("text field", "", 400)
    assert element_query(ok_field, [button, ok_label, ok_field]) == "the text field"  # unnamed


def test_a_label_that_occurs_more_than_once_gets_an_ordinal_the_query_reader_takes_back() -> None:
    from guiagent.elements.query import parse_query, pick, rank_elements

    twins = [element("button", "OK", 200), element("button", "OK", 10), element("button", "OK", 10, 300)]
    names = [element_query(e, twins) for e in twins]
    assert names == ['the second "OK"', 'the first "OK"', 'the third "OK"']  # reading order
    for e, name in zip(twins, names, strict=True):
        assert name is not None
        query = parse_query(name)
        assert query is not None and query.ordinal is not None
        assert [r.element for r in pick(rank_elements(twins, query), query)] == [e]
    icons = [element("toggle button", "Bold", 10), element("toggle button", "Bold", 200)]
    assert element_query(icons[1], icons, visible=False) == 'the second "Bold" button'
    many = [element("button", "x", 10 + 90 * i) for i in range(12)]
    assert element_query(many[11], many) == 'the last "x"'
    assert element_query(many[10], many) is None  # the eleventh: a picture will name it


def test_an_icon_only_control_is_named_by_role_and_its_tree_name() -> None:
    bold = element("toggle button", "Bold", 10)
    assert element_query(bold, [bold], visible=False) == 'the "Bold" button'  # as people say it
    bold_item = element("button", "Bold", 100)
    # a "toggle button" query takes plain buttons too: only an ordinal tells these apart
    assert element_query(bold, [bold, bold_item], visible=False) == 'the first "Bold" button'
    field = element("text field", "", 10)
    assert element_query(field, [field, bold]) == "the text field"


def test_new_labels_prefer_the_application_state_and_skip_ambiguous_ones() -> None:
    before = [element("button", "1", 10), element("button", "2", 100)]
    after = [*before, element("button", "Save to memory", 300), element("text field", "42", 10, 10),
             element("button", "Dup", 400), element("button", "Dup", 500)]
    assert new_labels(before, after) == ("42", "Save to memory")


# -- generated code --------------------------------------------------------------------------


def demo_of(tmp_path: Path) -> Demo:
    """A recording with every kind of naming: label, role, OCR text, picture, secret, keys."""
    (tmp_path / "assets").mkdir(exist_ok=True)
    crop = tmp_path / "assets" / "step-0005-t96.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(crop), np.full((96, 96, 3), 90, np.uint8))
    file_menu = element("menu", "File", 10)
    save_as = element("menu item", 'Save "As…"', 10, 200)
    opens = [element("button", "Open", 300), element("menu item", "Open", 300, 200)]
    bold = element("toggle button", "Bold", 600)
    screen = [file_menu, save_as, *opens, bold]
    return Demo((
        click(PointerTarget((50, 115), element=ref(file_menu, screen))),
        click(PointerTarget((50, 215), element=ref(save_as, screen), appeared=('Save "As…"', "Print"))),
        TypeStep(2.0, "report's \"final\".txt"),
        KeyStep(3.0, "enter"),
        click(PointerTarget((340, 115), element=ref(opens[0], screen))),
        click(PointerTarget((640, 115), element=ref(bold, screen, visible=False)), count=2),
        click(PointerTarget((900, 900), text="Cancel")),
        click(PointerTarget((700, 700), templates=(TemplateAsset("assets/step-0005-t96.png", (48, 48)),))),
        TypeStep(4.0, None, secret=True),
        KeyStep(5.0, "tab", presses=3),
        ScrollStep(6.0, PointerTarget((50, 115), element=ref(file_menu, screen)), "down", 2),
    ), tmp_path, (3840, 2160), "2025-01-01T00:00:00+00:00", True, appeared_at_end=("Saved",))


def test_pytest_code_names_every_target_the_most_robust_way(tmp_path: Path) -> None:
    generated = generate_pytest(demo_of(tmp_path), app="mousepad", prefix="test_save")
    body = generated.source.split("def test_save(desktop):\n")[1].splitlines()
    assert [line.strip() for line in body] == [
        "desktop.launch('mousepad')",
        "expect('\"File\"').to_be_visible(timeout=30)",
        "desktop.wait_still()  # a new window moves and lays itself out for a while",
        "desktop.click('\"File\"')",
        "expect('“Save \"As…\"”').to_be_visible()",  # the menu item appeared after the click on File
        "desktop.click('“Save \"As…\"”')",
        "desktop.type('report\\'s \"final\".txt')",
        "desktop.wait_still()",  # a key after typing: a completion may still be settling
        "desktop.press('enter')",
        "desktop.click('the \"Open\" button')",
        "desktop.double_click('the \"Bold\" button')",
        "desktop.click('\"Cancel\"')",
        "desktop.click(Template('test_save_step8.png'))",
        "desktop.type(os.environ['GUIAGENT_SECRET_1'])",
        "desktop.wait_still()",
        "desktop.press('tab', presses=3)",
        "desktop.scroll('down', 2, at='\"File\"')",
        "desktop.wait_still()",  # the outcome of the last step settles before the last look
        "expect('\"Saved\"').to_be_visible()",
    ]
    import ast

    typed = [ast.literal_eval(node.args[0]) for node in ast.walk(ast.parse(generated.source))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and node.func.attr == "type" and isinstance(node.args[0], ast.Constant)]
    assert typed == ['report\'s "final".txt']  # exactly what was typed, quotes and all
    assert generated.templates == (("test_save_step8.png", "assets/step-0005-t96.png"),)
    stats = generated.stats
    assert (stats.by_label, stats.by_role, stats.by_text, stats.by_template) == (3, 2, 1, 1)
    assert (stats.secrets, stats.expectations, stats.steps) == (1, 3, 11)
    assert stats.lines_per_step == pytest.approx(19 / 11)
    ruff_clean(generated.source, tmp_path)


def test_secrets_are_never_literals_and_the_code_says_which_variable(tmp_path: Path) -> None:
    demo = Demo((TypeStep(0.0, "alice"), KeyStep(0.5, "tab"), TypeStep(1.0, None, secret=True)),
                tmp_path, redacted=True)
    source = generate_pytest(demo).source
    assert "import os" in source and "desktop.type(os.environ['GUIAGENT_SECRET_1'])" in source
    assert "set GUIAGENT_SECRET_1" in source
    ruff_clean(source, tmp_path)
    with pytest.raises(CodegenError, match="step 3 types a secret"):
        generate_do(demo)


def test_a_drag_moves_by_its_recorded_offset_from_the_named_start(tmp_path: Path) -> None:
    handle = element("slider", "Volume", 10)
    demo = Demo((DragStep(0.0, PointerTarget((50, 115), element=ref(handle, [handle])), (150, 95)),),
                tmp_path)
    source = generate_pytest(demo).source
    assert "desktop.move_to('\"Volume\"')" in source
    assert "desktop.drag(desktop.position(), desktop.position().offset(100, -20))" in source
    ruff_clean(source, tmp_path)


def test_do_script_parses_as_commands(tmp_path: Path) -> None:
    demo = demo_of(tmp_path)
    steps = tuple(s for s in demo.steps if not (isinstance(s, TypeStep) and s.secret))
    generated = generate_do(Demo(steps, tmp_path, appeared_at_end=("Saved",)), app="mousepad",
                            prefix="save")
    lines = generated.source.splitlines()
    assert lines[:3] == ["open mousepad", 'wait for "File" up to 30 seconds', 'click "File"']
    assert 'click the "Open" button' in lines and "click save_step8.png" in lines
    assert lines[-1] == 'wait for "Saved"'
    (tmp_path / "save_step8.png").write_bytes((tmp_path / "assets/step-0005-t96.png").read_bytes())
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the script names its pictures relative to its folder
    try:
        parsed = parse_commands(generated.source)
    finally:
        os.chdir(cwd)
    assert len(parsed) == len(lines)


def checks_demo(tmp_path: Path) -> Demo:
    """A recording with checks asked for by the hotkey: at the start, after a click, at the end."""
    (tmp_path / "assets").mkdir(exist_ok=True)
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "assets" / "check-0003-t96.png"), np.full((96, 96, 3), 70, np.uint8))
    display = element("text field", "", 10, 10)
    seven = element("button", "7", 10)
    screen = [display, seven]
    return Demo((click(PointerTarget((50, 115), element=ref(seven, screen))),), tmp_path, (3840, 2160),
                appeared_at_end=("/home/me/notes.txt - Editor", "Saved"), checks=(
        Check(0, PointerTarget((50, 25), element=ref(display, screen)), "0"),
        Check(1, PointerTarget((50, 115), element=ref(seven, screen)), "7"),
        Check(1, PointerTarget((700, 700), templates=(TemplateAsset("assets/check-0003-t96.png",
                                                                      (48, 48)),)), None),
    ))


def test_checks_become_expectations_where_they_were_asked_for(tmp_path: Path) -> None:
    demo = checks_demo(tmp_path)
    generated = generate_pytest(demo, app="galculator", prefix="calc")
    body = [ln.strip() for ln in generated.source.split("def test_calc(desktop):\n")[1].splitlines()]
    assert body == [
        "desktop.launch('galculator')",
        "expect('the text field').to_have_text('0', timeout=30)",  # the first check is the app's wait
        "desktop.wait_still()  # a new window moves and lays itself out for a while",
        "desktop.click('\"7\"')",
        "desktop.wait_still()",
        "expect('\"7\"').to_be_visible()",  # the label is the text: being visible is the check
        "expect(Template('calc_check3.png')).to_be_visible()",
    ]  # a check at the end replaces the guessed final expectation
    assert generated.templates == (("calc_check3.png", "assets/check-0003-t96.png"),)
    assert (generated.stats.checks, generated.stats.expectations, generated.stats.by_template) == (3, 3, 1)
    ruff_clean(generated.source, tmp_path)
    script = generate_do(demo, app="galculator", prefix="calc").source.splitlines()
    assert script == ["open galculator", 'wait for "0" up to 30 seconds', 'click "7"', 'wait for "7"',
                      "wait for calc_check3.png"]
    # Without a check at the end, the final expectation is the first new label without a path.
    from dataclasses import replace

    early = replace(demo, checks=demo.checks[:1])
    assert generate_pytest(early).source.rstrip().endswith("expect('\"Saved\"').to_be_visible()")
    write_demo(demo)
    assert load_demo(tmp_path).checks == demo.checks  # the checks round-trip through demo.json
    data = json.loads((tmp_path / "demo.json").read_text())
    data["checks"][0]["after"] = 2  # the demo has one step
    (tmp_path / "demo.json").write_text(json.dumps(data))
    with pytest.raises(DemoError, match=r"checks\[0\]\.after must be between 0 and 1"):
        load_demo(tmp_path)


def test_the_check_hotkey_is_off_unless_asked_for_and_never_the_stop_hotkey() -> None:
    from guiagent.errors import RecordingError
    from guiagent.recording.recorder import RecorderSettings

    assert RecorderSettings().check_hotkey is None  # guiagent record records ctrl+alt+e as a key
    assert RecorderSettings(check_hotkey="ctrl+alt+e").check_hotkey == "ctrl+alt+e"
    with pytest.raises(RecordingError, match="both ctrl\\+alt\\+r"):
        RecorderSettings(check_hotkey="alt+ctrl+r")


def test_the_app_is_waited_for_before_keys_reach_it(tmp_path: Path) -> None:
    bold = element("toggle button", "Bold", 600)
    demo = Demo((TypeStep(0.5, "hello"), KeyStep(1.0, "ctrl+a"),
                 click(PointerTarget((640, 115), element=ref(bold, [bold], visible=False)))), tmp_path)
    body = generate_pytest(demo, app="lowriter", prefix="bold").source.split("def test_bold(desktop):\n")[1]
    assert [ln.strip() for ln in body.splitlines()] == [
        "desktop.launch('lowriter')",
        "expect('the \"Bold\" button').to_be_visible(timeout=30)",
        "desktop.wait_still()  # a new window moves and lays itself out for a while",
        "desktop.type('hello')",
        "desktop.wait_still()",
        "desktop.press('ctrl+a')",
        "desktop.click('the \"Bold\" button')",
        "desktop.wait_still()",  # the last step's effect, before the test ends the app
    ]


# -- the demo format ------------------------------------------------------------------------


def test_the_element_field_round_trips_and_is_validated(tmp_path: Path) -> None:
    bold = element("toggle button", "Bold", 600)
    demo = Demo((click(PointerTarget((640, 115), element=ref(bold, [bold], visible=False),
                                     appeared=("Bold",))),), tmp_path, (3840, 2160),
                appeared_at_end=("Done",))
    write_demo(demo)
    loaded = load_demo(tmp_path)
    assert loaded.steps == demo.steps and loaded.appeared_at_end == ("Done",)
    data = json.loads((tmp_path / "demo.json").read_text())
    old = json.loads(json.dumps(data))
    del old["steps"][0]["target"]["element"], old["steps"][0]["target"]["appeared"], old["appeared_at_end"]
    (tmp_path / "demo.json").write_text(json.dumps(old))
    assert load_demo(tmp_path).steps[0].target.element is None  # type: ignore[union-attr]
    for broken, message in (({"role": "button", "name": "x", "source": "ocr"}, r"element.source must be one"),
                            ({"role": "button", "name": "x", "source": "a11y", "path": [-1]},
                             r"element.path\[0\] must be between"),
                            ({"role": "button", "source": "a11y"}, "element lacks name"),
                            ({"role": "b", "name": "x", "source": "a11y", "exec": 1}, "unknown field")):
        data["steps"][0]["target"]["element"] = broken
        (tmp_path / "demo.json").write_text(json.dumps(data))
        with pytest.raises(DemoError, match=message):
            load_demo(tmp_path)


# -- end to end: record a calculator, run the test it became ------------------------------------


def needs(*programs: str) -> None:
    for program in programs:
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (bash .ci/install)")


def until(check: Callable[[], bool], what: str, timeout: float = 30.0, show: Path | None = None
          ) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            seen = show.read_text() if show is not None and show.exists() else ""
            raise AssertionError(f"timed out waiting for {what}\n{seen}")
        time.sleep(0.1)


def app_env(display: guiagent.VirtualDisplay) -> dict[str, str]:
    # this checkout first on the path: the subprocesses may run in other folders
    source = str(Path(guiagent.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
    return {**display.env, "GSETTINGS_BACKEND": "memory", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": path}


def run_generated(test: Path, display: guiagent.VirtualDisplay) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(test), "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--guiagent-display", display.name, "--guiagent-output", str(test.parent / "results"),
         "--rootdir", str(test.parent)],
        env=app_env(display), cwd=test.parent, capture_output=True, text=True, timeout=240)


@pytest.mark.display
def test_codegen_records_a_calculator_sum_into_a_test_that_passes_here_and_elsewhere(
        tmp_path: Path) -> None:
    needs("galculator", "dbus-daemon")
    out = tmp_path / "test_sum.py"
    with guiagent.VirtualDisplay((3840, 2160), accessibility=True, set_environment=False) as display:
        process = subprocess.Popen(
            [sys.executable, "-m", "guiagent", "codegen", str(out), "--app", "galculator",
             "--display", display.name],
            env=app_env(display), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert process.stderr is not None
            line = process.stderr.readline()
            assert "recording into" in line, line + process.stderr.read()
            with guiagent.Desktop(display) as desktop:
                desktop.wait_for('"AC"', timeout=30)
                desktop.wait_still(quiet=0.5)
                for number, label in enumerate(["1", "2", "+", "3", "0", "="], 1):
                    desktop.click(f'"{label}"')
                    def written(n: int = number) -> bool:
                        return out.exists() and out.read_text().count("desktop.click") == n

                    until(written, f"step {number} in the live test file")  # the file grows live
                desktop.wait_for('"42"', timeout=10)
                desktop.wait_still(quiet=0.5)
                desktop.press("ctrl+alt+r")
                stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(10)
        assert process.returncode == 0, stderr
        source = out.read_text(encoding="utf-8")
        print(source, stdout, sep="\n")
        for label in ["1", "2", "+", "3", "0", "="]:
            assert f"desktop.click('\"{label}\"')" in source  # "+" is the "+" button, not "+/-"
        assert "desktop.launch('galculator')" in source
        assert "expect('\"42\"').to_be_visible()" in source  # the sum, new on the screen at the end
        assert "Template(" not in source
        first = run_generated(out, display)
        assert first.returncode == 0, first.stdout + first.stderr
        scaled = run_generated_in(out, display, tmp_path / "scaled", {"GDK_SCALE": "2"})
        assert scaled.returncode == 0, scaled.stdout + scaled.stderr  # recorded at 1x, run at 2x
    # Elsewhere: a 2560x1440 screen, where the calculator opens at other coordinates.
    with guiagent.VirtualDisplay((2560, 1440), accessibility=True, set_environment=False) as display:
        moved = run_generated(out, display)
        assert moved.returncode == 0, moved.stdout + moved.stderr


@pytest.mark.display
def test_codegen_converts_a_recorded_demo_and_names_targets_from_its_frames(tmp_path: Path) -> None:
    """``--from``: a demo recorded without elements gets them from its stored frames (vision)."""
    needs("galculator")
    folder = tmp_path / "demo"
    with guiagent.VirtualDisplay((3840, 2160), set_environment=False) as display:
        app = display.launch(["galculator"], env={"GSETTINGS_BACKEND": "memory"})
        try:
            from guiagent.recording.recorder import Recorder, RecorderSettings

            with guiagent.Desktop(display, accessibility=False) as desktop:
                desktop.wait_for('"AC"', timeout=30)
                desktop.wait_still(quiet=0.5)
                recorder = Recorder(folder, RecorderSettings(display=display.name))
                recorder.start()
                import threading

                thread = threading.Thread(target=recorder.run)
                thread.start()
                try:
                    for label in ["7", "*", "6"]:
                        desktop.click(f'"{label}"')
                        time.sleep(0.6)  # apart: not a double-click
                    until(lambda: (folder / "demo.json").exists()
                          and len(json.loads((folder / "demo.json").read_text())["steps"]) == 3,
                          "three steps on disk")
                finally:
                    recorder.stop()
                    thread.join(30)
        finally:
            end_program(app)
    out = tmp_path / "mul.do"
    result = subprocess.run([sys.executable, "-m", "guiagent", "codegen", str(out), "--from", str(folder),
                             "--format", "do"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    script = (tmp_path / "mul.do").read_text().splitlines()
    assert script[0] == 'click "7"' and script[2] == 'click "6"', script
    # galculator draws "*" as a multiplication sign that OCR reads as several letters (a picture)
    # or as "." like the decimal point's key (an ordinal: the first "." in reading order)
    assert script[1] in ('click "*"', 'click "×"', "click mul_step2.png", 'click the first "."'), script
    cwd = os.getcwd()
    os.chdir(tmp_path)  # pictures are named relative to the script's folder
    try:
        assert len(parse_commands("\n".join(script))) == 3
    finally:
        os.chdir(cwd)


# -- end to end: more flows (an editor's Save As, a LibreOffice toolbar), checks, 2x ------------


def record_codegen(display: guiagent.VirtualDisplay, out: Path, app: str,
                   act: Callable[[guiagent.Desktop], None], env: dict[str, str] | None = None,
                   *, cwd: Path | None = None, timeout: float = 60) -> str:
    """Run `guiagent codegen OUT --app APP` on ``display`` while ``act`` drives the app with
    synthetic input, stop it with its hotkey and return the generated test."""
    process = subprocess.Popen(
        [sys.executable, "-m", "guiagent", "codegen", str(out), "--app", app, "--display", display.name],
        env={**app_env(display), **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=cwd)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "recording into" in line and "ctrl+alt+e checks" in line, line + process.stderr.read()
        with guiagent.Desktop(display) as desktop:
            act(desktop)
            desktop.press("ctrl+alt+r")
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)
    assert process.returncode == 0, stderr
    source = out.read_text(encoding="utf-8")
    print(source, stdout, sep="\n")
    return source


def steps_written(out: Path, count: int) -> Callable[[], bool]:
    def written() -> bool:
        if not out.exists():
            return False
        lines = [ln.strip() for ln in out.read_text().splitlines()]
        return sum(ln.startswith(("desktop.click", "desktop.type", "desktop.press", "expect("))
                   for ln in lines) >= count
    return written


def check_here(desktop: guiagent.Desktop, target: str) -> None:
    """Point at ``target`` and press the assertion hotkey."""
    desktop.move_to(target)
    desktop.press("ctrl+alt+e")


def run_generated_in(test: Path, display: guiagent.VirtualDisplay, where: Path,
                     env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the generated ``test`` with ``where`` as the working folder (and HOME) of the test
    and of the programs it starts; ``env`` on top (GDK_SCALE=2...)."""
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(test), "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--guiagent-display", display.name, "--guiagent-output", str(where / "results"),
         "--rootdir", str(test.parent)],
        env={**app_env(display), "HOME": str(where), **(env or {})}, cwd=where, capture_output=True,
        text=True, timeout=240)


@pytest.mark.display
def test_codegen_records_a_save_as_in_an_editor_with_checks(tmp_path: Path) -> None:
    """mousepad: type, check the text (assertion hotkey), ctrl+shift+s, a file name, Enter, check
    again; the test it became saves the file here, on another screen, and at 2x."""
    needs("mousepad", "dbus-daemon")
    out = tmp_path / "test_save_as.py"
    recorded = tmp_path / "recorded"
    recorded.mkdir()

    def act(desktop: guiagent.Desktop) -> None:
        desktop.wait_for("the text field", timeout=30)
        desktop.wait_still(quiet=0.5)
        desktop.click("the text field")
        desktop.type("hello from guiagent")
        until(steps_written(out, 3), "the typed text in the live test", show=out)
        check_here(desktop, "the text field")
        until(lambda: "to_have_text" in out.read_text(), "the check in the live test", show=out)
        desktop.press("ctrl+shift+s")
        desktop.wait_for('"Name"', timeout=20)
        desktop.wait_still(quiet=0.5)
        desktop.type("notes.txt")
        until(steps_written(out, 6), "the file name in the live test", show=out)
        desktop.press("enter")
        until((recorded / "notes.txt").exists, "the saved file")
        desktop.wait_still(quiet=0.5)
        check_here(desktop, "the text field")
        until(lambda: out.read_text().count("to_have_text") == 2, "the second check", show=out)

    with guiagent.VirtualDisplay((3840, 2160), accessibility=True, set_environment=False) as display:
        source = record_codegen(display, out, "mousepad", act, {"HOME": str(recorded)}, cwd=recorded)
        assert (recorded / "notes.txt").read_text().strip() == "hello from guiagent"
        body = [line.strip() for line in source.split("def test_save_as(desktop):")[1].splitlines()
                if line.strip()]
        assert body == [
            "desktop.launch('mousepad')",
            "expect('the text field').to_be_visible(timeout=30)",
            "desktop.wait_still()  # a new window moves and lays itself out for a while",
            "desktop.click('the text field')",
            "desktop.type('hello from guiagent')",
            "expect('the text field').to_have_text('hello from guiagent')",  # the hotkey
            "desktop.wait_still()",  # a key after typing: what was typed settles first
            "desktop.press('ctrl+shift+s')",
            "desktop.type('notes.txt')",
            "desktop.wait_still()",
            "desktop.press('enter')",
            "desktop.wait_still()",  # the save finishes first
            "expect('the text field').to_have_text('hello from guiagent')",  # the hotkey again
        ], source  # no hotkey as a step, no picture, no window title holding a path
        here = run_generated_in(out, display, tmp_path / "same")
        assert here.returncode == 0, here.stdout + here.stderr
        assert (tmp_path / "same" / "notes.txt").read_text().strip() == "hello from guiagent"
        scaled = run_generated_in(out, display, tmp_path / "scaled", {"GDK_SCALE": "2"})
        assert scaled.returncode == 0, scaled.stdout + scaled.stderr
        assert (tmp_path / "scaled" / "notes.txt").read_text().strip() == "hello from guiagent"
    with guiagent.VirtualDisplay((2560, 1440), accessibility=True, set_environment=False) as display:
        moved = run_generated_in(out, display, tmp_path / "moved")
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert (tmp_path / "moved" / "notes.txt").read_text().strip() == "hello from guiagent"


@pytest.mark.display
def test_codegen_records_a_libreoffice_toolbar_action_as_the_bold_button(tmp_path: Path) -> None:
    """LibreOffice Writer (gtk3, accessibility bus): type, select all, click Bold. The icon-only
    toggle is named by its accessible name; the test passes here, on another screen and at 2x."""
    needs("lowriter", "dbus-daemon")
    out = tmp_path / "test_bold.py"
    office = {"SAL_USE_VCLPLUGIN": "gtk3"}
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    states: list[frozenset[str]] = []

    def act(desktop: guiagent.Desktop) -> None:
        desktop.wait_for('the "Bold" button', timeout=120)
        desktop.wait_still(quiet=0.5)
        # not "bold": a word reading "bold" on the page takes 'the "Bold" button' from the
        # toolbar (elements.locate trusts an exact reading elsewhere over an icon-only element)
        desktop.type("hello world")
        until(steps_written(out, 1), "the typed text in the live test", show=out)
        desktop.press("ctrl+a")
        desktop.wait_still(quiet=0.5)  # LibreOffice's tree misses controls while it re-lays out
        desktop.click('the "Bold" button')
        until(steps_written(out, 4), "the click in the live test", show=out, timeout=60)
        from guiagent.elements.snapshot import read_accessibility

        assert desktop.accessibility is not None
        tree = read_accessibility(desktop.accessibility, desktop.capture())[0]
        states.extend(e.states for e in tree if e.role == "toggle button" and e.name == "Bold")

    with guiagent.VirtualDisplay((3840, 2160), accessibility=True, set_environment=False) as display:
        source = record_codegen(display, out, "lowriter --norestore --nologo", act,
                                {**office, "HOME": str(recorded)}, cwd=recorded, timeout=120)
        assert states and "checked" in states[0], states  # the click made the selection bold
        assert "desktop.type('hello world')" in source and "desktop.press('ctrl+a')" in source
        assert "desktop.click('the \"Bold\" button')" in source  # its accessible name, spoken role
        assert source.index("to_be_visible(timeout=30)") < source.index("desktop.type(")
        assert "Template(" not in source
        here = run_generated_in(out, display, tmp_path / "same", office)
        assert here.returncode == 0, here.stdout + here.stderr
        scaled = run_generated_in(out, display, tmp_path / "scaled", {**office, "GDK_SCALE": "2"})
        assert scaled.returncode == 0, scaled.stdout + scaled.stderr
    with guiagent.VirtualDisplay((2560, 1440), accessibility=True, set_environment=False) as display:
        moved = run_generated_in(out, display, tmp_path / "moved", office)
        assert moved.returncode == 0, moved.stdout + moved.stderr


_TWO_OKS = """
import sys
import tkinter as tk

def press(name):
    with open(sys.argv[1], "a") as log:
        log.write(name + "\\n")
    status.config(text=f"Applied the {name} choice")


root = tk.Tk()
root.title("Two OKs")
for row, name in enumerate(("first", "second")):
    tk.Label(root, text=f"Apply the {name} choice", font=("DejaVu Sans", 14)).grid(
        row=row, column=0, padx=20, pady=12)
    tk.Button(root, text="OK", font=("DejaVu Sans", 14), width=6,
              command=lambda n=name: press(n)).grid(row=row, column=1, padx=20)
status = tk.Label(root, text="Nothing applied yet", font=("DejaVu Sans", 14))
status.grid(row=2, column=0, columnspan=2, pady=12)
root.mainloop()
"""


@pytest.mark.display
def test_codegen_names_a_repeated_label_by_its_ordinal(tmp_path: Path) -> None:
    """Two buttons read "OK" (a Tk app: vision elements only): the click on the lower one is
    written as 'the second "OK"', and the generated test presses that one again."""
    needs("python3")
    app = tmp_path / "two_oks.py"
    app.write_text(_TWO_OKS, encoding="utf-8")
    log = tmp_path / "pressed.txt"
    out = tmp_path / "test_second_ok.py"

    def act(desktop: guiagent.Desktop) -> None:
        desktop.wait_for('"Apply the second choice"', timeout=30)
        desktop.wait_still(quiet=0.5)
        desktop.click('the second "OK"')
        until(lambda: log.exists() and log.read_text() == "second\n", "the second OK pressed")
        desktop.wait_for('"Applied the second choice"', timeout=10)
        until(steps_written(out, 1), "the click in the live test", show=out)

    command = f"{sys.executable} {app} {log}"
    with guiagent.VirtualDisplay((3840, 2160), set_environment=False) as display:
        source = record_codegen(display, out, command, act)
        assert "desktop.click('the second \"OK\"')" in source
        assert "expect('\"Applied the second choice\"').to_be_visible()" in source  # new at the end
        assert "Template(" not in source
        log.unlink()
        here = run_generated_in(out, display, tmp_path / "same")
        assert here.returncode == 0, here.stdout + here.stderr
        assert log.read_text() == "second\n"  # the same button, found again by its ordinal
    with guiagent.VirtualDisplay((2560, 1440), set_environment=False) as display:
        log.unlink()
        moved = run_generated_in(out, display, tmp_path / "moved")
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert log.read_text() == "second\n"
