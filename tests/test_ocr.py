"""OCR grounding on real text rendered on the 4K Xvfb display.

The truth comes from Tk itself (widget geometry, the Text widget's character boxes), never
from OCR. This file doubles as the Tk app: ``python tests/test_ocr.py REPORT.json``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from guiagent import Box, Frame, Point, Screen, VirtualDisplay, crop_window
from guiagent.grounding.base import CandidateSource, Grounder, Target
from guiagent.grounding.ocr import (
    MorphDetector,
    OcrGrounder,
    OcrUnavailableError,
    RapidOcrEngine,
    TesseractEngine,
    _parse_tsv,
    _rapidocr_package,
    make_engine,
)
from guiagent.screen.polling import wait_until

WINDOW = (300, 200, 1400, 900)  # x, y, width, height on the screen
TEXT_LINES = [
    ("small", "Connection timeout after 30 seconds, retrying in 5 seconds"),
    ("small", "The quick brown fox jumps over the lazy dog"),
    ("big", "Export selection as PDF document"),
    ("tiny", "WARNING disk almost full on /dev/sda1"),
]
WORDS = {  # phrase -> (line number, first character) in the Text widget
    "lazy dog": (2, "lazy"),
    "PDF document": (3, "PDF"),
    "timeout after": (1, "timeout"),
    "almost full": (4, "almost"),
}


# -- the app ------------------------------------------------------------------------------------


def run_app(report: str) -> None:  # pragma: no cover - runs in its own process
    import tkinter as tk

    root = tk.Tk()
    root.title("ocr-test")
    x, y, w, h = WINDOW
    root.geometry(f"{w}x{h}+{x}+{y}")
    buttons: dict[str, Any] = {}
    row = tk.Frame(root)
    row.pack(fill="x", pady=12)
    for name in ("Save", "Save As…", "Cancel", "Preferences"):
        buttons[name] = tk.Button(row, text=name, font=("DejaVu Sans", -13))
        buttons[name].pack(side="left", padx=10)
    form = tk.Frame(root)
    form.pack(fill="x", pady=8)
    for i, name in enumerate(("Username:", "Password:")):
        buttons[name] = tk.Label(form, text=name, font=("DejaVu Sans", -12))
        buttons[name].grid(row=i, column=0, sticky="w", padx=10)
        tk.Entry(form, width=30).grid(row=i, column=1)
    text = tk.Text(root, font=("DejaVu Sans", -12), height=20, width=120, borderwidth=0)
    text.tag_configure("small", font=("DejaVu Sans", -12))
    text.tag_configure("big", font=("DejaVu Sans", -20))
    text.tag_configure("tiny", font=("DejaVu Sans Mono", -10))
    for tag, content in TEXT_LINES:
        text.insert("end", content + "\n", tag)
    text.pack(fill="both", expand=True, padx=10, pady=10)

    def ready() -> None:
        root.update_idletasks()
        out: dict[str, list[int]] = {}
        for name, widget in buttons.items():
            out[name] = [widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(),
                         widget.winfo_height()]
        for phrase, (line_no, first) in WORDS.items():
            content = TEXT_LINES[line_no - 1][1]
            start = content.index(first)
            end = start + len(phrase) - 1
            first_box = text.bbox(f"{line_no}.{start}")
            last_box = text.bbox(f"{line_no}.{end}")
            assert first_box is not None and last_box is not None, f"{phrase!r} not shown"
            x0, y0, _w0, h0 = first_box
            x1, _y1, w1, _h1 = last_box
            out[phrase] = [text.winfo_rootx() + x0, text.winfo_rooty() + y0, x1 + w1 - x0, h0]
        Path(report).write_text(json.dumps(out), encoding="utf-8")

    root.after(400, ready)
    root.mainloop()


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scene(vdisplay: VirtualDisplay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Frame, dict[str, Box]]]:
    report = tmp_path_factory.mktemp("ocr") / "truth.json"
    app = vdisplay.launch([sys.executable, __file__, str(report)])
    screen = Screen()
    try:
        wait_until(report.exists, 20, "the Tk app to report its geometry")
        truth = {k: Box(*v) for k, v in json.loads(report.read_text(encoding="utf-8")).items()}
        x, y, w, h = WINDOW
        last: list[np.ndarray] = []

        def settled() -> bool:
            region = screen.capture().pixels[y : y + h, x : x + w]
            same = bool(last) and np.array_equal(last[0], region)
            last[:] = [region.copy()]
            return same and region.std() > 10

        wait_until(settled, 20, "the Tk window to be drawn", interval=0.2)
        yield screen.capture(), truth
    finally:
        screen.close()
        app.terminate()
        try:
            app.wait(5)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()


@pytest.fixture(scope="module")
def grounder() -> OcrGrounder:
    return OcrGrounder()


def assert_inside(point: Point, box: Box, what: str) -> None:
    assert box.contains(point), f"{what}: point {point} is not inside the true box {box}"


# -- display tests ------------------------------------------------------------------------------


@pytest.mark.display
def test_quoted_label_hits_its_button_not_the_longer_one(scene: tuple[Frame, dict[str, Box]],
                                                         grounder: OcrGrounder) -> None:
    frame, truth = scene
    matches = grounder.locate(frame, Target.parse('"Save"'))
    assert matches, "no match for Save"
    assert_inside(matches[0].point, truth["Save"], "Save")
    assert matches[0].score == pytest.approx(1.0)
    assert matches[0].grounder == "ocr" and matches[0].text == "Save"


@pytest.mark.display
@pytest.mark.parametrize("phrase", list(WORDS))
def test_phrases_in_a_text_widget_land_on_their_words(
        scene: tuple[Frame, dict[str, Box]], grounder: OcrGrounder, phrase: str) -> None:
    frame, truth = scene
    matches = grounder.locate(frame, Target.parse(phrase), limit=3)
    assert matches, f"no match for {phrase!r}"
    assert_inside(matches[0].point, truth[phrase], phrase)
    # The box is the words', not the whole line's.
    assert matches[0].box is not None
    assert matches[0].box.width < 2 * truth[phrase].width


@pytest.mark.display
@pytest.mark.parametrize("label", ["Cancel", "Preferences", "Username:", "Save As…"])
def test_labels(scene: tuple[Frame, dict[str, Box]], grounder: OcrGrounder, label: str) -> None:
    frame, truth = scene
    matches = grounder.locate(frame, Target.from_text(label, exact=True))
    assert matches, f"no match for {label!r}"
    assert_inside(matches[0].point, truth[label], label)


@pytest.mark.display
def test_ecp_candidates_then_full_resolution_crop(scene: tuple[Frame, dict[str, Box]]) -> None:
    frame, truth = scene
    ocr = OcrGrounder()
    assert isinstance(ocr, Grounder) and isinstance(ocr, CandidateSource)
    target = Target.parse("PDF document")
    candidates = ocr.candidates(frame, target, limit=3).candidates
    assert candidates
    assert_inside(candidates[0].point, truth["PDF document"], "stage 1")
    window = crop_window(candidates[0].point, 1024, frame.size)
    crop = frame.crop(window)
    before = ocr.cache_info()
    matches = ocr.locate(crop, target, limit=1)
    assert matches
    in_frame = matches[0].point.offset(window.left, window.top)
    assert_inside(in_frame, truth["PDF document"], "stage 2")
    after = ocr.cache_info()
    # The crop is a view of the frame stage 1 read: its reading is reused, nothing re-read.
    assert after.line_misses == before.line_misses
    assert after.region_hits == before.region_hits + 1

    # Pixels that differ from the frame's at that place are read afresh, not trusted.
    changed = crop.pixels.copy()
    changed[:40, :40] = 255 - changed[:40, :40]
    altered = Frame(changed, crop.origin, crop.scale)
    matches = ocr.locate(altered, target, limit=1)
    assert matches
    assert_inside(matches[0].point.offset(window.left, window.top), truth["PDF document"],
                  "altered crop")
    assert ocr.cache_info().region_misses == after.region_misses + 1


@pytest.mark.display
def test_second_target_on_an_unchanged_screen_reads_nothing(
        scene: tuple[Frame, dict[str, Box]]) -> None:
    frame, truth = scene
    ocr = OcrGrounder(early_exit=False)
    ocr.locate(frame, Target.parse("Cancel"))
    first = ocr.cache_info()
    assert first.region_misses == 1
    matches = ocr.locate(frame, Target.parse("Password"))
    second = ocr.cache_info()
    assert second.region_hits == first.region_hits + 1
    assert second.line_misses == first.line_misses  # nothing recognised again
    assert_inside(matches[0].point, truth["Password:"], "Password")
    # read() gives the same lines without recognising anything either.
    lines = ocr.read(frame)
    assert any("Preferences" in line.text for line in lines)
    assert ocr.cache_info().line_misses == first.line_misses


@pytest.mark.display
def test_absent_text_is_not_found(scene: tuple[Frame, dict[str, Box]],
                                  grounder: OcrGrounder) -> None:
    frame, _truth = scene
    assert grounder.locate(frame, Target.parse('"Zebra crossing"')) == []
    assert grounder.candidates(frame, Target.parse("Zebra crossing"), limit=3).candidates == []


@pytest.mark.display
def test_thorough_detector_reads_a_crop(scene: tuple[Frame, dict[str, Box]]) -> None:
    frame, truth = scene
    window = crop_window(truth["Cancel"].center, 1024, frame.size)
    crop = frame.crop(window)
    engine = RapidOcrEngine()
    boxes = engine.detect(crop.pixels, thorough=True)
    assert boxes
    lines = [ln for group in engine.recognize(crop.pixels, boxes) for ln in group]
    assert any("Cancel" in ln.text for ln in lines)


@pytest.mark.display
@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_tesseract_engine_on_a_crop(scene: tuple[Frame, dict[str, Box]]) -> None:
    frame, truth = scene
    window = crop_window(truth["Preferences"].center, 1024, frame.size)
    crop = frame.crop(window)
    ocr = OcrGrounder("tesseract")
    matches = ocr.locate(crop, Target.parse("Preferences"))
    assert matches
    assert_inside(matches[0].point.offset(window.left, window.top), truth["Preferences"],
                  "tesseract")


# -- no display ---------------------------------------------------------------------------------


def test_morph_detector_finds_drawn_text_lines() -> None:
    import cv2

    image = np.full((200, 600, 3), 235, np.uint8)
    cv2.putText(image, "Hello world", (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 1)
    cv2.putText(image, "Second line", (20, 140), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 1)
    cv2.line(image, (0, 100), (599, 100), (0, 0, 0), 1)  # a rule, not text
    boxes = MorphDetector().detect(image)
    assert len(boxes) == 2
    assert all(b.height < 30 for b in boxes)
    assert sorted(b.top for b in boxes)[0] < 60 < sorted(b.top for b in boxes)[1] + 200


def test_locate_on_an_image_without_a_display() -> None:
    import cv2

    image = np.full((300, 900, 3), 240, np.uint8)  # BGR, as loaded from a file
    cv2.putText(image, "Open project", (40, 80), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (30, 30, 30), 2)
    cv2.putText(image, "Export as PDF", (500, 200), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (30, 30, 30), 2)
    ocr = OcrGrounder()
    assert [line.text for line in ocr.read(Frame(image))] == ["Open project", "Export as PDF"]
    (match,) = ocr.locate(Frame(image), Target.parse('"PDF"'), limit=1)
    # "PDF" is the last third of "Export as PDF" (x 500..636): the point is on that word.
    assert 595 < match.point.x < 636 and 180 < match.point.y < 205
    assert match.box is not None and match.box.width < 50


def test_supports_text_and_descriptions_only() -> None:
    ocr = OcrGrounder()
    assert ocr.supports(Target.parse('"Save"'))
    assert ocr.supports(Target.parse("the Save button"))
    assert not ocr.supports(Target("image", image=np.zeros((4, 4, 3), np.uint8)))


def test_engines_are_chosen_by_name_and_built_lazily() -> None:
    assert isinstance(make_engine("tesseract"), TesseractEngine)
    assert isinstance(make_engine("rapidocr"), RapidOcrEngine)
    with pytest.raises(ValueError, match="unknown OCR engine"):
        make_engine("nope")
    ocr = OcrGrounder("tesseract")
    assert ocr._engine is None  # nothing built until first use
    assert ocr.engine.name == "tesseract"


def test_missing_rapidocr_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    with pytest.raises(OcrUnavailableError, match=r"pip install --force-reinstall rapidocr-onnxruntime"):
        _rapidocr_package()


def test_missing_tesseract_says_how_to_install() -> None:
    engine = TesseractEngine(executable="tesseract-that-is-not-there")
    with pytest.raises(OcrUnavailableError, match="apt-get install tesseract-ocr"):
        engine.recognize(np.zeros((20, 20, 3), np.uint8), [Box(0, 0, 20, 20)])


def test_tesseract_tsv_becomes_lines_with_word_positions() -> None:
    tsv = "\n".join([
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "5\t1\t1\t1\t1\t1\t20\t10\t40\t12\t96\tSave",
        "5\t1\t1\t1\t1\t2\t70\t10\t20\t12\t90\tAs",
        "5\t1\t2\t1\t1\t1\t20\t50\t60\t12\t-1\t ",
    ])
    (reading,) = _parse_tsv(tsv, 2.0, 100, 200)  # upscaled 2x, region at (100, 200)
    assert reading.text == "Save As"
    assert reading.box == Box(110, 205, 35, 6)
    assert reading.char_spans is not None and reading.char_spans[5] == (135.0, 140.0)
    assert reading.score == pytest.approx(0.93)


if __name__ == "__main__":
    run_app(sys.argv[1])
