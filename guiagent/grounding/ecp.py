"""ECP (Extract Candidate then Predict, arXiv 2507.10202), generic over any :class:`Grounder`.

Stage 1 finds *candidates* cheaply on the whole frame: the grounder's own ``candidates()``
when it has one (template matching on a downsampled frame, OCR text detection), otherwise the
grounder's ``locate()`` on the frame downsampled to ``coarse_max_side``. Stage 2 *predicts* the
exact point on full-resolution crops around the candidates.

Beyond the paper (which showed a bad stage 1 ruins everything: random candidates took it from
40.4% to 11.9%): stage 1 keeps the top-k candidates, candidates closer than half a crop share
one crop, stage 2 stops at the first confident crop, stage 2 is skipped when stage 1 is already
exact, and when no crop yields a match the search widens to tiles over the whole frame.
Every returned Match records its stages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from guiagent.geometry import Box, Point, Size, crop_to_frame, crop_window, fit_within
from guiagent.grounding.base import (
    Candidate,
    CandidateSource,
    FinerCandidateSource,
    Grounder,
    Match,
    StageRecord,
    Target,
)
from guiagent.screen.capture import Frame


@dataclass(frozen=True, slots=True)
class EcpSettings:
    """Knobs of the two-stage search.

    ``crop``: side of the stage-2 window in frame pixels (the paper's 1024).
    ``top_k``: stage-1 candidates refined first.
    ``widen_k``: how many are refined in all when none of the first ``top_k`` gave a confident
    answer (stage 1 was unsure).
    ``coarse_max_side``: longest side of the downsampled frame for grounders without their own
    stage 1.
    ``confident``: a stage-2 score at which the remaining crops are not examined (a grounder's
    ``confident_score`` overrides it).
    ``exact_score``: a stage-1 score at which stage 2 is skipped when the candidate's box is
    large compared to the downsampling error.
    ``tiles``: widen to a tiled full-resolution search when no crop produced a match above the
    grounder's ``min_score``.
    """

    crop: int = 1024
    top_k: int = 5
    widen_k: int = 20
    coarse_max_side: int = 1280
    confident: float = 0.95
    exact_score: float = 0.98
    tiles: bool = True
    tile_overlap: float = 0.15


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def stage_one(frame: Frame, target: Target, grounder: Grounder,
              settings: EcpSettings) -> tuple[list[Candidate], StageRecord, float]:
    """Candidates in frame pixels, the stage record, and the zoom stage 1 looked at."""
    start = time.perf_counter()
    if isinstance(grounder, CandidateSource):
        own = grounder.candidates(frame, target, limit=max(settings.top_k, settings.widen_k))
        # Its zoom (pixels looked at per frame pixel) says how exact the candidates are.
        candidates, zoom = own.candidates, own.zoom
        size = frame.size if zoom <= 0 else Size(round(frame.width * zoom),
                                                 round(frame.height * zoom))
    else:
        size = fit_within(frame.size, max_side=settings.coarse_max_side)
        zoom = size.width / frame.width
        small = frame if zoom == 1.0 else Frame(
            _shrink(frame.bgr(), size)
        )
        unzoom = crop_to_frame(Box(0, 0, frame.width, frame.height), size)
        candidates = [
            Candidate(unzoom.apply(m.point), m.score,
                      unzoom.apply_box(m.box) if m.box else None, m.text)
            for m in grounder.locate(small, target, limit=max(settings.top_k, settings.widen_k),
                                     zoom=zoom)
        ]
    candidates = sorted(candidates, key=lambda c: -c.score)
    record = StageRecord("coarse", _elapsed_ms(start), size, tuple(candidates),
                         note=f"zoom {zoom:.3g}")
    return candidates, record, zoom


def group_candidates(candidates: list[Candidate], crop: int) -> list[list[Candidate]]:
    """Greedy grouping, best first: a candidate within ``crop / 2`` (on both axes) of a group's
    first member joins that group, so near neighbours share one crop."""
    groups: list[list[Candidate]] = []
    for candidate in sorted(candidates, key=lambda c: -c.score):
        for group in groups:
            lead = group[0].point
            if abs(candidate.point.x - lead.x) < crop / 2 and abs(candidate.point.y - lead.y) < crop / 2:
                group.append(candidate)
                break
        else:
            groups.append([candidate])
    return groups


def group_window(group: list[Candidate], crop: int, bounds: Size) -> Box:
    """The crop window for a group: centred on the middle of its members' points."""
    xs = [c.point.x for c in group]
    ys = [c.point.y for c in group]
    centre = Point((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
    return crop_window(centre, crop, bounds)


def _to_frame(match: Match, window: Box) -> Match:
    t = crop_to_frame(window)
    return replace(match, point=t.apply(match.point),
                   box=t.apply_box(match.box) if match.box else None)


def _is_exact(candidate: Candidate, zoom: float, settings: EcpSettings) -> bool:
    if candidate.score < settings.exact_score or zoom <= 0:
        return False
    if zoom >= 1.0:
        return True
    # The coarse point can be off by about one downsampled pixel; that is harmless when the
    # target is many such pixels wide.
    error = 1.0 / zoom
    return candidate.box is not None and min(candidate.box.width, candidate.box.height) >= 8 * error


def tile_windows(size: Size, crop: int, overlap: float) -> list[Box]:
    """Windows of side ``crop`` covering the whole frame with the given overlap."""
    def starts(length: int) -> list[int]:
        if length <= crop:
            return [0]
        step = max(1, int(crop * (1 - overlap)))
        positions = [*list(range(0, length - crop, step)), length - crop]
        return sorted(set(positions))

    return [
        Box(x, y, min(crop, size.width), min(crop, size.height))
        for y in starts(size.height)
        for x in starts(size.width)
    ]


def _dedupe(matches: list[Match], radius: float) -> list[Match]:
    kept: list[Match] = []
    for match in sorted(matches, key=lambda m: -m.score):
        if all(match.point.distance_to(k.point) > radius for k in kept):
            kept.append(match)
    return kept


def ecp_locate(frame: Frame, target: Target, grounder: Grounder,
               settings: EcpSettings | None = None, *, limit: int = 5) -> list[Match]:
    """Two-stage grounding; matches are in frame pixels, best first, each with its stages."""
    settings = settings or EcpSettings()
    started = time.perf_counter()
    min_score = grounder.min_score
    # Near-identical buttons all correlate ~0.96 with a template; a grounder says from which
    # score a match is unambiguous enough to stop looking at further crops. When several
    # instances are wanted (find_all), every candidate is examined.
    traits = grounder.traits
    confident = settings.confident if traits.confident_score is None else traits.confident_score
    if limit > 1:
        confident = float("inf")
    candidates, coarse, zoom = stage_one(frame, target, grounder, settings)
    stages: list[StageRecord] = [coarse]

    # Grounders whose stage 1 is a guess by design (a VLM on a downsampled frame) always refine.
    trusts_stage_one = not traits.always_refine
    if trusts_stage_one and candidates and _is_exact(candidates[0], zoom, settings):
        stages.append(StageRecord("fine", 0.0, Size(0, 0), note="skipped: stage 1 was exact"))
        exact = [c for c in candidates if _is_exact(c, zoom, settings)][:limit]
        return [_finish(Match(c.point, c.score, c.box, grounder.name, c.text), stages, started)
                for c in exact]

    matches: list[Match] = []
    windows: list[Box] = []

    def best_score() -> float:
        return max((m.score for m in matches), default=0.0)

    def refine(batch: list[Candidate]) -> None:
        # Crop-based grounders (OCR, VLM) read a whole crop, so near candidates share one; a
        # grounder that only searches around its hint (templates) refines each separately.
        groups = ([[c] for c in batch] if traits.refines_each_candidate
                  else group_candidates(batch, settings.crop))
        for group in groups:
            window = group_window(group, settings.crop, frame.size)
            windows.append(window)
            found = grounder.locate(frame.crop(window), target, limit=limit, zoom=1.0,
                                    hint=_hint(group[0], window))
            matches.extend(_to_frame(m, window) for m in found)
            if best_score() >= confident:
                return

    fine_start = time.perf_counter()
    first, rest = candidates[: settings.top_k], candidates[settings.top_k : settings.widen_k]
    refine(first)
    note = ""
    if rest and best_score() < confident:
        note = f"widened to {len(first) + len(rest)} candidates: the first were not confident"
        refine(rest)
    stages.append(StageRecord("fine", _elapsed_ms(fine_start), Size(settings.crop, settings.crop),
                              tuple(Candidate(m.point, m.score, m.box, m.text) for m in matches),
                              tuple(windows), note))

    # Still unsure: look again at a finer stage-1 resolution, when the grounder has one
    # (look-alike buttons whose labels blur together when downsampled).
    while isinstance(grounder, FinerCandidateSource) and limit == 1 and best_score() < confident:
        start = time.perf_counter()
        finer = grounder.finer_candidates(frame, target, limit=settings.widen_k, zoom=zoom)
        if finer is None:
            break
        more, zoom = finer.candidates, finer.zoom
        refine(more)
        stages.append(StageRecord(
            "finer", _elapsed_ms(start), Size(round(frame.width * zoom), round(frame.height * zoom)),
            tuple(more), note=f"stage 1 again at zoom {zoom:.3g}: no confident match yet"))

    # A grounder may opt out of the tiled fallback when each tile costs a model call.
    use_tiles = settings.tiles and traits.tiled_fallback
    if use_tiles and not any(m.score >= min_score for m in matches):
        tiled_start = time.perf_counter()
        tiles = [w for w in tile_windows(frame.size, settings.crop, settings.tile_overlap)
                 if w not in windows]
        for window in tiles:
            found = grounder.locate(frame.crop(window), target, limit=limit, zoom=1.0)
            matches.extend(_to_frame(m, window) for m in found)
        stages.append(StageRecord(
            "tiled", _elapsed_ms(tiled_start), Size(settings.crop, settings.crop),
            tuple(Candidate(m.point, m.score, m.box, m.text) for m in matches), tuple(tiles),
            note="stage 1 found no candidate a crop could confirm",
        ))

    results = _dedupe(matches, radius=8.0)[:limit]
    return [_finish(m, stages, started) for m in results]


def _hint(candidate: Candidate, window: Box) -> Candidate:
    """The stage-1 candidate expressed in the crop's pixels."""
    t = crop_to_frame(window).inverse()
    return Candidate(t.apply(candidate.point), candidate.score,
                     t.apply_box(candidate.box) if candidate.box else None, candidate.text)


def single_stage(frame: Frame, target: Target, grounder: Grounder, *, limit: int = 5) -> list[Match]:
    """One pass of the grounder over the whole full-resolution frame (for comparison)."""
    started = time.perf_counter()
    matches = grounder.locate(frame, target, limit=limit, zoom=1.0)
    record = StageRecord("single", _elapsed_ms(started), frame.size,
                         tuple(Candidate(m.point, m.score, m.box, m.text) for m in matches))
    return [_finish(m, [record], started) for m in matches]


def _finish(match: Match, stages: list[StageRecord], started: float) -> Match:
    return replace(match, grounder=match.grounder, stages=tuple(stages),
                   elapsed_ms=_elapsed_ms(started))


def _shrink(pixels: np.ndarray, size: Size) -> np.ndarray:
    import cv2  # imported on first use: `import guiagent` should not pay for OpenCV

    return cv2.resize(pixels, (size.width, size.height), interpolation=cv2.INTER_AREA)
