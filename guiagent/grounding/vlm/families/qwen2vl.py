"""Qwen2-VL and OS-Atlas: a box between Qwen's box tokens, 0-1000 on both axes.

Checked against OS-Atlas's README (https://github.com/OS-Copilot/OS-Atlas, "OS-Atlas-Base-7B"):
the prompt ``In this UI screenshot, what is the position of the element corresponding to the command
"..." (with bbox)?`` gets ``<|object_ref_start|>language switch<|object_ref_end|><|box_start|>(576,12),
(592,42)<|box_end|>``, "relative coordinates within a 0-1000 range". Decoding with
``skip_special_tokens`` drops the tokens, so the bare ``label(x1,y1),(x2,y2)`` is read as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guiagent.geometry import ModelCoordinates, Size
from guiagent.grounding.vlm import parsing
from guiagent.grounding.vlm.base import Message, ModelAnswer, ResizeRule
from guiagent.grounding.vlm.families import _common

# The label may hold digits ("Tab 2"); it is not part of the answer.
_OBJECT_REF_RE = re.compile(r"<\|object_ref_start\|>[^<]*<\|object_ref_end\|>")


# OS-Atlas-Base-7B's preprocessor_config.json: max_pixels 1048576.
OS_ATLAS_RESIZE = ResizeRule(28, 56 * 56, 1048576)


@dataclass(frozen=True, slots=True)
class Qwen2VLFamily(_common.FamilyBase):
    name: str = "qwen2vl"
    resize: ResizeRule = _common.QWEN2_RESIZE

    @property
    def coordinates(self) -> ModelCoordinates:
        return "norm1000"

    def grounding_messages(self, instruction: str, input_size: Size) -> list[Message]:
        # OS-Atlas's trained template (README above); plain Qwen2-VL answers it in the same form.
        prompt = (
            "In this UI screenshot, what is the position of the element corresponding to the command "
            f'"{instruction}" (with bbox)?'
        )
        return [_common.user(_common.IMAGE, _common.text(prompt))]

    def parse(self, text: str) -> ModelAnswer:
        return parsing.answer(parsing.find_coordinates(_OBJECT_REF_RE.sub(" ", text)), self.coordinates, text)
