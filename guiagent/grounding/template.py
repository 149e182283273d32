"""Image targets: OpenCV normalised cross-correlation, coarse-to-fine and multi-scale.

Stage 1 matches a shrunken template on a downsampled frame and keeps the top-k peaks (the single
best coarse peak picked the wrong button in our measurements); stage 2 (via ECP) re-matches at
full resolution inside a crop around each, at the scale stage 1 found.

Flat regions are handled on purpose: normalised correlation is 0/0 where the screen or the
template has no texture, which OpenCV can report as a perfect match. A template with no detail
is refused with an explanation, and windows of the screen with no variance score 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from guiagent.errors import (
    TemplateError,
)
from guiagent.geometry import Box, Point
from guiagent.grounding.base import Candidate, GrounderTraits, Match, StageOne, Target
from guiagent.screen.capture import Frame

DPI_SCALES = (0.5, 0.667, 0.75, 0.8, 1.0, 1.25, 1.5, 1.75, 2.0)


@dataclass(frozen=True, slots=True)
class _Peak:
    x: int
    y: int
    score: float
    width: int
    height: int


class TemplateGrounder:
    """Finds an image on the screen.

    ``grayscale`` (default) ignores colour; ``scales`` are the template sizes tried (the default
    covers templates recorded at 50%-200% of the current DPI); ``min_score`` is the correlation
    from which a match counts (pyautogui users know it as ``confidence``).
    """

    name = "template"
    # Look-alike buttons correlate ~0.96, so only a near-exact match is final; stage 2 searches
    # only around each stage-1 peak.
    traits = GrounderTraits(confident_score=0.99, refines_each_candidate=True)

    def __init__(self, *, grayscale: bool = True, scales: tuple[float, ...] = DPI_SCALES,
                 min_score: float = 0.8, coarse_min_side: int = 6,
                 coarse_max_factor: int = 4) -> None:
        self.grayscale = grayscale
        self.scales = scales
        self.min_score = min_score
        self.coarse_min_side = coarse_min_side
        self.coarse_max_factor = coarse_max_factor
        self.coarse_accept = 0.6

    def supports(self, target: Target) -> bool:
        return target.kind == "image"

    # -- preparation -------------------------------------------------------------------
    def _pixels(self, bgr: np.ndarray) -> np.ndarray:
        if self.grayscale:
            return bgr if bgr.ndim == 2 else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        return bgr

    def _frame_pixels(self, frame: Frame) -> np.ndarray:
        return frame.gray() if self.grayscale else frame.bgr()

    def _template(self, target: Target) -> np.ndarray:
        if target.image is None:
            raise TemplateError(f"{target.describe()} is not an image target")
        template = self._pixels(target.image)
        if float(template.std()) < 2.0:
            raise TemplateError(
                f"template {target.source or '<image>'} has no detail (it is all one colour), so it "
                "would match every flat area of the screen; capture a region that includes an "
                "edge, an icon or text"
            )
        return template

    # -- ECP stage 1 ---------------------------------------------------------------------
    def candidates(self, frame: Frame, target: Target, *, limit: int) -> StageOne:
        return self._candidates(frame, target, limit, max_factor=self.coarse_max_factor)

    def finer_candidates(self, frame: Frame, target: Target, *, limit: int,
                         zoom: float) -> StageOne | None:
        """Stage 1 again at twice the resolution of ``zoom`` (None when already at full)."""
        factor = round(1 / zoom) if zoom > 0 else 1
        if factor <= 1:
            return None
        return self._candidates(frame, target, limit, max_factor=factor // 2)

    def _candidates(self, frame: Frame, target: Target, limit: int, *,
                    max_factor: int) -> StageOne:
        template = self._template(target)
        th, tw = template.shape[:2]
        if th > frame.height or tw > frame.width:
            raise TemplateError(
                f"template ({tw}x{th}) is larger than the screen image ({frame.width}x{frame.height})"
            )
        full = self._frame_pixels(frame)
        shrunk: dict[int, _Prepared] = {}
        peaks: list[tuple[_Peak, float]] = []  # (peak, zoom it was found at)
        # Same-DPI templates are the common case: try scale 1 first and stop when it matches.
        for scale in sorted(self.scales, key=lambda s: abs(np.log(s))):
            # Downsample as far as the template stays >= coarse_min_side pixels. Look-alikes
            # that this resolution cannot tell apart get a finer look from ECP (finer_candidates).
            factor = max(1, min(max_factor, int(min(tw, th) * scale // self.coarse_min_side)))
            if factor not in shrunk:
                pixels = full if factor == 1 else cv2.resize(
                    full, (frame.width // factor, frame.height // factor),
                    interpolation=cv2.INTER_AREA)
                shrunk[factor] = _Prepared(pixels)
            found = self._match_scales(shrunk[factor], template, [scale / factor], limit)
            peaks.extend((p, 1.0 / factor) for p in found)
            # Downsampling lowers correlations, so the coarse bar is below min_score.
            if scale == 1.0 and found and found[0].score >= self.coarse_accept:
                break
        zoom = max(peaks, key=lambda pz: pz[0].score)[1] if peaks else 1.0
        candidates = [
            Candidate(Point((p.x + p.width / 2) / z, (p.y + p.height / 2) / z), p.score,
                      Box(p.x / z, p.y / z, p.width / z, p.height / z))
            for p, z in peaks
        ]
        return StageOne(sorted(candidates, key=lambda c: -c.score)[:limit], zoom)

    # -- stage 2 / single pass -----------------------------------------------------------
    def locate(self, image: Frame, target: Target, *, limit: int = 5, zoom: float = 1.0,
               hint: Candidate | None = None) -> list[Match]:
        template = self._template(target)
        th, tw = template.shape[:2]
        if hint is not None and hint.box is not None:
            # Stage 1 already chose the scale; allow for its rounding.
            found = hint.box.width / tw
            scales = [1.0] if abs(found - 1.0) < 0.03 else [found * f for f in (0.96, 1.0, 1.04)]
        else:
            scales = [s * zoom for s in self.scales]
        if th * min(scales) > image.height or tw * min(scales) > image.width:
            raise TemplateError(
                f"template ({tw}x{th}) is larger than the screen image ({image.width}x{image.height})"
            )
        ox = oy = 0
        if hint is not None and hint.box is not None:
            # Stage 1 is off by at most a few downsampled pixels: search only around it (and
            # convert only that area to gray).
            margin = max(24.0, 0.5 * max(hint.box.width, hint.box.height))
            area = hint.box.expanded(margin).integer().intersection(image.bounds)
            if area is not None and area.width >= tw * max(scales) and area.height >= th * max(scales):
                image = image.crop(area)
                ox, oy = int(area.left), int(area.top)
        peaks = self._match_scales(_Prepared(self._frame_pixels(image)), template, scales, limit)
        return [
            Match(Point(ox + p.x + p.width / 2, oy + p.y + p.height / 2), p.score,
                  Box(ox + p.x, oy + p.y, p.width, p.height), self.name)
            for p in peaks
        ]

    def _match_scales(self, image: _Prepared, template: np.ndarray, scales: list[float],
                      limit: int) -> list[_Peak]:
        peaks: list[_Peak] = []
        th, tw = template.shape[:2]
        ih, iw = image.pixels.shape[:2]
        for scale in scales:
            w, h = max(1, round(tw * scale)), max(1, round(th * scale))
            if w > iw or h > ih or min(w, h) < 4:
                continue
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            scaled = template if (w, h) == (tw, th) else cv2.resize(template, (w, h),
                                                                    interpolation=interp)
            peaks.extend(_peaks(image, scaled, limit))
        # Across scales, keep the best of overlapping peaks.
        kept: list[_Peak] = []
        for peak in sorted(peaks, key=lambda p: -p.score):
            if all(abs(peak.x + peak.width / 2 - k.x - k.width / 2) > k.width / 2
                   or abs(peak.y + peak.height / 2 - k.y - k.height / 2) > k.height / 2
                   for k in kept):
                kept.append(peak)
            if len(kept) == limit:
                break
        return kept


class _Prepared:
    """An image to match in (kept as a class so per-image work can be shared across scales)."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.pixels = pixels
        self.gray = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)

    def is_flat(self, x: int, y: int, tw: int, th: int) -> bool:
        """Whether the ``tw x th`` window at ``(x, y)`` has (almost) no variance."""
        return float(self.gray[y : y + th, x : x + tw].std()) < 1.0


