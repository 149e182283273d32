"""Replay: a demo recorded on the 4K Xvfb display (real input through xdotool) replayed after the
window moved, was resized and its content changed; dry run, resume, waiting, loud failures, raw
coordinates; and the demo schema validator under hand-made and fuzzed (hypothesis) input."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import ProbeApp, start_probe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_recording import centre, click_at, steps_on_disk, wait_until, xdotool

from guiagent import Desktop, VirtualDisplay
from guiagent.grounding.base import GrounderTraits
from guiagent.platform.x11.windows import WindowInfo
from guiagent.recording.recorder import (
    ClickStep,
    Demo,
    PointerTarget,
    Recorder,
    RecorderSettings,
    write_demo,
)
from guiagent.recording.replay import DemoError, ReplayError, ReplayOptions, load_demo, parse_demo, replay

TITLE = "replay-probe"
RECORDED_GEOMETRY = "900x600+200+150"
MOVED_GEOMETRY = "1300x800+1700+1000"  # moved, larger
MOVED_LABELS = "Delta,Gamma,Alpha,Beta"  # an extra button, a different order


def launch(display: VirtualDisplay, report: Path, labels: str, geometry: str) -> ProbeApp:
    app = start_probe(display, report, "--buttons", labels, "--font-size", "14", "--title", TITLE,
                      geometry=geometry)
    app.ready
    return app


def close(app: ProbeApp) -> None:
    app.process.terminate()
    app.process.wait(10)


@pytest.fixture(scope="module")
def recorded(vdisplay: VirtualDisplay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A demo recorded by driving the real devices: click the text box, type, Enter, click Beta,
    double-click Gamma, scroll down twice over the text. Yields the folder and what the app got."""
    base = tmp_path_factory.mktemp("recorded")
    app = launch(vdisplay, base / "probe.jsonl", "Alpha,Beta,Gamma", RECORDED_GEOMETRY)
    ready = app.ready
    folder = base / "demo"
    recorder = Recorder(folder, RecorderSettings(display=vdisplay.name))
    recorder.start()
    thread = threading.Thread(target=recorder.run)
    thread.start()
    try:
        text_point = (ready["text_x"] + 30, ready["text_y"] + 30)
        click_at(vdisplay, text_point)
        xdotool(vdisplay, "type", "--delay", "20", "Hello World")
        xdotool(vdisplay, "key", "Return")
        click_at(vdisplay, centre(ready["buttons"]["Beta"]))
        wait_until(lambda: len(steps_on_disk(folder)) == 4, "four steps")
        click_at(vdisplay, centre(ready["buttons"]["Gamma"]), "--repeat", "2", "--delay", "80")
        xdotool(vdisplay, "mousemove", str(text_point[0] + 300), str(text_point[1]))
        xdotool(vdisplay, "click", "5", "click", "5")
        wait_until(lambda: len(steps_on_disk(folder)) == 6, "six steps")
        app.wait_for(lambda ev: sum(e["event"] == "scroll" for e in ev) == 2, what="the scrolls")
    finally:
        recorder.stop()
        thread.join(30)
        close(app)
    yield {"folder": folder, "events": app.events()}


def outcome_of(app: ProbeApp) -> tuple[str, list[str], list[str]]:
    """What the application ended up with: its text, the buttons pressed, the scrolls."""
    return (app.text(), [e["label"] for e in app.events("button")],
            [e["direction"] for e in app.events("scroll")])


def expected_outcome(events: list[dict[str, Any]]) -> tuple[str, list[str], list[str]]:
    texts = [e["value"] for e in events if e["event"] == "text"]
    return (texts[-1], [e["label"] for e in events if e["event"] == "button"],
            [e["direction"] for e in events if e["event"] == "scroll"])


@pytest.fixture()
def replay_desktop(vdisplay: VirtualDisplay) -> Iterator[Desktop]:
    with Desktop(vdisplay, abort_hotkey=None, failsafe=False) as desktop:
        yield desktop


