"""What every grounder speaks: :class:`Target` in, :class:`Match` out, through :class:`Grounder`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np

from guiagent.errors import (
    EmptyTargetError,
    ImageLoadError,
)
from guiagent.geometry import Box, Point, Size
from guiagent.screen.capture import Frame

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

TargetKind = Literal["text", "image", "description"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»"}


@dataclass(frozen=True, slots=True, eq=False)
class Target:
    """What to find.

    ``text``: visible text; ``exact`` when the user quoted it ("Save" means exactly Save, in
    any case). ``image``: a template (BGR pixels); ``mask``: its alpha channel (0 transparent ..
    255 opaque) when it has transparency, else None. ``description``: free-form words ("the
    gear icon left of Help") that may need a model; OCR can still try it when it plainly names
    text.
    """

    kind: TargetKind
    text: str = ""
    exact: bool = False
    image: np.ndarray | None = None
    source: str = ""  # how the user wrote it, for messages
    mask: np.ndarray | None = None

    @classmethod
    def parse(cls, value: TargetLike) -> Target:
        """A Target from a string (quoted text / image path / description), array, PIL image."""
        if isinstance(value, Target):
            return value
        if isinstance(value, Frame):  # a capture: its alpha channel means nothing
            return cls("image", image=value.bgr(), source="<image>")
        if isinstance(value, np.ndarray):
            return cls.from_pixels(value, "<image>")
        if _is_pil(value):
            return cls.from_pixels(_pil_pixels(value), "<image>")
        if isinstance(value, os.PathLike):
            return cls.from_image_path(Path(value))
        if not isinstance(value, str):
            raise ImageLoadError(
                f"cannot use {type(value).__name__} as a target: pass text, an image path, "
                "a numpy array or a PIL image"
            )
        text = value.strip()
        if not text:
            raise EmptyTargetError("empty target: say what to find, e.g. \"Save\" or an image path")
        if len(text) >= 2 and text[0] in _QUOTES and text[-1] == _QUOTES[text[0]]:
            inner = text[1:-1]
            if not inner.strip():
                raise EmptyTargetError(f"empty quoted target {value!r}")
            return cls("text", text=inner, exact=True, source=value)
        if text.lower().endswith(_IMAGE_SUFFIXES) and "\n" not in text:
            return cls.from_image_path(Path(text))
        return cls("description", text=text, source=value)

    @classmethod
    def from_image_path(cls, path: Path) -> Target:
        frame = Frame.load(path)  # raises ImageLoadError with the path when missing/corrupt
        return cls.from_pixels(frame.pixels, str(path))

    @classmethod
    def from_pixels(cls, pixels: np.ndarray, source: str = "<image>") -> Target:
        """An image target from gray, BGR or BGRA pixels; a BGRA image's alpha channel becomes
        ``mask`` unless it is uniform (then every pixel counts, as in a screen capture)."""
        frame = Frame.load(pixels)
        alpha = frame.pixels[:, :, 3] if frame.pixels.shape[2] == 4 else None
        if alpha is not None and int(alpha.min()) == int(alpha.max()):
            alpha = None
        mask = None if alpha is None else np.ascontiguousarray(alpha)
        return cls("image", image=frame.bgr(), source=source, mask=mask)

    @classmethod
    def from_text(cls, text: str, *, exact: bool = False) -> Target:
        if not text.strip():
            raise EmptyTargetError("empty text target")
        return cls("text", text=text, exact=exact, source=text)

    def describe(self) -> str:
        if self.kind == "image":
            assert self.image is not None
            h, w = self.image.shape[:2]
            return f"image {self.source} ({w}x{h})"
        return repr(self.text) if self.kind == "text" else f"description {self.text!r}"


TargetLike: TypeAlias = "Target | str | os.PathLike[str] | np.ndarray | Frame | PILImage"
"""What ``locate`` and friends accept as a target: quoted text (``'"Save"'``), a description,
an image path, BGR(A) pixels, a Frame, a PIL image, or a parsed :class:`Target`."""


def _pil_pixels(image: Any) -> np.ndarray:
    """BGR(A) pixels of a PIL image, keeping its transparency."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    rgb = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    order = [2, 1, 0, 3] if has_alpha else [2, 1, 0]
    return np.ascontiguousarray(rgb[:, :, order])


def _is_pil(value: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, Image.Image)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stage-1 guess, in frame pixels."""

    point: Point
    score: float
    box: Box | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class StageRecord:
    """One stage of a grounding run, for traces and annotated screenshots (frame pixels)."""

    name: str  # "coarse", "fine", "single", "tiled"
    elapsed_ms: float
    image_size: Size  # what the grounder looked at
    candidates: tuple[Candidate, ...] = ()
    windows: tuple[Box, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    """Where a target is. ``point``/``box`` are frame pixels; ``screen_point`` is what to click.

    ``score`` is in [0, 1] and comparable within one grounder. ``stages`` tells how it was found.
    """

    point: Point
    score: float
    box: Box | None = None
    grounder: str = ""
    text: str | None = None
    stages: tuple[StageRecord, ...] = ()
    screen_point: Point | None = None
    screen_box: Box | None = None
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `guiagent ground --json` object."""
        point = self.screen_point or self.point
        return {
            "x": round(point.x, 2),
            "y": round(point.y, 2),
            "frame_x": round(self.point.x, 2),
            "frame_y": round(self.point.y, 2),
            "score": round(self.score, 4),
            "box": None if self.box is None else [round(v, 2) for v in self.box.corners],
            "text": self.text,
            "grounder": self.grounder,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "stages": [
                {
                    "name": s.name,
                    "elapsed_ms": round(s.elapsed_ms, 1),
                    "image_size": [s.image_size.width, s.image_size.height],
                    "candidates": [
                        {"x": round(c.point.x, 1), "y": round(c.point.y, 1),
                         "score": round(c.score, 4), "text": c.text}
                        for c in s.candidates
                    ],
                    "windows": [[round(v, 1) for v in w.corners] for w in s.windows],
                    "note": s.note,
                }
                for s in self.stages
            ],
        }


TIE_MARGIN = 0.02  # matches this close to the best score are "equally good"
SAME_PLACE_PX = 8  # matches whose points are this close are one place


def equally_good(matches: Sequence[Match]) -> list[Match]:
    """The matches tied with the best (within :data:`TIE_MARGIN`), one per place, best first:
    more than one means the target is ambiguous until the caller says which."""
    if not matches:
        return []
    best = matches[0].score
    tied: list[Match] = []
    for m in matches:
        point = m.screen_point or m.point
        if m.score >= best - TIE_MARGIN and not any(
                abs(point.x - (t.screen_point or t.point).x) <= SAME_PLACE_PX
                and abs(point.y - (t.screen_point or t.point).y) <= SAME_PLACE_PX for t in tied):
            tied.append(m)
    return tied


def ambiguity_message(what: str, tied: Sequence[Match], example: str) -> str:
    """What an AmbiguousTarget says: the places and how to say which."""
    places = ", ".join(
        f"({(m.screen_point or m.point).x:.0f}, {(m.screen_point or m.point).y:.0f})"
        + (f" reading {m.text!r}" if m.text else "") for m in tied)
    return (f"{what} matches {len(tied)} places equally well ({places}); say which one, e.g. "
            f"'the leftmost {example}', 'the second {example}', or restrict the region")


@dataclass(frozen=True, slots=True)
class GrounderTraits:
    """How ECP treats a grounder (declared by each grounder as ``traits``)."""

    # a stage-2 score from which ECP stops looking at further crops (None: ECP's own setting)
    confident_score: float | None = None
    # never take a stage-1 answer as final, however exact (a VLM's coarse point)
    always_refine: bool = False
    # one stage-2 crop per candidate instead of one crop per group of close candidates
    refines_each_candidate: bool = False
    # when no crop confirms a candidate, search tiles over the whole frame (off where each tile
    # costs a model call)
    tiled_fallback: bool = True


@dataclass(frozen=True, slots=True)
class StageOne:
    """A grounder's own ECP stage 1: candidates in frame pixels, and ``zoom``, the pixels it
    looked at per frame pixel (1.0 = full resolution, so an exact reading may be final; 0 =
    unknown, never final). Returned, never stored on the grounder: grounders are shared by
    threads."""

    candidates: list[Candidate]
    zoom: float


@runtime_checkable
class Grounder(Protocol):
    """Finds a target in an image.

    ``locate`` returns up to ``limit`` matches, best first, in the pixels of ``image``.
    ``zoom`` is how many ``image`` pixels stand for one pixel of the original screen frame
    (0.25 when ECP shows a 4x downsampled frame, 2.0 for a crop upscaled twice): grounders
    whose targets have a physical size (templates) scale them by it. ``hint`` is the stage-1
    candidate that led ECP to this crop, in ``image`` pixels (a template's scale, OCR's text).
    ``min_score`` is the score from which a match counts as found; ``traits`` how ECP treats
    this grounder. A grounder must be safe to use from several threads at once.
    """

    name: str
    min_score: float
    traits: GrounderTraits

    def supports(self, target: Target) -> bool: ...

    def locate(self, image: Frame, target: Target, *, limit: int = 5, zoom: float = 1.0,
               hint: Candidate | None = None) -> list[Match]: ...


@runtime_checkable
class CandidateSource(Protocol):
    """A grounder with its own stage 1 (e.g. OCR: cheap text detection on the whole frame)."""

    def candidates(self, frame: Frame, target: Target, *, limit: int) -> StageOne: ...


@runtime_checkable
class FinerCandidateSource(Protocol):
    """A stage 1 that can look again at a finer resolution than ``zoom`` (look-alike buttons
    whose labels blur together when downsampled); None when it already looked at full size."""

    def finer_candidates(self, frame: Frame, target: Target, *, limit: int,
                         zoom: float) -> StageOne | None: ...
