"""Random-weight Qwen-VL checkpoints built offline, in the exact layout of the real ones.

They exercise the real load -> preprocess -> generate -> parse -> map-back path in tests, and
they time that path in benchmarks (latency does not depend on the weight values). Nothing is
downloaded: the tokenizer is trained on a few strings with the ``tokenizers`` library and
carries the Qwen special tokens and a chat template of the same shape as Qwen's.

    from guiagent.grounding.vlm.synthetic import build_checkpoint
    build_checkpoint("/tmp/tiny-qwen2vl", "qwen2_vl")            # ~1 MB, loads in < 1 s
    build_checkpoint("/tmp/qwen25-3b", "qwen2_5_vl", size="3b", device="cuda")

Also :class:`ForcedText`, a logits processor that makes any model emit a chosen answer, so a
test knows what a random-weight model "said".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Architecture = Literal["qwen2_vl", "qwen2_5_vl", "qwen3_vl"]
ModelSize = Literal["tiny", "small", "3b", "7b"]

# The tokens Qwen-VL chat templates and answers use (names as in the real tokenizers).
SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|image_pad|>", "<|video_pad|>", "<|box_start|>", "<|box_end|>", "<|object_ref_start|>",
    "<|object_ref_end|>", "<|quad_start|>", "<|quad_end|>", "<tool_call>", "</tool_call>",
)

# A chat template of the same shape as Qwen2-VL's: an image item becomes
# <|vision_start|><|image_pad|><|vision_end|>, which the runtime expands to the image's tokens.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif item['type'] == 'text' %}{{ item['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Text the tokenizer is trained on: enough for answers of every family to be encodable.
_CORPUS = (
    "You are a helpful assistant. Click the Save button. (123,456),(789,1000) [0.12, 0.98]",
    '{"bbox_2d": [10, 20, 30, 40], "point_2d": [5, 6], "label": "gear icon"}',
    "Thought: click it. Action: click(start_box='(512,384)') <point>12 34</point> Click(1, 2)",
    '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [640, 360]}}',
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,:;!?'\"()[]{}<>_-=+*/\\|",
)


@dataclass(frozen=True, slots=True)
class _Dims:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vision_depth: int
    vision_hidden: int
    vision_intermediate: int
    vision_heads: int


# Text and vision tower sizes. "3b"/"7b" follow Qwen2.5-VL-3B/7B's published config.json files
# (hidden 2048/3584, 36/28 layers, 16/28 heads, 2/4 kv heads; a 32-block 1280-wide ViT) so
# their latency is that of the real models; their vocabulary stays small (the tokenizer is ours),
# which only shrinks the output projection.
_SIZES: dict[str, _Dims] = {
    "tiny": _Dims(64, 128, 2, 4, 2, 2, 32, 64, 2),
    "small": _Dims(256, 688, 4, 4, 2, 4, 128, 256, 4),
    "3b": _Dims(2048, 11008, 36, 16, 2, 32, 1280, 3420, 16),
    "7b": _Dims(3584, 18944, 28, 28, 4, 32, 1280, 3420, 16),
}


def build_tokenizer() -> Any:
    """A byte-level BPE tokenizer with the Qwen special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(_CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _config(architecture: Architecture, dims: _Dims, tokenizer: Any) -> Any:
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    head_dim = dims.hidden // dims.heads
    text: dict[str, Any] = dict(
        vocab_size=len(tokenizer), hidden_size=dims.hidden, intermediate_size=dims.intermediate,
        num_hidden_layers=dims.layers, num_attention_heads=dims.heads,
        num_key_value_heads=dims.kv_heads, max_position_embeddings=32768,
        eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"],
    )
    tokens = dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                  vision_start_token_id=ids["<|vision_start|>"],
                  vision_end_token_id=ids["<|vision_end|>"])
    # M-RoPE splits each head's rotary half into temporal/height/width sections.
    half = head_dim // 2
    section = [half - 2 * (3 * half // 8), 3 * half // 8, 3 * half // 8]
    if architecture == "qwen2_vl":
        from transformers import Qwen2VLConfig

        text["rope_parameters"] = {"rope_type": "default", "mrope_section": section, "rope_theta": 1e6}
        vision: dict[str, Any] = dict(
            depth=dims.vision_depth, embed_dim=dims.vision_hidden, hidden_size=dims.hidden,
            num_heads=dims.vision_heads, mlp_ratio=2, patch_size=14, spatial_merge_size=2,
            temporal_patch_size=2)
        return Qwen2VLConfig(text_config=text, vision_config=vision, **tokens)
    if architecture == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        text["rope_parameters"] = {"rope_type": "default", "mrope_section": section, "rope_theta": 1e6}
        depth = dims.vision_depth
        vision = dict(depth=depth, hidden_size=dims.vision_hidden, out_hidden_size=dims.hidden,
                      intermediate_size=dims.vision_intermediate, num_heads=dims.vision_heads,
                      patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                      fullatt_block_indexes=[i for i in (7, 15, 23, 31) if i < depth] or [depth - 1])
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **tokens)
    if architecture == "qwen3_vl":
        from transformers import Qwen3VLConfig

        text["head_dim"] = head_dim
        text["rope_parameters"] = {"rope_type": "default", "mrope_section": section,
                                   "mrope_interleaved": True, "rope_theta": 5e6}
        depth = dims.vision_depth
        vision = dict(depth=depth, hidden_size=dims.vision_hidden, out_hidden_size=dims.hidden,
                      intermediate_size=dims.vision_intermediate, num_heads=dims.vision_heads,
                      patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
                      deepstack_visual_indexes=[i for i in (8, 16, 24) if i < depth] or [0])
        return Qwen3VLConfig(text_config=text, vision_config=vision, **tokens)
    raise ValueError(f"unknown architecture {architecture!r}; choose qwen2_vl, qwen2_5_vl or qwen3_vl")


def _image_processor(architecture: Architecture, max_pixels: int | None) -> Any:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    if architecture == "qwen3_vl":
        # Qwen3-VL's preprocessor_config.json: 16-px patches (resize factor 32), mean/std 0.5.
        return Qwen2VLImageProcessorPil(
            patch_size=16, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
            size={"shortest_edge": 65536, "longest_edge": max_pixels or 16777216})
    # Qwen2-VL / Qwen2.5-VL Instruct: min_pixels 3136, max_pixels 12845056.
    return Qwen2VLImageProcessorPil(size={"shortest_edge": 3136, "longest_edge": max_pixels or 12845056})


def build_checkpoint(path: str | Path, architecture: Architecture = "qwen2_vl", *,
                     size: ModelSize = "tiny", seed: int = 0, device: str = "cpu",
                     dtype: str = "float32", save_weights: bool = True,
                     processor_max_pixels: int | None = None) -> Any:
    """Write a random-weight checkpoint to ``path`` and return the model (on ``device``).

    Large sizes are built on the meta device and materialised directly on ``device`` with
    random values, so a 7B model needs no 28 GB of CPU float32 first. ``save_weights=False``
    skips writing the weights (a benchmark that only keeps the model in memory).
    ``processor_max_pixels`` overrides the image processor's area cap (the real models' default
    otherwise).
    """
    import torch
    from transformers import AutoModelForImageTextToText

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    config = _config(architecture, _SIZES[size], tokenizer)
    torch_dtype = getattr(torch, dtype)
    torch.manual_seed(seed)
    if size in ("tiny", "small"):
        model = AutoModelForImageTextToText.from_config(config, dtype=torch_dtype).to(device)
    else:
        with torch.device("meta"):
            model = AutoModelForImageTextToText.from_config(config, dtype=torch_dtype)
        model = model.to_empty(device=device)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.normal_(0.0, 0.02)
            for buffer_name, buffer in model.named_buffers():
                if "inv_freq" in buffer_name:  # rotary frequencies must be real values
                    dim = buffer.numel() * 2
                    buffer.copy_(1.0 / (10000 ** (torch.arange(0, dim, 2, device=device).float() / dim)))
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    model.eval()
    config.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    if save_weights:
        model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    _image_processor(architecture, processor_max_pixels).save_pretrained(out)
    return model


class ForcedText:
    """A logits processor that makes generation emit exactly ``text`` then end.

    Pass it to ``TransformersRuntime.generate(..., logits_processors=[ForcedText(tok, "...")])``.
    The forced tokens get all the probability mass, so their log-probabilities are 0.
    """

    def __init__(self, tokenizer: Any, text: str, *, prompt_length: int | None = None) -> None:
        self.token_ids: Sequence[int] = [*tokenizer.encode(text, add_special_tokens=False),
                                         tokenizer.convert_tokens_to_ids("<|im_end|>")]
        self.prompt_length = prompt_length

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.prompt_length is None:
            self.prompt_length = int(input_ids.shape[1])
        step = int(input_ids.shape[1]) - self.prompt_length
        token = self.token_ids[min(step, len(self.token_ids) - 1)]
        forced = torch.full_like(scores, float("-inf"))
        forced[:, token] = 0.0
        return forced
