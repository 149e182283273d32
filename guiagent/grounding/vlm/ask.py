"""Question answering about a screen (the paper's perception task), with the same
candidate-then-crop flow: stage 1 asks the model where on the downsampled frame the answer is
shown; stage 2 asks the question on a full-resolution crop there, with the downsampled frame as
global context (which the paper found helps perception)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from guiagent.errors import ModelOutputError
from guiagent.geometry import Box, Point, Size, crop_window
from guiagent.grounding.base import StageRecord
from guiagent.grounding.vlm.grounder import VlmGrounder, _effective_rule, ask_model
from guiagent.grounding.vlm.resize import resize_for_model
from guiagent.screen.capture import Frame


@dataclass(frozen=True, slots=True)
class ScreenAnswer:
    """The model's answer, the crop it read (frame pixels) and how it got there."""

    text: str
    window: Box
    focus: Point | None
    stages: tuple[StageRecord, ...]
    elapsed_ms: float


def ask_screen(frame: Frame, question: str, grounder: VlmGrounder, *, crop: int = 1024,
               global_context: bool = True, max_new_tokens: int = 128) -> ScreenAnswer:
    """Answer ``question`` about ``frame``. When the model cannot say where the answer is, the
    whole downsampled frame is used instead of a crop (and the stage record says so)."""
    started = time.perf_counter()
    settings = grounder.settings
    coarse = grounder.coarse or grounder.fine
    stages: list[StageRecord] = []
    focus: Point | None = None
    t0 = time.perf_counter()
    try:
        answer = ask_model(coarse, frame, f"the part of the screen that shows the answer to: {question}",
                           max_pixels=settings.coarse_max_pixels, max_new_tokens=settings.max_new_tokens)
        focus = answer.point
        note = f"answer region from {coarse.name}"
        shown = answer.input_size
    except ModelOutputError as exc:
        note = f"no region ({exc}); reading the whole downsampled screen"
        shown = Size(0, 0)
    stages.append(StageRecord("coarse", (time.perf_counter() - t0) * 1000.0, shown, note=note))

    t1 = time.perf_counter()
    fine = grounder.fine
    overview = resize_for_model(frame.pixels, _effective_rule(fine, settings.coarse_max_pixels))
    if focus is not None:
        window = crop_window(focus, crop, frame.size)
        detail = resize_for_model(frame.crop(window).pixels, _effective_rule(fine, settings.fine_max_pixels))
        images = [overview, detail] if global_context else [detail]
    else:
        window = Box(0, 0, frame.width, frame.height)
        images = [overview]
    messages = fine.family.question_messages(question, len(images))
    generation = fine.runtime.generate(messages, images, max_new_tokens=max_new_tokens)
    stages.append(StageRecord("fine", (time.perf_counter() - t1) * 1000.0,
                              Size(images[-1].width, images[-1].height), windows=(window,),
                              note=f"{len(images)} image(s) to {fine.name}"))
    return ScreenAnswer(generation.text.strip(), window, focus, tuple(stages),
                        (time.perf_counter() - started) * 1000.0)
