"""Vision-language-model grounding: local checkpoints through transformers, or any
OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama), under ECP.

    from guiagent.grounding.vlm import configure_vlm
    configure_vlm(model="/models/UI-TARS-1.5-7B")                     # in-process, local files
    configure_vlm(base_url="http://gpu-box:8000/v1", server_model="Qwen/Qwen2.5-VL-7B-Instruct")
    guiagent.locate(frame, "the gear icon left of Help")              # now routed to the VLM

Importing this package is cheap: torch and transformers load only when a local model does.
"""

from __future__ import annotations

from pathlib import Path

from guiagent.errors import ModelLoadError, ModelOutputError, ModelServerError
from guiagent.grounding.vlm.base import (
    Generation,
    ModelAnswer,
    ModelFamily,
    ResizeRule,
    VlmRuntime,
)
from guiagent.grounding.vlm.grounder import ModelHandle, VlmGrounder, VlmSettings

__all__ = [
    "Generation",
    "ModelAnswer",
    "ModelFamily",
    "ModelHandle",
    "ModelLoadError",
    "ModelOutputError",
    "ModelServerError",
    "ResizeRule",
    "VlmGrounder",
    "VlmRuntime",
    "VlmSettings",
    "configure_vlm",
    "load_model",
]


def load_model(model: str | Path | None = None, *, base_url: str | None = None,
               server_model: str | None = None, family: str | None = None,
               device: str = "auto", dtype: str = "auto", attention: str = "auto") -> ModelHandle:
    """A model and its family: a local checkpoint folder (``model``) or a server (``base_url``
    + ``server_model``). The family comes from the checkpoint's config and name unless given."""
    from guiagent.grounding.vlm.families import family_for_checkpoint, get_family

    if (model is None) == (base_url is None):
        raise ModelLoadError("give either a local checkpoint folder (--model DIR) or a server "
                             "URL (--vlm-url http://host:8000/v1), not both and not neither")
    if model is not None:
        from guiagent.grounding.vlm.runtime import RuntimeSettings, TransformersRuntime, check_checkpoint

        path = Path(model).expanduser()
        config = check_checkpoint(path)  # a clear error before torch is even imported
        chosen = get_family(family) if family else family_for_checkpoint(config, str(path))
        settings = RuntimeSettings(device=device, dtype=dtype, attention=attention)  # type: ignore[arg-type]
        return ModelHandle(TransformersRuntime.load(path, settings), chosen)
    from guiagent.grounding.vlm.http import OpenAICompatibleRuntime, ServerSettings

    runtime = OpenAICompatibleRuntime(ServerSettings(base_url=str(base_url), model=server_model or ""))
    name = server_model or runtime.model
    chosen = get_family(family) if family else family_for_checkpoint({}, name)
    return ModelHandle(runtime, chosen)


def configure_vlm(model: str | Path | None = None, base_url: str | None = None,
                  server_model: str | None = None, family: str | None = None, *,
                  coarse_model: str | Path | None = None, coarse_family: str | None = None,
                  settings: VlmSettings | None = None, device: str = "auto",
                  dtype: str = "auto") -> None:
    """Register the "vlm" grounder; descriptions are then grounded by this model.

    The model loads on first use, once per process. ``coarse_model`` (optional, local) runs
    ECP stage 1 instead of the main model: a small fast model proposes, the big one decides.
    """
    from guiagent.grounding import register_grounder

    def factory() -> VlmGrounder:
        fine = load_model(model, base_url=base_url, server_model=server_model, family=family,
                          device=device, dtype=dtype)
        coarse = (load_model(coarse_model, family=coarse_family, device=device, dtype=dtype)
                  if coarse_model is not None else None)
        return VlmGrounder(fine, coarse, settings or VlmSettings())

    register_grounder("vlm", factory)
