"""Reading a vision element's whole label: OCR of its own box.

Measured on galculator's buttons at 4K (benchmarks/vision_elements.py): RapidOCR's
recognition model reads words and longer labels well and fast (~5 ms a box), but misses or
misreads a third of one- and two-character labels ("/", "-", "<-", "." as '"', "C" as "c");
Tesseract (``--psm 6``, 3x upscale) reads most of those but fails on others ("*" as ">K",
"sqrt" as "sat") and costs ~90 ms a call. So:

* every label is read by RapidOCR (batched, cached by line pixels in the engine);
* short labels (about three characters or fewer) are also read by Tesseract, all of them in
  **one** call: their crops, upscaled, dark-on-light, stacked one per line in a mosaic image
  (~0.25 s for 30 labels instead of ~2.5 s one by one);
* where the two disagree, a third reading breaks the tie: RapidOCR on the glyphs repeated
  three times ("777" reads better than a lone "7": the model is trained on words), then the
  shape of a lone blob ("." or "-"), then RapidOCR's confidence.

Readings are cached by a hash of the crop's pixels, so an unchanged control costs a hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from guiagent.geometry import Box
from guiagent.grounding.ocr import RapidOcrEngine

__all__ = ["LabelReader", "Reading"]

_SHORT = 3.2  # labels estimated at up to this many characters get the Tesseract vote
_UPSCALE = 3  # Tesseract wants glyphs ~30 px tall; 4K UI text is 10-25 px
# Characters OCR models return for screen punctuation, and what the label says.
_LOOKALIKES = str.maketrans({"·": ".", "•": ".", "—": "-", "–": "-", "−": "-", "‐": "-",
                             "×": "x", "’": "'", "‘": "'", "“": '"', "”": '"', "＊": "*"})


@dataclass(frozen=True, slots=True)
class Reading:
    """The text of one label box and how sure the reading is (0-1; 0: nothing read)."""

    text: str
    score: float


def normalise(text: str) -> str:
    """NFKC (full-width "８" -> "8"), common look-alikes, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_LOOKALIKES)
    return " ".join(text.split())


def estimate_chars(box: Box) -> float:
    """Roughly how many characters a one-line text box holds (glyphs ~0.55 em wide)."""
    return box.width / max(box.height * 0.55, 1.0)


