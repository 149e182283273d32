"""In-process transformers runtime: a local checkpoint directory, no network at run time.

The stock Qwen-VL processors insist on a video processor, which needs torchvision; a CPU-only
install often has none. We therefore do the processor's work from its parts, which works with
or without torchvision: the image processor (transformers picks its PIL backend when
torchvision is missing) turns images into patches and their grid, the tokenizer's own chat
template renders the conversation, and each image placeholder is expanded to the image's
number of visual tokens (grid t*h*w / merge_size**2), as the processor does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from guiagent.errors import ModelLoadError
from guiagent.geometry import Size
from guiagent.grounding.vlm.base import Generation, Message

if TYPE_CHECKING:
    from PIL import Image

Attention = Literal["auto", "sdpa", "eager", "flash_attention_2"]

_IMAGE_PAD = "<|image_pad|>"
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """``device``/``dtype`` "auto": CUDA with bfloat16 when there is a GPU, else CPU float32.
    ``attention``: "auto" uses flash-attention 2 when installed on CUDA, else SDPA."""

    device: str = "auto"
    dtype: str = "auto"
    attention: Attention = "auto"


def check_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's config.json; raises ModelLoadError naming the path and what is missing."""
    if not path.exists():
        raise ModelLoadError(f"model directory {path} does not exist: pass the folder that holds "
                             "config.json and the weights (guiagent downloads nothing)")
    if not path.is_dir():
        raise ModelLoadError(f"{path} is a file; pass the checkpoint folder that holds config.json")
    missing: list[str] = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    index = next((path / name for name in _WEIGHT_FILES if (path / name).is_file()), None)
    if index is None and not any(path.glob("*.safetensors")):
        missing.append("weights (model.safetensors or model-0000x-of-0000y.safetensors + index)")
    elif index is not None and index.name.endswith(".index.json"):
        shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        missing.extend(sorted(shard for shard in shards if not (path / shard).is_file()))
    if not any((path / name).is_file() for name in _TOKENIZER_FILES):
        missing.append("tokenizer (tokenizer.json)")
    if not (path / "preprocessor_config.json").is_file():
        missing.append("preprocessor_config.json")
    if missing:
        raise ModelLoadError(f"checkpoint {path} is incomplete, missing: {', '.join(missing)} "
                             "(copy the whole model folder, e.g. `hf download MODEL --local-dir DIR`)")
    try:
        config: dict[str, Any] = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path / 'config.json'} is not readable JSON: {exc}") from exc
    return config


def _import_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401 (checked here so the error names both)
    except ImportError as exc:
        raise ModelLoadError(
            f"local VLM grounding needs torch and transformers ({exc}): pip install 'guiagent[vlm]' "
            "(CPU-only: pip install torch --index-url https://download.pytorch.org/whl/cpu first), "
            "or use a model server with --vlm-url"
        ) from exc
    return torch


