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
    twins = [element("button", "OK", 10), element("button", "OK", 200)]
    assert element_query(twins[0], twins) is None  # neither form picks one: a picture will


def test_an_icon_only_control_is_named_by_role_and_its_tree_name() -> None:
    bold = element("toggle button", "Bold", 10)
    assert element_query(bold, [bold], visible=False) == 'the "Bold" toggle button'
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
        "desktop.press('enter')",
        "desktop.click('the \"Open\" button')",
        "desktop.double_click('the \"Bold\" toggle button')",
        "desktop.click('\"Cancel\"')",
        "desktop.click(Template('test_save_step8.png'))",
        "desktop.type(os.environ['GUIAGENT_SECRET_1'])",
        "desktop.press('tab', presses=3)",
        "desktop.scroll('down', 2, at='\"File\"')",
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
    assert stats.lines_per_step == pytest.approx(16 / 11)
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


def until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def app_env(display: guiagent.VirtualDisplay) -> dict[str, str]:
    return {**display.env, "GSETTINGS_BACKEND": "memory", "PYTHONDONTWRITEBYTECODE": "1"}


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
    # galculator draws "*" as a multiplication sign that OCR reads as several letters: a picture
    assert script[1] in ('click "*"', 'click "×"', "click mul_step2.png"), script
    cwd = os.getcwd()
    os.chdir(tmp_path)  # pictures are named relative to the script's folder
    try:
        assert len(parse_commands("\n".join(script))) == 3
    finally:
        os.chdir(cwd)