def _peaks(image: _Prepared, template: np.ndarray, limit: int) -> list[_Peak]:
    """Top ``limit`` correlation peaks, each suppressing a template-sized neighbourhood.

    Where the screen is flat the correlation is 0/0 and OpenCV may report +-1, so a peak on a
    flat window is discarded (and the search goes on) instead of being returned.
    """
    th, tw = template.shape[:2]
    result = cv2.matchTemplate(image.pixels, template, cv2.TM_CCOEFF_NORMED)
    cv2.patchNaNs(result, 0.0)
    peaks: list[_Peak] = []
    rejected = 0
    while len(peaks) < limit and rejected < 10_000:
        _, score, _, (x, y) = cv2.minMaxLoc(result)
        if score <= 0:
            break
        if image.is_flat(x, y, tw, th):
            rejected += 1
            if rejected == 64:  # a large flat area (a black screen): clear it all at once
                _clear_flat(result, image.gray, tw, th)
            result[y, x] = 0.0
            continue
        peaks.append(_Peak(x, y, float(min(score, 1.0)), tw, th))
        x0, y0 = max(0, x - tw // 2), max(0, y - th // 2)
        result[y0 : y + th // 2 + 1, x0 : x + tw // 2 + 1] = 0.0
    return peaks


def _clear_flat(result: np.ndarray, gray: np.ndarray, tw: int, th: int) -> None:
    """Zero every window of ``result`` whose image window has no variance."""
    data = gray.astype(np.float32)
    mean = cv2.boxFilter(data, -1, (tw, th), anchor=(0, 0), normalize=True,
                         borderType=cv2.BORDER_REPLICATE)
    mean_sq = cv2.boxFilter(data * data, -1, (tw, th), anchor=(0, 0), normalize=True,
                            borderType=cv2.BORDER_REPLICATE)
    variance = (mean_sq - mean * mean)[: result.shape[0], : result.shape[1]]
    result[variance < 1.0] = 0.0
