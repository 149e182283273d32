"""Text targets: find visible text with OCR.

:class:`OcrGrounder` is both a :class:`~guiagent.grounding.base.Grounder` (``locate`` on any
image, e.g. an ECP stage-2 crop) and a :class:`~guiagent.grounding.base.CandidateSource`
(``candidates`` on the whole frame: ECP stage 1).

How a 4K frame is read cheaply (see benchmarks/RESULTS.md, "OCR engine choice"):

1. **Detect** text boxes with plain image morphology (:class:`MorphDetector`, ~0.1 s on 4K):
   screen text is crisp, so a gradient map, horizontally closed, gives one box per line of
   text. A learned detector (RapidOCR's DB model) run on the downsampled 4K frame loses
   small text, and on the full frame costs seconds; it is kept as the *thorough* pass for
   ECP crops whose stage-1 candidate the fast pass could not confirm.
2. **Recognise** the boxes at full resolution with RapidOCR's recognition model, likeliest
   boxes first (those about as long as the query), and stop once some box reads exactly the
   query (or, after those, once the exact words turn up inside longer text): on a typical
   screen that skips most of its text.
3. **Cache**: every recognised line by a hash of its pixels (identical lines are read once,
   and so are lines that did not change when the rest of the screen did), every image's
   reading by a hash of all its pixels (a second target on an unchanged screen costs a hash
   and a text search), and the last frames searched, so that a crop of one (an ECP stage-2
   crop or tile) reuses the frame's reading instead of reading its pixels again.

Engines sit behind the small :class:`OcrEngine` interface: ``"rapidocr"`` (default, installed with
guiagent) and ``"tesseract"`` (the system ``tesseract`` binary, run
as a subprocess). Both are imported/started lazily; models load once per process.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import os
import shutil
import subprocess
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from guiagent.errors import (
    GuiAgentError,
    OcrUnavailableError,
)
from guiagent.geometry import Box, Point
from guiagent.grounding.base import Candidate, GrounderTraits, Match, StageOne, StageRecord, Target
from guiagent.grounding.textmatch import TextLine, TextMatch, find_text, fold, query_text
from guiagent.screen.capture import Frame

__all__ = [
    "MorphDetector",
    "OcrCacheInfo",
    "OcrEngine",
    "OcrGrounder",
    "OcrUnavailableError",
    "RapidOcrEngine",
    "TesseractEngine",
    "make_engine",
]

_PERFECT = 0.999  # a box reading exactly the query, alone: nothing can beat it
_EXACT_WORDS = 0.92  # the query's words exactly, inside a longer text (see textmatch scores)
_ALONE = 0.7  # |log(letters a box holds / letters of the query)| of boxes that may hold just it
_THOROUGH_MAX_PIXELS = 2_500_000  # the learned detector runs on crops, not whole 4K frames
_FIRST_CHUNK = 4000.0  # model-input width (~0.1 s of recognition) read before a first look


# -- engines --------------------------------------------------------------------------------


@runtime_checkable
class OcrEngine(Protocol):
    """Reads text in images (``H x W x 3`` BGR or ``H x W x 4`` BGRA uint8).

    Work is split in two so callers can read the likeliest boxes first and stop early:
    ``detect`` finds where text may be (``thorough`` asks for a slower, more robust pass),
    ``recognize`` reads given boxes and returns, per box, the lines found in it (image
    pixels). An engine that reads whole images at once returns one box from ``detect``.
    """

    name: str

    def detect(self, image: np.ndarray, *, thorough: bool = False) -> list[Box]: ...

    def recognize(self, image: np.ndarray, boxes: Sequence[Box]) -> list[list[TextLine]]: ...


@dataclass(frozen=True, slots=True)
class MorphDetector:
    """Finds lines of screen text with OpenCV morphology; no model, ~0.1 s on a 4K frame.

    A pixel is "ink" where the 3x3 morphological gradient exceeds ``threshold`` (so dark on
    light and light on dark both work). Straight runs of ink at least ``rule`` pixels long
    (borders, separators, underlines) are removed, then ink is closed horizontally over
    ``gap`` pixels so letters and words of one line join. Components ``min_height`` to
    ``max_height`` pixels tall are text candidates.
    """

    threshold: int = 40
    gap: int = 9
    rule: int = 60
    min_height: int = 6
    max_height: int = 120
    min_width: int = 4

    def detect(self, image: np.ndarray) -> list[Box]:
        import cv2

        if image.ndim == 3:
            code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
            gray = cv2.cvtColor(image, code)
        else:
            gray = image
        grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
        ink = (grad > self.threshold).astype(np.uint8)
        rules = np.maximum(
            cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, self.rule), np.uint8)),
            cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((self.rule, 1), np.uint8)),
        )
        ink[rules > 0] = 0
        closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((1, self.gap), np.uint8))
        _n, _labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
        stats = stats[1:]
        keep = (
            (stats[:, 3] >= self.min_height)
            & (stats[:, 3] <= self.max_height)
            & (stats[:, 2] >= self.min_width)
            & (stats[:, 2] * 4 >= stats[:, 3])  # vertical bars are not text
        )
        boxes: list[Box] = []
        for x, y, w, h, _area in stats[keep]:
            if h >= 2 * self.min_height + 2:
                boxes.extend(self._split_lines(ink, int(x), int(y), int(w), int(h)))
            else:
                boxes.append(Box(int(x), int(y), int(w), int(h)))
        return boxes

    def _split_lines(self, ink: np.ndarray, x: int, y: int, w: int, h: int) -> list[Box]:
        """Split a box holding several lines of tightly spaced text (descenders touching the
        next line's ascenders) at the emptiest row near its middle.

        Within one line the middle rows are the dense x-height band, so a row there with
        little ink can only be the seam between two lines.
        """
        region = ink[y : y + h, x : x + w]
        profile = region.sum(axis=1)
        low, high = max(self.min_height - 1, h // 4), min(h - self.min_height + 1, h - h // 4)
        if high <= low:
            return [Box(x, y, w, h)]
        cut = low + int(np.argmin(profile[low:high]))
        if profile[cut] > 0.2 * profile.max():
            return [Box(x, y, w, h)]
        parts = []
        for top, bottom in ((0, cut), (cut + 1, h)):
            cols = np.nonzero(region[top:bottom].any(axis=0))[0]
            rows = np.nonzero(region[top:bottom].any(axis=1))[0]
            if len(cols) == 0 or len(rows) < self.min_height:
                continue
            part = (x + int(cols[0]), y + top + int(rows[0]), int(cols[-1] - cols[0] + 1),
                    int(rows[-1] - rows[0] + 1))
            if part[3] >= 2 * self.min_height + 2:
                parts.extend(self._split_lines(ink, *part))
            else:
                parts.append(Box(*part))
        return parts or [Box(x, y, w, h)]


def _rapidocr_package() -> tuple[Path, dict[str, Any]]:
    """Where rapidocr-onnxruntime is installed and its default config (model paths)."""
    try:
        import onnxruntime  # noqa: F401 (RapidOCR's runtime; checked here for a clear message)
        import rapidocr_onnxruntime
        import yaml
    except ImportError as exc:
        raise OcrUnavailableError(
            f"OCR (part of every guiagent install) is broken here: {exc}; repair it with "
            "`pip install --force-reinstall rapidocr-onnxruntime onnxruntime`, or use "
            "engine='tesseract' (apt-get install tesseract-ocr)"
        ) from exc
    root = Path(rapidocr_onnxruntime.__file__).resolve().parent
    with open(root / "config.yaml", "rb") as fh:
        config = yaml.safe_load(fh)
    return root, config


@functools.cache
def _load_recognizer(threads: int, spin: bool) -> tuple[Any, str, list[str]]:
    """RapidOCR's recognition model as our own ONNX session, built once per process.

    Our own session (not RapidOCR's) so thread spinning can be turned off: on a 2-core
    machine shared with the app being driven, spinning threads slow inference down a lot.
    """
    root, config = _rapidocr_package()  # first: a clear error when RapidOCR is missing
    import onnxruntime as ort

    model = root / config["Rec"]["model_path"]
    if not model.is_file():
        raise OcrUnavailableError(f"RapidOCR's recognition model is missing: looked at {model}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise OcrUnavailableError(f"cannot load RapidOCR's model {model}: {exc}") from exc
    meta = session.get_modelmeta().custom_metadata_map
    if "character" not in meta:  # pragma: no cover - every RapidOCR rec model carries it
        raise OcrUnavailableError(f"{model} has no character list; reinstall rapidocr-onnxruntime")
    # CTC: index 0 is the blank, the space comes last (as RapidOCR's CTCLabelDecode does).
    characters = ["", *meta["character"].splitlines(), " "]
    return session, session.get_inputs()[0].name, characters


@functools.cache
def _load_detector() -> Any:
    """RapidOCR's DB text detector (the thorough pass), built once per process."""
    root, config = _rapidocr_package()
    det_config = dict(config["Det"])
    det_config["model_path"] = str(root / det_config["model_path"])
    try:
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector

        return TextDetector(det_config)
    except Exception as exc:  # pragma: no cover - another rapidocr layout
        raise OcrUnavailableError(f"cannot load RapidOCR's text detector: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Read:
    """A recognised line, positions relative to its box's left edge (what the cache keeps)."""

    text: str
    score: float
    spans: tuple[tuple[float, float], ...]


class RapidOcrEngine:
    """RapidOCR's recognition model on boxes from :class:`MorphDetector` (or its DB detector).

    ``batch_size`` lines of similar width are recognised per model call. Recognised lines are
    cached by a hash of their pixels (``cache_size`` entries), so identical text on screen is
    read once. Lines read with a confidence below ``min_confidence`` are dropped.
    """

    name = "rapidocr"
    _HEIGHT = 48  # the recognition model's input height

    def __init__(
        self,
        *,
        detector: MorphDetector | None = None,
        batch_size: int = 2,
        cache_size: int = 8192,
        min_confidence: float = 0.4,
        threads: int | None = None,
        spin: bool = False,
    ) -> None:
        self.detector = detector or MorphDetector()
        self.threads = threads or min(os.cpu_count() or 1, 4)
        self.spin = spin
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.min_confidence = min_confidence
        self._cache: OrderedDict[bytes, _Read | None] = OrderedDict()
        self._lock = threading.Lock()
        self.line_hits = 0
        self.line_misses = 0

    def load(self) -> RapidOcrEngine:
        """Load the recognition model now (it otherwise loads on first use)."""
        _load_recognizer(self.threads, self.spin)
        return self

    def detect(self, image: np.ndarray, *, thorough: bool = False) -> list[Box]:
        if not thorough:
            return self.detector.detect(image)
        quads, _elapsed = _load_detector()(_bgr(image))
        if quads is None or len(quads) == 0:
            return []
        boxes = []
        for quad in np.asarray(quads, dtype=np.float32):
            x0, y0 = quad.min(axis=0)
            x1, y1 = quad.max(axis=0)
            boxes.append(Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0)))
        return boxes

    def recognize(self, image: np.ndarray, boxes: Sequence[Box]) -> list[list[TextLine]]:
        height, width = image.shape[:2]
        keys: list[bytes] = []
        crops: list[tuple[np.ndarray, float]] = []  # padded crop, its left edge - box left
        for box in boxes:
            b = box.integer()
            pad_y = max(2, round(b.height * 0.2))
            pad_x = max(3, round(b.height * 0.3))
            x0, y0 = max(0, int(b.left) - pad_x), max(0, int(b.top) - pad_y)
            x1, y1 = min(width, int(b.right) + pad_x), min(height, int(b.bottom) + pad_y)
            crop = np.ascontiguousarray(image[y0:y1, x0:x1])
            digest = hashlib.blake2b(crop.tobytes(), digest_size=16)
            digest.update(np.array([*crop.shape, int(b.left) - x0, int(b.top) - y0,
                                    int(b.width), int(b.height)], np.int32).tobytes())
            keys.append(digest.digest())
            crops.append((crop, x0 - box.left))

        todo: dict[bytes, int] = {}
        with self._lock:
            for i, key in enumerate(keys):
                if key in self._cache:
                    self._cache.move_to_end(key)
                    self.line_hits += 1
                elif key not in todo:
                    todo[key] = i
        if todo:
            reads = self._recognize_crops([crops[i] for i in todo.values()])
            with self._lock:
                self.line_misses += len(todo)
                for key, read in zip(todo, reads, strict=True):
                    self._cache[key] = read
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        out: list[list[TextLine]] = []
        with self._lock:
            cached = [self._cache.get(k) for k in keys]
        for box, read in zip(boxes, cached, strict=True):
            if read is None:
                out.append([])
                continue
            spans = tuple(
                (_clamp(box.left + a, box.left, box.right), _clamp(box.left + b, box.left, box.right))
                for a, b in read.spans
            )
            out.append([TextLine(read.text, box, read.score, spans)])
        return out

    def _recognize_crops(self, crops: list[tuple[np.ndarray, float]]) -> list[_Read | None]:
        import cv2

        session, input_name, characters = _load_recognizer(self.threads, self.spin)
        h_model = self._HEIGHT
        prepared: list[np.ndarray] = []
        scales: list[float] = []
        for crop, _offset in crops:
            h, w = crop.shape[:2]
            scale = h_model / h
            new_w = max(16, math.ceil(w * scale))
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            prepared.append(cv2.resize(_bgr(crop), (new_w, h_model), interpolation=interp))
            scales.append(new_w / w)
        order = sorted(range(len(prepared)), key=lambda i: prepared[i].shape[1])
        results: list[_Read | None] = [None] * len(prepared)
        i = 0
        while i < len(order):
            # Batch lines of similar width: padding a short line to a long one's width wastes
            # model time on blank pixels.
            j = i + 1
            first = prepared[order[i]].shape[1]
            while (j < len(order) and j - i < self.batch_size
                   and prepared[order[j]].shape[1] <= first * 1.3 + 32):
                j += 1
            batch_ids = order[i:j]
            width = max(prepared[k].shape[1] for k in batch_ids)
            batch = np.zeros((len(batch_ids), 3, h_model, width), np.float32)
            for n, k in enumerate(batch_ids):  # right padding stays 0, as PaddleOCR pads
                img = prepared[k]
                batch[n, :, :, : img.shape[1]] = img.transpose(2, 0, 1) / 127.5 - 1.0
            preds = session.run(None, {input_name: batch})[0]
            ids = preds.argmax(axis=2)
            probs = np.take_along_axis(preds, ids[:, :, None], axis=2)[:, :, 0]
            column = width / preds.shape[1]  # resized pixels per output column
            for n, k in enumerate(batch_ids):
                crop_offset = crops[k][1]
                results[k] = self._decode(ids[n], probs[n], characters,
                                          column / scales[k], crop_offset)
            i = j
        return results

    def _decode(self, ids: np.ndarray, probs: np.ndarray, characters: list[str],
                column: float, offset: float) -> _Read | None:
        """CTC decode with each character's centre (box-relative pixels)."""
        chars: list[str] = []
        centres: list[float] = []
        confs: list[float] = []
        n = len(ids)
        t = 0
        while t < n:
            u = t
            while u + 1 < n and ids[u + 1] == ids[t]:
                u += 1
            if ids[t] != 0:  # 0 is the CTC blank
                chars.append(characters[int(ids[t])])
                centres.append((t + u + 1) / 2 * column + offset)
                confs.append(float(probs[t]))
            t = u + 1
        while chars and chars[-1].isspace():
            chars.pop(), centres.pop(), confs.pop()
        while chars and chars[0].isspace():
            chars.pop(0), centres.pop(0), confs.pop(0)
        if not chars:
            return None
        score = float(np.mean(confs))
        if score < self.min_confidence:
            return None
        text = "".join(chars)
        if len(text) != len(centres):  # a multi-character vocabulary entry; spread evenly
            centres = list(np.linspace(centres[0], centres[-1], len(text)))
        pitch = (centres[-1] - centres[0]) / (len(centres) - 1) if len(centres) > 1 else column * 4
        edges = [centres[0] - pitch / 2]
        edges += [(a + b) / 2 for a, b in itertools.pairwise(centres)]
        edges.append(centres[-1] + pitch / 2)
        spans = tuple((edges[k], edges[k + 1]) for k in range(len(text)))
        return _Read(text, score, spans)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    @property
    def cached_lines(self) -> int:
        return len(self._cache)


class TesseractEngine:
    """The system ``tesseract`` binary on a region (``psm`` page segmentation mode).

    Tesseract finds and reads words itself, so ``detect`` returns the whole image as one box.
    ``upscale`` enlarges the image first (Tesseract wants text ~20 px tall; 4K UI text is
    often 10-13 px). It runs single-threaded (``OMP_THREAD_LIMIT=1``): with OpenMP threads
    it is several times slower on small images.
    """

    name = "tesseract"

    def __init__(self, *, psm: int = 11, upscale: float = 1.0, lang: str = "eng",
                 executable: str = "tesseract", timeout: float = 60.0) -> None:
        self.psm = psm
        self.upscale = upscale
        self.lang = lang
        self.executable = executable
        self.timeout = timeout

    def detect(self, image: np.ndarray, *, thorough: bool = False) -> list[Box]:
        h, w = image.shape[:2]
        return [Box(0, 0, w, h)]

    def recognize(self, image: np.ndarray, boxes: Sequence[Box]) -> list[list[TextLine]]:
        return [self._read(image, box) for box in boxes]

    def _read(self, image: np.ndarray, box: Box) -> list[TextLine]:
        import cv2

        exe = shutil.which(self.executable)
        if exe is None:
            raise OcrUnavailableError(
                f"{self.executable!r} is not on PATH: `sudo apt-get install tesseract-ocr` "
                "(macOS: `brew install tesseract`), or use engine='rapidocr'"
            )
        b = box.integer()
        region = image[b.slices()]
        code = cv2.COLOR_BGRA2GRAY if region.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        gray = cv2.cvtColor(region, code)
        if self.upscale != 1.0:
            gray = cv2.resize(gray, None, fx=self.upscale, fy=self.upscale,
                              interpolation=cv2.INTER_CUBIC)
        ok, png = cv2.imencode(".png", gray)
        if not ok:  # pragma: no cover
            raise GuiAgentError("could not encode the image for tesseract")
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            proc = subprocess.run(
                [exe, "stdin", "stdout", "--psm", str(self.psm), "-l", self.lang, "tsv"],
                input=png.tobytes(), capture_output=True, timeout=self.timeout, env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise GuiAgentError(f"tesseract took longer than {self.timeout:g} s") from exc
        if proc.returncode != 0:
            raise OcrUnavailableError(
                f"tesseract failed ({proc.returncode}): "
                f"{proc.stderr.decode(errors='replace').strip()[-300:]}"
            )
        return _parse_tsv(proc.stdout.decode("utf-8", errors="replace"), self.upscale,
                          b.left, b.top)


def _parse_tsv(tsv: str, scale: float, dx: float, dy: float) -> list[TextLine]:
    """Tesseract TSV -> one TextLine per Tesseract line, character spans from word boxes."""
    groups: dict[tuple[str, str, str], list[tuple[str, float, float, float, float, float]]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        conf = float(cols[10])
        if conf < 0:
            continue
        left, top, w, h = (float(v) / scale for v in cols[6:10])
        groups.setdefault((cols[2], cols[3], cols[4]), []).append(
            (cols[11].strip(), left + dx, top + dy, w, h, conf / 100.0))
    lines = []
    for words in groups.values():
        words.sort(key=lambda wd: wd[1])
        text_parts: list[str] = []
        spans: list[tuple[float, float]] = []
        for n, (word, x, _y, w, _h, _c) in enumerate(words):
            if n:
                prev_right = spans[-1][1]
                text_parts.append(" ")
                spans.append((prev_right, max(prev_right, x)))
            step = w / len(word)
            spans.extend((x + k * step, x + (k + 1) * step) for k in range(len(word)))
            text_parts.append(word)
        x0 = min(wd[1] for wd in words)
        y0 = min(wd[2] for wd in words)
        x1 = max(wd[1] + wd[3] for wd in words)
        y1 = max(wd[2] + wd[4] for wd in words)
        score = float(np.mean([wd[5] for wd in words]))
        lines.append(TextLine("".join(text_parts), Box(x0, y0, x1 - x0, y1 - y0), score,
                              tuple(spans)))
    return lines


def make_engine(engine: str | OcrEngine) -> OcrEngine:
    """An engine from its name (``"rapidocr"``, ``"tesseract"``) or an engine object."""
    if not isinstance(engine, str):
        return engine
    key = engine.lower()
    if key in ("rapidocr", "rapid", "paddle"):
        return RapidOcrEngine()
    if key == "tesseract":
        return TesseractEngine()
    raise ValueError(f"unknown OCR engine {engine!r}: use 'rapidocr' or 'tesseract'")


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 4:
        import cv2

        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _digest(pixels: np.ndarray) -> bytes:
    data = np.ascontiguousarray(pixels)
    h = hashlib.blake2b(data.data.cast("B"), digest_size=16)
    h.update(np.array(data.shape, np.int64).tobytes())
    return h.digest()


# -- the grounder ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OcrCacheInfo:
    """Cache counters: whole-region readings and (RapidOCR) recognised lines."""

    regions: int
    region_hits: int
    region_misses: int
    lines: int
    line_hits: int
    line_misses: int


class _Reading:
    """What is known about one region's text: its boxes and the boxes read so far.

    A thorough reading holds only the boxes the fast one missed; ``base`` (the fast reading
    of the same pixels) supplies the rest of the text.
    """

    __slots__ = ("base", "boxes", "lines")

    def __init__(self, boxes: list[Box], base: _Reading | None = None) -> None:
        self.boxes = boxes
        self.base = base
        self.lines: dict[int, list[TextLine]] = {}

    def all_lines(self) -> list[TextLine]:
        own = [line for i in sorted(self.lines) for line in self.lines[i]]
        return (self.base.all_lines() + own) if self.base is not None else own


@dataclass(frozen=True, slots=True)
class _Search:
    matches: list[TextMatch]
    boxes: int
    read: int  # boxes recognised by this call (not from the region cache)
    elapsed_ms: float
    note: str

    def shifted(self, dx: float, dy: float, bounds: Box) -> _Search:
        """Matches moved by ``(dx, dy)``, keeping those whose point falls inside ``bounds``."""
        moved = []
        for m in self.matches:
            point = m.point.offset(dx, dy)
            if bounds.contains(point, inclusive=False):
                box = Box(m.box.left + dx, m.box.top + dy, m.box.width, m.box.height)
                moved.append(replace(m, point=point, box=box))
        return replace(self, matches=moved)


@dataclass(frozen=True, slots=True, eq=False)
class _Source:
    """A frame read before, kept so later crops of it can reuse its reading."""

    pixels: np.ndarray
    origin: Point
    scale: float
    digest: bytes


class OcrGrounder:
    """Finds text targets with OCR; ECP stage 1 (``candidates``) and stage 2 (``locate``).

    ``engine``: ``"rapidocr"`` (default), ``"tesseract"`` or an :class:`OcrEngine`.
    ``min_score``: fuzzy matches below it are dropped (quoted, exact targets have their own
    rule, see :func:`~guiagent.grounding.textmatch.find_text`). ``early_exit``: stop reading
    boxes once one reads exactly the target (set ``False`` to always read everything).
    ``thorough``: when ``locate`` on a crop-sized image finds no good match, look again with
    the engine's slower, learned detector: ``"hinted"`` (default) only on crops ECP cut around
    a stage-1 candidate (``hint`` given), where something text-like was seen; ``"always"``;
    ``"never"``. Not on ECP's blind tiles by default: there it costs ~0.3 s a tile for text
    the fast pass over the whole frame has, in our measurements, never missed.
    ``region_cache``: how many region readings to keep.
    """

    name = "ocr"
    traits = GrounderTraits()

    def __init__(
        self,
        engine: str | OcrEngine = "rapidocr",
        *,
        min_score: float = 0.7,
        early_exit: bool = True,
        thorough: Literal["hinted", "always", "never"] = "hinted",
        region_cache: int = 32,
    ) -> None:
        self._engine_spec = engine
        self._engine: OcrEngine | None = None
        self.min_score = min_score
        self.early_exit = early_exit
        if thorough not in ("hinted", "always", "never"):
            raise ValueError(f"thorough must be 'hinted', 'always' or 'never', got {thorough!r}")
        self.thorough = thorough
        self.region_cache = region_cache
        self._regions: OrderedDict[tuple[bytes, bool], _Reading] = OrderedDict()
        self._sources: list[_Source] = []  # the last two whole frames searched
        self._lock = threading.RLock()
        self._region_hits = 0
        self._region_misses = 0

    @property
    def engine(self) -> OcrEngine:
        if self._engine is None:
            self._engine = make_engine(self._engine_spec)
        return self._engine

    def supports(self, target: Target) -> bool:
        return target.kind in ("text", "description") and bool(target.text.strip())

    # -- Grounder -------------------------------------------------------------------------
    def locate(self, image: Frame, target: Target, *, limit: int = 5, zoom: float = 1.0,
               hint: Candidate | None = None) -> list[Match]:
        """Matches in ``image`` pixels, best first.

        ``zoom`` is not needed: text is read at whatever size it has. ``hint`` (the stage-1
        candidate, in ``image`` pixels) makes the boxes around it be read first.
        """
        query, exact = self._query(target)
        started = time.perf_counter()
        if not query:
            return []
        near = hint.point if hint is not None else None
        parent = self._parent_of(image)
        if parent is not None:
            # A crop of a frame read before (ECP stage 2, tiles): search the frame's own
            # reading inside the crop instead of detecting and reading the crop afresh.
            source, dx, dy = parent
            window = Box(dx, dy, image.width, image.height)
            search = self._search(source.pixels, query, exact, limit=limit, thorough=False,
                                  near=near.offset(dx, dy) if near else None,
                                  digest=source.digest, window=window)
            search = search.shifted(-dx, -dy, image.bounds)
        else:
            digest = _digest(image.pixels)
            self._remember(image, digest)
            search = self._search(image.pixels, query, exact, limit=limit, thorough=False,
                                  near=near, digest=digest)
        best = search.matches[0].score if search.matches else 0.0
        wanted = self.thorough == "always" or (self.thorough == "hinted" and hint is not None)
        if (wanted and best < max(self.min_score, 0.9)
                and image.width * image.height <= _THOROUGH_MAX_PIXELS):
            pixels = np.ascontiguousarray(image.pixels)
            again = self._search(pixels, query, exact, limit=limit, thorough=True, near=near)
            if again.matches and again.matches[0].score > best:
                search = _Search(again.matches, again.boxes, search.read + again.read,
                                 search.elapsed_ms + again.elapsed_ms,
                                 f"{search.note}; thorough: {again.note}")
        elapsed = (time.perf_counter() - started) * 1000
        stage = StageRecord("single", elapsed, image.size, note=f"{self.engine.name}: {search.note}")
        return [
            Match(
                point=m.point, score=m.score, box=m.box, grounder=self.name, text=m.text,
                stages=(stage,), elapsed_ms=elapsed,
                extra={"context": m.context, "ocr_score": round(m.ocr_score, 4),
                       "engine": self.engine.name, "exact": exact, "query": query},
            )
            for m in search.matches
        ]

    # -- CandidateSource --------------------------------------------------------------------
    def candidates(self, frame: Frame, target: Target, *, limit: int) -> StageOne:
        """ECP stage 1 on the whole frame: where the target's text probably is (frame pixels)."""
        query, exact = self._query(target)
        if not query:
            return StageOne([], 1.0)
        digest = _digest(frame.pixels)
        self._remember(frame, digest)
        search = self._search(frame.pixels, query, exact, limit=limit, thorough=False,
                              digest=digest)
        # Stage 1 already recognises text at full resolution (zoom 1), so a candidate that reads
        # exactly the target is final: ECP may skip stage 2 for it (see ecp._is_exact).
        return StageOne([Candidate(m.point, m.score, m.box, m.text) for m in search.matches], 1.0)

    # -- reading ----------------------------------------------------------------------------
    def read(self, image: Frame | np.ndarray) -> list[TextLine]:
        """All text in ``image`` (its pixels), top to bottom; cached like searches."""
        pixels = image.pixels if isinstance(image, Frame) else image
        with self._lock:
            reading = self._reading(pixels, thorough=False)
            self._read_boxes(pixels, reading, [i for i in range(len(reading.boxes))
                                               if i not in reading.lines])
            return sorted(reading.all_lines(), key=lambda ln: (ln.box.top, ln.box.left))

    def cache_info(self) -> OcrCacheInfo:
        engine = self._engine
        return OcrCacheInfo(
            regions=len(self._regions),
            region_hits=self._region_hits,
            region_misses=self._region_misses,
            lines=getattr(engine, "cached_lines", 0),
            line_hits=getattr(engine, "line_hits", 0),
            line_misses=getattr(engine, "line_misses", 0),
        )

    def clear_cache(self) -> None:
        with self._lock:
            self._regions.clear()
            self._sources.clear()
            clear = getattr(self._engine, "clear_cache", None)
            if callable(clear):
                clear()

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _query(target: Target) -> tuple[str, bool]:
        query, exact = query_text(target.text, description=target.kind == "description")
        return query, exact or target.exact

    def _remember(self, frame: Frame, digest: bytes) -> None:
        with self._lock:
            self._sources = [x for x in self._sources if x.digest != digest][-1:]
            self._sources.append(_Source(frame.pixels, frame.origin, frame.scale, digest))

    def _parent_of(self, image: Frame) -> tuple[_Source, int, int] | None:
        """A remembered frame that ``image`` is a crop of (same pixels at the same place)."""
        with self._lock:
            sources = list(self._sources)
        for source in reversed(sources):
            height, width = source.pixels.shape[:2]
            if (source.scale != image.scale or source.pixels.shape[2] != image.pixels.shape[2]
                    or (image.height, image.width) == (height, width)):
                continue
            fx = (image.origin.x - source.origin.x) * source.scale
            fy = (image.origin.y - source.origin.y) * source.scale
            dx, dy = round(fx), round(fy)
            if (abs(fx - dx) > 1e-6 or abs(fy - dy) > 1e-6 or dx < 0 or dy < 0
                    or dx + image.width > width or dy + image.height > height):
                continue
            region = source.pixels[dy : dy + image.height, dx : dx + image.width]
            if region is image.pixels or np.array_equal(region, image.pixels):
                return source, dx, dy
        return None

    def _reading(self, pixels: np.ndarray, *, thorough: bool,
                 digest: bytes | None = None) -> _Reading:
        digest = digest or _digest(pixels)
        key = (digest, thorough)
        reading = self._regions.get(key)
        if reading is not None:
            self._regions.move_to_end(key)
            self._region_hits += 1
            return reading
        self._region_misses += 1
        if thorough:
            # Read only what the fast pass did not already cover: the slow detector's boxes
            # around text the fast one found would just be read a second time.
            base = self._reading(pixels, thorough=False, digest=digest)
            boxes = [b for b in self.engine.detect(pixels, thorough=True)
                     if not any(_covers(f, b) for f in base.boxes)]
            reading = _Reading(boxes, base)
        else:
            reading = _Reading(self.engine.detect(pixels, thorough=False))
        self._regions[key] = reading
        while len(self._regions) > self.region_cache:
            self._regions.popitem(last=False)
        return reading

    def _read_boxes(self, pixels: np.ndarray, reading: _Reading, ids: Sequence[int]) -> None:
        if not ids:
            return
        results = self.engine.recognize(pixels, [reading.boxes[i] for i in ids])
        for i, lines in zip(ids, results, strict=True):
            reading.lines[i] = lines

    def _search(self, pixels: np.ndarray, query: str, exact: bool, *, limit: int,
                thorough: bool, near: Point | None = None, digest: bytes | None = None,
                window: Box | None = None) -> _Search:
        """Find ``query`` in ``pixels`` (only in ``window`` of them, when given)."""
        started = time.perf_counter()
        with self._lock:
            reading = self._reading(pixels, thorough=thorough, digest=digest)
            pending = [i for i in range(len(reading.boxes)) if i not in reading.lines
                       and (window is None or window.intersection(reading.boxes[i]) is not None)]
            letters = len(fold(query))
            pending.sort(key=_priority(reading.boxes, letters, near))
            # Boxes short enough to hold the target alone; read first, see _priority.
            alone = {i for i in pending if _misfit(reading.boxes[i], letters) <= _ALONE}

            def search() -> list[TextMatch]:
                lines = reading.all_lines()
                if window is not None:
                    lines = [ln for ln in lines if window.intersection(ln.box) is not None]
                return find_text(query, lines, exact=exact, limit=limit,
                                 min_score=self.min_score)

            matches = search() if (reading.lines or reading.base) else []
            read = 0
            stopped = False
            for ids in _chunks(reading.boxes, pending, _FIRST_CHUNK):
                # Stop at a box reading exactly the target; or, once every box that could
                # hold the target alone has been read, at the exact words inside longer text
                # (more of the same words elsewhere would only be a tie).
                if self.early_exit and matches and (
                        matches[0].score >= _PERFECT
                        or (matches[0].score >= _EXACT_WORDS
                            and alone.issubset(reading.lines))):
                    stopped = True
                    break
                self._read_boxes(pixels, reading, ids)
                read += len(ids)
                matches = search()
        elapsed = (time.perf_counter() - started) * 1000
        note = (f"{len(reading.boxes)} boxes, {read} read now, "
                f"{len(reading.lines) - read} already read"
                + (", stopped at an exact match" if stopped else ""))
        return _Search(matches, len(reading.boxes), read, elapsed, note)


def _misfit(box: Box, letters: int) -> float:
    """How far the number of letters ``box`` holds (roughly) is from ``letters`` (log ratio)."""
    guess = box.width / max(box.height * 0.55, 1.0)
    return abs(math.log((guess + 1) / (max(letters, 1) + 1)))


def _priority(boxes: Sequence[Box], letters: int,
              near: Point | None) -> Callable[[int], tuple[bool, float, float, float]]:
    """Sort key: boxes at the stage-1 hint first, then boxes about as long as the query (a box
    holding just the target is the likeliest), then top to bottom."""

    def key(i: int) -> tuple[bool, float, float, float]:
        b = boxes[i]
        far = near is None or not b.expanded(b.height).contains(near)
        return (far, _misfit(b, letters), b.top, b.left)

    return key


def _covers(fast: Box, slow: Box) -> bool:
    """Whether a fast-detector box already holds most of a slow-detector box's text."""
    inter = fast.intersection(slow)
    return inter is not None and inter.area >= 0.5 * min(fast.area, slow.area)


def _chunks(boxes: Sequence[Box], ids: list[int], first: float) -> list[list[int]]:
    """Split ``ids`` into reading chunks of growing model cost (doubling from ``first``).

    The cost of a line is its width once scaled to the model's 48-pixel input height, so a
    chunk of short labels holds many boxes and a chunk of paragraph lines few.
    """
    chunks: list[list[int]] = []
    budget, spent, current = first, 0.0, []
    for i in ids:
        b = boxes[i]
        current.append(i)
        spent += 48.0 * (b.width + b.height * 0.6) / max(b.height * 1.4, 1.0)
        if spent >= budget:
            chunks.append(current)
            budget, spent, current = budget * 2, 0.0, []
    if current:
        chunks.append(current)
    return chunks
