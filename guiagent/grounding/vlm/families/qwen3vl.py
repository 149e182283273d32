"""Qwen3-VL and the GUI models built on it: point, box or tool call, 0-1000 on both axes.

Qwen3-VL moved from Qwen2.5-VL's absolute pixels to coordinates normalised to 0-1000 (its 2D
grounding cookbook, https://github.com/QwenLM/Qwen3-VL/tree/main/cookbooks, and its computer-use
cookbook, which declares a 1000x1000 screen to the ``computer_use`` tool). Its vision tower uses
16-pixel patches merged 2x2, so sizes snap to multiples of 32. The answer forms are Qwen2.5-VL's
(``bbox_2d``/``point_2d`` JSON, ``<tool_call>``); Holo2-style ``{"x": .., "y": ..}`` is read too.
The prompt is ours.
"""

from __future__ import annotations

from dataclasses import dataclass

from guiagent.geometry import ModelCoordinates, Size
from guiagent.grounding.vlm.base import Message, ResizeRule
from guiagent.grounding.vlm.families import _common

# Qwen3-VL's preprocessor_config.json: patch_size 16, merge_size 2,
# size {"shortest_edge": 65536, "longest_edge": 16777216}.
QWEN3_RESIZE = ResizeRule(32, 65536, 16777216)


@dataclass(frozen=True, slots=True)
class Qwen3VLFamily(_common.FamilyBase):
    name: str = "qwen3vl"
    resize: ResizeRule = QWEN3_RESIZE

    @property
    def coordinates(self) -> ModelCoordinates:
        return "norm1000"

    def grounding_messages(self, instruction: str, input_size: Size) -> list[Message]:
        prompt = (
            f'Locate the UI element described as "{instruction}" in this screenshot '
            "and report its bbox coordinates in JSON format."
        )
        return [_common.user(_common.IMAGE, _common.text(prompt))]
