"""Image targets: normalised cross-correlation, coarse-to-fine, multi-scale, colour-checked.

Stage 1 (:meth:`TemplateGrounder.candidates`) scans a downsampled, slightly smoothed gray
frame with a shrunken template at each scale (the same scale first, stopping there when it
matches; for a small template first a level coarser still, whose best few peaks often already
hold an unchanged target), keeps the best coarse peaks (the single best coarse peak picked the
wrong button in our measurements) and places each one level by level with small gray matches
down to full resolution, where the best ones get their colour verdict. Stage 2 (via ECP,
:meth:`TemplateGrounder.locate` with the stage-1 hint) gives the verdict at full resolution and
in colour (or looks up the one stage 1 already gave): grayscale correlation cannot tell a red
icon from a blue one of the same shape, the colour correlation can. A template found at
another scale is judged at the smaller of the two sizes, a large one with both sides slightly
blurred (an application redraws itself at another scale rather than resizing a picture, and
its text drifts by a pixel or two across a panel), and only down to 16 px on screen. In
colour, a match must also have about the template's contrast; and a template of 48 px or more
must agree tile by tile, not only as a whole (correlation as a whole is carried by the
strongest contrast in the picture, such as a window's dark edge).

Transparency: an image target with an alpha channel (``Target.mask``) is matched only where it
is opaque, after trimming the transparent border, so an icon cut out of its background is
found on any background: above full resolution with its transparent part filled in (a plain,
fast correlation), at full resolution with its mask (masked correlation).

Partly covered targets: when nothing matches as a whole, the template's tiles are looked for
and vote for where it is (:meth:`TemplateGrounder._partly_covered`).

Flat regions are handled on purpose: normalised correlation is 0/0 where the screen or the
template has no texture, which OpenCV can report as a perfect match. A template with no detail
is refused with an explanation, and windows of the screen with no variance score 0.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, field

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
# The score from which a peak as good as a confirmed one at the coarse level is followed down
# as another instance of it.
_TWIN_FLOOR = 0.8
# How many positions one level finer a coarse peak stands for (lines of text a coarse pixel
# apart blur into one peak).
_FIRST_STEP = 3
# The deeper first try (see ``candidates``): how many of its peaks, from what template side
# at that level.
_QUICK_DEEPER = 16
_QUICK_MIN_SIDE = 4
# How much of a shrunk cut-out's pixel must be opaque for it to count (of 255).
_WHOLE = 192
# The blur of coarse scans, in coarse pixels.
_SMOOTH_SIGMA = 0.5
# The blur under which a drawing at one scale is compared with one at another, in pixels of
# the smaller (see ``_at_smaller_size``): one pixel per ``_RESAMPLED_DRIFT`` pixels of its
# longer side, at most ``_RESAMPLED_SIGMA``. Redrawn, what lies further along a line or
# further down a page drifts further (every glyph's advance and line's height is rounded
# anew: a 486 px text panel scored 0.78 unblurred, 0.94 at 1 px), while a small picture
# differs by under a pixel and, blurred, looks like any other blob of its size (crops of
# calculator buttons rose from 0.66-0.71 to 0.86-0.92 on unrelated glyphs at 1 px).
_RESAMPLED_SIGMA = 1.0
_RESAMPLED_DRIFT = 400
# How far behind the best peak of a level above full resolution a peak is still followed.
_LEVEL_BEHIND = 0.25
# The score at half resolution from which a peak is followed to full resolution (the last
# step before it: where it is exactly, scales refined). Cut-outs on another background score
# lowest there among the targets found (0.65 lost 4 of 10 of them).
_HALF_FLOOR = 0.55
# Partly covered targets (``_partly_covered``): from what template side they are looked for,
# how many places each searched tile may be at, the tile grid and its smallest tiles, the score a
# tile must reach, the share of the template's detail that must be found, and how far ahead of
# any other place the part found must fit.
_PARTS_MIN_SIDE = 48
_PARTS_PEAKS = 8
_PARTS_GRID = 4
_PARTS_TILE_SIDE = 24
_PARTS_TILE = 0.9
_PARTS_VISIBLE = 0.4
_PARTS_UNIQUE = 0.05
# How many times more (or less) contrast than the template a match may have in colour: the
# same picture, redrawn at another scale too, has the same colours (measured up to 1.33x,
# a thin outline shrunk fades), while a stroke matched to another of its shape at another
# scale (a "1" to a bar, a button's faint edge to a dark line) had 2.0-5.5x; a grayed-out
# copy of a button differs so too. Beyond it the colour score falls in proportion.
_CONTRAST = 1.6
# The mean tile correlation under which a match is not believed whatever its correlation as a
# whole (see ``_tile_agreement``): true matches scored 1.0 at the same scale and 0.70-0.96
# for text redrawn at another scale; a crop of buttons matched on a bare window edge 0.21.
_TILES_AGREE = 0.5
# The shorter side under which a template is not looked for at another scale (``_min_side``).
_SCALED_MIN_SIDE = 16
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
    # Sizes made before (descending the pyramid asks for the same few again and again).
    cache: dict[tuple[str, int, int], _Template | tuple[np.ndarray, np.ndarray | None]] = field(
        default_factory=dict, compare=False, repr=False)

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
        made = self.cache.get(("all", width, height))
        if isinstance(made, _Template):
            return made
        made = self._resized(width, height)
        self.cache["all", width, height] = made
        return made

    def _resized(self, width: int, height: int) -> _Template:
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

    def bgr_like(self, patch: np.ndarray) -> np.ndarray:
        """The colour template with as many channels as ``patch`` (a fourth one of zeros for
        BGRA frames: see :func:`_colour_correlation`)."""
        if patch.shape[2] == 3:
            return self.bgr
        made = self.cache.get(("bgra", self.width, self.height))
        if isinstance(made, tuple):
            return made[0]
        bgra = cv2.cvtColor(self.bgr, cv2.COLOR_BGR2BGRA)
        bgra[:, :, 3] = 0
        self.cache["bgra", self.width, self.height] = (bgra, None)
        return bgra

    @property
    def gray_mask(self) -> np.ndarray | None:
        """The mask of the gray search."""
        return self.outline_mask if self.silhouette else self.mask

    def gray_at(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The gray search's template and mask at a size (what placing a peak needs)."""
        if (width, height) == (self.width, self.height):
            return self.gray, self.gray_mask
        made = self.cache.get(("gray", width, height))
        if isinstance(made, tuple):
            return made
        interp = cv2.INTER_AREA if width < self.width else cv2.INTER_LINEAR
        gray = cv2.resize(self.gray, (width, height), interpolation=interp)
        mask = self.gray_mask
        if mask is not None:
            resized = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)
            # Shrunk, a pixel at the cut-out's edge is part template, part whatever lies behind
            # it on the screen: only (nearly) whole ones count, unless too few are left (thin
            # strokes) or they are all alike, then every one the template touches. (Not for a
            # silhouette: its gray is its shrunk mask, which blends as the screen does.)
            keep = resized >= (_WHOLE if width < self.width else 128)
            if width < self.width and (self.silhouette or int(keep.sum()) < 16
                                       or float(gray[keep].std()) < 2.0):
                keep = resized >= 1
            mask = np.where(keep, np.uint8(255), np.uint8(0))
        self.cache["gray", width, height] = (gray, mask)
        return gray, mask

    def filled_at(self, width: int, height: int) -> np.ndarray:
        """The gray template at a size with the pixels outside its mask set to the mean of
        those inside: an unmasked correlation with it ignores them in its numerator (they are
        0 once the template's mean is taken out), so it ranks places like the masked one, at
        the cost of a plain correlation (OpenCV's masked one is several times slower)."""
        gray, mask = self.gray_at(width, height)
        if mask is None:
            return gray
        made = self.cache.get(("filled", width, height))
        if isinstance(made, tuple):
            return made[0]
        filled = gray.copy()
        inside = mask > 0
        filled[~inside] = np.uint8(round(float(gray[inside].mean()))) if inside.any() else 0
        self.cache["filled", width, height] = (filled, None)
        return filled

    def whole_box(self, peak: _Peak, ox: float = 0.0, oy: float = 0.0) -> Box:
        """The box of the whole template image for a peak of its opaque part."""
        sx, sy = peak.width / self.width, peak.height / self.height
        return Box(ox + peak.x - self.offset[0] * sx, oy + peak.y - self.offset[1] * sy,
                   self.full[0] * sx, self.full[1] * sy)