@pytest.mark.display
def test_replay_after_window_moved_resized_and_content_changed(
        vdisplay: VirtualDisplay, recorded: dict[str, Any], replay_desktop: Desktop, tmp_path: Path) -> None:
    demo = load_demo(recorded["folder"])
    assert [s.kind for s in demo.steps] == ["click", "type", "key", "click", "click", "scroll"]
    app = launch(vdisplay, tmp_path / "moved.jsonl", MOVED_LABELS, MOVED_GEOMETRY)
    try:
        report = replay(demo, replay_desktop, ReplayOptions(speed=4))
        app.wait_for(lambda ev: sum(e["event"] == "scroll" for e in ev) == 2, what="the replayed scrolls")
        assert outcome_of(app) == expected_outcome(recorded["events"])
        assert outcome_of(app) == ("Hello World\n", ["Beta", "Gamma", "Gamma"], ["down", "down"])
        ready = app.ready
        for click in app.events("click"):  # every click landed in the moved window
            assert click["x_root"] >= 1700 and click["y_root"] >= 1000
    finally:
        close(app)
    methods = [o.method for o in report.outcomes]
    assert methods[1:3] == ["keyboard", "keyboard"]
    assert all(m in ("template", "text") for i, m in enumerate(methods) if i not in (1, 2)), methods
    beta = report.outcomes[3].point
    assert beta is not None and abs(beta.x - centre(ready["buttons"]["Beta"])[0]) <= 6


@pytest.mark.display
def test_dry_run_grounds_every_step_and_touches_nothing(
        vdisplay: VirtualDisplay, recorded: dict[str, Any], replay_desktop: Desktop, tmp_path: Path) -> None:
    app = launch(vdisplay, tmp_path / "dry.jsonl", MOVED_LABELS, MOVED_GEOMETRY)
    try:
        report = replay(recorded["folder"], replay_desktop, ReplayOptions(dry_run=True))
        assert not any(o.performed for o in report.outcomes)
        gamma = report.outcomes[4].point
        assert gamma is not None and abs(gamma.x - centre(app.ready["buttons"]["Gamma"])[0]) <= 6
        assert [e for e in app.events() if e["event"] not in ("ready",)] == []
    finally:
        close(app)


@pytest.mark.display
def test_from_step_resumes_and_waits_for_the_target_to_appear(
        vdisplay: VirtualDisplay, recorded: dict[str, Any], replay_desktop: Desktop, tmp_path: Path) -> None:
    apps: list[ProbeApp] = []
    late = threading.Timer(1.5, lambda: apps.append(
        launch(vdisplay, tmp_path / "late.jsonl", MOVED_LABELS, "1000x700+900+700")))
    late.start()  # the window appears only after the replay started looking for step 4's target
    try:
        report = replay(recorded["folder"], replay_desktop, ReplayOptions(from_step=4, find_timeout=30))
        late.join()
        app = apps[0]
        app.wait_for(lambda ev: sum(e["event"] == "scroll" for e in ev) == 2, what="the scrolls")
        assert outcome_of(app) == ("", ["Beta", "Gamma", "Gamma"], ["down", "down"])
        assert [o.number for o in report.outcomes] == [4, 5, 6]
    finally:
        late.join()
        for app in apps:
            close(app)


@pytest.mark.display
def test_missing_target_fails_loudly_with_an_annotated_screenshot(
        vdisplay: VirtualDisplay, recorded: dict[str, Any], replay_desktop: Desktop, tmp_path: Path) -> None:
    app = launch(vdisplay, tmp_path / "other.jsonl", "Delta,Epsilon", MOVED_GEOMETRY)
    try:
        with pytest.raises(ReplayError) as caught:
            replay(recorded["folder"], replay_desktop,
                   ReplayOptions(from_step=4, find_timeout=1.0, failure_dir=tmp_path))
        assert app.events("button") == []  # nothing was clicked instead
    finally:
        close(app)
    message = str(caught.value)
    assert "step 4" in message and "'Beta'" in message and "--allow-raw-coordinates" in message
    picture = caught.value.annotated_path
    assert picture is not None and Path(picture).is_file() and Path(picture).parent == tmp_path
    image = cv2.imread(picture)
    assert image is not None and image.shape[:2] == (2160, 3840)


