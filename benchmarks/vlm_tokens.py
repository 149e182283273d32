"""Visual tokens per grounding: ECP (downsampled frame + one full-resolution crop) vs one stage.

Runs frames of 1080p to 8K through the real Qwen image processors from transformers (built
locally from the settings their checkpoints ship in ``preprocessor_config.json``; nothing is
downloaded) and counts visual tokens as ``image_grid_thw.prod() / merge_size**2``, as the
models' processors do.

- ECP: stage 1 on the frame downsampled to ``max_pixels=1003520`` (~1M) + stage 2 on one
  1024x1024 full-resolution crop (``max_pixels`` high enough for the crop not to be shrunk:
  1024*1024 is a little more than 1003520).
- Single stage, native: the whole frame at full resolution (``max_pixels`` high enough that
  nothing is downsampled).
- Single stage, checkpoint default: the whole frame with the checkpoint's own ``max_pixels``
  (12845056 for Qwen2/2.5-VL, 16777216 for Qwen3-VL), which downsamples the largest frames.

Run: python benchmarks/vlm_tokens.py
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from results import machine_summary, write_section

TITLE = "VLM visual tokens per grounding (ECP vs single stage)"
FRAMES = {"1080p": (1920, 1080), "1440p": (2560, 1440), "4K": (3840, 2160), "5K": (5120, 2880),
          "8K": (7680, 4320)}
STAGE1_MAX_PIXELS = 1003520  # 28 * 28 * 1280
CROP = (1024, 1024)
NATIVE_MAX_PIXELS = 10**9


@dataclass(frozen=True)
class Family:
    """A model family: its transformers model type and its checkpoint's processor settings."""

    name: str
    model_type: str  # key in transformers' image processor mapping
    checkpoint: str  # whose preprocessor_config.json the settings below come from
    settings: dict[str, Any]

    @property
    def default_max_pixels(self) -> int:
        return int(self.settings["size"]["longest_edge"])


FAMILIES = [
    Family("Qwen2-VL", "qwen2_vl", "Qwen/Qwen2-VL-7B-Instruct",
           {"patch_size": 14, "merge_size": 2, "temporal_patch_size": 2,
            "size": {"shortest_edge": 3136, "longest_edge": 12845056}}),
    Family("Qwen2.5-VL", "qwen2_5_vl", "Qwen/Qwen2.5-VL-7B-Instruct",
           {"patch_size": 14, "merge_size": 2, "temporal_patch_size": 2,
            "size": {"shortest_edge": 3136, "longest_edge": 12845056}}),
    Family("Qwen3-VL", "qwen3_vl", "Qwen/Qwen3-VL-8B-Instruct",
           {"patch_size": 16, "merge_size": 2, "temporal_patch_size": 2,
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
            "size": {"shortest_edge": 65536, "longest_edge": 16777216}}),
]


@dataclass(frozen=True)
class Count:
    tokens: int
    input_size: tuple[int, int]  # (width, height) the vision tower sees

    def __str__(self) -> str:
        return f"{self.tokens:,} ({self.input_size[0]}x{self.input_size[1]})"


def processor_class(model_type: str) -> type:
    """The image processor class transformers uses for ``model_type`` (PIL backend: no torchvision)."""
    import transformers
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES

    names = IMAGE_PROCESSOR_MAPPING_NAMES[model_type]
    name = names.get("pil") if isinstance(names, dict) else names
    return getattr(transformers, str(name))


def count(processor: Any, image: Image.Image, max_pixels: int) -> Count:
    """Visual tokens of ``image`` through ``processor`` with ``max_pixels``; cross-checked."""
    min_pixels = processor.size["shortest_edge"]
    size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
    out = processor(images=[image], size=size, return_tensors="np")
    t, h, w = (int(v) for v in out["image_grid_thw"][0])
    merge = processor.merge_size
    tokens = t * h * w // merge**2
    patches = processor.get_number_of_image_patches(image.height, image.width,
                                                    {"min_pixels": min_pixels, "max_pixels": max_pixels})
    assert patches // merge**2 == tokens, (patches, tokens)
    assert t == 1, t
    return Count(tokens, (w * processor.patch_size, h * processor.patch_size))


