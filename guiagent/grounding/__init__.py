"""Grounding: find where a target is on a screen image.

``locate(image, target)`` is the one entry point: it parses the target (quoted text, an image
path or array, or a description), picks a grounder ("auto" routes images to template matching,
text to OCR, descriptions to a VLM when one is configured), runs ECP (or a single stage), and
returns the best :class:`Match` with its screen coordinates, or raises :class:`TargetNotFound`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from guiagent.errors import (
    GrounderUnavailable,
    TargetNotFound,
)
from guiagent.grounding.base import Candidate, Grounder, Match, StageRecord, Target
from guiagent.grounding.ecp import EcpSettings, ecp_locate, single_stage
from guiagent.screen.capture import Frame

__all__ = [
    "Candidate",
    "EcpSettings",
    "Grounder",
    "GrounderUnavailable",
    "Match",
    "StageRecord",
    "Target",
    "get_grounder",
    "locate",
    "locate_all",
    "register_grounder",
]


_FACTORIES: dict[str, Callable[[], Grounder]] = {}
_INSTANCES: dict[str, Grounder] = {}
_LOCK = threading.Lock()


def register_grounder(name: str, factory: Callable[[], Grounder]) -> None:
    """Make ``grounder=name`` available (VLM families register themselves here)."""
    with _LOCK:
        _FACTORIES[name] = factory
        _INSTANCES.pop(name, None)


def _template() -> Grounder:
    from guiagent.grounding.template import TemplateGrounder

    return TemplateGrounder()


def _ocr() -> Grounder:
    try:
        from guiagent.grounding.ocr import OcrGrounder
    except ImportError as exc:
        raise GrounderUnavailable(
            f"text grounding needs an OCR engine ({exc}): repair RapidOCR with "
            "`pip install --force-reinstall rapidocr-onnxruntime onnxruntime` or apt-get install "
            "tesseract-ocr"
        ) from exc
    return OcrGrounder()


register_grounder("template", _template)
register_grounder("ocr", _ocr)


def get_grounder(name: str) -> Grounder:
    """The process-wide instance of a grounder (models load once)."""
    with _LOCK:
        if name not in _FACTORIES:
            known = ", ".join(["auto", *sorted(_FACTORIES)])
            raise GrounderUnavailable(f"unknown grounder {name!r}; choose one of: {known}")
        if name not in _INSTANCES:
            _INSTANCES[name] = _FACTORIES[name]()
        return _INSTANCES[name]


# Words that say a description is about an element's look or place, not its visible text.
_NEEDS_MODEL = re.compile(
    r"\b(icon|image|picture|logo|symbol|arrow|avatar|gear|cog|slider|toggle|"
    r"left of|right of|next to|beside|above|below|near|underneath|"
    r"(top|bottom|upper|lower)[- ](left|right)|colou?red|shaped?|looks? like)\b",
    re.IGNORECASE,
)
def visible_text_of(description: str) -> str | None:
    """The visible text a description plainly names ("the Save As button" -> "Save As"), or
    None when it describes a look or a place ("the gear icon left of Help") and needs a model."""
    if _NEEDS_MODEL.search(description):
        return None
    from guiagent.grounding.textmatch import query_text

    text, _exact = query_text(description, description=True)
    return text if 0 < len(text.split()) <= 8 else None


def vlm_configured() -> bool:
    return "vlm" in _FACTORIES


def choose_grounder(target: Target, requested: str | Grounder = "auto") -> Grounder:
    """The grounder for ``target``: a name ("auto" routes by target kind) or an instance."""
    if not isinstance(requested, str):
        if not requested.supports(target):
            raise GrounderUnavailable(f"the {requested.name} grounder cannot look for {target.describe()}")
        return requested
    if requested != "auto":
        grounder = get_grounder(requested)
        if not grounder.supports(target):
            raise GrounderUnavailable(
                f"the {requested} grounder cannot look for {target.describe()}; "
                "use --grounder auto"
            )
        return grounder
    if target.kind == "image":
        return get_grounder("template")
    if target.kind == "text":
        return get_grounder("ocr")
    if vlm_configured():
        return get_grounder("vlm")
    if visible_text_of(target.text) is not None:
        return get_grounder("ocr")
    raise GrounderUnavailable(
        f"{target.describe()} describes something by its look or place, which needs a "
        "vision-language model, and none is registered (register_grounder('vlm', ...)); "
        "quote the visible text to find instead (\"Save\"), or pass an image of the target"
    )


def _as_frame(image: Any) -> Frame:
    if isinstance(image, (str, os.PathLike)):
        return Frame.load(Path(image))
    return Frame.load(image)


def locate_all(
    image: Any,
    target: Any,
    *,
    grounder: str | Grounder = "auto",
    ecp: bool = True,
    crop: int = 1024,
    limit: int = 5,
    min_score: float | None = None,
    settings: EcpSettings | None = None,
) -> list[Match]:
    """Every match at or above the grounder's ``min_score`` (best first), with screen points.

    This is ``find_all``: several instances of one template, every "OK" on the screen.
    """
    frame = _as_frame(image)
    parsed = Target.parse(target)
    chosen = choose_grounder(parsed, grounder)
    threshold = chosen.min_score if min_score is None else min_score
    if ecp:
        ecp_settings = settings or EcpSettings(crop=crop, top_k=max(5, limit),
                                               widen_k=max(20, 2 * limit))
        matches = ecp_locate(frame, parsed, chosen, ecp_settings, limit=limit)
    else:
        matches = single_stage(frame, parsed, chosen, limit=limit)
    found = [m for m in matches if m.score >= threshold]
    if not found:
        raise _not_found(parsed, chosen, matches, threshold)
    return [
        replace(m, screen_point=frame.to_screen(m.point),
                screen_box=frame.to_screen_transform.apply_box(m.box) if m.box else None)
        for m in found
    ]


def _not_found(target: Target, grounder: Grounder, matches: list[Match],
               threshold: float) -> TargetNotFound:
    best = max((m.score for m in matches), default=None)
    seen = f"best score {best:.3f}" if best is not None else "no candidate at all"
    error = TargetNotFound(
        f"{target.describe()} not found by the {grounder.name} grounder ({seen}, needed "
        f"{threshold:.2f})",
        best_score=best,
    )
    error.matches = matches  # type: ignore[attr-defined]  # for annotated failure pictures
    return error


def locate(image: Any, target: Any, *, grounder: str | Grounder = "auto", ecp: bool = True,
           crop: int = 1024, min_score: float | None = None,
           settings: EcpSettings | None = None) -> Match:
    """The best match for ``target`` in ``image`` (path, PIL image, numpy array or Frame).

    ``target``: quoted text ('"Save"' = exactly that text), an image path/array (template), or
    a description. Raises :class:`~guiagent.errors.TargetNotFound` with the best score seen.
    """
    return locate_all(image, target, grounder=grounder, ecp=ecp, crop=crop, limit=1,
                      min_score=min_score, settings=settings)[0]
