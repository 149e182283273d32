"""Message builders shared by the families (Hugging Face / OpenAI chat shape, see ``base.Message``)."""

from __future__ import annotations

from ..base import Message, ResizeRule

# Qwen2-VL / Qwen2.5-VL checkpoints' preprocessor_config.json: min_pixels 3136, max_pixels 12845056.
QWEN2_RESIZE = ResizeRule(28, 56 * 56, 28 * 28 * 16384)

IMAGE: dict[str, str] = {"type": "image"}


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


def user(*items: dict[str, str]) -> Message:
    return {"role": "user", "content": [dict(item) for item in items]}


def system(value: str) -> Message:
    return {"role": "system", "content": [text(value)]}


def question(question: str, images: int) -> list[Message]:
    """A plain question about ``images`` images, images first (how the Qwen cookbooks ask)."""
    if images < 0:
        raise ValueError(f"images must not be negative, got {images}")
    return [user(*([IMAGE] * images), text(question))]
