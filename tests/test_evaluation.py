"""ScreenSpot-Pro-style evaluation: the loader, the scoring, the report and the CLI command,
with fake predictors; and the committed dev-set fixture."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from guiagent.errors import GuiAgentError, TargetNotFound
from guiagent.evaluation import screenspot as evaluation
from guiagent.evaluation.screenspot import (
    AnnotationError,
    EvaluationReport,
    Progress,
    Sample,
    add_command,
    evaluate,
    load_annotations,
    print_report,
    score_point,
)
from guiagent.geometry import Box, Point
from guiagent.screen.capture import Frame

FIXTURE = Path(__file__).parent / "fixtures" / "devset"
ACCURACY_LINE = re.compile(r"^accuracy: \d\.\d{4} \(\d+/\d+\)$")


def entry(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "img_filename": "shot.png",
        "bbox": [10, 20, 50, 40],
        "instruction": "Save",
        "ui_type": "text",
        "application": "editor",
        "group": "Office",
        "platform": "linux",
        "img_size": [200, 100],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def write_image(path: Path, width: int = 200, height: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((height, width, 3), 200, np.uint8)
    assert cv2.imwrite(str(path), pixels)
    return path


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """A small valid annotation file with two images next to it."""
    write_image(tmp_path / "shot.png")
    write_image(tmp_path / "sub" / "other.png", 300, 150)
    entries = [
        entry(),
        entry(bbox=[100, 10, 120, 30], instruction="gear icon", ui_type="icon"),
        entry(img_filename="sub/other.png", img_size=[300, 150], bbox=[0, 0, 300, 150],
              instruction="the whole thing", application="browser", group="Web",
              target_text="Everything"),
    ]
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


# -- loader ------------------------------------------------------------------------------------


def test_loads_a_file(dataset: Path) -> None:
    samples = load_annotations(dataset)
    assert len(samples) == 3
    first = samples[0]
    assert first.bbox == Box(10, 20, 40, 20)
    assert first.image == dataset.parent / "shot.png"
    assert (first.ui_type, first.application, first.group, first.platform) == (
        "text", "editor", "Office", "linux")
    assert first.id == "annotations:0"
    assert first.source.endswith("annotations.json[0]")
    assert samples[2].image == dataset.parent / "sub" / "other.png"
    assert samples[2].target_text == "Everything"


def test_loads_a_folder_with_a_separate_image_root(tmp_path: Path) -> None:
    images = tmp_path / "images"
    write_image(images / "shot.png")
    notes = tmp_path / "annotations"
    notes.mkdir()
    (notes / "b.json").write_text(json.dumps([entry(instruction="B")]), encoding="utf-8")
    (notes / "a.json").write_text(json.dumps([entry(instruction="A"), entry(instruction="A2")]),
                                  encoding="utf-8")
    (notes / "readme.txt").write_text("not annotations", encoding="utf-8")
    samples = load_annotations(notes, images)
    assert [s.instruction for s in samples] == ["A", "A2", "B"]  # files in name order
    assert [s.id for s in samples] == ["a:0", "a:1", "b:0"]


def test_optional_fields_default(tmp_path: Path) -> None:
    write_image(tmp_path / "shot.png")
    path = tmp_path / "x.json"
    path.write_text(json.dumps([{"img_filename": "shot.png", "bbox": [1, 2, 3, 4],
                                 "instruction": "close", "ui_type": "icon"}]), encoding="utf-8")
    (sample,) = load_annotations(path)
    assert (sample.application, sample.group, sample.platform) == ("unknown",) * 3
    assert sample.img_size is None and sample.target_text is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (entry(img_filename=None), "missing 'img_filename'"),
        (entry(instruction=""), "'instruction' must be a non-empty string"),
        (entry(ui_type="button"), "ui_type must be one of text, icon"),
        (entry(ui_type=None), "missing 'ui_type'"),
        (entry(bbox=None), "missing 'bbox'"),
        (entry(bbox=[1, 2, 3]), "'bbox' must be four numbers"),
        (entry(bbox=["1", 2, 3, 4]), "'bbox' must be four numbers"),
        (entry(bbox=[1, 2, True, 4]), "'bbox' must be four numbers"),
        (entry(bbox=[50, 20, 10, 40]), "x2 < x1"),
        (entry(bbox=[300, 200, 310, 210]), "lies outside the 200x100 image"),
        (entry(img_size=[200]), "'img_size' must be [width, height]"),
        (entry(img_size=[200.5, 100]), "'img_size' must be [width, height]"),
        (entry(target_text=" "), "'target_text' must be a non-empty string"),
        (entry(application=7), "'application' must be a non-empty string"),
        (entry(img_filename="/etc/passwd"), "must be a relative path"),
        (entry(img_filename="../outside.png"), "must be a relative path"),
        (entry(id=[1]), "'id' must be a string or a number"),
        ("just a string", "expected an object, got str"),
    ],
)
def test_malformed_entries_name_file_and_index(tmp_path: Path, bad: Any, message: str) -> None:
    write_image(tmp_path / "shot.png")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([entry(), bad]), encoding="utf-8")
    with pytest.raises(AnnotationError) as info:
        load_annotations(path)
    text = str(info.value)
    assert f"{path}[1]" in text
    assert message in text
    assert info.value.exit_code == 2


def test_not_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"img_filename": "a.png",\n  "bbox": [1, 2, 3, 4],,}]', encoding="utf-8")
    with pytest.raises(AnnotationError, match=r"broken\.json: not valid JSON at line 2"):
        load_annotations(path)


def test_top_level_must_be_a_list(tmp_path: Path) -> None:
    path = tmp_path / "obj.json"
    path.write_text(json.dumps({"img_filename": "a.png"}), encoding="utf-8")
    with pytest.raises(AnnotationError, match="expected a JSON list of annotation objects, got dict"):
        load_annotations(path)


def test_empty_and_missing_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("[]", encoding="utf-8")
    with pytest.raises(AnnotationError, match="annotation lists are empty"):
        load_annotations(empty)
    with pytest.raises(AnnotationError, match="annotations not found"):
        load_annotations(tmp_path / "nope.json")
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(AnnotationError, match=r"no \*\.json annotation files"):
        load_annotations(folder)
    with pytest.raises(AnnotationError, match="images folder not found"):
        load_annotations(empty, tmp_path / "no-images")


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    write_image(tmp_path / "shot.png")
    path = tmp_path / "dup.json"
    path.write_text(json.dumps([entry(id="a"), entry(id="a")]), encoding="utf-8")
    with pytest.raises(AnnotationError, match=r"dup\.json\[1\]: id 'a' was already used"):
        load_annotations(path)


def test_missing_images_are_listed(tmp_path: Path) -> None:
    write_image(tmp_path / "shot.png")
    entries = [entry(), *(entry(img_filename=f"gone{i}.png") for i in range(5))]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    with pytest.raises(AnnotationError) as info:
        load_annotations(path)
    text = str(info.value)
    assert "5 of 6 images are missing" in text
    assert "gone0.png" in text and f"{path}[1]" in text
    assert "and 2 more" in text and "--images" in text
    assert load_annotations(path, check_images=False)[1].img_filename == "gone0.png"


def test_image_size_must_match(tmp_path: Path) -> None:
    write_image(tmp_path / "shot.png", 210, 100)
    path = tmp_path / "a.json"
    path.write_text(json.dumps([entry()]), encoding="utf-8")
    with pytest.raises(AnnotationError, match=r"img_size says 200x100 but .*shot\.png is 210x100"):
        load_annotations(path)


# -- scoring and evaluation --------------------------------------------------------------------


def test_edges_are_inclusive() -> None:
    box = Box.from_corners(10, 20, 50, 40)
    inside = [(10.0, 20.0), (50.0, 40.0), (10.0, 40.0), (50.0, 20.0), (30.0, 30.0)]
    outside = [(9.99, 30.0), (50.01, 30.0), (30.0, 19.99), (30.0, 40.01)]
    assert all(score_point(Point(x, y), box) for x, y in inside)
    assert not any(score_point(Point(x, y), box) for x, y in outside)


def fake_predictor(answers: dict[str, Any]) -> evaluation.Predictor:
    """Answers by instruction: a point, a pair, a Match-like object or an exception to raise."""

    def predict(frame: Frame, sample: Sample) -> object:
        assert frame.width > 0
        answer = answers[sample.instruction]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return predict


class FakeMatch:
    def __init__(self, point: Point, score: float) -> None:
        self.point = point
        self.score = score


def test_evaluate_counts_statuses(dataset: Path) -> None:
    samples = load_annotations(dataset)
    predict = fake_predictor({
        "Save": Point(50, 40),  # bottom-right corner: inside
        "gear icon": TargetNotFound("nothing like it", best_score=0.31),
        "the whole thing": FakeMatch(Point(299.5, 0), 0.9),
    })
    report = evaluate(samples, predict)
    assert [r.status for r in report.results] == ["correct", "not_found", "correct"]
    assert (report.correct, report.total) == (2, 3)
    assert report.results[1].score == pytest.approx(0.31)
    assert "best score 0.310" in report.results[1].message
    assert report.results[2].score == pytest.approx(0.9)
    assert report.accuracy_line() == "accuracy: 0.6667 (2/3)"


def test_unsupported_and_errors_count_as_wrong(dataset: Path) -> None:
    samples = load_annotations(dataset)
    predict = fake_predictor({
        "Save": (0, 0),  # a plain pair, outside the box
        "gear icon": GuiAgentError("this description needs a VLM: configure one"),
        "the whole thing": ValueError("bug in a grounder"),
    })
    report = evaluate(samples, predict)
    assert [r.status for r in report.results] == ["wrong", "unsupported", "error"]
    assert report.correct == 0
    assert report.results[1].message == "this description needs a VLM: configure one"
    assert report.results[2].message == "ValueError: bug in a grounder"
    assert report.accuracy_line() == "accuracy: 0.0000 (0/3)"


def test_bad_predictor_output_is_an_error(dataset: Path) -> None:
    samples = load_annotations(dataset)[:1]
    for bad in ("12,3", (1, 2, 3), Point(float("nan"), 1)):
        report = evaluate(samples, fake_predictor({"Save": bad}))
        assert report.results[0].status == "error"


def test_images_are_loaded_once_per_run_of_samples(dataset: Path) -> None:
    samples = load_annotations(dataset)
    loaded: list[Path] = []

    def load(path: Path) -> Frame:
        loaded.append(path)
        return Frame.load(path)

    evaluate(samples, lambda frame, sample: sample.bbox.center, load_image=load)
    assert [p.name for p in loaded] == ["shot.png", "other.png"]


def test_target_text_is_quoted_when_asked(dataset: Path) -> None:
    sample = load_annotations(dataset)[2]
    assert sample.target() == "the whole thing"
    assert sample.target(use_target_text=True) == '"Everything"'
    first = load_annotations(dataset)[0]
    assert first.target(use_target_text=True) == "Save"  # no target_text: the instruction


def test_locate_predictor_routes_targets(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import guiagent.elements.locate as element_locate

    calls: list[tuple[Any, ...]] = []

    def fake_locate(image: Any, target: Any, *, grounder: str, ecp: bool, crop: int) -> Point:
        calls.append((type(image).__name__, target, grounder, ecp, crop))
        return Point(0, 0)

    monkeypatch.setattr(element_locate, "locate", fake_locate)
    samples = load_annotations(dataset)
    predict = evaluation.locate_predictor(grounder="ocr", ecp=False, crop=512,
                                          use_target_text=True)
    evaluate(samples, predict)
    assert calls == [
        ("Frame", "Save", "ocr", False, 512),
        ("Frame", "gear icon", "ocr", False, 512),
        ("Frame", '"Everything"', "ocr", False, 512),
    ]


# -- report ------------------------------------------------------------------------------------


def mixed_report(dataset: Path) -> EvaluationReport:
    samples = load_annotations(dataset)
    predict = fake_predictor({
        "Save": Point(30, 30),
        "gear icon": GuiAgentError("needs a VLM"),
        "the whole thing": Point(1000, 1000),
    })
    return evaluate(samples, predict, settings={"grounder": "fake"})


def test_breakdowns(dataset: Path) -> None:
    report = mixed_report(dataset)
    by_type = {s.value: s for s in report.breakdown("ui_type")}
    assert (by_type["text"].total, by_type["text"].correct) == (2, 1)
    assert by_type["icon"].counts["unsupported"] == 1
    assert by_type["icon"].median_latency_ms is None  # nothing was really attempted
    assert by_type["text"].median_latency_ms is not None
    assert [s.value for s in report.breakdown("application")] == ["browser", "editor"]
    assert {s.value: s.accuracy for s in report.breakdown("group")} == {"Office": 0.5, "Web": 0.0}


def test_table_has_a_section_per_key_and_overall(dataset: Path) -> None:
    table = mixed_report(dataset).table()
    lines = table.splitlines()
    assert lines[0].split() == ["n", "correct", "accuracy", "wrong", "not_found",
                                "unsupported", "error", "median_ms"]
    for section in ("[ui_type]", "[group]", "[application]"):
        assert any(line.startswith(section) for line in lines)
    overall = next(line for line in lines if line.startswith("overall"))
    assert overall.split()[1:5] == ["3", "1", "0.3333", "1"]
    icon_row = next(line for line in lines if line.strip().startswith("icon"))
    assert icon_row.split()[-1] == "-"  # no latency for unsupported samples


def test_print_report_ends_with_the_accuracy_line(dataset: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    report = mixed_report(dataset)
    out = tmp_path / "out" / "results.json"
    assert print_report(report, out=out) == 0
    stdout = capsys.readouterr().out
    last = stdout.rstrip("\n").splitlines()[-1]
    assert last == "accuracy: 0.3333 (1/3)"
    assert ACCURACY_LINE.match(last)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["summary"]["correct"] == 1 and data["summary"]["total"] == 3
    assert data["summary"]["unsupported"] == 1
    assert data["summary"]["settings"] == {"grounder": "fake"}
    assert [s["status"] for s in data["samples"]] == ["correct", "unsupported", "wrong"]
    assert data["samples"][0]["point"] == [30, 30]
    assert data["samples"][0]["bbox"] == [10, 20, 50, 40]
    assert data["samples"][1]["point"] is None
    assert {"ui_type", "group", "application", "platform"} <= set(data["breakdown"])


def test_progress_bar_without_a_terminal_prints_few_lines() -> None:
    stream = io.StringIO()
    bar = Progress(100, stream)
    for done in range(1, 101):
        bar.update(done, done // 2)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert "100/100" in lines[-1] and "correct 50" in lines[-1]


def test_progress_bar_on_a_terminal_redraws_one_line() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = Progress(3, stream)
    for done in range(1, 4):
        bar.update(done, done)
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and "3/3" in text


# -- command line ------------------------------------------------------------------------------


def eval_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guiagent")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--display")
    add_command(parser.add_subparsers(dest="command"), common)
    return parser


def test_cli_parses_options() -> None:
    args = eval_parser().parse_args(
        ["eval", "a.json", "--images", "imgs", "--grounder", "ocr", "--single-stage",
         "--crop", "768", "--limit", "5", "--out", "r.json", "--use-target-text"])
    assert (args.annotations, args.images, args.grounder) == ("a.json", "imgs", "ocr")
    assert args.single_stage and args.use_target_text
    assert (args.crop, args.limit, args.out) == (768, 5, "r.json")
    assert args.handler is evaluation.cmd_eval
    defaults = eval_parser().parse_args(["eval", "a.json", "--images", "i"])
    assert (defaults.grounder, defaults.crop, defaults.limit) == ("auto", 1024, None)
    assert not defaults.single_stage


@pytest.mark.parametrize("argv", [
    ["eval", "a.json"],  # --images is required
    ["eval", "a.json", "--images", "i", "--grounder", "magic"],
    ["eval", "a.json", "--images", "i", "--crop", "0"],
    ["eval", "a.json", "--images", "i", "--limit", "x"],
])
def test_cli_rejects_bad_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        eval_parser().parse_args(argv)
    assert info.value.code == 2
    capsys.readouterr()


def test_cli_runs_end_to_end(dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, Any] = {}

    def fake_locate_predictor(**kwargs: Any) -> evaluation.Predictor:
        seen.update(kwargs)
        return lambda frame, sample: sample.bbox.center

    monkeypatch.setattr(evaluation, "locate_predictor", fake_locate_predictor)
    out = tmp_path / "results.json"
    args = eval_parser().parse_args(["eval", str(dataset), "--images", str(dataset.parent),
                                     "--limit", "2", "--single-stage", "--out", str(out)])
    assert args.handler(args) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == "accuracy: 1.0000 (2/2)"
    assert "2/2" in captured.err  # the progress bar went to stderr
    assert seen == {"grounder": "auto", "ecp": False, "crop": 1024, "use_target_text": False}
    assert json.loads(out.read_text(encoding="utf-8"))["summary"]["settings"]["limit"] == 2


def test_cli_reports_bad_annotations_as_a_guiagent_error(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text("{}", encoding="utf-8")
    args = eval_parser().parse_args(["eval", str(path), "--images", str(tmp_path)])
    with pytest.raises(AnnotationError):
        args.handler(args)


# -- the committed dev-set fixture -------------------------------------------------------------


def test_fixture_loads_and_its_boxes_lie_inside_the_images() -> None:
    samples = load_annotations(FIXTURE / "annotations.json", FIXTURE / "images")
    images = {s.image for s in samples}
    assert 2 <= len(images) <= 4
    assert sum(p.stat().st_size for p in images) < 3 * 1024 * 1024
    for image in images:
        frame = Frame.load(image)
        assert (frame.width, frame.height) == (3840, 2160)
        for sample in (s for s in samples if s.image == image):
            b = sample.bbox
            assert 0 <= b.left < b.right <= frame.width, sample.id
            assert 0 <= b.top < b.bottom <= frame.height, sample.id
            assert b.width >= 4 and b.height >= 4, sample.id
    kinds = {s.ui_type for s in samples}
    assert kinds == {"text", "icon"}
    assert all(s.target_text for s in samples if s.ui_type == "text")
    assert len({s.id for s in samples}) == len(samples)
    # one instruction, one place, per screenshot
    for image in images:
        words = [s.instruction.lower() for s in samples if s.image == image]
        assert len(words) == len(set(words))


def test_fixture_boxes_are_not_blank() -> None:
    """A box on the wrong place often lands on flat background; real widgets have detail."""
    samples = load_annotations(FIXTURE / "annotations.json", FIXTURE / "images")
    frames = {p: Frame.load(p).gray() for p in {s.image for s in samples}}
    for sample in samples:
        rows, cols = sample.bbox.slices()
        patch = frames[sample.image][rows, cols]
        assert int(patch.max()) - int(patch.min()) > 30, sample.id


def test_oracle_scores_full_marks_on_the_fixture() -> None:
    samples = load_annotations(FIXTURE / "annotations.json", FIXTURE / "images")
    report = evaluate(samples, lambda frame, sample: sample.bbox.center)
    assert report.accuracy == 1.0
    assert report.accuracy_line() == f"accuracy: 1.0000 ({len(samples)}/{len(samples)})"
