"""What the VLM pieces speak to each other: runtimes generate text from chat messages and
images; model families build the prompts, parse the answers and say which coordinate space
and which resize rule their model uses. Nothing here imports torch or transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from guiagent.geometry import Box, ModelSpace, Point, Size

if TYPE_CHECKING:
    from PIL import Image

# A chat message in the Hugging Face / OpenAI shape: {"role": "user", "content": [items]}
# where an item is {"type": "image"} (the next image of the call, in order) or
# {"type": "text", "text": "..."}. Runtimes turn image items into what their backend wants.
Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResizeRule:
    """How a model's image processor resizes its input (Qwen's ``smart_resize``).

    ``factor``: both sides become multiples of it (patch size x merge size: 28 for Qwen2/2.5-VL,
    32 for Qwen3-VL). ``min_pixels``/``max_pixels`` clamp the area.
    """

    factor: int = 28
    min_pixels: int = 56 * 56
    max_pixels: int = 28 * 28 * 1280

    def with_max_pixels(self, max_pixels: int) -> ResizeRule:
        return ResizeRule(self.factor, min(self.min_pixels, max_pixels), max_pixels)


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    """A parsed answer, in the family's model coordinates (see ``ModelFamily.space``)."""

    point: Point
    box: Box | None = None
    action: str = "click"  # what the model said to do, when it said ("click", "double_click"...)
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Generation:
    """What a runtime returns for one call."""

    text: str
    # Log-probability of each generated token (natural log), when the backend gives them.
    token_logprobs: tuple[float, ...] | None = None
    elapsed_ms: float = 0.0
    input_tokens: int | None = None
    visual_tokens: int | None = None
    # The size the backend's processor actually fed to the vision tower, per image, when known
    # (a check that our own resize agreed with the processor's).
    processed_sizes: tuple[Size, ...] = ()


@runtime_checkable
class VlmRuntime(Protocol):
    """Runs a model: in-process transformers or an OpenAI-compatible server."""

    name: str

    def generate(self, messages: Sequence[Message], images: Sequence[Image.Image], *,
                 max_new_tokens: int = 64) -> Generation: ...


@runtime_checkable
class ModelFamily(Protocol):
    """One model family: its prompts, its output parser, its coordinate space, its resize rule.

    ``space_for(input_size)`` gives the :class:`ModelSpace` of an answer about an image that the
    model saw at ``input_size`` (after the family's resize); families that answer in pixels of
    the resized input need that size, the others ignore it.
    """

    # Read-only properties, so frozen dataclasses satisfy the protocol.
    @property
    def name(self) -> str: ...

    @property
    def resize(self) -> ResizeRule: ...

    def grounding_messages(self, instruction: str, input_size: Size) -> list[Message]: ...

    def question_messages(self, question: str, images: int) -> list[Message]: ...

    def parse(self, text: str) -> ModelAnswer: ...

    def space_for(self, input_size: Size) -> ModelSpace: ...
