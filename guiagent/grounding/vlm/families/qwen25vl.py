"""Qwen2.5-VL: JSON ``bbox_2d``/``point_2d`` or a ``computer_use`` tool call, in pixels of its input.

Qwen2.5-VL grounds in absolute pixels of the image after ``smart_resize`` (the Qwen2.5-VL
cookbooks, https://github.com/QwenLM/Qwen2.5-VL/tree/main/cookbooks: spatial_understanding answers
```` ```json [{"bbox_2d": [x1, y1, x2, y2], "label": ...}] ````; computer_use declares the resized
size as "The screen's resolution is WxH" and the model answers
``<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [x, y]}}
</tool_call>``). The prompt is ours, in the cookbook's "output its bbox coordinates using JSON format"
style; nothing needs its exact wording.
"""

from __future__ import annotations

from dataclasses import dataclass

from guiagent.geometry import ModelCoordinates, Size
from guiagent.grounding.vlm.base import Message, ResizeRule
from guiagent.grounding.vlm.families import _common


@dataclass(frozen=True, slots=True)
class Qwen25VLFamily(_common.FamilyBase):
    name: str = "qwen25vl"
    resize: ResizeRule = _common.QWEN2_RESIZE

    @property
    def coordinates(self) -> ModelCoordinates:
        return "pixels"

    def grounding_messages(self, instruction: str, input_size: Size) -> list[Message]:
        prompt = (
            f'Locate the UI element described as "{instruction}" in this screenshot '
            "and output its bbox coordinates using JSON format."
        )
        return [_common.user(_common.IMAGE, _common.text(prompt))]
