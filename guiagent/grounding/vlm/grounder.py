"""The VLM grounder: a vision-language model under ECP (the paper's own setting).

Stage 1 (``candidates``) shows the model the whole frame downsampled to about
``coarse_max_pixels`` (1M pixels: a 3840x2160 frame then costs ~1.3k visual tokens instead of
~10.5k at native resolution) and takes its answer as the candidate. Stage 2 (``locate``) shows a
1024x1024 full-resolution crop around the candidate with the original instruction; optionally the
downsampled frame goes along as global context. Stage 1 and stage 2 may run different models.

Every answer is mapped back through explicit spaces: model coordinates -> pixels of the image
the model saw (the family's resize, checked against what the processor reports) -> pixels of the
image we were given (crop or frame) -> frame pixels (ECP) -> screen (Frame.to_screen).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from guiagent.errors import ModelOutputError
from guiagent.geometry import Box, Point, Size
from guiagent.grounding.base import Candidate, GrounderTraits, Match, StageOne, Target
from guiagent.grounding.vlm.base import (
    Generation,
    ModelAnswer,
    ModelFamily,
    ResizeRule,
    VlmRuntime,
)
from guiagent.grounding.vlm.resize import resize_for_model
from guiagent.screen.capture import Frame

if TYPE_CHECKING:
    from PIL import Image

# A point the model puts this far outside the image it saw (as a fraction of the side) is
# clamped to the edge; farther out it is an error, not a location.
_EDGE_TOLERANCE = 0.02
# Score of an answer whose backend gave no token log-probabilities.
UNKNOWN_CONFIDENCE = 0.5


@dataclass(frozen=True, slots=True)
class VlmSettings:
    """``coarse_max_pixels``: area of the downsampled frame stage 1 sees (~1M, the comfortable
    size of Qwen2-VL-class models). ``fine_max_pixels``: area cap for stage-2 crops (None = the
    family's own maximum, i.e. a 1024 crop at native resolution). ``global_context``: send the
    downsampled frame along with each stage-2 crop."""

    coarse_max_pixels: int = 1_003_520
    fine_max_pixels: int | None = None
    max_new_tokens: int = 64
    global_context: bool = False


@dataclass(frozen=True, slots=True)
class ModelHandle:
    """A runtime with the family that knows how to talk to its model."""

    runtime: VlmRuntime
    family: ModelFamily

    @property
    def name(self) -> str:
        return f"{self.family.name}@{self.runtime.name}"


@dataclass(frozen=True, slots=True)
class Answer:
    """One model call mapped back to the pixels of the image that was asked about."""

    point: Point
    box: Box | None
    score: float
    parsed: ModelAnswer
    generation: Generation
    input_size: Size


def confidence(generation: Generation) -> float:
    """Geometric mean of the generated tokens' probabilities (the answer's per-token likelihood),
    or UNKNOWN_CONFIDENCE when the backend gave no log-probabilities."""
    logprobs = generation.token_logprobs
    if not logprobs:
        return UNKNOWN_CONFIDENCE
    return float(math.exp(sum(logprobs) / len(logprobs)))


def _effective_rule(handle: ModelHandle, max_pixels: int | None) -> ResizeRule:
    """The family's resize rule, capped by ``max_pixels`` and by the runtime's own processor
    (a checkpoint whose processor allows fewer pixels would resize our image again)."""
    rule = handle.family.resize
    limits = [rule.max_pixels]
    if max_pixels is not None:
        limits.append(max_pixels)
    processor_max = _processor_max_pixels(handle.runtime)
    if processor_max is not None:
        limits.append(processor_max)
    return rule.with_max_pixels(min(limits))


def _processor_max_pixels(runtime: Any) -> int | None:
    processor = getattr(runtime, "image_processor", None)
    if processor is None:
        return None
    size = getattr(processor, "size", None)
    longest = size.get("longest_edge") if isinstance(size, dict) else getattr(size, "longest_edge", None)
    value = getattr(processor, "max_pixels", None) or longest
    return int(value) if value else None


def ask_model(handle: ModelHandle, image: Frame, instruction: str, *, max_pixels: int | None,
              max_new_tokens: int, context: Image.Image | None = None) -> Answer:
    """Ground ``instruction`` on ``image``; the answer in ``image`` pixels."""
    rule = _effective_rule(handle, max_pixels)
    shown = resize_for_model(image.pixels, rule)
    input_size = Size(shown.width, shown.height)
    messages = handle.family.grounding_messages(instruction, input_size)
    images = [shown]
    if context is not None:
        messages = _with_context(messages)
        images = [context, shown]
    generation = handle.runtime.generate(messages, images, max_new_tokens=max_new_tokens)
    if generation.processed_sizes and generation.processed_sizes[-1] != input_size:
        # The processor resized our image again: trust what the model really saw.
        input_size = generation.processed_sizes[-1]
    parsed = handle.family.parse(generation.text)
    to_image = handle.family.space_for(input_size).to_image(image.size, "image")
    point = _inside(to_image.apply(parsed.point), image.size, generation.text)
    box = to_image.apply_box(parsed.box) if parsed.box is not None else None
    return Answer(point, box, confidence(generation), parsed, generation, input_size)


def _with_context(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put the whole (downsampled) screen before the crop in the user's message."""
    out = []
    for message in messages:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            lead = [{"type": "text", "text": "The whole screen, downsampled:"}, {"type": "image"},
                    {"type": "text", "text": "A full-resolution part of it:"}]
            message = {**message, "content": lead + content}
        out.append(message)
    return out


