"""Grounding accuracy and latency on the real-application 4K dev set: ECP vs single stage,
per grounder and ui_type.

The dev set comes from benchmarks/devset/generate.py (Chromium and Tk apps on a 3840x2160
Xvfb display, ground-truth boxes from the DOM and Tk geometry); without it, the committed test
fixture is used. A fixed-seed subset keeps the run to a few minutes on 2 cores.

Runs:
- text, OCR, exact visible text (quoted ``target_text``), ECP and single stage;
- text and icon, ``auto`` with the instruction as written (icons need a VLM: they count as
  wrong, and the table says how many were "unsupported");
- icon and text, template: the target's own pixels (its box plus 3 px) cut from the frame,
  ECP and single stage.

Latency: "cold" is the first target on a screenshot (nothing cached), "warm" the later targets
on the same unchanged screenshot (OCR results are cached per region).

Run: python benchmarks/grounding.py [--images 10] [--per-image 12] [--annotations FILE]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from guiagent.evaluation.screenspot import EvaluationReport, Sample, evaluate, load_annotations
from guiagent.grounding import locate
from guiagent.screen.capture import Frame

sys.path.insert(0, str(Path(__file__).parent))
from results import machine_summary, write_section

HERE = Path(__file__).parent
DEVSET = HERE / "devset" / "data" / "annotations.json"
FIXTURE = HERE.parent / "tests" / "fixtures" / "devset" / "annotations.json"


def pick(samples: list[Sample], images: int, per_image: int, seed: int) -> list[Sample]:
    by_image: dict[Path, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_image[sample.image].append(sample)
    rng = random.Random(seed)
    chosen_images = sorted(by_image)
    rng.shuffle(chosen_images)
    picked: list[Sample] = []
    for image in sorted(chosen_images[:images]):
        group = by_image[image]
        rng.shuffle(group)
        picked.extend(group[:per_image])
    return picked


def template_predictor(ecp: bool) -> Callable[[Frame, Sample], object]:
    def predict(frame: Frame, sample: Sample) -> object:
        box = sample.bbox.expanded(3).integer().intersection(frame.bounds)
        assert box is not None
        return locate(frame, frame.crop(box).bgr().copy(), grounder="template", ecp=ecp)

    return predict


def text_predictor(grounder: str, ecp: bool, quoted: bool) -> Callable[[Frame, Sample], object]:
    def predict(frame: Frame, sample: Sample) -> object:
        return locate(frame, sample.target(use_target_text=quoted), grounder=grounder, ecp=ecp)

    return predict


def latency(report: EvaluationReport) -> tuple[float, float]:
    """Median ms of the first sample per image (cold) and of the others (warm)."""
    seen: set[Path] = set()
    cold: list[float] = []
    warm: list[float] = []
    for result in report.results:
        if result.status in ("unsupported", "error"):
            continue
        (warm if result.sample.image in seen else cold).append(result.latency_ms)
        seen.add(result.sample.image)
    return (statistics.median(cold) if cold else float("nan"),
            statistics.median(warm) if warm else float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--annotations", type=Path)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--per-image", type=int, default=12)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--skip-single-ocr", action="store_true",
                        help="skip the slow single-stage OCR run")
    args = parser.parse_args()
    source = args.annotations or (DEVSET if DEVSET.exists() else FIXTURE)
    samples = pick(load_annotations(source, source.parent / "images"), args.images,
                   args.per_image, args.seed)
    text = [s for s in samples if s.ui_type == "text"]
    icons = [s for s in samples if s.ui_type == "icon"]
    runs: list[tuple[str, list[Sample], Callable[[Frame, Sample], object]]] = [
        ("text | ocr, exact text | ECP", text, text_predictor("ocr", True, True)),
        ("text | ocr, exact text | single stage", text, text_predictor("ocr", False, True)),
        ("text | auto, instruction | ECP", text, text_predictor("auto", True, False)),
        ("icon | auto, instruction | ECP", icons, text_predictor("auto", True, False)),
        ("text | template (own pixels) | ECP", text, template_predictor(True)),
        ("text | template (own pixels) | single stage", text, template_predictor(False)),
        ("icon | template (own pixels) | ECP", icons, template_predictor(True)),
        ("icon | template (own pixels) | single stage", icons, template_predictor(False)),
    ]
    if args.skip_single_ocr:
        runs = [r for r in runs if r[0] != "text | ocr, exact text | single stage"]
    lines = ["| ui_type / grounder, target / mode | n | accuracy | not found | unsupported "
             "| cold median ms | warm median ms |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, subset, predict in runs:
        if not subset:
            continue
        _clear_ocr_cache()
        report = evaluate(subset, predict, progress=True)
        cold, warm = latency(report)
        lines.append(
            f"| {name} | {report.total} | {report.accuracy:.3f} | {report.count('not_found')} | "
            f"{report.count('unsupported')} | {cold:.0f} | {warm:.0f} |"
        )
        print(lines[-1], flush=True)
    body = "\n".join([
        f"Dev set: `{source.relative_to(HERE.parent)}`, {len(samples)} samples "
        f"({len(text)} text, {len(icons)} icon) from {args.images} screenshots "
        f"(seed {args.seed}, up to {args.per_image} per screenshot), 3840x2160, real Chromium "
        "and Tk windows, UI scale 1-2, light and dark themes. Correct = point inside the "
        "app-given box (edges inclusive). Cold = first target on a screenshot; warm = later "
        "targets on the same screenshot.",
        "",
        *lines,
    ])
    print(body)
    write_section("Grounding accuracy on the dev set (ECP vs single stage)",
                  body + "\n\n" + machine_summary())


def _clear_ocr_cache() -> None:
    from guiagent.grounding import get_grounder

    try:
        grounder = get_grounder("ocr")
    except Exception:
        return
    clear = getattr(grounder, "clear_cache", None)
    if clear is not None:
        clear()


if __name__ == "__main__":
    main()
