"""The command-line options that choose a VLM, shared by every command that grounds
(`ground`, `eval`, `ask`, `do`, `replay`). Importing this module loads no model library."""

from __future__ import annotations

import argparse


def vlm_arguments() -> argparse.ArgumentParser:
    """A parent parser with --model / --vlm-url / --vlm-model / --family and ECP model knobs."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("vision-language model (for descriptions)")
    group.add_argument("--model", metavar="DIR", help="local checkpoint folder (transformers, in-process)")
    group.add_argument("--vlm-url", metavar="URL",
                       help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (vLLM, SGLang, "
                            "llama.cpp, Ollama); API key from $GUIAGENT_VLM_API_KEY")
    group.add_argument("--vlm-model", metavar="NAME", help="model name on the server")
    group.add_argument("--family", help="model family when it cannot be told from the checkpoint "
                                        "(qwen2vl, qwen25vl, qwen3vl, uitars, uground, showui, gta1)")
    group.add_argument("--coarse-model", metavar="DIR",
                       help="a smaller local model for ECP stage 1 (the main model does stage 2)")
    group.add_argument("--global-context", action="store_true",
                       help="send the downsampled screen along with each stage-2 crop")
    group.add_argument("--device", default="auto", help="cuda, cuda:1, cpu (default: auto)")
    return parser


def apply_vlm_arguments(args: argparse.Namespace) -> bool:
    """Register the "vlm" grounder when the options name a model; True when they did."""
    model = getattr(args, "model", None)
    url = getattr(args, "vlm_url", None)
    if model is None and url is None:
        if getattr(args, "vlm_model", None) or getattr(args, "coarse_model", None):
            from guiagent.errors import ModelLoadError

            raise ModelLoadError("--vlm-model and --coarse-model need a main model: add --model DIR "
                                 "or --vlm-url URL")
        return False
    from guiagent.grounding.vlm import VlmSettings, configure_vlm

    configure_vlm(model=model, base_url=url, server_model=getattr(args, "vlm_model", None),
                  family=getattr(args, "family", None), coarse_model=getattr(args, "coarse_model", None),
                  settings=VlmSettings(global_context=bool(getattr(args, "global_context", False))),
                  device=getattr(args, "device", "auto"))
    return True
