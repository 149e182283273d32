"""The real VLM path end to end with tiny random-weight checkpoints built offline:
load -> our resize -> the checkpoint's own processor -> generate -> parse -> map back -> screen.

A random model says nothing useful, so an *oracle* decides each answer: it finds a magenta
marker in the image the model was actually given, measures it in the size the checkpoint's own
image processor fed to the vision tower (its image_grid_thw, not our smart_resize), writes the
answer in the family's own format and coordinate space, and forces the model to emit exactly
that text (a logits processor). If our resize, parsing or mapping disagreed with the processor
anywhere, the click would land off the marker.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from guiagent.errors import ModelLoadError, ModelOutputError
from guiagent.geometry import Point, Size
from guiagent.grounding import Target, locate
from guiagent.grounding.ecp import EcpSettings, ecp_locate
from guiagent.grounding.vlm import ModelHandle, VlmGrounder, VlmSettings, load_model
from guiagent.grounding.vlm.ask import ask_screen
from guiagent.grounding.vlm.base import Generation
from guiagent.grounding.vlm.families import get_family
from guiagent.grounding.vlm.runtime import TransformersRuntime
from guiagent.grounding.vlm.synthetic import ForcedText, build_checkpoint
from guiagent.screen.capture import Frame

MARKER = (255, 0, 255)  # RGB


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("vlm")
    built = {}
    for arch in ("qwen2_vl", "qwen2_5_vl", "qwen3_vl"):
        build_checkpoint(root / arch, arch)  # type: ignore[arg-type]
        built[arch] = root / arch
    # A processor that allows fewer pixels than the family: our crops get resized by it again.
    build_checkpoint(root / "capped", "qwen2_5_vl", processor_max_pixels=200_000)
    built["capped"] = root / "capped"
    return built


def marker_centre(image: Any) -> Point:
    """Centre of the magenta marker in a PIL RGB image, in continuous pixel coordinates."""
    rgb = np.asarray(image.convert("RGB")).astype(int)
    distance = np.abs(rgb - np.array(MARKER)).sum(axis=2)
    ys, xs = np.nonzero(distance < 90)
    if len(xs) == 0:
        raise LookupError("no marker in the image the model was shown")
    return Point(float(xs.mean()) + 0.5, float(ys.mean()) + 0.5)


# How each family writes an answer; (x, y) and the box are already in its coordinate space.
ANSWER_FORMATS: dict[str, Callable[[float, float, tuple[float, float, float, float]], str]] = {
    "qwen2vl": lambda x, y, b: f"<|box_start|>({b[0]:.0f},{b[1]:.0f}),({b[2]:.0f},{b[3]:.0f})<|box_end|>",
    "qwen25vl": lambda x, y, b: f'```json\n[{{"bbox_2d": [{b[0]:.0f}, {b[1]:.0f}, {b[2]:.0f}, '
                                f'{b[3]:.0f}], "label": "target"}}]\n```',
    "qwen3vl": lambda x, y, b: f'{{"point_2d": [{x:.0f}, {y:.0f}], "label": "target"}}',
    "uitars": lambda x, y, b: f"Thought: the target is there.\nAction: click(start_box='({x:.0f},{y:.0f})')",
    "uground": lambda x, y, b: f"({x:.0f}, {y:.0f})",
    "showui": lambda x, y, b: f"[{x:.2f}, {y:.2f}]",
    "gta1": lambda x, y, b: f"({x:.0f},{y:.0f})",
}
# Families whose coordinates are coarse by design (ShowUI: two decimals of the image side).
TOLERANCE = {"showui": 7.0}


class OracleRuntime:
    """A TransformersRuntime whose answers come from the oracle (see the module docstring)."""

    def __init__(self, runtime: TransformersRuntime, family: str, *, half_box: float = 20.0) -> None:
        self.runtime = runtime
        self.family = get_family(family)
        self.format = ANSWER_FORMATS[family]
        self.half_box = half_box
        self.name = runtime.name
        self.image_processor = runtime.image_processor
        self.calls: list[dict[str, Any]] = []

    def generate(self, messages: Sequence[Any], images: Sequence[Any], *,
                 max_new_tokens: int = 64) -> Generation:
        shown = images[-1]
        grid = self.runtime.prepare(messages, images)["image_grid_thw"][-1]
        processed = Size(int(grid[2]) * self.runtime.patch_size, int(grid[1]) * self.runtime.patch_size)
        centre = marker_centre(shown)
        # The marker in the processor's pixels, then in the family's coordinate space.
        sx, sy = processed.width / shown.width, processed.height / shown.height
        px, py, half = centre.x * sx, centre.y * sy, self.half_box * sx
        to_model = self.family.space_for(processed).to_image(processed).inverse()
        x, y = to_model.apply((px, py))
        x1, y1 = to_model.apply((px - half, py - half))
        x2, y2 = to_model.apply((px + half, py + half))
        answer = self.format(x, y, (x1, y1, x2, y2))
        self.calls.append({"images": [im.size for im in images], "processed": processed, "answer": answer})
        return self.runtime.generate(messages, images, max_new_tokens=max_new_tokens,
                                     logits_processors=[ForcedText(self.runtime.tokenizer, answer)])


def screen_with_marker(size: Size, at: Point, side: int = 36) -> Frame:
    """A busy 'desktop' (random blocks) with one magenta square centred at ``at``."""
    rng = np.random.default_rng(7)
    bgr = np.full((size.height, size.width, 3), 235, np.uint8)
    for _ in range(120):
        x, y = rng.integers(0, size.width - 200), rng.integers(0, size.height - 80)
        bgr[y:y + 60, x:x + 180] = rng.integers(30, 200, 3)
    half = side // 2
    x0, y0 = round(at.x) - half, round(at.y) - half
    bgr[y0:y0 + side, x0:x0 + side] = MARKER[::-1]
    return Frame(bgr)


def grounder_for(path: Path, family: str, **settings: Any) -> tuple[VlmGrounder, OracleRuntime]:
    runtime = OracleRuntime(TransformersRuntime.load(path), family)
    return VlmGrounder(ModelHandle(runtime, runtime.family), settings=VlmSettings(**settings)), runtime


CASES = [  # family, architecture it is built on
    ("qwen2vl", "qwen2_vl"), ("qwen25vl", "qwen2_5_vl"), ("qwen3vl", "qwen3_vl"),
    ("uitars", "qwen2_5_vl"), ("uground", "qwen2_vl"), ("showui", "qwen2_vl"), ("gta1", "qwen2_5_vl"),
]


@pytest.mark.parametrize(("family", "arch"), CASES)
def test_each_family_maps_its_answer_to_the_right_screen_pixel_through_ecp(
        checkpoints: dict[str, Path], family: str, arch: str) -> None:
    target_at = Point(3001.0, 1733.0)
    frame = screen_with_marker(Size(3840, 2160), target_at)
    # A monitor right of a 1920-wide one, at 2x scale: frame pixels are not screen pixels.
    frame = Frame(frame.pixels, origin=Point(1920.0, 0.0), scale=2.0)
    grounder, oracle = grounder_for(checkpoints[arch], family)

    match = locate(frame, "the magenta square", grounder=grounder)

    tolerance = TOLERANCE.get(family, 3.0)
    assert match.point.distance_to(target_at) <= tolerance, (match.point, oracle.calls)
    expected_screen = Point(1920.0 + target_at.x / 2.0, target_at.y / 2.0)
    assert match.screen_point is not None
    assert match.screen_point.distance_to(expected_screen) <= tolerance / 2.0
    # Stage 1 saw ~1M pixels of the downsampled frame, stage 2 a full-resolution 1024 crop.
    coarse, fine = oracle.calls
    assert coarse["images"][0][0] * coarse["images"][0][1] <= 1_003_520
    width, height = fine["images"][0]
    assert abs(width - 1024) <= 32 and width == height  # native resolution, up to one resize step
    assert [s.name for s in match.stages] == ["coarse", "fine"]
    assert match.stages[1].windows[0].contains(target_at)
    assert match.score == pytest.approx(1.0)  # forced tokens carry all the probability mass


def test_a_processor_that_resizes_our_crop_again_is_still_mapped_exactly(
        checkpoints: dict[str, Path]) -> None:
    # The checkpoint's processor caps images at 200k pixels, below the family's maximum.
    target_at = Point(517.0, 1402.0)
    frame = screen_with_marker(Size(3840, 2160), target_at, side=48)
    grounder, oracle = grounder_for(checkpoints["capped"], "qwen25vl")
    match = locate(frame, "the magenta square", grounder=grounder)
    assert match.point.distance_to(target_at) <= 6.0  # a 1024 crop shown at ~440 px: ~2.3 px/px
    assert all(call["processed"].area <= 200_000 for call in oracle.calls)


def test_stage_one_and_stage_two_can_use_different_models(checkpoints: dict[str, Path]) -> None:
    target_at = Point(700.0, 300.0)
    frame = screen_with_marker(Size(3840, 2160), target_at)
    small = OracleRuntime(TransformersRuntime.load(checkpoints["qwen2_vl"]), "qwen2vl")
    big = OracleRuntime(TransformersRuntime.load(checkpoints["qwen2_5_vl"]), "qwen25vl")
    grounder = VlmGrounder(ModelHandle(big, big.family), coarse=ModelHandle(small, small.family))
    match = locate(frame, "the magenta square", grounder=grounder)
    assert match.point.distance_to(target_at) <= 3.0
    assert len(small.calls) == 1 and len(big.calls) == 1
    assert small.calls[0]["images"][0][0] < 2000 and big.calls[0]["images"][0] == (1036, 1036)


def test_global_context_sends_the_downsampled_screen_with_the_crop(checkpoints: dict[str, Path]) -> None:
    target_at = Point(1900.0, 1000.0)
    frame = screen_with_marker(Size(3840, 2160), target_at)
    grounder, oracle = grounder_for(checkpoints["qwen2_vl"], "qwen2vl", global_context=True)
    match = locate(frame, "the magenta square", grounder=grounder)
    assert match.point.distance_to(target_at) <= 3.0
    assert len(oracle.calls[1]["images"]) == 2  # the overview, then the crop
    assert oracle.calls[1]["images"][0] == oracle.calls[0]["images"][0]


def test_single_stage_grounds_on_the_whole_frame(checkpoints: dict[str, Path]) -> None:
    target_at = Point(1234.0, 567.0)
    frame = screen_with_marker(Size(1920, 1080), target_at)
    grounder, oracle = grounder_for(checkpoints["qwen2_5_vl"], "qwen25vl")
    match = locate(frame, "the magenta square", grounder=grounder, ecp=False)
    assert match.point.distance_to(target_at) <= 3.0
    assert oracle.calls[0]["images"][0] == (1932, 1092)  # native resolution, multiples of 28


class ScriptedRuntime:
    """Answers from a list, for the error paths (no model needed)."""

    name = "scripted"

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    def generate(self, messages: Sequence[Any], images: Sequence[Any], *,
                 max_new_tokens: int = 64) -> Generation:
        return Generation(self.answers.pop(0), None)


def test_unusable_stage_two_answer_falls_back_to_stage_one_and_says_so() -> None:
    frame = screen_with_marker(Size(3840, 2160), Point(2000.0, 1000.0))
    family = get_family("uground")
    runtime = ScriptedRuntime(["(521, 463)", "I cannot see it."])
    grounder = VlmGrounder(ModelHandle(runtime, family))
    [match] = ecp_locate(frame, Target.parse("the square"), grounder, EcpSettings())
    assert match.point.distance_to(Point(521 * 3.84, 463 * 2.16)) <= 2.0
    assert "stage 2 said something unusable" in match.extra["fallback"]
    assert match.score == pytest.approx(0.25)  # half the unknown-confidence score


def test_unusable_stage_one_answer_is_an_error_with_the_raw_text() -> None:
    frame = screen_with_marker(Size(1920, 1080), Point(200.0, 100.0))
    grounder = VlmGrounder(ModelHandle(ScriptedRuntime(["Sorry, no idea."]), get_family("uground")))
    with pytest.raises(ModelOutputError, match="no idea") as info:
        locate(frame, "the square", grounder=grounder)
    assert info.value.raw == "Sorry, no idea."


def test_a_point_far_outside_the_image_is_refused() -> None:
    frame = screen_with_marker(Size(1920, 1080), Point(200.0, 100.0))
    grounder = VlmGrounder(ModelHandle(ScriptedRuntime(["(1500, 20)"]), get_family("uground")))
    with pytest.raises(ModelOutputError, match="outside"):
        locate(frame, "the square", grounder=grounder, ecp=False)


def test_random_weights_answer_garbage_and_the_cli_says_so_with_exit_3(
        checkpoints: dict[str, Path], tmp_path: Path) -> None:
    shot = tmp_path / "screen.png"
    screen_with_marker(Size(1280, 720), Point(100.0, 100.0)).save(shot)
    result = subprocess.run([sys.executable, "-m", "guiagent", "ground", str(shot),
                             "the gear icon", "--model", str(checkpoints["qwen2_vl"])],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stderr
    assert "the model said" in result.stderr and "Traceback" not in result.stderr


def test_ask_reads_a_crop_with_global_context(checkpoints: dict[str, Path]) -> None:
    target_at = Point(3300.0, 2000.0)
    frame = screen_with_marker(Size(3840, 2160), target_at)
    runtime = TransformersRuntime.load(checkpoints["qwen2_vl"])

    class Answering(OracleRuntime):
        def generate(self, messages: Sequence[Any], images: Sequence[Any], *,
                     max_new_tokens: int = 64) -> Generation:
            if len(images) == 2:  # stage 2: overview + crop -> the answer text
                self.calls.append({"images": [im.size for im in images]})
                forced = ForcedText(self.runtime.tokenizer, "42 items")
                return self.runtime.generate(messages, images, max_new_tokens=max_new_tokens,
                                             logits_processors=[forced])
            return super().generate(messages, images, max_new_tokens=max_new_tokens)

    oracle = Answering(runtime, "qwen2vl")
    grounder = VlmGrounder(ModelHandle(oracle, oracle.family))
    answer = ask_screen(frame, "how many items?", grounder)
    assert answer.text == "42 items"
    assert answer.window.contains(target_at) and answer.window.width == 1024
    assert len(oracle.calls[-1]["images"]) == 2


def test_missing_and_partial_checkpoints_say_what_is_missing(tmp_path: Path,
                                                              checkpoints: dict[str, Path]) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_text(json.dumps({"model_type": "qwen2_vl"}))
    (partial / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    with pytest.raises(ModelLoadError) as info:
        load_model(partial)
    message = str(info.value)
    assert str(partial) in message
    for missing in ("model-00001-of-00002.safetensors", "tokenizer", "preprocessor_config.json"):
        assert missing in message


def test_family_is_chosen_from_the_checkpoint(checkpoints: dict[str, Path]) -> None:
    assert load_model(checkpoints["qwen2_5_vl"]).family.name == "qwen25vl"
    assert load_model(checkpoints["qwen3_vl"]).family.name == "qwen3vl"
    assert load_model(checkpoints["qwen2_vl"], family="uground").family.name == "uground"
    # A server only names its model.
    from guiagent.grounding.vlm.families import family_for_checkpoint

    served_models = (("Qwen/Qwen2.5-VL-7B-Instruct", "qwen25vl"), ("Qwen/Qwen2-VL-2B-Instruct", "qwen2vl"),
                     ("ByteDance-Seed/UI-TARS-1.5-7B", "uitars"), ("osunlp/UGround-V1-7B", "uground"),
                     ("Qwen/Qwen3-VL-8B-Instruct", "qwen3vl"))
    for served, family in served_models:
        assert family_for_checkpoint({}, served).name == family, served

