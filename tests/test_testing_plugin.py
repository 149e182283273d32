"""The guiagent pytest plugin, tested with pytester: real UI test suites (a Tk app and Chromium
on their own Xvfb displays) run in a pytest subprocess, then their outcomes, failure pictures,
videos and HTML report are checked, the report rendered by headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from guiagent import VirtualDisplay
from guiagent.desktop.expect import text_matches
from guiagent.geometry import Box
from guiagent.screen.capture import Frame
from guiagent.testing import NoDesktopError, Template, expect

pytest_plugins = ["pytester"]

APPS = Path(__file__).parent / "apps"

GREETER = """
import tkinter as tk
root = tk.Tk()
root.title("greeter")
root.geometry("900x400+300+200")
status = tk.Label(root, text="Status: waiting", font=("DejaVu Sans", 20))
status.pack(pady=30)
tk.Button(root, text="Say hello", font=("DejaVu Sans", 20),
          command=lambda: status.config(text="Status: greeted")).pack(pady=20)
root.mainloop()
"""

UI_TESTS = '''
import os
import shutil
import sys
from pathlib import Path

from guiagent.geometry import Box
from guiagent.testing import Template, expect

HERE = Path(__file__).parent


def start_greeter(desktop):
    process = desktop.launch([sys.executable, str(HERE / "greeter.py")])
    return process, desktop.expect('"Say hello"').to_be_visible(timeout=30)


def test_greets(desktop):
    process, button = start_greeter(desktop)
    (HERE / "greeter.pid").write_text(str(process.pid))
    desktop.click(button)
    expect('"greeted"').to_be_visible()
    expect('"waiting"').not_to_be_visible()
    label = expect('"Status:"').to_be_visible().screen_box
    status = Box(label.left - 10, label.top - 10, 500, label.height + 20)
    assert expect(status).to_have_text("Status: greeted") == "Status: greeted"
    saved = desktop.save_template(button, "say_hello.png", pad=4)
    assert saved == HERE / "say_hello.png"
    assert expect(Template("say_hello.png")).to_be_visible().score > 0.9


def test_launched_program_ended_with_its_test():
    pid = int((HERE / "greeter.pid").read_text())
    assert not Path(f"/proc/{pid}").exists(), f"greeter {pid} still runs"


def test_chromium_page(desktop, tmp_path):
    page = (HERE / "buttons.html").as_uri()
    desktop.launch(["chromium", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
                    "--window-position=200,200", "--window-size=1400,900", f"--app={page}"])
    desktop.expect('"Export as PDF"').to_be_visible(timeout=60)
    desktop.click('"Save"')
    expect('"Saved to report.pdf"').to_be_visible(timeout=15)


def test_missing_image_fails(desktop):
    start_greeter(desktop)
    expect(Template("missing.png")).to_be_visible(timeout=1)


def test_click_on_missing_text_fails(desktop):
    start_greeter(desktop)
    desktop.click('"Goodbye"')
'''


def _chromium_screenshot(html: Path, out: Path, size: tuple[int, int] = (1400, 2400)) -> Frame:
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={size[0]},{size[1]}", f"--screenshot={out}", html.as_uri()],
        check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return Frame.load(out)


def _colour_pixels(image: np.ndarray, bgr: tuple[int, int, int], tolerance: int = 12) -> int:
    diff = np.abs(image[:, :, :3].astype(np.int16) - np.array(bgr, np.int16))
    return int(np.count_nonzero(diff.max(axis=2) <= tolerance))


@pytest.mark.display
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_ui_suite_on_real_apps_with_artefacts_and_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(greeter=GREETER, test_ui=UI_TESTS)
    shutil.copy(APPS / "buttons.html", pytester.path / "buttons.html")
    # An image that is nowhere on the screen: the template grounder still reports its best score.
    rng = np.random.default_rng(7)
    Frame(rng.integers(0, 255, (60, 120, 3), dtype=np.uint8)).save(pytester.path / "missing.png")

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--guiagent-report", "report.html", "--guiagent-video", "on",
        "--junitxml", "junit.xml", timeout=400)

    result.assert_outcomes(passed=3, failed=2)
    output = result.stdout.str()
    # The template failure says what was looked for, the best candidate's score and where
    # the picture is; the click failure (a TargetNotFound) gets a picture too.
    assert re.search(r"expect Template\('missing.png'\) to be visible: not found within 1 s", output)
    assert re.search(r"best candidate at \(\d+, \d+\), best score 0\.\d{3}; the template grounder "
                     r"needs 0\.\d\d", output)
    assert "'Goodbye' not found" in output
    assert (pytester.path / "say_hello.png").exists()  # the template was stored beside the test

    junit = ET.parse(pytester.path / "junit.xml").getroot()
    shots = {case.get("name"): Path(prop.get("value", ""))
             for case in junit.iter("testcase") for prop in case.iter("property")
             if prop.get("name") == "guiagent_screenshot"}
    assert set(shots) == {"test_missing_image_fails", "test_click_on_missing_text_fails"}
    for name, shot in shots.items():
        assert str(shot) in output, name  # the terminal report says where it is
        picture = Frame.load(shot)
        assert (picture.width, picture.height) == (3840, 2160)
    # The template search's crop windows (blue) and candidates are drawn on its picture.
    assert _colour_pixels(Frame.load(shots["test_missing_image_fails"]).pixels, (230, 140, 30),
                          2) > 1000
    videos = {case.get("name"): Path(prop.get("value", ""))
              for case in junit.iter("testcase") for prop in case.iter("property")
              if prop.get("name") == "guiagent_video"}
    from PIL import Image

    with Image.open(videos["test_greets"]) as gif:
        assert gif.format == "GIF" and gif.n_frames >= 8  # one frame per step

    report = pytester.path / "report.html"
    html = report.read_text(encoding="utf-8")
    assert "<img" in html and not re.search(r"src=['\"](?!data:)", html)  # self-contained
    for name in ("test_greets", "test_chromium_page", "test_missing_image_fails"):
        assert f"test_ui.py::{name}" in html
    assert "best score 0." in html

    rendered = _chromium_screenshot(report, pytester.path / "report.png")
    pixels = rendered.pixels
    assert float(pixels[:, :, :3].std()) > 20  # not a blank page
    assert _colour_pixels(pixels, (0x3A, 0x8F, 0x1F)) > 200  # green "passed" badges
    assert _colour_pixels(pixels, (0x2C, 0x26, 0xC8)) > 200  # red "failed" badges
    from guiagent.grounding import locate

    for name in ('"test_missing_image_fails"', '"test_launched_program_ended_with_its_test"'):
        assert locate(rendered, name).score >= 0.8


@pytest.mark.display
def test_xdist_workers_each_get_their_own_display(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_where="""
        import os
        from pathlib import Path
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_where(desktop, n):
            assert desktop.display_name == os.environ["DISPLAY"]
            assert desktop.capture().width == 1280
            from Xlib import display
            screen = display.Display(desktop.display_name).screen()
            assert round(screen.width_in_pixels * 25.4 / screen.width_in_mms) == 144
            worker = os.environ["PYTEST_XDIST_WORKER"]
            Path(f"where-{n}.txt").write_text(f"{worker} {desktop.display_name}")
    """)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--guiagent-size", "1280x720", "--guiagent-dpi", "144",
        "--guiagent-report", "report.html", timeout=300)
    result.assert_outcomes(passed=4)
    seen = [p.read_text().split() for p in pytester.path.glob("where-*.txt")]
    assert len(seen) == 4
    workers = {worker: display for worker, display in seen}
    assert len(workers) == 2, seen
    assert len(set(workers.values())) == 2, f"workers shared a display: {seen}"
    html = (pytester.path / "report.html").read_text(encoding="utf-8")
    for n in range(4):
        assert f"test_where.py::test_where[{n}]" in html  # the controller merged all workers
    for worker, display in workers.items():
        assert f"on {worker}, display {display}" in html


@pytest.mark.display
def test_an_existing_display_is_used_as_given(pytester: pytest.Pytester,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_existing="""
        import os

        def test_on_it(desktop):
            assert desktop.display_name == os.environ["EXPECTED_DISPLAY"]
            assert (desktop.capture().width, desktop.capture().height) == (1024, 768)

        def test_no_virtual_display_then(virtual_display):
            pass
    """)
    with VirtualDisplay((1024, 768), window_manager=False, set_environment=False) as display:
        monkeypatch.setenv("EXPECTED_DISPLAY", display.name)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--guiagent-display",
                                               display.name, timeout=120)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*uses the existing display*drop --guiagent-display*"])


def test_sessions_without_ui_tests_start_no_display(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_plain="""
        import os

        def test_no_xvfb_child():
            me = str(os.getpid())
            for stat in os.listdir("/proc"):
                if stat.isdigit():
                    try:
                        fields = open(f"/proc/{stat}/stat").read().rsplit(")", 1)[1].split()
                        name = open(f"/proc/{stat}/comm").read().strip()
                    except OSError:
                        continue
                    assert not (fields[1] == me and name == "Xvfb"), "the plugin started Xvfb"
            assert os.environ.get("DISPLAY") == os.environ.get("OUTER_DISPLAY")
    """)
    monkeypatch.setenv("OUTER_DISPLAY", os.environ.get("DISPLAY", ""))
    monkeypatch.setenv("DISPLAY", os.environ.get("DISPLAY", ""))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=1)


def test_the_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off="""
        def test_wants_desktop(desktop):
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:guiagent",
                                           timeout=120)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'desktop' not found*"])


