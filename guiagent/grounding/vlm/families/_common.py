"""Message builders shared by the families (Hugging Face / OpenAI chat shape, see ``base.Message``)."""

from __future__ import annotations

from guiagent.geometry import ModelCoordinates, ModelSpace, Size
from guiagent.grounding.vlm import parsing
from guiagent.grounding.vlm.base import Message, ModelAnswer, ResizeRule

# Qwen2-VL / Qwen2.5-VL checkpoints' preprocessor_config.json: min_pixels 3136, max_pixels 12845056.
QWEN2_RESIZE = ResizeRule(28, 56 * 56, 28 * 28 * 16384)

IMAGE: dict[str, str] = {"type": "image"}


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


def user(*items: dict[str, str]) -> Message:
    return {"role": "user", "content": [dict(item) for item in items]}


def system(value: str) -> Message:
    return {"role": "system", "content": [text(value)]}


def plain_question(question: str, images: int) -> list[Message]:
    """A plain question about ``images`` images, images first (how the Qwen cookbooks ask)."""
    if images < 0:
        raise ValueError(f"images must not be negative, got {images}")
    return [user(*([IMAGE] * images), text(question))]


class FamilyBase:
    """What most families share: questions asked plainly, answers read as the first point or
    box in the text, in the family's ``coordinates`` about the image the model saw."""

    __slots__ = ()

    @property
    def coordinates(self) -> ModelCoordinates:
        raise NotImplementedError

    def question_messages(self, question: str, images: int) -> list[Message]:
        return plain_question(question, images)

    def parse(self, text: str) -> ModelAnswer:
        return parsing.answer(parsing.find_coordinates(text), self.coordinates, text)

    def space_for(self, input_size: Size) -> ModelSpace:
        return ModelSpace(self.coordinates, input_size)
