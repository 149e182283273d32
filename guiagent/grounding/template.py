"""Image targets: normalised cross-correlation, coarse-to-fine, multi-scale, colour-checked.

Stage 1 (:meth:`TemplateGrounder.candidates`) scans a downsampled gray frame with a shrunken
template at each scale (the same scale first, stopping there when it matches), keeps the best
coarse peaks (the single best coarse peak picked the wrong button in our measurements) and
places each one exactly with a small gray match at full resolution. Stage 2 (via ECP,
:meth:`TemplateGrounder.locate` with the stage-1 hint) gives the verdict at full resolution and
in colour: grayscale correlation cannot tell a red icon from a blue one of the same shape, the
colour correlation can.

Transparency: an image target with an alpha channel (``Target.mask``) is matched only where it
is opaque (masked correlation), after trimming the transparent border, so an icon cut out of
its background is found on any background.

Flat regions are handled on purpose: normalised correlation is 0/0 where the screen or the
template has no texture, which OpenCV can report as a perfect match. A template with no detail
is refused with an explanation, and windows of the screen with no variance score 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from guiagent.errors import TemplateError
from guiagent.geometry import Box
from guiagent.grounding.base import Candidate, GrounderTraits, Match, StageOne, Target
from guiagent.screen.capture import Frame

DPI_SCALES = (0.5, 0.667, 0.75, 0.8, 1.0, 1.25, 1.333, 1.5, 1.75, 2.0)

# An alpha value from which a template pixel counts: below it the screen shows the template
# blended with whatever lies behind, which the template does not know.
_OPAQUE_ALPHA = 224
# A cut-out whose opaque pixels vary less than this (gray standard deviation) is searched by
# its outline: its inside alone is too flat to correlate with.
_OUTLINE_DETAIL = 8.0
# How many of the best peaks at a scale other than 1 search for their exact scale.
_SCALE_REFINED = 8
# How many of the best coarse peaks go straight to full resolution before the others.
_QUICK = 3
# How far behind the best full-resolution peak a peak may be and still be a candidate.
_BEHIND = 0.15
# Once a coarse peak is confirmed, the others within this coarse score of it are placed too
# (more instances of the template, for find_all).
_TWIN = 0.05


@dataclass(frozen=True, slots=True)
class _Peak:
    """A match position in the pixels searched: the box of the template's opaque part."""

    x: int
    y: int
    score: float
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class _Template:
    """A template ready to match: its opaque part (gray, colour, mask) and where that part
    sits in the image the user gave (``offset``, ``full``), so results are boxes of the whole
    image."""

    gray: np.ndarray
    bgr: np.ndarray
    mask: np.ndarray | None  # uint8, 255 where a pixel counts; None: every pixel counts
    offset: tuple[int, int]
    full: tuple[int, int]
    # A one-colour icon with transparency has no detail under its mask: it is searched by its
    # outline (``gray`` is then the mask itself, matched in either polarity, leaving out a
    # band along its edge where the screen blends icon and background) and confirmed by its
    # colour. ``outline_mask``: where the outline is certain.
    silhouette: bool = False
    outline_mask: np.ndarray | None = None

    @property
    def width(self) -> int:
        return int(self.gray.shape[1])

    @property
    def height(self) -> int:
        return int(self.gray.shape[0])

    def size_at(self, scale: float) -> tuple[int, int]:
        return max(1, round(self.width * scale)), max(1, round(self.height * scale))

    def resized(self, width: int, height: int) -> _Template:
        if (width, height) == (self.width, self.height):
            return self
        interp = cv2.INTER_AREA if width < self.width else cv2.INTER_LINEAR

        def shrink(mask: np.ndarray | None) -> np.ndarray | None:
            if mask is None:
                return None
            resized = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)
            # Shrunk, a thin stroke covers only part of a pixel: still count that pixel.
            cut = 1 if width < self.width else 128
            return np.where(resized >= cut, np.uint8(255), np.uint8(0))

        return _Template(cv2.resize(self.gray, (width, height), interpolation=interp),
                         cv2.resize(self.bgr, (width, height), interpolation=interp),
                         shrink(self.mask), self.offset, self.full, self.silhouette,
                         shrink(self.outline_mask))

    @property
    def gray_mask(self) -> np.ndarray | None:
        """The mask of the gray search."""
        return self.outline_mask if self.silhouette else self.mask

    def gray_at(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The gray search's template and mask at a size (what placing a peak needs)."""
        if (width, height) == (self.width, self.height):
            return self.gray, self.gray_mask
        interp = cv2.INTER_AREA if width < self.width else cv2.INTER_LINEAR
        gray = cv2.resize(self.gray, (width, height), interpolation=interp)
        mask = self.gray_mask
        if mask is not None:
            resized = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)
            mask = np.where(resized >= (1 if width < self.width else 128), np.uint8(255), np.uint8(0))
        return gray, mask

    def whole_box(self, peak: _Peak, ox: float = 0.0, oy: float = 0.0) -> Box:
        """The box of the whole template image for a peak of its opaque part."""
        sx, sy = peak.width / self.width, peak.height / self.height
        return Box(ox + peak.x - self.offset[0] * sx, oy + peak.y - self.offset[1] * sy,
                   self.full[0] * sx, self.full[1] * sy)