def canvas_demo(folder: Path, window: WindowInfo, point: tuple[float, float]) -> Demo:
    """A click on a plain blue canvas: nothing to find by template or text, only coordinates."""
    folder.mkdir(parents=True)
    demo = Demo((ClickStep(0.0, PointerTarget(point, window=window)),), folder, (3840, 2160))
    write_demo(demo)
    return load_demo(folder)


@pytest.mark.display
def test_raw_coordinates_only_when_allowed_and_they_follow_the_window(
        vdisplay: VirtualDisplay, replay_desktop: Desktop, tmp_path: Path) -> None:
    recorded_box = (200, 150, 900, 600)
    demo = canvas_demo(tmp_path / "canvas", WindowInfo(TITLE, recorded_box), (600.0, 600.0))
    app = launch(vdisplay, tmp_path / "canvas.jsonl", "Alpha", "1000x700+1500+900")
    try:
        with pytest.raises(ReplayError, match="allow-raw-coordinates"):
            replay(demo, replay_desktop, ReplayOptions(find_timeout=0.5, failure_dir=tmp_path))
        assert app.events("click") == []
        report = replay(demo, replay_desktop, ReplayOptions(allow_raw_coordinates=True))
        app.wait_for(lambda ev: any(e["event"] == "click" for e in ev), what="the click")
        click = app.events("click")[-1]
    finally:
        close(app)
    assert report.outcomes[0].method == "raw"
    assert click["widget"] == "canvas"
    # The client window now starts near (1500, 900) (plus its decorations): the click keeps its
    # recorded offset inside the window, not its recorded screen position.
    assert abs(click["x_root"] - 1500 - (600 - recorded_box[0])) <= 30
    assert abs(click["y_root"] - 900 - (600 - recorded_box[1])) <= 40


