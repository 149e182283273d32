"""Pictures of a grounding result: the marks an annotated screenshot draws for matches."""

from __future__ import annotations

from guiagent.grounding.base import Match
from guiagent.screen.annotate import BLUE, GREEN, RED, YELLOW, Mark


def match_marks(matches: list[Match], *, label_best: str = "") -> list[Mark]:
    """Marks for an annotated screenshot: stage windows, candidates, then the matches."""
    marks: list[Mark] = []
    if matches:
        for stage in matches[0].stages:
            for window in stage.windows:
                marks.append(Mark(box=window, color=BLUE, thickness=2))
            if stage.name == "coarse":
                for i, c in enumerate(stage.candidates):
                    marks.append(Mark(point=c.point, color=YELLOW, thickness=1,
                                      label=f"#{i + 1} {c.score:.2f}"))
    for i, m in enumerate(matches):
        best = i == 0
        marks.append(Mark(box=m.box, point=m.point, color=RED if best else GREEN,
                          thickness=3 if best else 2,
                          label=(label_best or f"{m.score:.3f}") if best else f"{m.score:.3f}"))
    return marks