class TemplateGrounder:
    """Finds an image on the screen.

    ``colour`` (default on): the verdict compares colours, so a same-shaped icon in another
    colour is not a match (candidates are found in gray either way). ``scales`` are the
    template sizes tried (the default covers templates recorded at 50%-200% of the current
    DPI); ``min_score`` is the correlation from which a match counts (pyautogui users know it
    as ``confidence``). ``coarse_min_side``/``coarse_max_factor`` bound how far stage 1
    downsamples: as far as the template keeps that many pixels, at most that factor.
    ``coarse_floor`` is the coarse correlation below which a spot is not examined further
    (what makes an absent target a fast no); ``pool`` how many peaks per scale are followed
    down to full resolution.
    """

    name = "template"
    # Look-alike buttons correlate ~0.96, so only a near-exact match is final. Stage 1 is gray
    # only, so stage 2 (colour) always gives the verdict; stage 1 scans every position and
    # scale, so a tiled search would find nothing more.
    traits = GrounderTraits(confident_score=0.99, always_refine=True, refines_each_candidate=True,
                            tiled_fallback=False)

    def __init__(self, *, colour: bool = True, scales: tuple[float, ...] = DPI_SCALES,
                 min_score: float = 0.8, coarse_min_side: int = 6, coarse_max_factor: int = 4,
                 coarse_floor: float = 0.5, pool: int = 24) -> None:
        self.colour = colour
        self.scales = scales
        self.min_score = min_score
        self.coarse_min_side = coarse_min_side
        self.coarse_max_factor = coarse_max_factor
        self.coarse_floor = coarse_floor
        self.pool = pool
        # A full-resolution gray score from which the remaining scales are not scanned.
        self.scale_accept = 0.97

    def supports(self, target: Target) -> bool:
        return target.kind == "image"

    # -- preparation -------------------------------------------------------------------
    def _template(self, target: Target) -> _Template:
        if target.image is None:
            raise TemplateError(f"{target.describe()} is not an image target")
        name = target.source or "<image>"
        bgr = target.image if target.image.ndim == 3 else cv2.cvtColor(target.image, cv2.COLOR_GRAY2BGR)
        bgr = bgr[:, :, :3]
        full = (int(bgr.shape[1]), int(bgr.shape[0]))
        mask = None
        offset = (0, 0)
        if target.mask is not None:
            opaque = target.mask >= _OPAQUE_ALPHA
            if int(opaque.sum()) < 16:
                raise TemplateError(
                    f"template {name} is (almost) entirely transparent: fewer than 16 of its "
                    "pixels are opaque, too few to recognise it by")
            ys, xs = np.nonzero(opaque)
            x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
            offset = (x0, y0)
            bgr = bgr[y0:y1, x0:x1]
            if not opaque[y0:y1, x0:x1].all():
                mask = np.where(opaque[y0:y1, x0:x1], np.uint8(255), np.uint8(0))
        gray = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2GRAY)
        detail = float((gray[mask > 0] if mask is not None else gray).std())
        if detail >= (_OUTLINE_DETAIL if mask is not None else 2.0):
            return _Template(gray, np.ascontiguousarray(bgr), mask, offset, full)
        if mask is not None:  # (about) one gray level, but a shape: find the outline
            band = cv2.dilate(mask, np.ones((5, 5), np.uint8)) - mask
            return _Template(mask.copy(), np.ascontiguousarray(bgr), mask, offset, full,
                             silhouette=True, outline_mask=255 - band)
        raise TemplateError(
            f"template {name} has no detail (it is all one colour), so it "
            "would match every flat area of the screen; capture a region that includes an "
            "edge, an icon or text"
        )

    def _scale_order(self, zoom: float) -> list[float]:
        # Same-DPI templates are the common case: scale 1 first, then outwards.
        return [s * zoom for s in sorted(self.scales, key=lambda s: abs(math.log(s)))]

    def _depth(self, width: int, height: int) -> int:
        """How many times stage 1 halves the frame for a template of this size on screen: as
        often as the template keeps ``coarse_min_side`` pixels, at most ``coarse_max_factor``."""
        factor = max(1, min(self.coarse_max_factor, min(width, height) // self.coarse_min_side))
        return factor.bit_length() - 1

    def _scan(self, levels: list[np.ndarray], pixels: np.ndarray, template: _Template,
              scale: float, depth: int, limit: int) -> tuple[list[_Peak], bool, _Peak | None]:
        """Peaks (full-resolution gray) of ``template`` at ``scale``, whether the first
        one is already confirmed in colour (then nothing else needs a look), and the best
        coarse peak whatever its score (what an absent template's best score is measured at).

        A scan of the coarsest level, then the best few coarse peaks straight down to full
        resolution (the common case: the target is the best coarse peak); failing that every
        kept peak is placed again one level finer, down to full resolution, keeping the best
        ``pool`` at each step (look-alikes that blur together at the coarse level separate on
        the way down). ``pixels``: the frame's own pixels, for the colour check.
        """
        factor = 2**depth
        width, height = template.size_at(scale)
        coarse = template.resized(max(3, round(width / factor)), max(3, round(height / factor)))
        level = levels[depth]
        result = _raw_correlation(level, coarse.gray, coarse.gray_mask, coarse.silhouette)
        _, best_score, _, (bx, by) = cv2.minMaxLoc(result)
        best = _Peak(bx, by, float(best_score), coarse.width, coarse.height)
        confident = self.traits.confident_score or 1.0
        pool = max(limit, self.pool)
        tried: list[_Peak] = []
        for _ in range(_QUICK):
            _, score, _, (x, y) = cv2.minMaxLoc(result)
            if score < self.coarse_floor:
                break
            _clear(result, x, y)
            if _is_flat(level, x, y, coarse.width, coarse.height):
                continue
            peak = _Peak(x, y, float(score), coarse.width, coarse.height)
            placed = self._descend(levels, template, scale, depth, [peak], 1)
            tried.extend(placed)
            if placed and placed[0].score >= confident and \
                    self._colour_score(pixels, template, placed[0]) >= confident:
                # Found. Other instances (find_all) had about the same coarse score.
                twins = [p for p in _top_peaks(result, coarse.width, coarse.height, pool,
                                               peak.score - _TWIN)
                         if not _is_flat(level, p.x, p.y, p.width, p.height)]
                more = self._descend(levels, template, scale, depth, twins, pool)
                return _suppress(placed + more, pool), True, best
        _zero_flat(result, level, coarse.width, coarse.height)
        peaks = _top_peaks(result, coarse.width, coarse.height, pool * min(depth + 1, 2),
                           self.coarse_floor)
        found = self._descend(levels, template, scale, depth, peaks, pool)
        return _suppress(tried + found, pool), False, best

    def _descend(self, levels: list[np.ndarray], template: _Template, scale: float, depth: int,
                 peaks: list[_Peak], pool: int, *, keep_all: bool = False) -> list[_Peak]:
        """Coarse ``peaks`` (at level ``depth``) placed level by level down to full resolution.
        ``keep_all``: keep peaks whatever their score (an absent template's best attempt)."""
        floor = -1.0 if keep_all else self.coarse_floor
        width, height = template.size_at(scale)
        for level in range(depth - 1, -1, -1):
            step = 2**level
            size = (max(3, round(width / step)), max(3, round(height / step)))
            # A coarse peak of periodic content (lines of text, rows of characters) can be a
            # line or a character off: the first step looks a quarter template around it.
            margin = max(6, min(size) // 4) if level == depth - 1 else 6
            placed = [_place(levels[level], template, size, p.x * 2, p.y * 2, margin) for p in peaks]
            peaks = _suppress([p for p in placed if p is not None and p.score >= floor],
                              pool * min(level + 1, 2), reach=0.0 if level else 0.5)
        if abs(scale - 1.0) > 1e-6 and peaks:
            # The DPI steps are 10-25% apart: the best few find their exact scale in between.
            best = [_refine_scale(levels[0], template, p, scale) for p in peaks[:_SCALE_REFINED]]
            peaks = _suppress(best + peaks[_SCALE_REFINED:], len(peaks))
        # At full resolution a peak below ``min_score``, or far behind the best, cannot become
        # the match (above it, blur and sampling phase still reorder peaks).
        if keep_all:
            return peaks
        bar = max(self.min_score, max((p.score for p in peaks), default=0.0) - _BEHIND)
        return [p for p in peaks if p.score >= bar]

    # -- ECP stage 1 ---------------------------------------------------------------------
    def candidates(self, frame: Frame, target: Target, *, limit: int) -> StageOne:
        """Coarse scan over every scale, each peak then placed exactly at full resolution.

        The candidates' positions and scales are full-resolution readings, but their scores
        are gray only: the colour verdict is stage 2's.
        """
        template = self._template(target)
        self._check_fits(template, frame, 1.0)
        levels = [frame.gray()]  # levels[i]: the frame downsampled 2**i times
        found: list[_Peak] = []
        zooms: dict[_Peak, float] = {}  # the zoom of the scan that found each peak
        # The best coarse peak of any scan, however low: when nothing passes, it is placed at
        # full resolution so that a "not found" can say how close the template came.
        nearest: tuple[_Peak, float, int] | None = None
        for scale in self._scale_order(1.0):
            width, height = template.size_at(scale)
            if width > frame.width or height > frame.height or min(width, height) < 4:
                continue
            depth = self._depth(width, height)
            if template.mask is not None:
                # Shrunk, a cut-out's edge pixels blend with whatever is behind it: look closer.
                depth = max(0, depth - 1)
            while len(levels) <= depth:
                below = levels[-1]
                levels.append(cv2.resize(below, (below.shape[1] // 2, below.shape[0] // 2),
                                         interpolation=cv2.INTER_AREA))
            peaks, confirmed, best = self._scan(levels, frame.pixels, template, scale, depth, limit)
            if best is not None and (nearest is None or best.score > nearest[0].score):
                nearest = (best, scale, depth)
            zooms.update((p, 0.5**depth) for p in peaks)
            found.extend(peaks)
            if confirmed or max((p.score for p in found), default=0.0) >= self.scale_accept:
                break
        kept = _suppress(found, limit)
        if not kept and nearest is not None:
            best, scale, depth = nearest
            kept = self._descend(levels, template, scale, depth, [best], 1, keep_all=True)[:1]
            zooms.update((p, 0.5**depth) for p in kept)
        candidates = [Candidate(template.whole_box(p).center, p.score, template.whole_box(p))
                      for p in kept]
        # The zoom of the scan that found the best candidate (each was then placed at full
        # resolution; ECP still refines every one, see ``traits``).
        return StageOne(candidates, zooms[kept[0]] if kept else 1.0)

    # -- stage 2 / single pass -----------------------------------------------------------
    def locate(self, image: Frame, target: Target, *, limit: int = 5, zoom: float = 1.0,
               hint: Candidate | None = None) -> list[Match]:
        """With a stage-1 ``hint``: the verdict around it (gray position, colour score).
        Without: an exhaustive search of ``image`` at every scale (the single-stage path)."""
        template = self._template(target)
        if hint is not None and hint.box is not None:
            return self._verify_hint(image, template, hint.box)
        self._check_fits(template, image, min(self.scales) * zoom)
        gray = image.gray()
        peaks: list[_Peak] = []
        for scale in self._scale_order(zoom):
            width, height = template.size_at(scale)
            if width > image.width or height > image.height or min(width, height) < 4:
                continue
            scaled = template.resized(width, height)
            result = _correlation(gray, scaled.gray, scaled.gray_mask, scaled.silhouette)
            peaks.extend(_top_peaks(result, width, height, limit, self.coarse_floor))
        matches = [self._verdict(image, template, p) for p in _suppress(peaks, limit)]
        return sorted(matches, key=lambda m: -m.score)

    def _verify_hint(self, image: Frame, template: _Template, box: Box) -> list[Match]:
        # Stage 1 placed the hint at full resolution; allow a few pixels for rounding.
        sx = box.width / template.full[0]
        sy = box.height / template.full[1]
        left, top = box.left + template.offset[0] * sx, box.top + template.offset[1] * sy
        size = (max(1, round(template.width * sx)), max(1, round(template.height * sy)))
        margin = 3
        area = Box(left - margin, top - margin, size[0] + 2 * margin,
                   size[1] + 2 * margin).integer().intersection(image.bounds)
        if area is None or area.width < size[0] or area.height < size[1]:
            return []
        crop = image.crop(area)
        peak = _place(crop.gray(), template, size, margin, margin, margin)
        if peak is None:
            return []
        return [self._verdict(crop, template, peak, int(area.left), int(area.top))]

    def _verdict(self, image: Frame, template: _Template, peak: _Peak, ox: int = 0,
                 oy: int = 0) -> Match:
        """The match for a gray peak in ``image`` (whose top-left is at ``ox, oy``): its score
        is the lower of the gray and the colour correlation."""
        score = peak.score
        if self.colour or template.silhouette:
            score = min(score, self._colour_score(image.pixels, template, peak))
        box = template.whole_box(peak, ox, oy)
        return Match(box.center, score, box, self.name)

    @staticmethod
    def _colour_score(pixels: np.ndarray, template: _Template, peak: _Peak) -> float:
        """How well the colours of ``pixels`` under ``peak`` agree with the template's."""
        scaled = template.resized(peak.width, peak.height)
        patch = pixels[peak.y : peak.y + peak.height, peak.x : peak.x + peak.width, :3]
        if template.silhouette:  # one colour: how close it is is the only evidence
            return _colour_closeness(patch, scaled.bgr, scaled.mask)
        return _colour_correlation(patch, scaled.bgr, scaled.mask)

    @staticmethod
    def _check_fits(template: _Template, image: Frame, scale: float) -> None:
        width, height = template.size_at(scale)
        if height > image.height or width > image.width:
            raise TemplateError(
                f"template ({template.full[0]}x{template.full[1]}) is larger than the screen "
                f"image ({image.width}x{image.height})"
            )


# -- correlation ---------------------------------------------------------------------------
def _correlation(image: np.ndarray, template: np.ndarray, mask: np.ndarray | None,
                 either_polarity: bool = False) -> np.ndarray:
    """Normalised correlation (TM_CCOEFF_NORMED, masked when there is a mask) of ``template``
    at every position of ``image``; 0 where the image window is flat (0/0 there).
    ``either_polarity``: a negative correlation counts as well (a silhouette may be darker or
    lighter than what is around it)."""
    result = _raw_correlation(image, template, mask, either_polarity)
    th, tw = template.shape[:2]
    _zero_flat(result, image, tw, th)
    return result


def _raw_correlation(image: np.ndarray, template: np.ndarray, mask: np.ndarray | None,
                     either_polarity: bool) -> np.ndarray:
    """:func:`_correlation` without clearing flat windows (callers check the peaks they use)."""
    if mask is None:
        result = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)
    else:
        result = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED, mask=mask)
    result = np.nan_to_num(result, nan=0.0, posinf=0.0, neginf=0.0)
    if either_polarity:
        result = np.abs(result)
    np.clip(result, -1.0, 1.0, out=result)
    return result


def _zero_flat(result: np.ndarray, image: np.ndarray, tw: int, th: int) -> None:
    """Zero every window of ``result`` whose image window has (almost) no variance."""
    data = image.astype(np.float32)
    mean = cv2.boxFilter(data, -1, (tw, th), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    mean_sq = cv2.sqrBoxFilter(data, -1, (tw, th), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    rows, cols = result.shape
    result[(mean_sq - mean * mean)[:rows, :cols] < 1.0] = 0.0


def _is_flat(image: np.ndarray, x: int, y: int, tw: int, th: int) -> bool:
    return float(image[y : y + th, x : x + tw].std()) < 1.0


def _clear(result: np.ndarray, x: int, y: int) -> None:
    """Zero the 5x5 neighbourhood of a peak that has been looked at (as wide as the local
    maxima of :func:`_top_peaks`: lines of text a few pixels apart are other peaks)."""
    result[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3] = 0.0


def _colour_correlation(patch: np.ndarray, template: np.ndarray, mask: np.ndarray | None) -> float:
    """Normalised correlation of two same-sized colour images over all channels at once (each
    channel's own mean removed), counting only the ``mask`` pixels. A same-shaped picture in
    another colour puts its contrast in other channels and scores low."""
    patch = np.ascontiguousarray(patch)
    af = patch.astype(np.float64)
    bf = template.astype(np.float64)
    if mask is None:
        count = patch.shape[0] * patch.shape[1]
    else:
        count = cv2.countNonZero(mask)
        keep = (mask > 0)[:, :, None]
        af *= keep  # masked-off pixels add nothing to the sums below
        bf *= keep
    if count == 0:
        return 0.0
    # Sums of products (float64; einsum: BLAS is slow for float64 here), then the channel
    # means taken out.
    mean_a = np.array(cv2.mean(patch, mask)[:3])
    mean_b = np.array(cv2.mean(template, mask)[:3])
    af, bf = af.reshape(-1), bf.reshape(-1)
    cross = float(np.einsum("i,i->", af, bf)) - count * float(mean_a @ mean_b)
    var_a = float(np.einsum("i,i->", af, af)) - count * float(mean_a @ mean_a)
    var_b = float(np.einsum("i,i->", bf, bf)) - count * float(mean_b @ mean_b)
    if var_a <= 1e-6 * count or var_b <= 1e-6 * count:
        return 0.0
    return max(0.0, min(1.0, cross / float(np.sqrt(var_a * var_b))))


def _colour_closeness(patch: np.ndarray, template: np.ndarray, mask: np.ndarray | None) -> float:
    """1 when the ``mask`` pixels have the template's colours, falling to 0 at an average
    distance of 96 levels per channel (for one-colour cut-outs, which have no correlation)."""
    if mask is not None and cv2.countNonZero(mask) == 0:
        return 0.0
    distance = float(np.mean(cv2.mean(cv2.absdiff(np.ascontiguousarray(patch), template), mask)[:3]))
    return max(0.0, 1.0 - distance / 96.0)


def _top_peaks(result: np.ndarray, tw: int, th: int, count: int, floor: float) -> list[_Peak]:
    """The ``count`` best local maxima of a correlation map at or above ``floor``, each
    suppressing a template-sized neighbourhood."""
    if count <= 0 or result.size == 0:
        return []
    k = 5 if min(tw, th) >= 5 else 3
    local_max = cv2.dilate(result, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    ys, xs = np.nonzero((result >= local_max) & (result >= floor))
    if len(ys) == 0:
        return []
    scores = result[ys, xs]
    order = np.argsort(-scores, kind="stable")[: 16 * count]
    peaks = [_Peak(int(xs[i]), int(ys[i]), float(scores[i]), tw, th) for i in order]
    # Lines of text a few pixels apart look alike when blurred: peaks a quarter template apart
    # both count (but a text block does not take the whole pool).
    return _suppress(peaks, count, reach=0.25)


def _suppress(peaks: list[_Peak], count: int, reach: float = 0.5) -> list[_Peak]:
    """Best first, dropping a peak whose centre is within ``reach`` templates of a kept one
    (``reach`` 0: only a peak at the very same place)."""
    kept: list[_Peak] = []
    for peak in sorted(peaks, key=lambda p: -p.score):
        if all(abs(peak.x + peak.width / 2 - k.x - k.width / 2) > k.width * reach
               or abs(peak.y + peak.height / 2 - k.y - k.height / 2) > k.height * reach
               for k in kept):
            kept.append(peak)
            if len(kept) == count:
                break
    return kept


def _place(gray: np.ndarray, template: _Template, size: tuple[int, int], x: int, y: int,
           margin: int) -> _Peak | None:
    """The best gray match of ``template`` at ``size`` with its top-left within ``margin``
    pixels of ``(x, y)`` in ``gray``: how a coarse peak is placed one level finer."""
    width, height = size
    rows, cols = gray.shape[:2]
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(cols, x + width + margin), min(rows, y + height + margin)
    if x1 - x0 < width or y1 - y0 < height or min(width, height) < 3:
        return None
    templ, mask = template.gray_at(width, height)
    area = gray[y0:y1, x0:x1]
    result = _raw_correlation(area, templ, mask, template.silhouette)
    _, score, _, (px, py) = cv2.minMaxLoc(result)
    if score <= 0 or _is_flat(area, px, py, width, height):
        return None  # nothing, or a flat window (0/0)
    return _Peak(x0 + px, y0 + py, min(1.0, float(score)), width, height)


def _refine_scale(gray: np.ndarray, template: _Template, peak: _Peak, scale: float) -> _Peak:
    """Hill-climb the template's scale around ``peak`` (full resolution), keeping its centre:
    steps of 4%, then 2% and 1%, at most 15% away from ``scale`` (about half-way to the next
    DPI step, which has its own scan)."""
    best = peak
    current = scale
    for step in (1.04, 1.02, 1.01):
        for _ in range(8):
            improved = False
            for tried in (current * step, current / step):
                if not scale / 1.15 <= tried <= scale * 1.15:
                    continue
                width, height = template.size_at(tried)
                cx, cy = best.x + best.width / 2, best.y + best.height / 2
                placed = _place(gray, template, (width, height), round(cx - width / 2),
                                round(cy - height / 2), 3)
                if placed is not None and placed.score > best.score:
                    best, current, improved = placed, tried, True
                    break
            if not improved:
                break
    return best