def measure(families: list[Family]) -> list[dict[str, Any]]:
    rows = []
    crop = Image.new("RGB", CROP, (200, 200, 200))
    for family in families:
        cls = processor_class(family.model_type)
        processor = cls(**family.settings)
        stage2 = count(processor, crop, NATIVE_MAX_PIXELS)  # full resolution: no downsampling
        for label, size in FRAMES.items():
            frame = Image.new("RGB", size, (200, 200, 200))
            rows.append({
                "frame": f"{label} {size[0]}x{size[1]}", "family": family, "cls": cls.__name__,
                "stage1": count(processor, frame, STAGE1_MAX_PIXELS), "stage2": stage2,
                "native": count(processor, frame, NATIVE_MAX_PIXELS),
                "default": count(processor, frame, family.default_max_pixels),
            })
            print(f"{family.name} {label}: done", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| frame | model | ECP stage 1 (~1M px) | + stage 2 crop 1024x1024 | ECP total | "
             "single stage, native | ECP / native | single stage, checkpoint default | "
             "ECP / default |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        ecp = row["stage1"].tokens + row["stage2"].tokens
        native, default = row["native"], row["default"]
        downsampled = "" if default.input_size == native.input_size else " (downsampled)"
        lines.append(f"| {row['frame']} | {row['family'].name} | {row['stage1']} | {row['stage2']} | "
                     f"{ecp:,} | {native} | {ecp / native.tokens:.2f} | {default}{downsampled} | "
                     f"{ecp / default.tokens:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()

    import transformers

    rows = measure(FAMILIES)
    crops = ", ".join(dict.fromkeys(f"{row['family'].name} {row['stage2']}" for row in rows))
    classes = sorted({f"{row['family'].name}: `{row['cls']}`" for row in rows})
    settings = "; ".join(f"{f.name} ({f.checkpoint}): patch {f.settings['patch_size']}, merge "
                         f"{f.settings['merge_size']}, min_pixels {f.settings['size']['shortest_edge']}, "
                         f"max_pixels {f.default_max_pixels}" for f in FAMILIES)
    body = "\n".join([
        f"Visual tokens per grounding, counted by the real image processors of transformers "
        f"{transformers.__version__} (`image_grid_thw.prod() / merge_size**2`, cross-checked with "
        "`get_number_of_image_patches`), built locally with their checkpoints' "
        "`preprocessor_config.json` settings (nothing downloaded). Cells are tokens (the size the "
        "vision tower sees). ECP = stage 1 on the frame downsampled to max_pixels=1003520 plus "
        "stage 2 on one 1024x1024 full-resolution crop. Single stage, native = the whole frame at "
        "full resolution; checkpoint default = the whole frame with the checkpoint's max_pixels. "
        "Ratios below 1 mean ECP feeds the model fewer visual tokens.",
        "",
        *table(rows),
        "",
        f"- Processor classes: {', '.join(classes)}. In transformers {transformers.__version__} "
        "Qwen2.5-VL and Qwen3-VL have no image processor of their own: the auto mapping gives them "
        "Qwen2-VL's, and only the checkpoint settings differ.",
        f"- Checkpoint settings: {settings}.",
        "- The bare classes' own default (`Qwen2VLImageProcessor()`) is max_pixels=1003520, the "
        "same budget as ECP stage 1: a frame given to a processor built without a checkpoint is "
        "downsampled to ~1M pixels whatever its size.",
        "- Stage 2 runs one crop when its answer is confident; each further crop adds the same "
        f"stage-2 count ({crops}).",
    ])
    print(body)
    if not args.no_write:
        write_section(TITLE, body + "\n\n" + machine_summary())


if __name__ == "__main__":
    main()