@pytest.mark.display
def test_cli_replay_dry_run_and_bad_demo(vdisplay: VirtualDisplay, recorded: dict[str, Any],
                                         tmp_path: Path) -> None:
    app = launch(vdisplay, tmp_path / "cli.jsonl", MOVED_LABELS, MOVED_GEOMETRY)
    try:
        done = subprocess.run([sys.executable, "-m", "guiagent", "replay", str(recorded["folder"]),
                               "--dry-run", "--from-step", "4"],
                              env=vdisplay.env, capture_output=True, text=True, timeout=120)
    finally:
        close(app)
    assert done.returncode == 0, done.stderr
    assert 'would click "Beta"' in done.stdout and "checked 3 step(s)" in done.stdout
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "demo.json").write_text('{"version": 99, "steps": []}')
    done = subprocess.run([sys.executable, "-m", "guiagent", "replay", str(bad)], env=vdisplay.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "schema version 99 is not supported" in done.stderr


# -- schema validation --------------------------------------------------------------------------


def write_png(path: Path, width: int = 24, height: int = 16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (np.arange(width * height * 3) % 251).astype(np.uint8).reshape(height, width, 3)
    assert cv2.imwrite(str(path), pixels)


VALID: dict[str, Any] = {
    "version": 1,
    "created": "2026-01-01T00:00:00+00:00",
    "screen": [3840, 2160],
    "redacted": False,
    "steps": [
        {"kind": "click", "time": 0.5, "button": "left", "count": 1, "modifiers": [],
         "target": {"point": [10, 20], "frame": "assets/frame.png",
                    "templates": [{"image": "assets/t48.png", "offset": [5, 5]}],
                    "text": "Save", "text_offset": [0, 1],
                    "window": {"title": "editor", "box": [0, 0, 800, 600]}}},
        {"kind": "type", "time": 1.0, "text": "hello", "secret": False},
        {"kind": "type", "time": 1.5, "text": None, "secret": True},
        {"kind": "key", "time": 2.0, "keys": "ctrl+s", "presses": 1},
        {"kind": "drag", "time": 3.0, "button": "left", "end": [50, 60], "target": {"point": [1, 2]}},
        {"kind": "scroll", "time": 4.0, "direction": "down", "amount": 3, "target": {"point": [1, 2]}},
    ],
}


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("valid")
    write_png(folder / "assets" / "frame.png", 64, 48)
    write_png(folder / "assets" / "t48.png")
    (folder / "demo.json").write_text(json.dumps(VALID))
    return folder


def test_a_valid_demo_loads_into_typed_steps(demo_folder: Path) -> None:
    demo = load_demo(demo_folder)
    assert [s.kind for s in demo.steps] == ["click", "type", "type", "key", "drag", "scroll"]
    click = demo.steps[0]
    assert isinstance(click, ClickStep) and click.target.templates[0].offset == (5.0, 5.0)
    assert click.target.window == WindowInfo("editor", (0, 0, 800, 600))


def with_change(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(VALID)
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


CLICK_TARGET = ("steps", 0, "target")


@pytest.mark.parametrize(("doc", "message"), [
    (with_change(("version",), 2), "schema version 2 is not supported"),
    (with_change(("version",), "1"), "schema version \"1\" is not supported"),
    (with_change(("steps",), {"a": 1}), "steps must be a list"),
    (with_change(("steps",), [{"kind": "type", "time": 0, "text": "x"}] * 10_001), "at most 10000"),
    (with_change((*CLICK_TARGET, "frame"), "../outside.png"), "relative path inside the demo folder"),
    (with_change((*CLICK_TARGET, "frame"), "/etc/passwd"), "relative path inside the demo folder"),
    (with_change((*CLICK_TARGET, "frame"), "assets/missing.png"), "missing asset"),
    (with_change((*CLICK_TARGET, "frame"), "demo.json"), "is not a PNG image"),
    (with_change((*CLICK_TARGET, "point"), [1]), "steps[0].target.point must be a list of two numbers"),
    (with_change((*CLICK_TARGET, "point"), ["a", 2]), "steps[0].target.point[0] must be a number"),
    (with_change((*CLICK_TARGET, "point"), [1e300, 2]), "must be between"),
    (with_change(("steps", 0, "count"), 50), "steps[0].count must be between 1 and 3"),
    (with_change(("steps", 0, "button"), "thumb"), "steps[0].button must be one of left, middle, right"),
    (with_change(("steps", 0, "kind"), "exec"), "steps[0].kind must be one of"),
    (with_change(("steps", 0, "shell"), "rm -rf /"), "unknown field(s) shell"),
    (with_change(("steps", 2, "text"), "leaked"), "must be null in a secret step"),
    (with_change(("steps", 3, "keys"), "ctrl+nosuchkey"), "steps[3].keys is not a key combination"),
    (with_change(("steps", 5, "amount"), 10**9), "steps[5].amount must be between 1 and 100"),
    (with_change(("steps", 1, "text"), "x" * 10_001), "more than 10000"),
    (with_change((*CLICK_TARGET, "templates"), [{"image": "assets/t48.png", "offset": [0, 0]}] * 9),
     "at most 8"),
])
def test_malformed_demos_are_rejected_with_the_place_and_the_fix(
        demo_folder: Path, doc: dict[str, Any], message: str) -> None:
    with pytest.raises(DemoError) as caught:
        parse_demo(doc, demo_folder)
    assert message in str(caught.value)
    assert "re-record" in str(caught.value)


def test_assets_that_escape_or_lie_about_their_size_are_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "secret.png"
    write_png(outside)
    folder = tmp_path / "demo"
    write_png(folder / "assets" / "t48.png")
    write_png(folder / "assets" / "frame.png")
    (folder / "assets" / "link.png").symlink_to(outside)
    with pytest.raises(DemoError, match="leads outside the demo folder"):
        parse_demo(with_change((*CLICK_TARGET, "frame"), "assets/link.png"), folder)
    huge = folder / "assets" / "huge.png"  # a PNG header claiming 100000 x 100000 pixels
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + (100_000).to_bytes(4, "big") * 2)
    with pytest.raises(DemoError, match="100000x100000 pixels"):
        parse_demo(with_change((*CLICK_TARGET, "frame"), "assets/huge.png"), folder)


@pytest.mark.parametrize(("content", "message"), [
    (b"", "is not valid JSON"),
    (b"\xff\xfe\x00", "is not UTF-8"),
    (b"[" * 100_000, "nests too deeply"),
    (b"[]", "the file must be an object"),
])
def test_unreadable_demo_files(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "demo.json").write_bytes(content)
    with pytest.raises(DemoError, match=message):
        load_demo(tmp_path)


def test_a_folder_without_a_demo(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match=r"holds no demo\.json"):
        load_demo(tmp_path)
    with pytest.raises(DemoError, match="is not a folder"):
        load_demo(tmp_path / "nope")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def containers(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from containers(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from containers(value, (*path, index))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_demos_give_a_clear_error_or_a_demo(demo_folder: Path, data: st.DataObject) -> None:
    doc: Any = copy.deepcopy(VALID)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = list(containers(doc))
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            doc = data.draw(json_values) if action == "replace" else doc
            continue
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        if action == "replace":
            parent[path[-1]] = data.draw(json_values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8))] = data.draw(json_values)
        else:
            parent.append(data.draw(json_values))
    try:
        demo = parse_demo(doc, demo_folder)
    except DemoError as exc:
        assert str(exc).startswith("demo.json: ") and "re-record" in str(exc)
    else:
        assert len(demo.steps) <= 10_000


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
def test_fuzzed_files_give_a_clear_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "demo.json").write_bytes(content)
    try:
        demo = load_demo(tmp_path)
    except DemoError as exc:
        assert "demo.json" in str(exc)
    else:  # random bytes that happen to be a valid (empty) demo
        assert demo.steps == ()


def test_replay_options_are_checked() -> None:
    with pytest.raises(DemoError, match="speed must be a positive number"):
        ReplayOptions(speed=0)
    with pytest.raises(DemoError, match="counts from 1"):
        ReplayOptions(from_step=0)


def test_secret_steps_need_their_text_before_anything_runs(demo_folder: Path) -> None:
    class NoDesktop:  # replay must refuse before it touches a desktop
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"desktop.{name} used")

    with pytest.raises(DemoError, match="step 3 types a secret"):
        replay(demo_folder, NoDesktop())