@dataclass(frozen=True, slots=True)
class _Memo:
    """What a stage 1 leaves for its stage 2: the frame and target it looked at, the prepared
    template, and the candidates it already checked in colour (screen boxes, final scores)."""

    pixels: weakref.ref[np.ndarray]  # (not kept alive by this: a 4K frame is 33 MB)
    timestamp: float
    image: np.ndarray | None
    mask: np.ndarray | None
    template: _Template
    verdicts: list[tuple[Box, float, float | None]]  # box, score, visible part (or None)

    def covers(self, image: Frame, target: Target) -> bool:
        """Whether ``image`` is (a crop of) that frame and ``target`` that target."""
        pixels = self.pixels()
        return (pixels is not None and target.image is self.image and target.mask is self.mask
                and image.timestamp == self.timestamp
                and np.may_share_memory(image.pixels, pixels))

    def verdict(self, box: Box) -> tuple[float, float | None] | None:
        for known, score, visible in self.verdicts:
            if all(abs(a - b) < 1e-3 for a, b in zip(
                    (box.left, box.top, box.width, box.height),
                    (known.left, known.top, known.width, known.height), strict=True)):
                return score, visible
        return None


class _Pyramid:
    """A gray frame and its halvings (``levels[i]``: downsampled ``2**i`` times, made when
    first asked for), each also lightly smoothed for coarse scans (:meth:`smooth`)."""

    def __init__(self, gray: np.ndarray) -> None:
        self._levels = [gray]
        self._smooth: dict[int, np.ndarray] = {}

    def __getitem__(self, depth: int) -> np.ndarray:
        while len(self._levels) <= depth:
            below = self._levels[-1]
            self._levels.append(cv2.resize(below, (below.shape[1] // 2, below.shape[0] // 2),
                                           interpolation=cv2.INTER_AREA))
        return self._levels[depth]

    def smooth(self, depth: int) -> np.ndarray:
        if depth not in self._smooth:
            self._smooth[depth] = _smooth(self[depth])
        return self._smooth[depth]


def _smooth(image: np.ndarray) -> np.ndarray:
    """A slight blur (what makes a coarse correlation forgiving of the sampling phase)."""
    return cv2.GaussianBlur(image, (3, 3), _SMOOTH_SIGMA, borderType=cv2.BORDER_REPLICATE)


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
                 min_score: float = 0.8, coarse_min_side: int = 6, coarse_max_factor: int = 8,
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
        # The last stage 1's prepared template and the verdicts it already gave (stage 2 of
        # the same search looks them up instead of matching again). One per thread: the
        # grounder is shared, and a memo is used only for the frame and target it names.
        self._memos = threading.local()

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
        often as the template keeps ``coarse_min_side`` pixels, at most ``coarse_max_factor``;
        beyond 4x only while it keeps twice that (a coarse template of a few pixels ranks its
        target among many look-alike spots)."""
        side = min(width, height)
        factor = max(1, min(self.coarse_max_factor, side // self.coarse_min_side))
        factor = 1 << (factor.bit_length() - 1)
        while factor > 4 and side // factor < 2 * self.coarse_min_side:
            factor //= 2
        return factor.bit_length() - 1

    def _scan(self, levels: _Pyramid, pixels: np.ndarray, template: _Template, scale: float,
              depth: int, limit: int, verdicts: dict[_Peak, float], *, quick: int = _QUICK,
              only_quick: bool = False,
              masked: bool = False) -> tuple[list[_Peak], bool, _Peak | None]:
        """Peaks (full-resolution gray) of ``template`` at ``scale``, whether the first
        one is already confirmed in colour (then nothing else needs a look), and the best
        coarse peak whatever its score (what an absent template's best score is measured at).

        A scan of the coarsest level, then the best ``quick`` coarse peaks straight down to
        full resolution (the common case: the target is the best coarse peak); failing that
        (unless ``only_quick``) every kept peak is placed again one level finer, down to full
        resolution, keeping the best ``pool`` at each step (look-alikes that blur together at
        the coarse level separate on the way down). ``pixels``: the frame's own pixels, for
        the colour check; ``verdicts`` gets the final score of each peak checked in colour.
        ``masked``: a cut-out is matched with its mask at every level (slower, but a sparse
        cut-out, thin strokes on nothing, is found only so).
        """
        factor = 2**depth
        width, height = template.size_at(scale)
        size = (max(3, round(width / factor)), max(3, round(height / factor)))
        # Both sides smoothed a little at the coarse level: a target at another phase of the
        # 2**depth grid than the template was shrunk at then still correlates well (without
        # it a 16 px template's target ranked up to 100th at 4x). A cut-out is scanned with
        # its transparent part filled in (see ``filled_at``); its mask counts at full
        # resolution.
        if masked:
            level = levels[depth]
            gray, mask = template.gray_at(*size)
            result = _raw_correlation(level, gray, mask, template.silhouette)
        else:
            smooth = depth > 0
            level = levels.smooth(depth) if smooth else levels[depth]
            filled = template.filled_at(*size)
            result = _raw_correlation(level, _smooth(filled) if smooth else filled, None,
                                      template.silhouette)
        _, best_score, _, (bx, by) = cv2.minMaxLoc(result)
        coarse = _Peak(bx, by, float(best_score), size[0], size[1])
        best = coarse
        confident = self.traits.confident_score or 1.0
        pool = max(limit, self.pool)
        tried: list[_Peak] = []
        for _ in range(quick):
            _, score, _, (x, y) = cv2.minMaxLoc(result)
            if score < self.coarse_floor:
                break
            _clear(result, x, y)
            if _is_flat(level, x, y, coarse.width, coarse.height):
                continue
            peak = _Peak(x, y, float(score), coarse.width, coarse.height)
            placed = self._descend(levels, template, scale, depth, [peak], 1, masked=masked)
            tried.extend(placed)
            final = 0.0
            if placed and placed[0].score >= confident:
                final = self._judge(pixels, template, placed[0])
                verdicts[placed[0]] = final
            if final >= confident:
                # Found. Other instances (find_all) had about the same coarse score.
                twins = [p for p in _top_peaks(result, coarse.width, coarse.height, pool,
                                               peak.score - _TWIN)
                         if not _is_flat(level, p.x, p.y, p.width, p.height)]
                # Another instance correlates about as well as this one at every level.
                more = self._descend(levels, template, scale, depth, twins, pool, spread=False,
                                     masked=masked, floor=max(self.coarse_floor, _TWIN_FLOOR))
                return _suppress(placed + more, pool), True, best
        if only_quick:
            return _suppress(tried, pool), False, best
        # Windows with (almost) no variance score anything (0/0): the peaks found there are
        # dropped (checking the peaks costs far less than a variance map of the level).
        # (Another scale: fewer, its target is one of the best few if it is there at all.)
        wanted = pool * min(depth + 1, 2) if abs(scale - 1.0) < 1e-6 else pool
        peaks = [p for p in _top_peaks(result, coarse.width, coarse.height, 2 * wanted,
                                       self.coarse_floor)
                 if not _is_flat(level, p.x, p.y, p.width, p.height)][:wanted]
        found = self._descend(levels, template, scale, depth, peaks, pool, masked=masked)
        return _suppress(tried + found, pool), False, best

    def _descend(self, levels: _Pyramid, template: _Template, scale: float, depth: int,
                 peaks: list[_Peak], pool: int, *, keep_all: bool = False,
                 spread: bool = True, masked: bool = False, floor: float | None = None,
                 merge: bool = True) -> list[_Peak]:
        """Coarse ``peaks`` (at level ``depth``) placed level by level down to full resolution.
        ``keep_all``: keep peaks whatever their score (an absent template's best attempt);
        ``spread``: the first step keeps a few positions per peak (see below); ``floor``: the
        score from which a peak is followed (default ``coarse_floor``); ``merge``: peaks
        within half a template of a better one are dropped at full resolution."""
        if floor is None:
            floor = -1.0 if keep_all else self.coarse_floor
        width, height = template.size_at(scale)
        for level in range(depth - 1, -1, -1):
            step = 2**level
            size = (max(3, round(width / step)), max(3, round(height / step)))
            # A coarse peak of periodic content (lines of text, rows of characters) can be a
            # line or a character off (at 8x a line of text is two coarse pixels): the first step
            # looks up to half a template (at most 6 coarse pixels) around it.
            margin = max(6, min(min(size) // 2, 12)) if level == depth - 1 else 6
            # ... and may stand for several of those (the best of them at the coarse level is
            # not always the best at full resolution): the first step keeps a few.
            some = _FIRST_STEP if spread and level == depth - 1 else 1
            placed = [q for p in peaks
                      for q in _place_some(levels[level], template, size, p.x * 2, p.y * 2, margin,
                                           some, masked=masked or level == 0)]
            # One peak followed alone (a quick try) keeps its best position after that step.
            keep = pool * min(level + 1, 2) if pool > 1 else 1
            if level > 0 and placed and not keep_all:
                # Far behind the best at this level: not followed further (what keeps an
                # absent template's search short).
                floor = max(floor, max(p.score for p in placed) - _LEVEL_BEHIND)
                if level == 1:
                    floor = max(floor, _HALF_FLOOR)
            peaks = _suppress([p for p in placed if p.score >= floor],
                              max(keep, some), reach=0.5 if level == 0 and merge else 0.0)
            if level == 1 and not keep_all:
                # The last step (and refining the scale) costs the most: not for a place that
                # is blank where the template has detail.
                peaks = _with_detail(levels[1], template, peaks)
        if abs(scale - 1.0) > 1e-6 and peaks:
            # The DPI steps are 10-25% apart: the best few find their exact scale in between.
            best = [_refine_scale(levels[0], template, p, scale) for p in peaks[:_SCALE_REFINED]]
            peaks = _suppress(best + peaks[_SCALE_REFINED:], len(peaks))
            peaks = sorted((_at_smaller_size(levels[0], template, p) for p in peaks),
                           key=lambda p: -p.score)
        # At full resolution a peak below ``min_score``, or far behind the best, cannot become
        # the match (above it, blur and sampling phase still reorder peaks).
        if keep_all:
            return peaks
        bar = max(self.min_score, max((p.score for p in peaks), default=0.0) - _BEHIND)
        return [p for p in peaks if p.score >= bar]

    # -- ECP stage 1 ---------------------------------------------------------------------
    def candidates(self, frame: Frame, target: Target, *, limit: int) -> StageOne:
        """Coarse scan over every scale, each peak then placed exactly at full resolution.

        The candidates' positions and scales are full-resolution readings; their scores are
        gray, but for those already checked in colour here, whose verdicts stage 2 looks up.
        """
        template = self._template(target)
        self._check_fits(template, frame, 1.0)
        verdicts: dict[_Peak, float] = {}
        levels = _Pyramid(frame.gray())
        found: list[_Peak] = []
        zooms: dict[_Peak, float] = {}  # the zoom of the scan that found each peak
        # The best coarse peak of any scan, however low: when nothing passes, it is placed at
        # full resolution so that a "not found" can say how close the template came.
        nearest: tuple[_Peak, float, int] | None = None
        for scale in self._scale_order(1.0):
            width, height = template.size_at(scale)
            if width > frame.width or height > frame.height or min(width, height) < _min_side(scale):
                continue
            depth = self._depth(width, height)
            deeper = depth < 2 and min(width, height) >= _QUICK_MIN_SIDE * 2 ** (depth + 1)
            if deeper and abs(scale - 1.0) > 1e-6:
                # Another scale is a guess whose every peak is checked at full resolution
                # anyway: it is scanned a level coarser (a scan at depth 0 or 1 costs 5-40 times
                # one a level coarser).
                depth += 1
            elif deeper:
                # The same scale: first try the best few peaks of a scan a level coarser (a
                # coarse template of 4-7 pixels still often ranks an unchanged target first),
                # and scan at this depth only when none of them is confirmed.
                peaks, confirmed, _ = self._scan(levels, frame.pixels, template, scale,
                                                 depth + 1, limit, verdicts, quick=_QUICK_DEEPER,
                                                 only_quick=True)
                if confirmed:
                    zooms.update((p, 0.5 ** (depth + 1)) for p in peaks)
                    found.extend(peaks)
                    break
            peaks, confirmed, best = self._scan(levels, frame.pixels, template, scale, depth,
                                                limit, verdicts)
            if best is not None and (nearest is None or best.score > nearest[0].score):
                nearest = (best, scale, depth)
            zooms.update((p, 0.5**depth) for p in peaks)
            found.extend(peaks)
            if confirmed or max((p.score for p in found), default=0.0) >= self.scale_accept:
                break
        if template.mask is not None and not any(p.score >= self.min_score for p in found):
            # A cut-out not found with its transparent part filled in (thin strokes on
            # nothing): at the same scale with its mask at every level.
            width, height = template.size_at(1.0)
            depth = self._depth(width, height)
            peaks, _, _ = self._scan(levels, frame.pixels, template, 1.0, depth, limit, verdicts,
                                     masked=True)
            zooms.update((p, 0.5**depth) for p in peaks)
            found.extend(peaks)
        parts: dict[_Peak, float] = {}
        if (template.mask is None and not template.silhouette
                and min(template.width, template.height) >= _PARTS_MIN_SIDE
                and not any(p.score >= self.min_score for p in found)):
            covered = self._partly_covered(levels, frame.pixels, template)
            if covered is not None:
                peak, score, visible = covered
                verdicts[peak] = score
                parts[peak] = visible
                zooms[peak] = 1.0
                found.append(peak)
        kept = _suppress(found, limit)
        if not kept and nearest is not None:
            best, scale, depth = nearest
            kept = self._descend(levels, template, scale, depth, [best], 1, keep_all=True)[:1]
            zooms.update((p, 0.5**depth) for p in kept)
        candidates = [Candidate(template.whole_box(p).center, p.score, template.whole_box(p))
                      for p in kept]
        to_screen = frame.to_screen_transform
        self._memos.last = _Memo(
            weakref.ref(frame.pixels), frame.timestamp, target.image, target.mask, template,
            [(to_screen.apply_box(template.whole_box(p)), score, parts.get(p))
             for p, score in verdicts.items() if p in kept])
        # The zoom of the scan that found the best candidate (each was then placed at full
        # resolution; ECP still refines every one, see ``traits``).
        return StageOne(candidates, zooms[kept[0]] if kept else 1.0)

    def _partly_covered(self, levels: _Pyramid, pixels: np.ndarray,
                        template: _Template) -> tuple[_Peak, float, float] | None:
        """The best place where a good part of the template is exactly visible, the rest
        hidden (another window over it): the template's final score there (over its visible
        part) and how much of it is visible; None when no place shows enough of it.

        A covered target correlates too little as a whole (a text panel 15% covered: 0.46),
        so its parts are looked for: the most detailed tile of each quarter of the template is
        searched for on its own (as a template, same scale), each place one was found at says
        where the template would be, and there all its tiles vote (:func:`_visible_part`):
        half of them, holding 40% of the template's detail (variance), must be found exactly,
        and the part found must fit no other of those places about as well.
        """
        tiles = _tiles(template.gray)
        # The most detailed tile of each quarter of the template (a cover hides a corner or a
        # side: some quarter stays visible).
        quarters: dict[tuple[bool, bool], tuple[tuple[int, int, int, int], float]] = {}
        for box, detail in tiles:
            quarter = (2 * box[0] >= template.width, 2 * box[1] >= template.height)
            if quarter not in quarters or detail > quarters[quarter][1]:
                quarters[quarter] = (box, detail)
        places: set[tuple[int, int]] = set()
        for (x0, y0, x1, y1), _ in quarters.values():
            part = _Template(np.ascontiguousarray(template.gray[y0:y1, x0:x1]),
                             np.ascontiguousarray(template.bgr[y0:y1, x0:x1]), None, (0, 0),
                             (x1 - x0, y1 - y0))
            depth = self._depth(part.width, part.height)
            # Only exact tiles count: the best few coarse peaks straight down suffice.
            found, _, _ = self._scan(levels, pixels, part, 1.0, depth, _PARTS_PEAKS, {},
                                     quick=_PARTS_PEAKS, only_quick=True)
            places.update((p.x - x0, p.y - y0) for p in found if p.score >= _PARTS_TILE)
        width, height = template.width, template.height
        gray = levels[0]
        best: tuple[_Peak, float, float, np.ndarray] | None = None
        for x, y in places:
            seen = _visible_part(gray, template, tiles, x, y)
            if seen is None:
                continue
            mask, visible = seen
            score = float(_raw_correlation(gray[y : y + height, x : x + width], template.gray,
                                           mask, False)[0, 0])
            if self.colour:
                colour_patch = pixels[y : y + height, x : x + width]
                score = min(score, _colour_correlation(colour_patch,
                                                       template.bgr_like(colour_patch), mask))
            if score >= self.min_score and (best is None or score > best[1]):
                best = (_Peak(x, y, score, width, height), score, visible, mask)
        if best is None:
            return None
        peak, score, visible, mask = best
        # The part seen must say which place it is: when it fits another place about as well
        # (the frame of a button whose label is what differs), it is not the template's.
        for x, y in places:
            if abs(x - peak.x) <= width // 2 and abs(y - peak.y) <= height // 2:
                continue
            if x >= 0 and y >= 0 and x + width <= gray.shape[1] and y + height <= gray.shape[0]:
                other = float(_raw_correlation(gray[y : y + height, x : x + width],
                                               template.gray, mask, False)[0, 0])
                if other >= score - _PARTS_UNIQUE:
                    return None
        return peak, score, visible

    # -- stage 2 / single pass -----------------------------------------------------------
    def locate(self, image: Frame, target: Target, *, limit: int = 5, zoom: float = 1.0,
               hint: Candidate | None = None) -> list[Match]:
        """With a stage-1 ``hint``: the verdict around it (gray position, colour score).
        Without: an exhaustive search of ``image`` at every scale (the single-stage path)."""
        memo: _Memo | None = getattr(self._memos, "last", None)
        if memo is not None and memo.covers(image, target):
            template = memo.template
            if hint is not None and hint.box is not None:
                known = memo.verdict(image.to_screen_transform.apply_box(hint.box))
                if known is not None:
                    score, visible = known
                    extra = {} if visible is None else {"visible": round(visible, 3)}
                    return [Match(hint.box.center, score, hint.box, self.name, extra=extra)]
        else:
            template = self._template(target)
        if hint is not None and hint.box is not None:
            return self._verify_hint(image, template, hint.box)
        self._check_fits(template, image, min(self.scales) * zoom)
        gray = image.gray()
        peaks: list[_Peak] = []
        for scale in self._scale_order(zoom):
            width, height = template.size_at(scale)
            if width > image.width or height > image.height or min(width, height) < _min_side(scale / zoom):
                continue
            scaled = template.resized(width, height)
            result = _correlation(gray, scaled.gray, scaled.gray_mask, scaled.silhouette)
            peaks.extend(_top_peaks(result, width, height, limit, self.coarse_floor))
        matches = [self._verdict(image, template, _at_smaller_size(gray, template, p))
                   for p in _suppress(peaks, limit)]
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
        gray = crop.gray()
        peak = _place(gray, template, size, margin, margin, margin)
        if peak is None:
            return []
        peak = _at_smaller_size(gray, template, peak)
        return [self._verdict(crop, template, peak, int(area.left), int(area.top))]

    def _verdict(self, image: Frame, template: _Template, peak: _Peak, ox: int = 0,
                 oy: int = 0) -> Match:
        """The match for a gray peak in ``image`` (whose top-left is at ``ox, oy``): its score
        is the lower of the gray and the colour correlation."""
        box = template.whole_box(peak, ox, oy)
        return Match(box.center, self._judge(image.pixels, template, peak), box, self.name)

    def _judge(self, pixels: np.ndarray, template: _Template, peak: _Peak) -> float:
        """The final score of a gray peak in ``pixels``: the lower of its gray correlation and
        its colour score (unless ``colour`` is off); no more than its tile agreement where that
        is under ``_TILES_AGREE``."""
        score = peak.score
        if self.colour or template.silhouette:
            score = min(score, self._colour_score(pixels, template, peak))
        agreement = _tile_agreement(pixels, template, peak)
        return score if agreement >= _TILES_AGREE else min(score, agreement)

    @staticmethod
    def _colour_score(pixels: np.ndarray, template: _Template, peak: _Peak) -> float:
        """How well the colours of ``pixels`` under ``peak`` agree with the template's."""
        patch = pixels[peak.y : peak.y + peak.height, peak.x : peak.x + peak.width]
        if (peak.width, peak.height) == (template.width, template.height):
            if template.silhouette:  # one colour: how close it is is the only evidence
                return _colour_closeness(patch[:, :, :3], template.bgr, template.mask)
            return _colour_correlation(patch, template.bgr_like(patch), template.mask)
        # Another scale: compared as the gray score is (see _at_smaller_size).
        pair = _both_at_smaller_size(np.ascontiguousarray(patch[:, :, :3]), template, peak,
                                     colour=True)
        compare = _colour_closeness if template.silhouette else _colour_correlation
        score = compare(*pair)
        softened = _softened(*pair)
        return score if softened is None else max(score, compare(*softened))

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
        # Unmasked, OpenCV gives 0 or +-1 (clipped below) where a window is flat, never NaN.
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
    _, std = cv2.meanStdDev(image[y : y + th, x : x + tw])
    return float(std[0, 0]) < 1.0


def _clear(result: np.ndarray, x: int, y: int) -> None:
    """Zero the 5x5 neighbourhood of a peak that has been looked at (as wide as the local
    maxima of :func:`_top_peaks`: lines of text a few pixels apart are other peaks)."""
    result[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3] = 0.0


def _colour_correlation(patch: np.ndarray, template: np.ndarray, mask: np.ndarray | None) -> float:
    """Normalised correlation of two same-sized colour images over their colour channels at
    once (each channel's own mean removed), counting only the ``mask`` pixels. A same-shaped
    picture in another colour puts its contrast in other channels and scores low; one with
    more than ``_CONTRAST`` times more or less contrast than the other scores that much lower.

    ``patch`` may be BGRA (a view into a captured frame, not copied): ``template`` then has a
    fourth channel of zeros, which leaves the fourth channel out of the cross term below.
    Computed from exact uint8 sums (OpenCV's norms and channel statistics, in float64).
    """
    count = patch.shape[0] * patch.shape[1] if mask is None else cv2.countNonZero(mask)
    if count == 0:
        return 0.0
    mean_a, std_a = (v[:3, 0] for v in cv2.meanStdDev(patch, mask=mask))
    mean_b, std_b = (v[:3, 0] for v in cv2.meanStdDev(template, mask=mask))
    # sum(a * b) over the pixels and colour channels, from |a|^2 + |b|^2 - |a - b|^2
    # (the template's zero fourth channel takes the patch's out of it).
    products = (cv2.norm(patch, cv2.NORM_L2SQR, mask=mask)
                + cv2.norm(template, cv2.NORM_L2SQR, mask=mask)
                - cv2.norm(patch, template, cv2.NORM_L2SQR, mask=mask)) / 2
    cross = products - count * float(mean_a @ mean_b)
    var_a = count * float(std_a @ std_a)
    var_b = count * float(std_b @ std_b)
    if var_a <= 1e-6 * count or var_b <= 1e-6 * count:
        return 0.0
    score = cross / math.sqrt(var_a * var_b)
    contrast = math.sqrt(max(var_a, var_b) / min(var_a, var_b))
    if contrast > _CONTRAST:
        score *= _CONTRAST / contrast
    return max(0.0, min(1.0, score))


def _colour_closeness(patch: np.ndarray, template: np.ndarray, mask: np.ndarray | None) -> float:
    """1 when the ``mask`` pixels have the template's colours, falling to 0 at an average
    distance of 96 levels per channel (for one-colour cut-outs, which have no correlation)."""
    if mask is not None and cv2.countNonZero(mask) == 0:
        return 0.0
    distance = float(np.mean(cv2.mean(cv2.absdiff(np.ascontiguousarray(patch), template), mask)[:3]))
    return max(0.0, 1.0 - distance / 96.0)


def _top_peaks(result: np.ndarray, tw: int, th: int, count: int, floor: float,
               reach: float = 0.25) -> list[_Peak]:
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
    return _suppress(peaks, count, reach=reach)


def _suppress(peaks: list[_Peak], count: int, reach: float = 0.5) -> list[_Peak]:
    """Best first, dropping a peak whose centre is within ``reach`` templates of a kept one
    (``reach`` 0: only a peak at the very same place)."""
    kept: list[_Peak] = []
    if reach <= 0:
        seen: set[tuple[float, float]] = set()
        for peak in sorted(peaks, key=lambda p: -p.score):
            centre = (peak.x + peak.width / 2, peak.y + peak.height / 2)
            if centre not in seen:
                seen.add(centre)
                kept.append(peak)
                if len(kept) == count:
                    break
        return kept
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
    found = _place_some(gray, template, size, x, y, margin, 1)
    return found[0] if found else None


def _place_some(gray: np.ndarray, template: _Template, size: tuple[int, int], x: int, y: int,
                margin: int, count: int, *, masked: bool = True) -> list[_Peak]:
    """Like :func:`_place`, but the ``count`` best local maxima in the window: a coarse peak
    of periodic content (lines of text) stands for several positions one level finer.
    ``masked`` False: a cut-out is placed with its transparent part filled in (above full
    resolution, where its mask blends with the background anyway)."""
    width, height = size
    rows, cols = gray.shape[:2]
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(cols, x + width + margin), min(rows, y + height + margin)
    if x1 - x0 < width or y1 - y0 < height or min(width, height) < 3:
        return []
    templ, mask = template.gray_at(width, height)
    if not masked and mask is not None:
        templ, mask = template.filled_at(width, height), None
    area = gray[y0:y1, x0:x1]
    result = _raw_correlation(area, templ, mask, template.silhouette)
    found: list[_Peak] = []
    for _ in range(count):
        _, score, _, (px, py) = cv2.minMaxLoc(result)
        if score <= 0:
            break  # nothing (more)
        _clear(result, px, py)
        if _is_flat(area, px, py, width, height):
            continue  # a flat window (0/0)
        found.append(_Peak(x0 + px, y0 + py, min(1.0, float(score)), width, height))
    return found


def _with_detail(level: np.ndarray, template: _Template, peaks: list[_Peak]) -> list[_Peak]:
    """The ``peaks`` (of one size, in ``level``) under which the screen is not flat in half or
    more of the template's detailed tiles (:func:`_tiles`; templates of ``_PARTS_MIN_SIDE`` px
    or more at full resolution). Tiles are as robust as that to where a peak is exactly and at
    what scale, unlike a correlation. A large template's correlation as a whole can be carried
    by one strong edge (see :func:`_tile_agreement`); along a window's long bare edge every
    place scores so, and following all of them down took 4 s."""
    if not peaks or template.silhouette:
        return peaks
    width, height = peaks[0].width, peaks[0].height
    if min(width, height) * 2 < _PARTS_MIN_SIDE:
        return peaks
    tiles = _tiles(template.filled_at(width, height))
    if len(tiles) < 4:
        return peaks
    kept = []
    for peak in peaks:
        area = level[peak.y : peak.y + height, peak.x : peak.x + width]
        if area.shape[:2] != (height, width):
            kept.append(peak)
            continue
        flat = sum(float(cv2.meanStdDev(area[y0:y1, x0:x1])[1][0, 0]) < 1.0
                   for (x0, y0, x1, y1), _ in tiles)
        if 2 * flat < len(tiles):
            kept.append(peak)
    return kept


def _tile_agreement(pixels: np.ndarray, template: _Template, peak: _Peak) -> float:
    """How well the picture under ``peak`` agrees with the template everywhere: the mean
    correlation of the template's tiles that have detail with the same tiles of the screen,
    compared at the smaller of the two sizes as :func:`_at_smaller_size` does (1.0 for a
    template under ``_PARTS_MIN_SIDE`` pixels, a cut-out or a silhouette: too few tiles, or
    tiles of nothing). Normalised correlation as a whole is carried by the strongest contrast
    in the picture: a crop of calculator buttons that ends in a window's dark bottom edge
    scored 0.94 on a bare window edge, where its buttons' tiles find nothing."""
    width, height = min(peak.width, template.width), min(peak.height, template.height)
    if (min(width, height) < _PARTS_MIN_SIDE or template.mask is not None
            or template.silhouette):
        return 1.0
    patch = cv2.cvtColor(pixels[peak.y : peak.y + peak.height, peak.x : peak.x + peak.width],
                         cv2.COLOR_BGRA2GRAY if pixels.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    templ = template.gray
    if (peak.width, peak.height) != (template.width, template.height):
        patch, templ, _ = _both_at_smaller_size(patch, template, peak)
        softened = _softened(patch, templ, None)
        if softened is not None:
            patch, templ, _ = softened
    scores = []
    for (x0, y0, x1, y1), _ in _tiles(templ):
        seen = patch[y0:y1, x0:x1]
        flat = float(cv2.meanStdDev(seen)[1][0, 0]) < 1.0
        scores.append(0.0 if flat else float(cv2.matchTemplate(seen, templ[y0:y1, x0:x1],
                                                                 cv2.TM_CCOEFF_NORMED)[0, 0]))
    return sum(scores) / len(scores) if scores else 1.0


def _tiles(gray: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
    """A gray template's tiles (a grid of up to ``_PARTS_GRID`` x ``_PARTS_GRID``, tiles of at
    least ``_PARTS_TILE_SIDE`` pixels where the template is large enough) with detail enough to
    say where they are: each box and its detail, its share of the template's variance (what it
    adds to the correlation; a panel's text counts, its plain border hardly)."""
    height, width = gray.shape
    rows = max(2, min(_PARTS_GRID, height // _PARTS_TILE_SIDE))
    cols = max(2, min(_PARTS_GRID, width // _PARTS_TILE_SIDE))
    ys = np.linspace(0, height, rows + 1).astype(int)
    xs = np.linspace(0, width, cols + 1).astype(int)
    tiles = []
    for i in range(rows):
        for j in range(cols):
            x0, y0, x1, y1 = int(xs[j]), int(ys[i]), int(xs[j + 1]), int(ys[i + 1])
            _, spread = cv2.meanStdDev(gray[y0:y1, x0:x1])
            if float(spread[0, 0]) >= 4.0:
                tiles.append(((x0, y0, x1, y1), (x1 - x0) * (y1 - y0) * float(spread[0, 0]) ** 2))
    return tiles


def _visible_part(gray: np.ndarray, template: _Template,
                  tiles: list[tuple[tuple[int, int, int, int], float]], x: int,
                  y: int) -> tuple[np.ndarray, float] | None:
    """Tile-wise voting with the template's top-left at ``(x, y)``: a mask of the tiles found
    (``_PARTS_TILE``) exactly there, give or take a pixel, and their share of the template's
    detail; None when the template does not fit there, fewer than half the tiles (at least 3)
    or too little of the detail (``_PARTS_VISIBLE``) are found, or the missing tiles are not
    what one covering rectangle would hide."""
    height, width = template.gray.shape
    rows, cols = gray.shape
    if x < 0 or y < 0 or x + width > cols or y + height > rows:
        return None
    mask = np.zeros((height, width), np.uint8)
    found: list[tuple[int, int, int, int]] = []
    missed: list[tuple[int, int, int, int]] = []
    seen = 0.0
    for (x0, y0, x1, y1), detail in tiles:
        wx0, wy0 = max(0, x + x0 - 1), max(0, y + y0 - 1)
        area = gray[wy0 : min(rows, y + y1 + 1), wx0 : min(cols, x + x1 + 1)]
        tile = template.gray[y0:y1, x0:x1]
        if area.shape[0] < tile.shape[0] or area.shape[1] < tile.shape[1]:
            continue
        _, score, _, _ = cv2.minMaxLoc(cv2.matchTemplate(area, tile, cv2.TM_CCOEFF_NORMED))
        if score >= _PARTS_TILE:
            mask[y0:y1, x0:x1] = 255
            found.append((x0, y0, x1, y1))
            seen += detail
        else:
            missed.append((x0, y0, x1, y1))
    visible = seen / max(sum(d for _, d in tiles), 1e-9)
    if len(found) < max(3, len(tiles) / 2) or visible < _PARTS_VISIBLE:
        return None
    if missed:
        # What a window hides of another is one rectangle: no tile found inside the box of
        # the missing ones (else it is other content, another label on the same button).
        left, top = min(b[0] for b in missed), min(b[1] for b in missed)
        right, bottom = max(b[2] for b in missed), max(b[3] for b in missed)
        if any(left <= b[0] and b[2] <= right and top <= b[1] and b[3] <= bottom for b in found):
            return None
    return mask, visible


def _min_side(scale: float) -> int:
    """The fewest pixels a template may have on its shorter side on screen at ``scale``: at its
    own scale 4, at another 16 (shrunk below that, a calculator's "+" and the tail of a "g"
    scored 0.80-0.82 on dots and dashes of other text: too little is left of either drawing)."""
    return 4 if abs(scale - 1.0) < 1e-6 else _SCALED_MIN_SIDE


def _at_smaller_size(gray: np.ndarray, template: _Template, peak: _Peak) -> _Peak:
    """A peak of the template at another size than its own, scored where both are drawn at
    the smaller of the two sizes (the screen patch shrunk to the template, or the template
    shrunk to the patch), and softened alike where that helps (:func:`_softened`).

    An application drawn at another scale renders its own pixels, it does not resize a
    picture: a star's one-pixel outline stays one pixel, text is hinted and spaced anew. So
    only what both sizes show counts: the finer one's detail is shrunk away, and what is left
    differs in where strokes fall, by more the larger the drawing, which the softening
    forgives (a 16 px star found at 2x scored 0.76 enlarged, 0.88 shrunk, too small to be
    softened; a text panel redrawn at twice its font size 0.78 shrunk, 0.94 softened)."""
    if (peak.width, peak.height) == (template.width, template.height):
        return peak
    patch, templ, mask = _both_at_smaller_size(
        gray[peak.y : peak.y + peak.height, peak.x : peak.x + peak.width], template, peak)
    if _is_flat(patch, 0, 0, patch.shape[1], patch.shape[0]):
        return peak
    score = float(_raw_correlation(patch, templ, mask, template.silhouette)[0, 0])
    softened = _softened(patch, templ, mask)
    if softened is not None:
        score = max(score, float(_raw_correlation(*softened, template.silhouette)[0, 0]))
    return _Peak(peak.x, peak.y, score, peak.width, peak.height)


def _both_at_smaller_size(patch: np.ndarray, template: _Template, peak: _Peak, *,
                          colour: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The screen ``patch`` under ``peak`` (gray, or BGR with ``colour``) and the template, with
    its mask, at the smaller of their two sizes: the patch shrunk to the template, or the
    template shrunk to the patch."""
    if peak.width * peak.height > template.width * template.height:
        patch = cv2.resize(patch, (template.width, template.height), interpolation=cv2.INTER_AREA)
        return (patch, template.bgr, template.mask) if colour else (patch, template.gray,
                                                                     template.gray_mask)
    if colour:
        scaled = template.resized(peak.width, peak.height)
        return patch, scaled.bgr, scaled.mask
    return (patch, *template.gray_at(peak.width, peak.height))


def _softened(patch: np.ndarray, template: np.ndarray, mask: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """Both images (gray or colour, one size) blurred alike (``_RESAMPLED_SIGMA``,
    ``_RESAMPLED_DRIFT``), to compare drawings of one thing at two scales; their mask without
    the band along its edge that the blur mixes with what lies outside it. None when a blur
    would change nothing or leave too little of the mask."""
    sigma = min(_RESAMPLED_SIGMA, max(patch.shape[:2]) / _RESAMPLED_DRIFT)
    if sigma < 0.25:  # (a blur of under a quarter pixel changes nothing)
        return None
    if mask is not None:
        mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
        if cv2.countNonZero(mask) < 16:
            return None

    def soften(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)

    return soften(patch), soften(template), mask


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