def _inside(point: Point, size: Size, raw: str) -> Point:
    tolerance_x, tolerance_y = size.width * _EDGE_TOLERANCE, size.height * _EDGE_TOLERANCE
    if not (-tolerance_x <= point.x <= size.width + tolerance_x
            and -tolerance_y <= point.y <= size.height + tolerance_y):
        raise ModelOutputError(
            f"the model pointed at ({point.x:.0f}, {point.y:.0f}), outside the {size} image it was "
            "shown (wrong model family? pass --family)", raw=raw)
    return Point(min(max(point.x, 0.0), size.width - 1.0), min(max(point.y, 0.0), size.height - 1.0))


VLM_TRAITS = GrounderTraits(always_refine=True, tiled_fallback=False)


@dataclass
class VlmGrounder:
    """Grounds descriptions ("the gear icon left of Help") with a VLM; ECP-aware.

    ``fine`` answers on stage-2 crops (and single-stage frames); ``coarse`` (default: the same
    model) proposes the stage-1 candidate on the downsampled frame.
    """

    fine: ModelHandle
    coarse: ModelHandle | None = None
    settings: VlmSettings = field(default_factory=VlmSettings)
    name: str = "vlm"
    # A VLM always answers somewhere; whether that is right is what stage 2 and the score say.
    min_score: float = 0.0
    # ECP: stage 1's point is never trusted as final (the paper's point), and a failed crop is
    # not followed by dozens of tile generations.
    traits: GrounderTraits = VLM_TRAITS
    _context: threading.local = field(default_factory=threading.local, repr=False)

    def supports(self, target: Target) -> bool:
        return target.kind in ("text", "description")

    @staticmethod
    def instruction(target: Target) -> str:
        if target.kind == "text":
            return f'the element labelled "{target.text}"' if target.exact else target.text
        return target.text

    def candidates(self, frame: Frame, target: Target, *, limit: int) -> StageOne:
        """Stage 1: the model's answer on the downsampled frame, in frame pixels."""
        handle = self.coarse or self.fine
        answer = ask_model(handle, frame, self.instruction(target),
                           max_pixels=self.settings.coarse_max_pixels,
                           max_new_tokens=self.settings.max_new_tokens)
        self._context.image = None
        if self.settings.global_context:
            self._context.image = resize_for_model(
                frame.pixels, _effective_rule(self.fine, self.settings.coarse_max_pixels))
        return StageOne([Candidate(answer.point, answer.score, answer.box, text=answer.generation.text)],
                        answer.input_size.width / frame.width)

    def locate(self, image: Frame, target: Target, *, limit: int = 5, zoom: float = 1.0,
               hint: Candidate | None = None) -> list[Match]:
        """Stage 2 on a crop (``hint`` = the stage-1 candidate in crop pixels), or one pass on a
        whole image. A crop whose answer is unusable falls back to the stage-1 candidate, marked so."""
        context = getattr(self._context, "image", None) if hint is not None else None
        try:
            answer = ask_model(self.fine, image, self.instruction(target),
                               max_pixels=self.settings.fine_max_pixels,
                               max_new_tokens=self.settings.max_new_tokens, context=context)
        except ModelOutputError as exc:
            if hint is None:
                raise
            return [Match(hint.point, hint.score * 0.5, hint.box, self.name, exc.raw,
                          extra={"fallback": f"stage-1 answer: stage 2 said something unusable ({exc})"})]
        extra = {"model": self.fine.name, "raw": answer.generation.text,
                 "action": answer.parsed.action, "input_size": [answer.input_size.width,
                                                                answer.input_size.height],
                 "visual_tokens": answer.generation.visual_tokens,
                 "model_ms": round(answer.generation.elapsed_ms, 1)}
        return [Match(answer.point, answer.score, answer.box, self.name, answer.generation.text,
                      extra=extra)]

