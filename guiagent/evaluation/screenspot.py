"""ScreenSpot-Pro-style grounding evaluation: load annotations, ground each one, score, report.

The annotation format is ScreenSpot-Pro's: a JSON file (or a folder of them), each a list of
objects like::

    {"img_filename": "vscode/shot_01.png", "bbox": [x1, y1, x2, y2],
     "instruction": "close the window", "ui_type": "icon", "application": "vscode",
     "group": "Dev", "platform": "linux", "img_size": [3840, 2160]}

``bbox`` is in pixels of the image; a prediction is correct when its point lies inside it,
edges included. Our own dev set (``benchmarks/devset``) adds an optional ``target_text``: the
exact visible text of a text element, used instead of the instruction with
``--use-target-text``.

The grounder is injectable: :func:`evaluate` takes any ``predict(frame, sample)`` callable
returning a point (a :class:`~guiagent.geometry.Point`, an ``(x, y)`` pair or anything with a
``.point``, such as a grounding ``Match``). :func:`locate_predictor` builds one from
``guiagent.grounding.locate``. A :class:`~guiagent.errors.TargetNotFound` counts as wrong
(``not_found``); any other :class:`~guiagent.errors.GuiAgentError` (for example "this
description needs a VLM") counts as wrong and is reported as ``unsupported``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

from guiagent.errors import (
    AnnotationError,
    GuiAgentError,
    TargetNotFound,
)
from guiagent.geometry import Box, Point, Size
from guiagent.screen.capture import Frame

UI_TYPES = ("text", "icon")
GROUP_KEYS = ("ui_type", "group", "application")
Status = Literal["correct", "wrong", "not_found", "unsupported", "error"]
STATUSES: tuple[Status, ...] = ("correct", "wrong", "not_found", "unsupported", "error")
GROUNDERS = ("auto", "template", "ocr", "vlm")


# -- samples -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One annotated target: an instruction and the box (image pixels) where it is."""

    id: str
    image: Path  # resolved path of the screenshot
    img_filename: str  # as written in the annotation
    bbox: Box
    instruction: str
    ui_type: str
    application: str = "unknown"
    group: str = "unknown"
    platform: str = "unknown"
    img_size: Size | None = None
    target_text: str | None = None
    source: str = ""  # "file.json[3]", for messages

    def value_of(self, key: str) -> str:
        """The value of a grouping key (``ui_type``, ``group``, ``application``, ``platform``)."""
        value = getattr(self, key)
        return str(value)

    def target(self, *, use_target_text: bool = False) -> str:
        """What to ask the grounder for: the instruction, or the quoted exact text."""
        if use_target_text and self.target_text:
            return f'"{self.target_text}"'
        return self.instruction


def load_annotations(
    annotations: str | os.PathLike[str],
    images: str | os.PathLike[str] | None = None,
    *,
    check_images: bool = True,
) -> list[Sample]:
    """Samples from a ScreenSpot-Pro annotation file or a folder of ``*.json`` files.

    ``images`` is the folder ``img_filename`` is relative to (default: the annotation file's
    folder, or the annotation folder itself). With ``check_images`` every image must exist
    and, where ``img_size`` is given, have that size. Raises :class:`AnnotationError` naming
    the file and entry index of the first problem.
    """
    path = Path(annotations)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file())
        if not files:
            raise AnnotationError(f"no *.json annotation files in {path}")
        image_root = Path(images) if images is not None else path
    elif path.is_file():
        files = [path]
        image_root = Path(images) if images is not None else path.parent
    else:
        raise AnnotationError(f"annotations not found: {path} (give a .json file or a folder)")
    if not image_root.is_dir():
        raise AnnotationError(f"images folder not found: {image_root}")

    samples: list[Sample] = []
    seen_ids: dict[str, str] = {}
    for file in files:
        for sample in _load_file(file, image_root):
            if sample.id in seen_ids:
                raise AnnotationError(
                    f"{sample.source}: id {sample.id!r} was already used by {seen_ids[sample.id]}"
                )
            seen_ids[sample.id] = sample.source
            samples.append(sample)
    if not samples:
        raise AnnotationError(f"no samples in {path}: the annotation lists are empty")
    if check_images:
        check_sample_images(samples, image_root)
    return samples