class CentreGrounder:
    """A stand-in VLM: answers the centre of whatever image it is shown."""

    name = "vlm"
    min_score = 0.5
    traits = GrounderTraits()

    def __init__(self) -> None:
        self.asked: list[str] = []

    def supports(self, target: Any) -> bool:
        return target.kind == "description"

    def locate(self, image: Any, target: Any, *, limit: int = 5, zoom: float = 1.0,
               hint: Any = None) -> list[Any]:
        from guiagent.geometry import Point
        from guiagent.grounding.base import Match

        self.asked.append(target.text)
        return [Match(Point(image.width / 2, image.height / 2), 0.9, grounder=self.name)]


class StillDesktop:
    """A desktop whose screen never changes (a dry run needs only capture and the point check)."""

    display_name = None

    def __init__(self) -> None:
        from guiagent.screen.capture import Frame

        pixels = np.zeros((2160, 3840, 3), np.uint8)
        pixels[::7, ::5] = 255  # some texture
        self.frame = Frame(pixels)
        self.executor = self

    def capture(self) -> Any:
        return self.frame

    def check_point(self, point: Any) -> tuple[int, int]:
        return int(point.x), int(point.y)


def test_the_description_stage_runs_only_when_a_vlm_is_registered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from guiagent import grounding

    folder = tmp_path / "described"
    folder.mkdir()
    step = ClickStep(0.0, PointerTarget((5.0, 5.0), text="Export", description="the export icon"))
    write_demo(Demo((step,), folder, (3840, 2160)))
    options = ReplayOptions(dry_run=True, failure_dir=tmp_path)
    monkeypatch.delitem(grounding._FACTORIES, "vlm", raising=False)
    monkeypatch.delitem(grounding._INSTANCES, "vlm", raising=False)
    with pytest.raises(ReplayError, match="text 'Export' not seen"):
        replay(folder, StillDesktop(), options)  # no model: no guessing
    model = CentreGrounder()
    monkeypatch.setitem(grounding._FACTORIES, "vlm", lambda: model)
    monkeypatch.setitem(grounding._INSTANCES, "vlm", model)
    report = replay(folder, StillDesktop(), options)
    outcome = report.outcomes[0]
    assert outcome.method == "vlm" and not outcome.performed
    assert outcome.point is not None and abs(outcome.point.x - 1920) <= 2 and abs(outcome.point.y - 1080) <= 2
    assert set(model.asked) == {"the export icon"}
