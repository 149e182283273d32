"""Model families: which prompt, output parser, coordinate space and resize rule a checkpoint needs.

``get_family("uitars")`` by name; ``family_for_checkpoint(config, path)`` from a checkpoint's
``config.json`` and its name (fine-tunes keep their base's ``model_type``, so the name decides
between, say, UI-TARS-1.5 and plain Qwen2.5-VL).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from guiagent.errors import ModelLoadError
from guiagent.grounding.vlm.base import ModelFamily
from guiagent.grounding.vlm.families.gta1 import Gta1Family
from guiagent.grounding.vlm.families.qwen2vl import OS_ATLAS_RESIZE, Qwen2VLFamily
from guiagent.grounding.vlm.families.qwen3vl import Qwen3VLFamily
from guiagent.grounding.vlm.families.qwen25vl import Qwen25VLFamily
from guiagent.grounding.vlm.families.showui import ShowUIFamily
from guiagent.grounding.vlm.families.uground import UGroundFamily
from guiagent.grounding.vlm.families.uitars import UITARS_V1_RESIZE, UITarsFamily

__all__ = [
    "Gta1Family",
    "Qwen2VLFamily",
    "Qwen3VLFamily",
    "Qwen25VLFamily",
    "ShowUIFamily",
    "UGroundFamily",
    "UITarsFamily",
    "family_for_checkpoint",
    "family_names",
    "get_family",
]

_FAMILIES: dict[str, ModelFamily] = {
    family.name: family
    for family in (
        Qwen2VLFamily(),
        Qwen2VLFamily(name="os-atlas", resize=OS_ATLAS_RESIZE),
        Qwen25VLFamily(),
        Qwen3VLFamily(),
        UITarsFamily(),
        UITarsFamily(name="uitars-v1", v1=True, resize=UITARS_V1_RESIZE),
        UGroundFamily(),
        ShowUIFamily(),
        ShowUIFamily(name="seeclick", seeclick=True),
        Gta1Family(),
        Gta1Family(name="holo", holo=True),
    )
}
# Other names people use for the same conventions.
_ALIASES = {
    "qwen2-vl": "qwen2vl",
    "qwen2.5-vl": "qwen25vl",
    "qwen2_5_vl": "qwen25vl",
    "qwen3-vl": "qwen3vl",
    "ui-tars": "uitars",
    "ui-tars-1.5": "uitars",
    "ui-tars-v1": "uitars-v1",
    "holo1.5": "holo",
}

# config.json "model_type" -> the base family.
_MODEL_TYPES = {
    "qwen2_vl": "qwen2vl",
    "qwen2_5_vl": "qwen25vl",
    "qwen3_vl": "qwen3vl",
    "qwen3_vl_moe": "qwen3vl",
}
_ARCHITECTURES = {
    "Qwen2VLForConditionalGeneration": "qwen2vl",
    "Qwen2_5_VLForConditionalGeneration": "qwen25vl",
    "Qwen3VLForConditionalGeneration": "qwen3vl",
    "Qwen3VLMoeForConditionalGeneration": "qwen3vl",
}


def family_names() -> list[str]:
    """The canonical family names, sorted."""
    return sorted(_FAMILIES)


def get_family(name: str) -> ModelFamily:
    """The family called ``name`` (or one of its aliases, any case)."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return _FAMILIES[key]
    except KeyError:
        raise ModelLoadError(
            f"unknown model family {name!r}; known families: {', '.join(family_names())}"
        ) from None


def family_for_checkpoint(config: Mapping[str, Any], name_or_path: str = "", *,
                          family: str | None = None) -> ModelFamily:
    """The family of a checkpoint, from its ``config.json`` contents and its name or path.

    ``family`` overrides the detection. A name hint (ui-tars, uground, os-atlas, showui, seeclick,
    gta1, holo) wins over the base architecture, since fine-tunes keep their base's config.
    """
    if family is not None:
        return get_family(family)
    # A server gives only a model name ("Qwen/Qwen2.5-VL-7B-Instruct"): read the base from it.
    base = _base_family(config) or _base_from_name(name_or_path)
    hint = _name_hint(" ".join((name_or_path, str(config.get("_name_or_path", "")))), base)
    chosen = hint or base
    if chosen is None:
        raise ModelLoadError(
            f"cannot tell the model family of {name_or_path or 'this checkpoint'!r} "
            f"(model_type={config.get('model_type')!r}, architectures={config.get('architectures')!r}); "
            f"name one of: {', '.join(family_names())}"
        )
    return _FAMILIES[chosen]


def _base_family(config: Mapping[str, Any]) -> str | None:
    model_type = config.get("model_type")
    if isinstance(model_type, str) and model_type in _MODEL_TYPES:
        return _MODEL_TYPES[model_type]
    architectures = config.get("architectures")
    if isinstance(architectures, list):
        for architecture in architectures:
            if isinstance(architecture, str) and architecture in _ARCHITECTURES:
                return _ARCHITECTURES[architecture]
    return None


def _base_from_name(name: str) -> str | None:
    text = name.lower()
    for pattern, base in ((r"qwen2[._-]?5[-_]?vl", "qwen25vl"), (r"qwen3[-_]?vl", "qwen3vl"),
                          (r"qwen2[-_]?vl", "qwen2vl")):
        if re.search(pattern, text):
            return base
    return None


def _name_hint(name: str, base: str | None) -> str | None:
    text = name.lower()
    if re.search(r"ui[-_]?tars", text):
        # UI-TARS v1 is Qwen2-VL based and answers in 0-1000; 1.5 is Qwen2.5-VL based, in pixels.
        if base == "qwen2vl" or (base is None and not re.search(r"1[._]5", text)):
            return "uitars-v1"
        return "uitars"
    if "uground" in text:
        return "uground"
    if re.search(r"os[-_]?atlas", text):
        return "os-atlas"
    if "showui" in text:
        return "showui"
    if "seeclick" in text:
        return "seeclick"
    if "gta1" in text:
        return "gta1"
    if "holo" in text:
        # Holo2 is Qwen3-VL based and answers in 0-1000 like its base; Holo1/1.5 in pixels.
        return "qwen3vl" if base == "qwen3vl" else "holo"
    return None
