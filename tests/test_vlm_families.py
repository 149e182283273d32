"""Model families: prompts, answer parsing, coordinate spaces and checkpoint detection."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guiagent.errors import ModelLoadError, ModelOutputError
from guiagent.geometry import Box, Point, Size
from guiagent.grounding.vlm.base import ModelFamily, ResizeRule
from guiagent.grounding.vlm.families import family_for_checkpoint, family_names, get_family
from guiagent.grounding.vlm.parsing import json_values, numbers
from guiagent.grounding.vlm.resize import resized_input

ALL = family_names()


def test_registry_lists_every_family() -> None:
    assert ALL == ["gta1", "holo", "os-atlas", "qwen25vl", "qwen2vl", "qwen3vl", "seeclick", "showui",
                   "uground", "uitars", "uitars-v1"]


@pytest.mark.parametrize(("name", "rule"), [
    # From each checkpoint's preprocessor_config.json (or model card, for ShowUI).
    ("qwen2vl", ResizeRule(28, 3136, 12845056)),
    ("os-atlas", ResizeRule(28, 3136, 1048576)),
    ("qwen25vl", ResizeRule(28, 3136, 12845056)),
    ("qwen3vl", ResizeRule(32, 65536, 16777216)),
    ("uitars", ResizeRule(28, 3136, 12845056)),
    ("uitars-v1", ResizeRule(28, 3136, 2116800)),
    ("uground", ResizeRule(28, 3136, 1806336)),
    ("showui", ResizeRule(28, 200704, 1053696)),
    ("gta1", ResizeRule(28, 3136, 12845056)),
])
def test_resize_rules_follow_the_checkpoints(name: str, rule: ResizeRule) -> None:
    assert get_family(name).resize == rule


@pytest.mark.parametrize("name", ALL)
def test_families_are_frozen_model_families(name: str) -> None:
    family = get_family(name)
    assert isinstance(family, ModelFamily)
    assert family.name == name
    assert family.resize.min_pixels < family.resize.max_pixels
    with pytest.raises(dataclasses.FrozenInstanceError):
        family.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("name", ALL)
def test_grounding_messages_show_one_image_and_the_instruction(name: str) -> None:
    messages = get_family(name).grounding_messages('the "Save" button', Size(1036, 588))
    items = [item for message in messages for item in message["content"]]
    assert [item["type"] for item in items].count("image") == 1
    assert any('the "Save" button' in item.get("text", "") for item in items)
    assert messages[-1]["role"] == "user"


@pytest.mark.parametrize("name", ALL)
def test_question_messages(name: str) -> None:
    messages = get_family(name).question_messages("Is the dialog open?", 2)
    assert messages == [{"role": "user", "content": [{"type": "image"}, {"type": "image"},
                                                      {"type": "text", "text": "Is the dialog open?"}]}]


def test_trained_prompt_templates() -> None:
    uground = get_family("uground").grounding_messages("Search bar", Size(1000, 1000))
    assert uground[0]["content"][1]["text"] == (
        "\nYour task is to help the user identify the precise coordinates (x, y) of a specific "
        "area/element/object on the screen based on a description.\nDescription: Search bar\nAnswer:"
    )
    gta1 = get_family("gta1").grounding_messages("Search bar", Size(1036, 588))
    assert gta1[0]["role"] == "system"
    assert "The image resolution is height 588 and width 1036." in gta1[0]["content"][0]["text"]
    assert gta1[1]["content"] == [{"type": "image"}, {"type": "text", "text": "Search bar"}]
    showui = get_family("showui").grounding_messages("Nahant", Size(1000, 1000))
    assert [item["type"] for item in showui[0]["content"]] == ["text", "image", "text"]
    assert showui[0]["content"][2]["text"] == "Nahant"
    holo = get_family("holo").grounding_messages("Select July 14th", Size(1000, 1000))
    assert holo[0]["content"][1]["text"].endswith("from the top edge.\nSelect July 14th")
    v1 = get_family("uitars-v1").grounding_messages("search", Size(1000, 1000))
    assert v1[0]["content"][1]["text"] == (
        "Output only the coordinate of one point in your response. "
        "What element matches the following task: search"
    )
    v15 = get_family("uitars").grounding_messages("search", Size(1000, 1000))[0]["content"][1]["text"]
    assert "click(point='<point>x1 y1</point>')" in v15 and v15.endswith("## User Instruction\nsearch")


# (family, model output, point, box corners or None, action)
CASES = [
    # OS-Atlas README example, with and without the special tokens the decoder may strip.
    ("qwen2vl", "<|object_ref_start|>language switch<|object_ref_end|><|box_start|>(576,12),(592,42)"
     "<|box_end|><|im_end|>", (584, 27), (576, 12, 592, 42), "click"),
    ("qwen2vl", "language switch(576,12),(592,42)", (584, 27), (576, 12, 592, 42), "click"),
    ("qwen2vl", "<|object_ref_start|>Tab 2 (3)<|object_ref_end|><|box_start|>(10,20),(30,40)<|box_end|>",
     (20, 30), (10, 20, 30, 40), "click"),
    ("qwen2vl", "<|box_start|>(500,300)<|box_end|>", (500, 300), None, "click"),
    # Qwen2.5-VL cookbook shapes: fenced JSON list, point_2d, computer_use tool calls.
    ("qwen25vl", '```json\n[\n\t{"bbox_2d": [135, 114, 855, 863], "label": "Save button"}\n]\n```',
     (495, 488.5), (135, 114, 855, 863), "click"),
    ("qwen25vl", '[{"point_2d": [512, 40], "label": "File menu"}]', (512, 40), None, "click"),
    ("qwen25vl", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
     '"coordinate": [640, 321]}}\n</tool_call>', (640, 321), None, "click"),
    ("qwen25vl", '<tool_call>{"name": "computer_use", "arguments": "{\\"action\\": \\"right_click\\", '
     '\\"coordinate\\": [7, 9]}"}</tool_call>', (7, 9), None, "right_click"),
    ("qwen25vl", "The button is at <|box_start|>(100,200),(140,220)<|box_end|>", (120, 210),
     (100, 200, 140, 220), "click"),
    ("qwen3vl", '[{"point_2d": [412, 88], "label": "Save"}]', (412, 88), None, "click"),
    ("qwen3vl", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "double_click", '
     '"coordinate": [500, 999]}}\n</tool_call>', (500, 999), None, "double_click"),
    ("qwen3vl", '{"x": 250, "y": 750}', (250, 750), None, "click"),
    ("qwen3vl", '```json\n{"bbox_2d": [100, 100, 300, 200]}\n```', (200, 150), (100, 100, 300, 200), "click"),
    # UI-TARS README_coordinates.md example, the 1.5 <point> form, v1 start_box tokens, actions.
    ("uitars", "Thought: xxx\nAction: click(start_box='(197,525)')", (197, 525), None, "click"),
    ("uitars", "Action: click(point='<point>200 300</point>')", (200, 300), None, "click"),
    ("uitars", "Thought: The icon sits left of (10,10).\nAction: left_double(start_box='<|box_start|>"
     "(1280,714)<|box_end|>')", (1280, 714), None, "double_click"),
    ("uitars", "Action: right_single(start_box='(33,44)')", (33, 44), None, "right_click"),
    ("uitars", "Action: drag(start_box='(10,20)', end_box='(300,400)')", (10, 20), None, "drag"),
    ("uitars", "Action: click(start_box='(100,200,140,220)')", (120, 210), (100, 200, 140, 220), "click"),
    ("uitars-v1", "(235,512)", (235, 512), None, "click"),
    ("uitars-v1", "Thought: open it\nAction: click(start_box='<|box_start|>(904,77)<|box_end|>')",
     (904, 77), None, "click"),
    # UGround's eval script reads the answer with eval(): "(x, y)".
    ("uground", "(523, 129)", (523, 129), None, "click"),
    ("uground", "523, 129", (523, 129), None, "click"),
    ("uground", " 523 129.\n", (523, 129), None, "click"),
    # ShowUI QUICK_START answers; its navigation dict; SeeClick's screenspot answers.
    ("showui", "[0.73, 0.21]", (0.73, 0.21), None, "click"),
    ("showui", "{'action': 'CLICK', 'value': None, 'position': [0.49, 0.42]}", (0.49, 0.42), None, "click"),
    ("seeclick", "(0.49,0.40)", (0.49, 0.40), None, "click"),
    ("seeclick", "[0.1, 0.2, 0.3, 0.4]", (0.2, 0.3), (0.1, 0.2, 0.3, 0.4), "click"),
    # GTA1 model card's "(x,y)"; Holo's "Click(x, y)"; JSON either way.
    ("gta1", "(352,348)", (352, 348), None, "click"),
    ("gta1", '{"x": 352, "y": 348}', (352, 348), None, "click"),
    ("holo", "Click(352, 348)", (352, 348), None, "click"),
    ("holo", "Click(352.5, 348.25)", (352.5, 348.25), None, "click"),
]


@pytest.mark.parametrize(("name", "text", "point", "box", "action"), CASES)
def test_parses_real_looking_outputs(name: str, text: str, point: tuple[float, float],
                                     box: tuple[float, float, float, float] | None, action: str) -> None:
    answer = get_family(name).parse(text)
    assert tuple(answer.point) == pytest.approx(point)
    if box is None:
        assert answer.box is None
    else:
        assert answer.box is not None and answer.box.corners == pytest.approx(box)
    assert answer.action == action
    assert answer.raw == text


REJECTED = [
    ("qwen25vl", ""),
    ("qwen25vl", "I cannot find that element on the screen."),
    ("qwen25vl", '{"point_2d": [NaN, 5]}'),
    ("qwen25vl", '{"point_2d": [Infinity, 5]}'),
    ("qwen25vl", "(1e400, 5)"),
    ("qwen25vl", "(-50, 20)"),
    ("qwen25vl", "(99999999, 5)"),
    ("qwen25vl", '{"point_2d": [' + "9" * 5000 + ", 5]}"),
    ("qwen3vl", '{"point_2d": [1500, 20]}'),
    ("qwen2vl", "<|box_start|>(1200,5),(1300,50)<|box_end|>"),
    ("uground", "(1523, 129)"),
    ("uground", "(1, 2, 3)"),
    ("uground", "I see 2 search bars; neither is 1 match."),
    ("showui", "[730, 210]"),
    ("seeclick", "(-0.2, 0.5)"),
    ("uitars", "Action: type(content='hello (1,2)')"),
    ("uitars", "Action: hotkey(key='ctrl s')"),
    ("uitars", "Thought: done\nAction: finished(content='(5,5)')"),
    ("uitars", "Action: wait()"),
    ("uitars-v1", "(1200, 3)"),
    ("gta1", "The element is not visible."),
    ("holo", "Click(x, y)"),
]


@pytest.mark.parametrize(("name", "text"), REJECTED)
def test_rejects_unusable_outputs_with_the_raw_text(name: str, text: str) -> None:
    with pytest.raises(ModelOutputError) as caught:
        get_family(name).parse(text)
    assert caught.value.raw == text


FRAGMENTS = st.sampled_from([
    "(", ")", "[", "]", "{", "}", ",", " ", "\n", '"', "'", ":", "-", ".", "e", "NaN", "Infinity",
    "0", "1", "12", "999", "1000", "0.5", "1e400", "-3", "<|box_start|>", "<|box_end|>",
    "<|object_ref_start|>", "<|object_ref_end|>", "<point>", "</point>", "<tool_call>", "</tool_call>",
    "```json", "```", '"bbox_2d"', '"point_2d"', '"x"', '"y"', '"arguments"', '"action"', '"coordinate"',
    "Action: ", "Thought: ", "click", "left_double", "type", "start_box=", "point=", "Click",
])
STRUCTURED = st.lists(FRAGMENTS | st.text(max_size=4), max_size=40).map("".join)


def _check_any_text(name: str, text: str) -> None:
    family = get_family(name)
    try:
        answer = family.parse(text)
    except ModelOutputError as error:
        assert error.raw == text
        return
    values = [answer.point.x, answer.point.y]
    if answer.box is not None:
        values += list(answer.box.corners)
    assert all(math.isfinite(v) for v in values)
    space = family.space_for(Size(10, 10)).coordinates
    high = {"norm1000": 1010.0, "relative": 1.01, "pixels": 65538.0}[space]
    assert all(-high / 100 <= v <= high for v in values)


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_gives_an_answer_or_a_model_output_error(name: str, text: str) -> None:
    _check_any_text(name, text)


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=300, deadline=None)
@given(text=STRUCTURED)
def test_answer_like_text_gives_an_answer_or_a_model_output_error(name: str, text: str) -> None:
    _check_any_text(name, text)


def test_deeply_nested_json_is_not_a_crash() -> None:
    # json gives up (RecursionError); the innermost "[1, 2]" still reads as a point.
    text = "[" * 100_000 + "1, 2" + "]" * 100_000
    assert get_family("qwen25vl").parse(text).point == Point(1, 2)
    with pytest.raises(ModelOutputError):
        get_family("qwen25vl").parse("[" * 100_000)


def test_parsing_helpers() -> None:
    assert numbers("x=-1.5, y=2e3 and .5") == [-1.5, 2000.0, 0.5]
    assert json_values('say ```json\n{"a": [1, 2]}\n``` then [3] and {broken') == [{"a": [1, 2]}, [3]]


# --- coordinate spaces -------------------------------------------------------------------------


def test_qwen25vl_pixels_on_a_1036x588_input_map_back_to_the_original_crop() -> None:
    family = get_family("qwen25vl")
    rule = family.resize.with_max_pixels(1036 * 588)
    crop = Size(2072, 1176)
    input_size = resized_input(crop, rule)
    assert input_size == Size(1036, 588)
    answer = family.parse('[{"point_2d": [518, 294]}]')
    assert family.space_for(input_size).to_image(crop).apply(answer.point) == Point(1036, 588)
    box = family.parse('{"bbox_2d": [100, 50, 200, 150]}').box
    assert box is not None
    assert family.space_for(input_size).to_image(crop).apply_box(box) == Box(200, 100, 200, 200)


def test_qwen25vl_on_a_4k_frame_under_1003520_pixels() -> None:
    family = get_family("qwen25vl")
    frame = Size(3840, 2160)
    input_size = resized_input(frame, family.resize.with_max_pixels(1003520))
    assert input_size == Size(1316, 728)
    answer = family.parse('{"point_2d": [658, 364]}')
    assert family.space_for(input_size).to_image(frame, "frame").apply(answer.point) == Point(1920, 1080)


def test_uitars_15_matches_its_own_coordinate_guide() -> None:
    # README_coordinates.md: int(x / new_width * width) with new_* = smart_resize(height, width).
    family = get_family("uitars")
    image = Size(1920, 1080)
    input_size = resized_input(image, family.resize)
    point = family.space_for(input_size).to_image(image).apply(
        family.parse("Thought: xxx\nAction: click(start_box='(197,525)')").point
    )
    assert (int(point.x), int(point.y)) == (int(197 / input_size.width * image.width),
                                            int(525 / input_size.height * image.height))


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("qwen3vl", '{"point_2d": [500, 250]}', Point(1920, 540)),
    ("uitars-v1", "(250,500)", Point(960, 1080)),
    ("uground", "(1000, 1000)", Point(3840, 2160)),
    ("showui", "[0.25, 0.75]", Point(960, 1620)),
    ("seeclick", "(0.5,0.5)", Point(1920, 1080)),
])
def test_normalised_spaces_ignore_the_input_size(name: str, text: str, expected: Point) -> None:
    family = get_family(name)
    for input_size in (Size(1316, 728), Size(3840, 2176)):
        to_frame = family.space_for(input_size).to_image(Size(3840, 2160))
        assert to_frame.apply(family.parse(text).point) == expected


# --- detection -----------------------------------------------------------------------------------


def _config(model_type: str | None, architecture: str | None = None, **extra: str) -> dict[str, object]:
    config: dict[str, object] = dict(extra)
    if model_type:
        config["model_type"] = model_type
    if architecture:
        config["architectures"] = [architecture]
    return config


@pytest.mark.parametrize(("config", "name", "expected"), [
    (_config("qwen2_vl", "Qwen2VLForConditionalGeneration"), "Qwen/Qwen2-VL-7B-Instruct", "qwen2vl"),
    (_config("qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration"), "Qwen/Qwen2.5-VL-7B-Instruct", "qwen25vl"),
    (_config("qwen3_vl", "Qwen3VLForConditionalGeneration"), "Qwen/Qwen3-VL-8B-Instruct", "qwen3vl"),
    (_config("qwen3_vl_moe"), "Qwen/Qwen3-VL-30B-A3B-Instruct", "qwen3vl"),
    (_config(None, "Qwen2_5_VLForConditionalGeneration"), "/models/local", "qwen25vl"),
    (_config("qwen2_5_vl"), "ByteDance-Seed/UI-TARS-1.5-7B", "uitars"),
    (_config("qwen2_vl"), "bytedance-research/UI-TARS-7B-DPO", "uitars-v1"),
    (_config("qwen2_vl"), "osunlp/UGround-V1-7B", "uground"),
    (_config("qwen2_vl"), "OS-Copilot/OS-Atlas-Base-7B", "os-atlas"),
    (_config("qwen2_vl"), "showlab/ShowUI-2B", "showui"),
    (_config("qwen2_5_vl"), "HelloKKMe/GTA1-7B", "gta1"),
    (_config("qwen2_5_vl"), "Hcompany/Holo1.5-7B", "holo"),
    (_config("qwen3_vl"), "Hcompany/Holo2-8B", "qwen3vl"),
    (_config("qwen2_5_vl", _name_or_path="/hub/ui-tars-1.5-7b"), "/data/checkpoint", "uitars"),
    ({}, "ui-tars-1.5-7b", "uitars"),  # an OpenAI-compatible server's model name, no config
])
def test_family_for_checkpoint(config: dict[str, object], name: str, expected: str) -> None:
    assert family_for_checkpoint(config, name).name == expected


def test_explicit_family_wins() -> None:
    assert family_for_checkpoint(_config("qwen2_5_vl"), "ByteDance-Seed/UI-TARS-1.5-7B",
                                 family="qwen25vl").name == "qwen25vl"
    assert get_family("UI-TARS").name == "uitars"
    assert get_family("Qwen2.5-VL").name == "qwen25vl"


def test_unknown_checkpoints_and_names_list_the_families() -> None:
    with pytest.raises(ModelLoadError, match=r"cannot tell the model family.*llava.*qwen25vl, qwen2vl"):
        family_for_checkpoint(_config("llava", "LlavaForConditionalGeneration"), "some/model")
    with pytest.raises(ModelLoadError, match=r"unknown model family 'cogagent'.*uitars"):
        get_family("cogagent")
