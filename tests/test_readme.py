"""The README is a contract: its Python examples run as written.

Every ```python block of README.md is listed in EXAMPLES by a line it contains, with how it is
checked: run on the session's 4K display against a real Tk window (tests/apps/readme_app.py)
with the files the example names prepared in the working folder, or, where it needs what a test
cannot have (a model's weights, a person recording), compiled and its imports run. A new block
that is not listed fails the test, so the README cannot drift from the code unnoticed.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from guiagent import Desktop, VirtualDisplay

README = Path(__file__).resolve().parent.parent / "README.md"
APP = Path(__file__).resolve().parent / "apps" / "readme_app.py"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

# A line of each block -> how the test treats it: "run" (executed as written) or "imports"
# (compiled; only its import lines run), with the reason.
EXAMPLES: dict[str, tuple[str, str]] = {
    "with guiagent.Desktop() as desktop:": ("run", "drives the Tk window, then locates in a file"),
    "with guiagent.VirtualDisplay((3840, 2160)) as display:": ("run", "starts its own display"),
    "match = locate(\"screen.png\", '\"Export as PDF\"')": ("run", "screenshots only"),
    'configure_vlm(model="/models/Qwen2.5-VL-7B-Instruct")': ("imports", "needs model weights"),
    "report = guiagent.do(desktop,": ("run", "types into the Tk window's Name field"),
    "def test_save_as(desktop):": ("imports", "a test for mousepad's Save As; defined, not run"),
    "def pytest_configure(config):": ("run", "configures a model only when GUIAGENT_VLM_URL is set"),
    "desktop.launch(\"galculator\")": ("run", "starts its own display with accessibility"),
    'record("demos/my-task", RecorderSettings(redact=True))': ("imports", "records a person"),
    "with VirtualWaylandDisplay((3840, 2160), user=": (
        "imports", "needs a non-root user account for sway; tests/test_wayland.py runs this flow"),
}


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)


def kind_of(block: str) -> tuple[str, str]:
    for line, how in EXAMPLES.items():
        if line in block:
            return how
    raise AssertionError(f"a README example is not listed in tests/test_readme.py EXAMPLES:\n{block}")


def test_every_example_is_listed_and_compiles() -> None:
    blocks = python_blocks()
    assert len(blocks) >= len(EXAMPLES)
    listed = {line for line in EXAMPLES if any(line in b for b in blocks)}
    assert listed == set(EXAMPLES), f"EXAMPLES names lines the README no longer has: {set(EXAMPLES) - listed}"
    for block in blocks:
        kind_of(block)
        compile(block, "README.md", "exec")


@pytest.mark.parametrize("line", [k for k, (how, _) in EXAMPLES.items() if how == "imports"])
def test_imports_of_examples_that_cannot_run_here(line: str) -> None:
    (block,) = [b for b in python_blocks() if line in b]
    imports = "\n".join(ln for ln in block.splitlines() if re.match(r"(from \S+ )?import ", ln))
    assert imports, "the example should show its imports"
    exec(compile(imports, "README.md", "exec"), {})


def _text_image(path: Path, size: tuple[int, int], words: list[tuple[str, tuple[int, int]]],
                icons: list[tuple[int, int]] = ()) -> None:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 26)
    for text, at in words:
        draw.text(at, text, fill="black", font=font)
    for x, y in icons:  # a close icon: a dark square with a white X
        draw.rectangle((x, y, x + 31, y + 31), fill="#333")
        draw.line((x + 8, y + 8, x + 23, y + 23), fill="white", width=3)
        draw.line((x + 23, y + 8, x + 8, y + 23), fill="white", width=3)
    image.save(path)


@pytest.fixture()
def readme_app(vdisplay: VirtualDisplay, desktop: Desktop, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The Tk window on the session display, the files the examples name, cwd = tmp_path."""
    report = tmp_path / "events.jsonl"
    app = vdisplay.launch([sys.executable, str(APP), str(report)])
    try:
        deadline = time.monotonic() + 30
        while not (report.exists() and '"ready"' in report.read_text(encoding="utf-8")):
            assert time.monotonic() < deadline and app.poll() is None, "the README app did not start"
            time.sleep(0.05)
        desktop.wait_still(quiet=0.3, timeout=5)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("DISPLAY", vdisplay.name)
        # The gear picture, taken from the screen once, as a user would save a template.
        (tmp_path / "icons").mkdir()
        desktop.capture(region=(940, 700, 120, 120)).save(tmp_path / "icons" / "gear.png")
        _text_image(tmp_path / "screenshot.png", (1600, 900), [("File  Edit  View", (40, 30)),
                                                            ("Export as PDF", (420, 520))])
        _text_image(tmp_path / "screen.png", (1600, 900), [("Print", (40, 30)),
                                                        ("Export as PDF", (820, 300))],
                    icons=[(1500, 20), (700, 600)])
        Image.open(tmp_path / "screen.png").crop((1500, 20, 1532, 52)).save(tmp_path / "icons" / "close.png")
        yield report
    finally:
        app.terminate()
        app.wait(10)


def _events(report: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines() if line]


def _run(line: str, namespace: dict[str, Any]) -> dict[str, Any]:
    (block,) = [b for b in python_blocks() if line in b]
    exec(compile(block, "README.md", "exec"), namespace)
    return namespace


@pytest.mark.display
def test_first_example_drives_a_real_window(readme_app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    namespace = _run("with guiagent.Desktop() as desktop:", {})
    events = _events(readme_app)
    assert any(e["event"] == "save" for e in events), "the Save button was not pressed"
    assert any(e["event"] == "focus" and e["source"] == "gear" for e in events), "the gear was not clicked"
    texts = [e["value"] for e in events if e["event"] == "text"]
    assert texts and texts[-1] == "héllo wörld ✓ 日本"
    match = namespace["match"]  # located in screenshot.png, no display involved
    assert match.box.contains(match.point) and 420 <= match.point.x <= 640 and 515 <= match.point.y <= 560
    assert "Point(" in capsys.readouterr().out


@pytest.mark.display
def test_grounding_example_on_screenshots(readme_app: Path) -> None:
    namespace = _run("match = locate(\"screen.png\", '\"Export as PDF\"')", {})
    assert 820 <= namespace["match"].point.x <= 1040
    points = sorted((round(m.point.x), round(m.point.y)) for m in namespace["matches"])
    assert points == [(716, 616), (1516, 36)]


@pytest.mark.display
def test_command_example_types_into_the_named_field(readme_app: Path, desktop: Desktop,
                                                      tmp_path: Path) -> None:
    import guiagent

    _run("report = guiagent.do(desktop,", {"guiagent": guiagent, "desktop": desktop})
    events = _events(readme_app)
    assert any(e["event"] == "focus" and e["source"] == "label" for e in events)
    assert [e["value"] for e in events if e["event"] == "text"][-1] == "héllo"
    assert (tmp_path / "trace" / "trace.json").exists()


@pytest.mark.display
def test_elements_example_computes_with_whole_labels(capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    if shutil.which("galculator") is None:
        pytest.skip("galculator is not installed (bash .ci/install installs it)")
    _run('desktop.launch("galculator")', {})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(line.startswith("[e") for line in lines), lines


def test_virtual_display_example() -> None:
    _run("with guiagent.VirtualDisplay((3840, 2160)) as display:", {})


def test_conftest_example_leaves_grounding_alone_without_a_model_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from guiagent.grounding import vlm_configured

    monkeypatch.delenv("GUIAGENT_VLM_URL", raising=False)
    namespace = _run("def pytest_configure(config):", {})
    namespace["pytest_configure"](None)
    assert not vlm_configured()