def test_bad_settings_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nguiagent_timeout = soon\n")
    pytester.makepyfile(test_any="def test_any():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*guiagent timeout 'soon' is not a positive number*"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--guiagent-size", "huge",
                                           timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*guiagent size 'huge' is not WIDTHxHEIGHT*"])


# -- pure logic, no display ----------------------------------------------------------------------
def test_template_paths_are_relative_to_the_file_that_names_them(tmp_path: Path) -> None:
    here = Template("button.png")
    assert here.path == Path(__file__).parent.resolve() / "button.png"
    assert Template("b.png", base=tmp_path).path == tmp_path.resolve() / "b.png"
    assert Template(tmp_path / "abs.png", threshold=0.8).threshold == 0.8
    with pytest.raises(Exception, match="save_template"):
        Template("nowhere.png", base=tmp_path).target()
    with pytest.raises(ValueError, match="threshold"):
        Template("x.png", threshold=1.5)


def test_text_comparison_tolerates_ocr_and_spacing() -> None:
    assert text_matches("Status:  greeted", "status: greeted", contains=False)
    assert text_matches("Saved to report.pdf", "Saved to rep0rt.pdf", contains=False)  # 0/o
    assert not text_matches("Status: greeted", "greeted", contains=False)
    assert text_matches("Status: greeted", "greeted", contains=True)
    assert text_matches("Total: 42 items", re.compile(r"\d+ items"), contains=False)


def test_expect_without_a_desktop_says_what_to_do() -> None:
    with pytest.raises(NoDesktopError, match="`desktop` fixture"):
        expect('"Save"').to_be_visible(timeout=0.1)
    with pytest.raises(TypeError, match="to_have_text"):
        expect(Box(0, 0, 10, 10), desktop=object()).to_be_visible()  # type: ignore[arg-type]
