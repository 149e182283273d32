"""ShowUI (Qwen2-VL based) and SeeClick (``seeclick=True``, Qwen-VL based): 0-1 relative points.

ShowUI, checked against https://github.com/showlab/ShowUI/blob/main/QUICK_START.md: one user turn
of [the system text below, the image, the query], answered ``[0.73, 0.21]``; the card loads the
processor with min_pixels 256*28*28 and max_pixels 1344*28*28. SeeClick, checked against
https://github.com/njucckevin/SeeClick/blob/main/pretrain/screenspot_test.py: image, then
``In this UI screenshot, what is the position of the element corresponding to the command "..."
(with point)?``, answered ``(0.49,0.40)``. Both were trained on these templates; we keep them.
"""

from __future__ import annotations

from dataclasses import dataclass

from guiagent.geometry import ModelCoordinates, Size
from guiagent.grounding.vlm.base import Message, ResizeRule
from guiagent.grounding.vlm.families import _common

_SHOWUI_SYSTEM = (
    "Based on the screenshot of the page, I give a text description and you give its corresponding "
    "location. The coordinate represents a clickable location [x, y] for an element, which is a "
    "relative coordinate on the screenshot, scaled from 0 to 1."
)
_SEECLICK = (
    "In this UI screenshot, what is the position of the element corresponding to the command "
    '"{instruction}" (with point)?'
)


# ShowUI's card loads its processor with these limits. SeeClick's Qwen-VL squashes every image to
# 448x448 itself; its relative answers do not depend on the size we send.
SHOWUI_RESIZE = ResizeRule(28, 256 * 28 * 28, 1344 * 28 * 28)


@dataclass(frozen=True, slots=True)
class ShowUIFamily(_common.FamilyBase):
    name: str = "showui"
    seeclick: bool = False
    resize: ResizeRule = SHOWUI_RESIZE

    @property
    def coordinates(self) -> ModelCoordinates:
        return "relative"

    def grounding_messages(self, instruction: str, input_size: Size) -> list[Message]:
        if self.seeclick:
            return [_common.user(_common.IMAGE, _common.text(_SEECLICK.format(instruction=instruction)))]
        return [_common.user(_common.text(_SHOWUI_SYSTEM), _common.IMAGE, _common.text(instruction))]