def _load_file(file: Path, image_root: Path) -> list[Sample]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{file}: not UTF-8 text ({exc})") from None
    except json.JSONDecodeError as exc:
        raise AnnotationError(
            f"{file}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, list):
        raise AnnotationError(
            f"{file}: expected a JSON list of annotation objects, got {type(data).__name__}"
        )
    return [_parse_entry(entry, f"{file}[{index}]", file, index, image_root)
            for index, entry in enumerate(data)]


def _parse_entry(entry: Any, where: str, file: Path, index: int, image_root: Path) -> Sample:
    if not isinstance(entry, dict):
        raise AnnotationError(f"{where}: expected an object, got {type(entry).__name__}")

    def text(key: str, *, required: bool, default: str = "unknown") -> str:
        value = entry.get(key)
        if value is None:
            if required:
                raise AnnotationError(f"{where}: missing {key!r}")
            return default
        if not isinstance(value, str) or not value.strip():
            raise AnnotationError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
        return value.strip()

    img_filename = text("img_filename", required=True)
    relative = PurePosixPath(img_filename.replace("\\", "/"))
    if relative.is_absolute() or ".." in relative.parts:
        raise AnnotationError(
            f"{where}: img_filename {img_filename!r} must be a relative path inside the "
            "images folder"
        )
    instruction = text("instruction", required=True)
    ui_type = text("ui_type", required=True)
    if ui_type not in UI_TYPES:
        raise AnnotationError(f"{where}: ui_type must be one of {', '.join(UI_TYPES)}, "
                              f"got {ui_type!r}")
    bbox = _parse_bbox(entry.get("bbox"), where)
    img_size = _parse_size(entry.get("img_size"), where)
    if img_size is not None and (bbox.right < 0 or bbox.bottom < 0 or bbox.left > img_size.width
                                 or bbox.top > img_size.height):
        raise AnnotationError(
            f"{where}: bbox {list(bbox.corners)} lies outside the {img_size} image"
        )
    target_text = entry.get("target_text")
    if target_text is not None and (not isinstance(target_text, str) or not target_text.strip()):
        raise AnnotationError(f"{where}: 'target_text' must be a non-empty string when given")
    raw_id = entry.get("id")
    if raw_id is not None and not isinstance(raw_id, (str, int)):
        raise AnnotationError(f"{where}: 'id' must be a string or a number, got {raw_id!r}")
    return Sample(
        id=str(raw_id) if raw_id is not None else f"{file.stem}:{index}",
        image=image_root / Path(*relative.parts),
        img_filename=img_filename,
        bbox=bbox,
        instruction=instruction,
        ui_type=ui_type,
        application=text("application", required=False),
        group=text("group", required=False),
        platform=text("platform", required=False),
        img_size=img_size,
        target_text=target_text.strip() if isinstance(target_text, str) else None,
        source=where,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_bbox(value: Any, where: str) -> Box:
    if value is None:
        raise AnnotationError(f"{where}: missing 'bbox' ([x1, y1, x2, y2] in pixels)")
    if not isinstance(value, list) or len(value) != 4 or not all(_is_number(v) for v in value):
        raise AnnotationError(
            f"{where}: 'bbox' must be four numbers [x1, y1, x2, y2], got {value!r}"
        )
    x1, y1, x2, y2 = (float(v) for v in value)
    if x2 < x1 or y2 < y1:
        raise AnnotationError(
            f"{where}: 'bbox' {value!r} has x2 < x1 or y2 < y1; it must be [x1, y1, x2, y2] "
            "(corners, not x, y, width, height)"
        )
    return Box(x1, y1, x2 - x1, y2 - y1)


def _parse_size(value: Any, where: str) -> Size | None:
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 2
            or not all(_is_number(v) and v > 0 and float(v).is_integer() for v in value)):
        raise AnnotationError(
            f"{where}: 'img_size' must be [width, height] in whole pixels, got {value!r}"
        )
    return Size(int(value[0]), int(value[1]))


def check_sample_images(samples: Sequence[Sample], image_root: Path) -> None:
    """Every image must exist and match the ``img_size`` its samples give."""
    first_use: dict[Path, Sample] = {}
    for sample in samples:
        first_use.setdefault(sample.image, sample)
    missing = [s for path, s in first_use.items() if not path.is_file()]
    if missing:
        examples = ", ".join(f"{s.img_filename} ({s.source})" for s in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise AnnotationError(
            f"{len(missing)} of {len(first_use)} images are missing under {image_root}: "
            f"{examples}{more}; check --images"
        )
    from PIL import Image, UnidentifiedImageError

    sizes: dict[Path, Size] = {}
    for sample in samples:
        if sample.img_size is None:
            continue
        actual = sizes.get(sample.image)
        if actual is None:
            try:
                with Image.open(sample.image) as image:  # reads the header only
                    actual = Size(*image.size)
            except (OSError, UnidentifiedImageError) as exc:
                raise AnnotationError(
                    f"{sample.source}: cannot read {sample.image}: {exc}"
                ) from None
            sizes[sample.image] = actual
        if actual != sample.img_size:
            raise AnnotationError(
                f"{sample.source}: img_size says {sample.img_size} but {sample.image} is {actual}"
            )


# -- prediction and scoring --------------------------------------------------------------------

Predictor = Callable[[Frame, Sample], object]
"""``predict(frame, sample)`` -> a Point, an ``(x, y)`` pair or an object with ``.point``."""


@dataclass(frozen=True, slots=True)
class SampleResult:
    """How one sample went. ``point`` is in image pixels; ``latency_ms`` is the predictor call."""

    sample: Sample
    status: Status
    point: Point | None = None
    score: float | None = None
    latency_ms: float = 0.0
    message: str = ""

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def to_json(self, *, use_target_text: bool = False) -> dict[str, Any]:
        s = self.sample
        return {
            "id": s.id,
            "img_filename": s.img_filename,
            "instruction": s.instruction,
            "target": s.target(use_target_text=use_target_text),
            "ui_type": s.ui_type,
            "application": s.application,
            "group": s.group,
            "platform": s.platform,
            "bbox": [round(v, 2) for v in s.bbox.corners],
            "status": self.status,
            "correct": self.correct,
            "point": None if self.point is None else [round(self.point.x, 2),
                                                      round(self.point.y, 2)],
            "score": None if self.score is None else round(self.score, 4),
            "latency_ms": round(self.latency_ms, 1),
            "message": self.message,
        }


def score_point(point: Point, bbox: Box) -> bool:
    """ScreenSpot scoring: the point lies inside the box, edges included."""
    return bbox.contains(point, inclusive=True)


def _as_prediction(result: object) -> tuple[Point, float | None]:
    """Normalise what a predictor returned to ``(point, score)``."""
    score: float | None = None
    value: Any = result
    if not isinstance(value, Point) and hasattr(value, "point"):
        raw_score: Any = getattr(value, "score", None)
        if _is_number(raw_score):
            score = float(raw_score)
        value = value.point
    if isinstance(value, Point):
        point = value
    elif (isinstance(value, (tuple, list)) and len(value) == 2
          and all(_is_number(v) for v in value)):
        point = Point(float(value[0]), float(value[1]))
    else:
        raise TypeError(
            f"a predictor must return a Point, an (x, y) pair or an object with .point, "
            f"got {type(result).__name__}"
        )
    if not (math.isfinite(point.x) and math.isfinite(point.y)):
        raise TypeError(f"the predictor returned a non-finite point {point}")
    return point, score


def predict_one(predict: Predictor, frame: Frame, sample: Sample) -> SampleResult:
    """Run the predictor on one sample and score it; grounding failures become statuses."""
    start = time.perf_counter()
    try:
        result = predict(frame, sample)
        point, score = _as_prediction(result)
    except TargetNotFound as exc:
        elapsed = (time.perf_counter() - start) * 1000
        best = f" (best score {exc.best_score:.3f})" if exc.best_score is not None else ""
        return SampleResult(sample, "not_found", None, exc.best_score, elapsed, f"{exc}{best}")
    except GuiAgentError as exc:
        elapsed = (time.perf_counter() - start) * 1000
        return SampleResult(sample, "unsupported", None, None, elapsed, str(exc))
    except Exception as exc:  # a grounder bug: keep going, but say so in the report
        elapsed = (time.perf_counter() - start) * 1000
        return SampleResult(sample, "error", None, None, elapsed, f"{type(exc).__name__}: {exc}")
    elapsed = (time.perf_counter() - start) * 1000
    status: Status = "correct" if score_point(point, sample.bbox) else "wrong"
    return SampleResult(sample, status, point, score, elapsed)


# -- progress ---------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on a stream (stderr); plain lines when it is not a terminal."""

    def __init__(self, total: int, stream: IO[str] | None = None, *, width: int = 30) -> None:
        self.total = max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._step = max(1, self.total // 10)
        self._start = time.monotonic()

    def update(self, done: int, correct: int) -> None:
        if not self.interactive and done % self._step and done != self.total:
            return
        filled = round(self.width * done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self._start
        eta = elapsed / done * (self.total - done) if done else 0.0
        line = (f"[{bar}] {done}/{self.total} correct {correct} "
                f"({correct / done if done else 0:.1%}) eta {eta:4.0f}s")
        if self.interactive:
            self.stream.write("\r" + line)
            if done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


# -- the evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Accuracy and counts for the samples sharing one value of a grouping key."""

    key: str
    value: str
    total: int
    correct: int
    counts: dict[str, int]  # per status
    median_latency_ms: float | None

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "total": self.total,
            "correct": self.correct,
            "accuracy": round(self.accuracy, 4),
            **{status: self.counts.get(status, 0) for status in STATUSES if status != "correct"},
            "median_latency_ms": None if self.median_latency_ms is None
            else round(self.median_latency_ms, 1),
        }


def group_stats(key: str, value: str, results: Sequence[SampleResult]) -> GroupStats:
    counts: dict[str, int] = {status: 0 for status in STATUSES}
    for result in results:
        counts[result.status] += 1
    # Latency of real attempts: "unsupported" and "error" return at once and would hide it.
    latencies = [r.latency_ms for r in results if r.status in ("correct", "wrong", "not_found")]
    median = statistics.median(latencies) if latencies else None
    return GroupStats(key, value, len(results), counts["correct"], counts, median)


@dataclass(frozen=True)
class EvaluationReport:
    """All results of one run, with breakdowns, the text table and the JSON output."""

    results: tuple[SampleResult, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def correct(self) -> int:
        return sum(r.correct for r in self.results)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)

    def overall(self) -> GroupStats:
        return group_stats("overall", "all", self.results)

    def breakdown(self, key: str) -> list[GroupStats]:
        """Stats per value of ``key`` (``ui_type``, ``group``, ``application``, ``platform``)."""
        buckets: dict[str, list[SampleResult]] = {}
        for result in self.results:
            buckets.setdefault(result.sample.value_of(key), []).append(result)
        return [group_stats(key, value, buckets[value]) for value in sorted(buckets)]

    def table(self, keys: Sequence[str] = GROUP_KEYS) -> str:
        """A plain-text table: one section per key, then the overall row."""
        header = ("", "n", "correct", "accuracy", "wrong", "not_found", "unsupported", "error",
                  "median_ms")
        rows: list[tuple[str, ...]] = []
        sections: list[int] = []  # row indexes that start a section
        for key in keys:
            sections.append(len(rows))
            rows.append((f"[{key}]",) + ("",) * (len(header) - 1))
            rows.extend(_row(f"  {stats.value}", stats) for stats in self.breakdown(key))
        sections.append(len(rows))
        rows.append(_row("overall", self.overall()))
        widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

        def fmt(row: tuple[str, ...]) -> str:
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
            return "  ".join(cells).rstrip()

        lines = [fmt(header)]
        for index, row in enumerate(rows):
            if index in sections:
                lines.append("-" * len(fmt(header)))
            lines.append(fmt(row))
        return "\n".join(lines)

    def accuracy_line(self) -> str:
        """The last line the CLI prints, exactly ``accuracy: 0.XXXX (correct/total)``."""
        return f"accuracy: {self.accuracy:.4f} ({self.correct}/{self.total})"

    def to_json(self) -> dict[str, Any]:
        use_target_text = bool(self.settings.get("use_target_text", False))
        return {
            "summary": {
                "accuracy": round(self.accuracy, 4),
                "correct": self.correct,
                "total": self.total,
                **{status: self.count(status) for status in STATUSES if status != "correct"},
                "median_latency_ms": self.overall().to_json()["median_latency_ms"],
                "elapsed_s": round(self.elapsed_s, 2),
                "settings": self.settings,
            },
            "breakdown": {key: [s.to_json() for s in self.breakdown(key)]
                          for key in (*GROUP_KEYS, "platform")},
            "samples": [r.to_json(use_target_text=use_target_text) for r in self.results],
        }

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        out = Path(path)
        if out.parent != Path(""):
            out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
        return out


def _row(label: str, stats: GroupStats) -> tuple[str, ...]:
    c = stats.counts
    return (
        label,
        str(stats.total),
        str(stats.correct),
        f"{stats.accuracy:.4f}",
        str(c["wrong"]),
        str(c["not_found"]),
        str(c["unsupported"]),
        str(c["error"]),
        "-" if stats.median_latency_ms is None else f"{stats.median_latency_ms:.1f}",
    )


def evaluate(
    samples: Iterable[Sample],
    predict: Predictor,
    *,
    progress: bool | IO[str] = False,
    settings: dict[str, Any] | None = None,
    load_image: Callable[[Path], Frame] = Frame.load,
) -> EvaluationReport:
    """Ground every sample with ``predict`` and score it.

    ``progress``: ``True`` draws a progress bar on stderr, or pass a stream. Images are loaded
    once for consecutive samples that share them. Latency is the wall time of the predictor
    call alone (image loading excluded).
    """
    items = list(samples)
    bar: Progress | None = None
    if progress:
        bar = Progress(len(items), None if progress is True else progress)
    started = time.perf_counter()
    results: list[SampleResult] = []
    cached: tuple[Path, Frame] | None = None
    correct = 0
    for done, sample in enumerate(items, start=1):
        if cached is None or cached[0] != sample.image:
            cached = (sample.image, load_image(sample.image))
        result = predict_one(predict, cached[1], sample)
        results.append(result)
        correct += result.correct
        if bar is not None:
            bar.update(done, correct)
    return EvaluationReport(tuple(results), dict(settings or {}),
                            time.perf_counter() - started)


def locate_predictor(
    *,
    grounder: str = "auto",
    ecp: bool = True,
    crop: int = 1024,
    use_target_text: bool = False,
) -> Predictor:
    """A predictor backed by ``guiagent.locate``: elements first (vision elements on a
    screenshot), then ECP grounding of the pixels.

    The instruction goes in unquoted, as a description (the router decides whether OCR can
    take it); with ``use_target_text`` a sample's ``target_text`` goes in quoted, as exact text.
    """
    from guiagent.elements.locate import locate

    def predict(frame: Frame, sample: Sample) -> object:
        return locate(frame, sample.target(use_target_text=use_target_text),
                      grounder=grounder, ecp=ecp, crop=crop)

    return predict


# -- command line -----------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def add_command(subparsers: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register ``guiagent eval`` on the CLI's subparsers; returns its parser."""
    p = subparsers.add_parser(
        "eval",
        parents=[common],
        help="measure grounding accuracy on ScreenSpot-Pro-style annotations",
        description=(
            "Ground every annotated instruction in its screenshot and count a sample correct "
            "when the predicted point lies inside its box (edges included). Prints a table by "
            "ui_type, group and application; the last line is 'accuracy: 0.XXXX (n/total)'."
        ),
    )
    p.add_argument("annotations", help="annotation .json file, or a folder of them")
    p.add_argument("--images", required=True,
                   help="folder the annotations' img_filename paths are relative to")
    p.add_argument("--grounder", default="auto", choices=GROUNDERS,
                   help="grounder to use (default: auto)")
    p.add_argument("--single-stage", action="store_true",
                   help="ground on the whole frame at once instead of the two-stage ECP search")
    p.add_argument("--crop", type=_positive_int, default=1024,
                   help="ECP stage-2 crop size in pixels (default: 1024)")
    p.add_argument("--limit", type=_positive_int, help="evaluate only the first N samples")
    p.add_argument("--use-target-text", action="store_true",
                   help="ask for a sample's exact 'target_text' (quoted) when it has one, "
                        "instead of its instruction")
    p.add_argument("--out", help="write per-sample predictions and the breakdown to this JSON file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(handler=cmd_eval)
    return p


def cmd_eval(args: argparse.Namespace) -> int:
    from guiagent.grounding.vlm.options import apply_vlm_arguments

    apply_vlm_arguments(args)
    samples = load_annotations(args.annotations, args.images)
    if args.limit is not None:
        samples = samples[: args.limit]
    settings = {
        "annotations": str(args.annotations),
        "images": str(args.images),
        "grounder": args.grounder,
        "ecp": not args.single_stage,
        "crop": args.crop,
        "use_target_text": args.use_target_text,
        "limit": args.limit,
        "model": getattr(args, "model", None) or getattr(args, "vlm_model", None),
    }
    predict = locate_predictor(grounder=args.grounder, ecp=not args.single_stage, crop=args.crop,
                               use_target_text=args.use_target_text)
    report = evaluate(samples, predict, progress=not args.no_progress, settings=settings)
    return print_report(report, out=args.out)


def print_report(report: EvaluationReport, *, out: str | os.PathLike[str] | None = None,
                 stream: IO[str] | None = None) -> int:
    """Print the table and the accuracy line (last); write ``out``; return the exit status."""
    stream = stream if stream is not None else sys.stdout
    if out is not None:
        path = report.write_json(out)
        print(f"wrote {path}", file=sys.stderr)
    errors = [r for r in report.results if r.status == "error"]
    if errors:
        print(f"guiagent: warning: {len(errors)} samples failed with an internal error, e.g. "
              f"{errors[0].sample.source}: {errors[0].message}", file=sys.stderr)
    print(report.table(), file=stream)
    print(report.accuracy_line(), file=stream)
    stream.flush()
    return 0
