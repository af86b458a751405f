"""Import of the original Archon JSON format (``model_type`` per component, legacy key names)."""

from __future__ import annotations

from typing import Any

from archon_cli.components import REGISTRY

# Original ``model_type`` values -> LiteLLM provider prefixes.
MODEL_TYPE_PREFIX = {
    "OpenAI_API": "openai",
    "Together_API": "together_ai",
    "Anthropic_API": "anthropic",
    "Groq_API": "groq",
    "Google_API": "gemini",
    "vLLM": "hosted_vllm",
    "Bedrock_API": "bedrock",
    "tgi": "huggingface",
    "Local": "local",
}

# Legacy key names -> our names. ``length_contorl`` is the original's spelling.
_RENAMES = {"max_context_length": "max_tokens", "length_contorl": "length_control"}


def is_archon_format(data: dict[str, Any]) -> bool:
    """True when any component carries ``model_type``, the mark of the original format."""
    layers = data.get("layers")
    if not isinstance(layers, list):
        return False
    return any(isinstance(c, dict) and "model_type" in c for layer in layers if isinstance(layer, list) for c in layer)


def _route(model: str, model_type: str | None) -> str:
    prefix = MODEL_TYPE_PREFIX.get(model_type or "")
    if prefix is None or model.startswith(prefix + "/"):
        return model
    return f"{prefix}/{model}"


def convert_archon_format(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Our architecture dict plus a warning for every key that has no effect here."""
    warnings: list[str] = []
    top = {k: v for k, v in data.items() if k in ("name", "description", "layers")}
    for key in data:
        if key not in top:
            warnings.append(f"top-level key {key!r} has no effect and was ignored")
    top.setdefault("name", "archon-import")
    layers_out: list[Any] = []
    for i, layer in enumerate(data.get("layers") or []):
        if not isinstance(layer, list):
            layers_out.append(layer)  # let validation name the problem
            continue
        out_layer: list[Any] = []
        for j, comp in enumerate(layer):
            if not isinstance(comp, dict):
                out_layer.append(comp)
                continue
            where = f"layers[{i}][{j}]"
            kind = comp.get("type")
            config_class = REGISTRY[kind].config_class if isinstance(kind, str) and kind in REGISTRY else None
            fields = set(config_class.model_fields) if config_class else set()
            converted: dict[str, Any] = {}
            model_type = comp.get("model_type")
            for key, value in comp.items():
                if key == "model_type":
                    if model_type not in MODEL_TYPE_PREFIX:
                        warnings.append(f"{where}.model_type: unknown value {value!r}, model used as given")
                    continue
                name = _RENAMES.get(str(key), str(key))
                if config_class is None or name in fields:
                    converted[name] = value
                else:
                    warnings.append(f"{where}.{key}: has no effect on a {kind} and was ignored")
            if "model" in converted and isinstance(converted["model"], str):
                converted["model"] = _route(converted["model"], model_type)
            out_layer.append(converted)
        layers_out.append(out_layer)
    top["layers"] = layers_out
    return top, warnings
