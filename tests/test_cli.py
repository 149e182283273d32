"""The guiagent command: real subprocesses, one-line errors, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import guiagent


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "guiagent", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"guiagent {guiagent.__version__}"


def test_console_script_is_installed() -> None:
    result = subprocess.run(["guiagent", "--version"], capture_output=True, text=True)
    assert result.returncode == 0


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("guiagent: error:")
    return lines[0]


def test_no_display_is_one_clear_line() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    result = run("capture", "/tmp/never.png", env=env)
    assert result.returncode == 4
    assert "no X display" in _one_line_error(result)


@pytest.mark.display
def test_capture_region(vdisplay: Any, tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    result = run("capture", str(out), "--region", "100,50,640,480", env=vdisplay.env)
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(out))
    assert image.shape == (480, 640, 3)
    assert "640x480 at 100,50" in result.stdout


@pytest.mark.display
def test_click_outside_screen_refused(vdisplay: Any) -> None:
    result = run("click", "5000", "10", env=vdisplay.env)
    assert result.returncode == 5
    assert "outside the screen" in _one_line_error(result)


@pytest.mark.display
def test_dry_run_click_and_type(vdisplay: Any) -> None:
    result = run("click", "10", "20", "--double", "--dry-run", env=vdisplay.env)
    assert result.returncode == 0 and result.stdout.strip() == "would double-click at (10, 20)"
    result = run("type", "héllo", "--dry-run", env=vdisplay.env)
    assert result.stdout.strip() == "would type 'héllo'"


def test_bad_arguments_are_rejected() -> None:
    result = run("capture", "x.png", "--region", "1,2,3")
    assert result.returncode == 2 and "x,y,width,height" in result.stderr
    result = run("press", "ctrl+nosuchkey", "--dry-run")
    assert result.returncode == 2 and "unknown key" in _one_line_error(result)


@pytest.fixture()
def screen_with_button(tmp_path: Path) -> tuple[Path, Path, tuple[int, int]]:
    image = np.full((2160, 3840, 3), 240, np.uint8)
    for i in range(8):
        x = 300 + i * 400
        cv2.rectangle(image, (x, 900), (x + 220, 960), (180, 180, 180), -1)
        cv2.putText(image, f"Item {i}", (x + 20, 942), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    screen, template = tmp_path / "screen.png", tmp_path / "button.png"
    cv2.imwrite(str(screen), image)
    x = 300 + 5 * 400
    cv2.imwrite(str(template), image[895:965, x - 5 : x + 225])
    return screen, template, (x + 110, 930)


def test_ground_template_json(screen_with_button: Any, tmp_path: Path) -> None:
    screen, template, (tx, ty) = screen_with_button
    out = tmp_path / "annotated.png"
    result = run("ground", str(screen), "--template", str(template), "--json",
                 "--annotate", str(out))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert abs(payload["x"] - tx) <= 2 and abs(payload["y"] - ty) <= 2
    assert payload["score"] > 0.99 and len(payload["box"]) == 4
    assert payload["elapsed_ms"] > 0 and payload["stages"][0]["name"] == "coarse"
    assert cv2.imread(str(out)).shape == (2160, 3840, 3)


def test_ground_not_found_exit_3(screen_with_button: Any, tmp_path: Path) -> None:
    screen, _, _ = screen_with_button
    other = tmp_path / "other.png"
    pattern = np.zeros((60, 60, 3), np.uint8)
    cv2.circle(pattern, (30, 30), 20, (0, 0, 255), 4)
    cv2.imwrite(str(other), pattern)
    result = run("ground", str(screen), "--template", str(other), "--annotate",
                 str(tmp_path / "miss.png"))
    assert result.returncode == 3
    line = _one_line_error(result)
    assert "not found" in line and "best score" in line and "miss.png" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.png", '"Save"'], "image not found"),
        (["{screen}", ""], "say what to find"),
        (["{corrupt}", '"Save"'], "not a readable image"),
        (["{screen}", "--template", "{big}"], "larger than the screen"),
        (["{screen}", "--template", "{flat}"], "no detail"),
        (["{black}", "--template", "{template}"], "not found"),
    ],
)
def test_ground_bad_input(screen_with_button: Any, tmp_path: Path, args: list[str],
                          message: str) -> None:
    screen, template, _ = screen_with_button
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG garbage")
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.random.default_rng(0).integers(0, 255, (2200, 100, 3), np.uint8))
    flat = tmp_path / "flat.png"
    cv2.imwrite(str(flat), np.zeros((40, 40, 3), np.uint8))
    black = tmp_path / "black.png"
    cv2.imwrite(str(black), np.zeros((2160, 3840, 3), np.uint8))
    names = {"screen": screen, "template": template, "corrupt": corrupt, "big": big,
             "flat": flat, "black": black}
    result = run("ground", *(a.format(**names) for a in args))
    assert result.returncode in (2, 3)
    assert message in _one_line_error(result)


@pytest.mark.display
def test_demo_end_to_end(tmp_path: Path) -> None:
    """`guiagent demo` starts its own 4K display, drives xterm and reads the answer back."""
    out = tmp_path / "demo.png"
    result = run("demo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"annotated screenshot: {out.resolve()}" in result.stdout
    assert "read the shell's answer back from the screen" in result.stderr
    assert cv2.imread(str(out)).shape == (2160, 3840, 3)
