"""UI-TARS-1.5 (pixels of its resized input) and UI-TARS v1 (``v1=True``: 0-1000).

Checked against https://github.com/bytedance/UI-TARS: ``codes/ui_tars/prompt.py`` (the
``GROUNDING_DOUBAO`` template, whose structure we keep: task preamble, "## Output Format" with
``Action: ...``, "## Action Space" with ``click(point='<point>x1 y1</point>')``, "## User
Instruction"), ``codes/ui_tars/action_parser.py`` (``<point>x y</point>`` is rewritten to
``(x,y)``; qwen25vl-based checkpoints answer in pixels of the ``smart_resize``-d image, qwen2vl-based
ones in 0-1000) and README_v1.md (v1's grounding prompt "Output only the coordinate of one point in
your response. What element matches the following task: ", image first; agent answers
``Thought: ...\\nAction: click(start_box='<|box_start|>(x1,y1)<|box_end|>')``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guiagent.errors import ModelOutputError
from guiagent.geometry import ModelCoordinates, Size
from guiagent.grounding.vlm import parsing
from guiagent.grounding.vlm.base import Message, ModelAnswer, ResizeRule
from guiagent.grounding.vlm.families import _common

# Actions that do not point at anything: a grounding answer that picks one of them is a refusal.
_NOT_POINTING = frozenset({
    "type", "hotkey", "press", "keydown", "keyup", "release", "finished", "wait", "call_user",
    "press_home", "press_back", "open_app",
})
_CALL_RE = re.compile(r"\b([A-Za-z_]+)\s*\(")

_GROUNDING_V15 = (
    "You are a GUI agent. You are given a task and your action history, with screenshots. "
    "You need to perform the next action to complete the task.\n\n"
    "## Output Format\n\nAction: ...\n\n\n"
    "## Action Space\nclick(point='<point>x1 y1</point>')\n\n"
    "## User Instruction\n{instruction}"
)
_GROUNDING_V1 = (
    "Output only the coordinate of one point in your response. "
    "What element matches the following task: {instruction}"
)


UITARS_V1_RESIZE = ResizeRule(28, 56 * 56, 2116800)


@dataclass(frozen=True, slots=True)
class UITarsFamily(_common.FamilyBase):
    name: str = "uitars"
    v1: bool = False
    # 1.5: action_parser.py's MAX_PIXELS, 16384 * 28 * 28 (Qwen2.5-VL's default). v1 checkpoints
    # (UI-TARS-7B-SFT/-DPO preprocessor_config.json) use max_pixels 2116800: see UITARS_V1_RESIZE.
    resize: ResizeRule = _common.QWEN2_RESIZE

    @property
    def coordinates(self) -> ModelCoordinates:
        return "norm1000" if self.v1 else "pixels"

    def grounding_messages(self, instruction: str, input_size: Size) -> list[Message]:
        template = _GROUNDING_V1 if self.v1 else _GROUNDING_V15
        return [_common.user(_common.IMAGE, _common.text(template.format(instruction=instruction)))]

    def parse(self, text: str) -> ModelAnswer:
        # The thought may mention coordinates too; only the (last) Action line is the answer.
        action_part = text.rsplit("Action:", 1)[-1]
        call = _CALL_RE.search(action_part)
        action = None
        if call is not None:
            action = parsing.action_name(call.group(1))
            if action in _NOT_POINTING:
                raise ModelOutputError(f"the model chose to {action!r} instead of pointing", raw=text)
            action_part = action_part[call.start():]
        return parsing.answer(parsing.find_coordinates(action_part), self.coordinates, text, action=action)