class LabelReader:
    """Reads label boxes (frame pixels) of one image: :meth:`read`.

    ``rapid``: the RapidOCR engine (its model loads on first use). ``tesseract``: use the
    ``tesseract`` binary for short labels when it is installed (``"auto"``), always (``True``:
    an error when missing) or never. ``cache_size``: readings kept by pixel hash.
    """

    def __init__(self, *, rapid: RapidOcrEngine | None = None, tesseract: bool | str = "auto",
                 cache_size: int = 8192, timeout: float = 30.0) -> None:
        self.rapid = rapid or RapidOcrEngine(min_confidence=0.2, batch_size=8)
        exe = shutil.which("tesseract")
        if tesseract is True and exe is None:
            raise FileNotFoundError("tesseract is not on PATH: `sudo apt-get install tesseract-ocr`")
        self._tesseract = exe if tesseract in (True, "auto") else None
        self.timeout = timeout
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, Reading] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def read(self, pixels: np.ndarray, boxes: Sequence[Box]) -> list[Reading]:
        """One reading per box (a one-line label each), in order."""
        gray = _gray(pixels)
        keys = [_key(gray, b) for b in boxes]
        out: dict[int, Reading] = {}
        with self._lock:
            for i, key in enumerate(keys):
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    out[i] = hit
        self.hits += len(out)
        todo = [i for i in range(len(boxes)) if i not in out]
        self.misses += len(todo)
        if todo:
            fresh = self._read(pixels, gray, [boxes[i] for i in todo])
            with self._lock:
                for i, reading in zip(todo, fresh, strict=True):
                    out[i] = reading
                    self._cache[keys[i]] = reading
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return [out[i] for i in range(len(boxes))]

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # -- internals ------------------------------------------------------------------------
    def _read(self, pixels: np.ndarray, gray: np.ndarray, boxes: list[Box]) -> list[Reading]:
        rapid = [(_checked_glyph(gray, box, text), score) for box, (text, score)
                 in zip(boxes, (_first(lines) for lines in self.rapid.recognize(pixels, boxes)),
                        strict=True)]
        short = [i for i, b in enumerate(boxes) if estimate_chars(b) <= _SHORT]
        tess: dict[int, str] = {}
        if short and self._tesseract:
            texts = self._tesseract_mosaic(gray, [boxes[i] for i in short])
            tess = dict(zip(short, texts, strict=True))
        # Readings that need no vote: long labels, and short ones both engines agree on.
        plain = {i for i, b in enumerate(boxes)
                 if (i not in tess and (rapid[i][0] or estimate_chars(b) > _SHORT))
                 or (i in tess and rapid[i][0] and rapid[i][0].casefold() == tess[i].casefold())}
        disputed = [i for i in range(len(boxes)) if i not in plain]
        tiled = dict(zip(disputed, self._tiled(pixels, [boxes[i] for i in disputed]), strict=True))
        readings = []
        for i, box in enumerate(boxes):
            r_text, r_score = rapid[i]
            if i in plain and i not in tess:
                readings.append(Reading(r_text, r_score))
                continue
            readings.append(self._vote(gray, box, r_text, r_score, tess.get(i, ""),
                                       tiled.get(i, "")))
        return readings

    @staticmethod
    def _vote(gray: np.ndarray, box: Box, r_text: str, r_score: float, t_text: str,
              tiled: str) -> Reading:
        """A short label read two or three ways: agree, or let more evidence decide."""
        t_text, tiled = _checked_glyph(gray, box, t_text), _checked_glyph(gray, box, tiled)
        if r_text and r_text.casefold() == t_text.casefold():
            # Tesseract keeps case better on lone capitals ("C", not "c").
            return Reading(t_text if len(t_text) == 1 else r_text, max(r_score, 0.9))
        # Every printed character is at least one blob of ink: a reading with more
        # characters than the label has blobs is wrong ("Cc" for a lone "C").
        blobs = _ink_blobs(gray, box)
        fits = {k: t for k, t in (("r", r_text), ("t", t_text), ("q", tiled))
                if t and len(t.replace(" ", "")) <= blobs}
        votes = Counter(t.casefold() for t in fits.values())
        if votes:
            best, count = votes.most_common(1)[0]
            if count >= 2:
                text = next(t for t in fits.values() if t.casefold() == best)
                return Reading(text, 0.8)
        shape = _blob_shape(gray, box)
        if shape:
            return Reading(shape, 0.6)
        if "r" in fits and r_score >= 0.8:
            return Reading(r_text, r_score * 0.8)
        for key in ("t", "q", "r"):
            if key in fits:
                return Reading(fits[key], 0.4)
        return Reading(r_text or t_text, 0.2)

    def _tiled(self, pixels: np.ndarray, boxes: list[Box]) -> list[str]:
        """RapidOCR on each label repeated three times (all in one model pass, stacked in one
        image); the repeated unit when it is one."""
        if not boxes:
            return []
        strips = []
        for box in boxes:
            crop = _crop(pixels, box, 3)
            if crop.size == 0:
                crop = np.zeros((8, 8, pixels.shape[2]), np.uint8)
            background = np.median(np.concatenate([crop[0], crop[-1]]), axis=0).astype(np.uint8)
            space = np.empty((crop.shape[0], max(4, round(box.height * 0.8)), crop.shape[2]),
                             np.uint8)
            space[:] = background
            strips.append(np.concatenate([crop, space, crop, space, crop], axis=1))
        # The engine pads each box with its surroundings: keep strips apart on the sheet, on
        # their own background.
        gaps = [max(8, s.shape[0] // 2) for s in strips]
        width = max(s.shape[1] for s in strips) + 16
        sheet = np.zeros((sum(s.shape[0] + 2 * g for s, g in zip(strips, gaps, strict=True)),
                          width, pixels.shape[2]), np.uint8)
        places, top = [], 0
        for strip, gap in zip(strips, gaps, strict=True):
            sheet[top : top + strip.shape[0] + 2 * gap] = strip[0, 0]
            sheet[top + gap : top + gap + strip.shape[0], 8 : 8 + strip.shape[1]] = strip
            places.append(Box(8, top + gap, strip.shape[1], strip.shape[0]))
            top += strip.shape[0] + 2 * gap
        out = []
        for lines in self.rapid.recognize(sheet, places):
            text = _first(lines)[0].replace(" ", "")
            unit = text[: len(text) // 3] if text and len(text) % 3 == 0 else ""
            out.append(unit if unit and unit * 3 == text else "")
        return out

    def _tesseract_mosaic(self, gray: np.ndarray, boxes: list[Box]) -> list[str]:
        """Tesseract on many short labels at once: one per line of a tall white image."""
        import cv2

        crops: list[np.ndarray] = []
        for box in boxes:
            crop = _crop(gray, box, 2)
            if crop.size == 0:
                crops.append(np.full((8, 8), 255, np.uint8))
                continue
            if np.median(crop) < 128:  # light text on dark: Tesseract wants dark on light
                crop = np.asarray(255 - crop, np.uint8)
            crops.append(cv2.resize(crop, None, fx=_UPSCALE, fy=_UPSCALE,
                                    interpolation=cv2.INTER_CUBIC))
        width = max(c.shape[1] for c in crops) + 80
        parts = [np.full((40, width), 255, np.uint8)]
        spans = []
        top = 40
        for crop in crops:
            gap = max(24, crop.shape[0] // 2)
            row = np.full((crop.shape[0] + 2 * gap, width), 255, np.uint8)
            row[gap : gap + crop.shape[0], 40 : 40 + crop.shape[1]] = crop
            spans.append((top + gap, top + gap + crop.shape[0]))
            top += row.shape[0]
            parts.append(row)
        parts.append(np.full((40, width), 255, np.uint8))
        ok, png = cv2.imencode(".png", np.concatenate(parts))
        if not ok or self._tesseract is None:  # pragma: no cover
            return [""] * len(boxes)
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            proc = subprocess.run([self._tesseract, "stdin", "stdout", "--psm", "6", "tsv"],
                                  input=png.tobytes(), capture_output=True, env=env,
                                  timeout=self.timeout, check=False)
        except (subprocess.TimeoutExpired, OSError):
            return [""] * len(boxes)
        words: list[list[tuple[float, str]]] = [[] for _ in boxes]
        for row_text in proc.stdout.decode("utf-8", errors="replace").splitlines()[1:]:
            cols = row_text.split("\t")
            if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
                continue
            middle = int(cols[7]) + int(cols[9]) / 2
            for k, (y0, y1) in enumerate(spans):
                if y0 - 12 <= middle <= y1 + 12:
                    words[k].append((float(cols[6]), cols[11]))
                    break
        return [normalise(" ".join(t for _x, t in sorted(w))) for w in words]


def _first(lines: Sequence[object]) -> tuple[str, float]:
    if not lines:
        return "", 0.0
    text = normalise(" ".join(getattr(line, "text", "") for line in lines))
    score = float(np.mean([getattr(line, "score", 0.0) for line in lines]))
    return text, score


def _gray(pixels: np.ndarray) -> np.ndarray:
    import cv2

    if pixels.ndim == 2:
        return pixels
    code = cv2.COLOR_BGRA2GRAY if pixels.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return np.asarray(cv2.cvtColor(pixels, code))


def _crop(image: np.ndarray, box: Box, pad: int) -> np.ndarray:
    b = box.integer()
    h, w = image.shape[:2]
    x0, y0 = max(0, int(b.left) - pad), max(0, int(b.top) - pad)
    x1, y1 = min(w, int(b.right) + pad), min(h, int(b.bottom) + pad)
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def _key(gray: np.ndarray, box: Box) -> bytes:
    crop = _crop(gray, box, 2)
    digest = hashlib.blake2b(crop.tobytes(), digest_size=16)
    digest.update(np.array(crop.shape, np.int32).tobytes())
    return digest.digest()


def _ink_blobs(gray: np.ndarray, box: Box) -> int:
    """How many separate blobs of ink a label box holds (8-connected, off its background)."""
    import cv2

    crop = _crop(gray, box, 1)
    if crop.size == 0:
        return 0
    background = np.median(np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]]))
    ink = (np.abs(crop.astype(np.int16) - background) > 60).astype(np.uint8)
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return int((stats[1:, 4] >= 2).sum()) if n > 1 else 0


# "=" as OCR models return it: itself, or the CJK numeral two (the Chinese model's reading).
_EQUALS_READINGS = frozenset({"=", "二"})


def _checked_glyph(gray: np.ndarray, box: Box, text: str) -> str:
    """A reading of "=" kept only where the ink is two stacked bars (a dark-theme "<-" read
    as "=" is dropped), and the CJK "二" read for such bars becomes "="."""
    if text.strip() not in _EQUALS_READINGS:
        return text
    return "=" if _two_bars(gray, box) else ""


def _two_bars(gray: np.ndarray, box: Box) -> bool:
    import cv2

    crop = _crop(gray, box, 1)
    if crop.size == 0:
        return False
    background = np.median(np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]]))
    ink = (np.abs(crop.astype(np.int16) - background) > 40).astype(np.uint8)
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    bars = [stats[i] for i in range(1, n) if stats[i, 4] >= 2]
    if len(bars) != 2:
        return False
    (x1, y1, w1, h1, _), (x2, y2, w2, h2, _) = sorted(bars, key=lambda b: b[1])
    overlap = min(x1 + w1, x2 + w2) - max(x1, x2)
    return (w1 >= 2 * h1 and w2 >= 2 * h2 and overlap >= 0.7 * max(w1, w2)
            and y2 >= y1 + h1)


def _blob_shape(gray: np.ndarray, box: Box) -> str:
    """A label that is one small blob: "." (a dot) or "-" (a short horizontal bar)."""
    import cv2

    crop = _crop(gray, box, 1)
    if crop.size == 0 or (box.height > 12 and box.width > 12):
        return ""
    background = np.median(np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]]))
    ink = (np.abs(crop.astype(np.int16) - background) > 40).astype(np.uint8)
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n != 2:
        return ""
    w, h = int(stats[1, 2]), int(stats[1, 3])
    if w >= 2 * h:
        return "-"
    if 0.5 <= w / max(h, 1) <= 2 and max(w, h) <= 8:
        return "."
    return ""