class TransformersRuntime:
    """Runs a Qwen-VL-style model in this process; deterministic (greedy) decoding.

    ``TransformersRuntime.load(path)`` for a checkpoint folder; the constructor takes a model
    already in memory (benchmarks build random-weight ones straight on the GPU).
    """

    def __init__(self, model: Any, tokenizer: Any, image_processor: Any, *, name: str) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.name = name
        self.device = str(next(model.parameters()).device)
        self.merge_size = int(getattr(image_processor, "merge_size", 2))
        self.patch_size = int(getattr(image_processor, "patch_size", 14))
        self._end_ids = {i for i in (tokenizer.eos_token_id, tokenizer.pad_token_id,
                                     tokenizer.convert_tokens_to_ids("<|im_end|>"),
                                     tokenizer.convert_tokens_to_ids("<|endoftext|>"))
                         if isinstance(i, int) and i >= 0}

    @classmethod
    def load(cls, path: str | Path, settings: RuntimeSettings | None = None) -> TransformersRuntime:
        """Load a local checkpoint folder (nothing is downloaded)."""
        folder = Path(path).expanduser()
        check_checkpoint(folder)
        settings = settings or RuntimeSettings()
        torch = _import_torch()
        from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # our stderr is for errors and results

        device = settings.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        on_gpu = device.startswith("cuda")
        dtype = settings.dtype if settings.dtype != "auto" else ("bfloat16" if on_gpu else "float32")
        attention = settings.attention
        if attention == "auto":
            attention = "flash_attention_2" if on_gpu and _has_flash_attention() else "sdpa"
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            image_processor = load_image_processor(folder, AutoImageProcessor)
            model = AutoModelForImageTextToText.from_pretrained(
                folder, local_files_only=True, dtype=getattr(torch, dtype), attn_implementation=attention,
                device_map=device,
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"could not load the model in {folder}: {exc}") from exc
        if getattr(tokenizer, "chat_template", None) is None:
            tokenizer.chat_template = _chat_template(folder)
        return cls(model, tokenizer, image_processor, name=f"transformers:{folder.name}")

    def prepare(self, messages: Sequence[Message], images: Sequence[Image.Image]) -> Any:
        """Model inputs (token ids with expanded image tokens, pixel patches, image grids)."""
        torch = _import_torch()
        text = self.tokenizer.apply_chat_template(list(messages), tokenize=False,
                                                  add_generation_prompt=True)
        placeholders = text.count(_IMAGE_PAD)
        if placeholders != len(images):
            raise ValueError(f"the prompt has {placeholders} image placeholders for {len(images)} images")
        features: dict[str, Any] = {}
        if images:
            features = dict(self.image_processor(images=[im.convert("RGB") for im in images],
                                                 return_tensors="pt"))
            grids = features["image_grid_thw"]
            pieces = text.split(_IMAGE_PAD)
            expanded = [pieces[0]]
            for grid, piece in zip(grids, pieces[1:], strict=True):
                expanded.append(_IMAGE_PAD * (int(grid.prod()) // self.merge_size**2) + piece)
            text = "".join(expanded)
        encoded = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        inputs = {**encoded, **features}
        return {k: (v.to(self.device) if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}

    def generate(self, messages: Sequence[Message], images: Sequence[Image.Image], *,
                 max_new_tokens: int = 64, logits_processors: Sequence[Any] = ()) -> Generation:
        torch = _import_torch()
        from transformers import LogitsProcessorList

        started = time.perf_counter()
        inputs = self.prepare(messages, images)
        prompt_length = int(inputs["input_ids"].shape[1])
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                output_scores=True, return_dict_in_generate=True,
                logits_processor=LogitsProcessorList(logits_processors),
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new_tokens = output.sequences[0, prompt_length:].tolist()
        logprobs = [float(torch.log_softmax(step[0].float(), dim=-1)[token])
                    for step, token in zip(output.scores, new_tokens, strict=False)]
        # Drop the end-of-turn tokens; keep special tokens like <|box_start|> that carry answers.
        while new_tokens and new_tokens[-1] in self._end_ids:
            new_tokens.pop()
            logprobs = logprobs[: len(new_tokens)]
        answer = self.tokenizer.decode(new_tokens, skip_special_tokens=False)
        grids = inputs.get("image_grid_thw")
        sizes = tuple(Size(int(g[2]) * self.patch_size, int(g[1]) * self.patch_size)
                      for g in grids) if grids is not None else ()
        visual = sum(int(g.prod()) // self.merge_size**2 for g in grids) if grids is not None else 0
        return Generation(answer, tuple(logprobs), (time.perf_counter() - started) * 1000.0,
                          prompt_length, visual, sizes)


def _has_flash_attention() -> bool:
    try:
        import flash_attn  # noqa: F401 (only whether it is installed matters)
    except ImportError:
        return False
    return True


def _chat_template(folder: Path) -> str:
    """The chat template of checkpoints that keep it beside the tokenizer."""
    template = folder / "chat_template.jinja"
    legacy = folder / "chat_template.json"
    if template.is_file():
        return template.read_text(encoding="utf-8")
    if legacy.is_file():
        return str(json.loads(legacy.read_text(encoding="utf-8"))["chat_template"])
    raise ModelLoadError(f"checkpoint {folder} has no chat template "
                         "(chat_template.jinja, chat_template.json or tokenizer_config.json's)")


def load_image_processor(folder: Path, auto: Any) -> Any:
    """The checkpoint's image processor, on its PIL backend when torchvision is missing (before
    5.2x, transformers' AutoImageProcessor refuses to load anything without torchvision)."""
    try:
        return auto.from_pretrained(folder, local_files_only=True)
    except ImportError as exc:
        import transformers

        config = json.loads((folder / "preprocessor_config.json").read_text(encoding="utf-8"))
        kind = str(config.get("image_processor_type", "")).removesuffix("Fast")
        pil_backend = getattr(transformers, kind + "Pil", None)
        if pil_backend is None:
            raise ModelLoadError(f"cannot load the image processor {kind or '?'} of {folder} "
                                 f"without torchvision ({exc}); pip install torchvision") from exc
        return pil_backend.from_pretrained(folder, local_files_only=True)
