"""GTA1 and Holo1.5 (``holo=True``), both Qwen2.5-VL based: one point in pixels of the resized input.

GTA1, checked against its model card (https://huggingface.co/HelloKKMe/GTA1-7B, README): a system
prompt stating the resized image's height and width (from ``smart_resize`` with the processor's
limits), then the image and the bare instruction; the answer is ``(x,y)``. Holo1.5, checked against
Hcompany's localization guideline (Holo1 model card, https://huggingface.co/Hcompany/Holo1-7B, and
the hai-cookbook code that drives Holo1.5 with it): image, then the guideline and the instruction on
the next line; the answer is ``Click(x, y)`` in pixels of the resized image. Both were trained on
these templates, so we keep their wording. JSON answers (``{"x": .., "y": ..}``) are read too.
"""

from __future__ import annotations

from dataclasses import dataclass

from guiagent.geometry import ModelCoordinates, Size
from guiagent.grounding.vlm.base import Message, ResizeRule
from guiagent.grounding.vlm.families import _common

_GTA1_SYSTEM = (
    "You are an expert UI element locator. Given a GUI image and a user's element description, "
    "provide the coordinates of the specified element as a single (x,y) point. The image resolution "
    "is height {height} and width {width}. For elements with area, return the center point.\n"
    "Output the coordinate pair exactly:\n(x,y)"
)
_HOLO_GUIDELINE = (
    "Localize an element on the GUI image according to my instructions and output a click position "
    "as Click(x, y) with x num pixels from the left edge and y num pixels from the top edge."
)


@dataclass(frozen=True, slots=True)
class Gta1Family(_common.FamilyBase):
    name: str = "gta1"
    holo: bool = False
    resize: ResizeRule = _common.QWEN2_RESIZE

    @property
    def coordinates(self) -> ModelCoordinates:
        return "pixels"

    def grounding_messages(self, instruction: str, input_size: Size) -> list[Message]:
        if self.holo:
            return [_common.user(_common.IMAGE, _common.text(f"{_HOLO_GUIDELINE}\n{instruction}"))]
        prompt = _GTA1_SYSTEM.format(height=input_size.height, width=input_size.width)
        return [_common.system(prompt), _common.user(_common.IMAGE, _common.text(instruction))]
