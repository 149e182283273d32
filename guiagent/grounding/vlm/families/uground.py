"""UGround-V1 (Qwen2-VL based): one ``(x, y)`` in 0-1000.

Checked against https://github.com/OSU-NLP-Group/UGround/blob/main/grounding/uground_qwen2vl.py:
the image, then the text below (with its leading newline), and the answer is ``(x, y)`` scaled by
``/ 1000 * width``. UGround was trained on this template, so we keep it word for word.
"""

from __future__ import annotations

from dataclasses import dataclass

from guiagent.geometry import ModelCoordinates, Size
from guiagent.grounding.vlm.base import Message, ResizeRule
from guiagent.grounding.vlm.families import _common

# Word for word, leading newline included.
_PROMPT = (
    "\nYour task is to help the user identify the precise coordinates (x, y) of a specific "
    "area/element/object on the screen based on a description.\n"
    "Description: {description}\n"
    "Answer:"
)


# UGround-V1 preprocessor_config.json: max_pixels 1806336 (2B and 72B); min_pixels is 802620 on 2B,
# 3136 on 72B. Answers are 0-1000, so the size only affects what the model sees, not the mapping.
UGROUND_RESIZE = ResizeRule(28, 56 * 56, 1806336)


@dataclass(frozen=True, slots=True)
class UGroundFamily(_common.FamilyBase):
    name: str = "uground"
    resize: ResizeRule = UGROUND_RESIZE

    @property
    def coordinates(self) -> ModelCoordinates:
        return "norm1000"

    def grounding_messages(self, instruction: str, input_size: Size) -> list[Message]:
        return [_common.user(_common.IMAGE, _common.text(_PROMPT.format(description=instruction)))]
