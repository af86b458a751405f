"""Import of the original Archon JSON format (ScalingIntelligence/Archon, ``src/archon/configs``).

Each construct keeps the meaning the original code gives it (the README's "The original Archon
format" section lists them): ``model_type`` picks the provider, object layers
``{"branches", "models"}`` are their ``models`` (``branches`` is never read), ``unit_test_cap``
is the number of tests, Anthropic components get ``max_tokens`` 4096 as the original always
sends. Keys the original never reads, or that change nothing here, are dropped with a warning;
identical warnings are grouped into one line.
"""

from __future__ import annotations

import hashlib
from typing import Any

from annotated_types import Le

from archon_cli.components import REGISTRY
from archon_cli.components.base import ComponentConfig

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

# What the original's Anthropic path sends as max_tokens, whatever the file says.
ANTHROPIC_MAX_TOKENS = 4096
# A reward model the original runs in-process for rankers (no API call); archon cannot run it.
PAIRRM = "llm-blender/PairRM"
# Components the original makes ``samples`` calls for while using only the first reply.
_FIRST_REPLY_ONLY = ("critic", "verifier", "unit_test_generator", "unit_test_evaluator")
_SHOWN_PLACES = 3


def _components_of(layer: Any) -> list[Any]:
    if isinstance(layer, list):
        return layer
    if isinstance(layer, dict):
        models = layer.get("models")
        return models if isinstance(models, list) else [layer]
    return []


def is_archon_format(data: dict[str, Any]) -> bool:
    """True when any component carries ``model_type``, the mark of the original format (in list
    layers, object layers or bare component layers)."""
    layers = data.get("layers")
    if not isinstance(layers, list):
        return False
    return any(isinstance(c, dict) and "model_type" in c for layer in layers for c in _components_of(layer))


def _route(model: str, model_type: str | None) -> str:
    prefix = MODEL_TYPE_PREFIX.get(model_type or "")
    if prefix is None or model.startswith(prefix + "/"):
        return model
    return f"{prefix}/{model}"


def _upper_bound(config_class: type[ComponentConfig] | None, name: str) -> int | None:
    """The ``le`` limit of a config field, if it has one."""
    field = config_class.model_fields.get(name) if config_class else None
    for rule in field.metadata if field else ():
        if isinstance(rule, Le):
            return int(rule.le)  # type: ignore[call-overload]
    return None


class _Warnings:
    """Warnings grouped by message: 'layers[0][0].top_k, layers[0][1].top_k and 6 more: ...'."""

    def __init__(self) -> None:
        self._places: dict[str, list[str]] = {}

    def add(self, place: str, message: str) -> None:
        self._places.setdefault(message, []).append(place)

    def lines(self) -> list[str]:
        out = []
        for message, places in self._places.items():
            shown = ", ".join(places[:_SHOWN_PLACES])
            more = f" and {len(places) - _SHOWN_PLACES} more" if len(places) > _SHOWN_PLACES else ""
            out.append(f"{shown}{more}: {message}")
        return out


def convert_archon_format(data: dict[str, Any], max_name: int = 100) -> tuple[dict[str, Any], list[str]]:
    """Our architecture dict plus a warning for every key that has no effect or changes meaning
    (and for a name longer than ``max_name``, shortened)."""
    warnings = _Warnings()
    top = {k: v for k, v in data.items() if k in ("name", "description", "layers")}
    for key in data:
        if key not in top:
            warnings.add(f"{key}", "top-level key has no effect and was ignored")
    top.setdefault("name", "archon-import")
    _fit_name(top, max_name, warnings)
    layers_out: list[Any] = []
    kinds_before: set[str] = set()
    for i, layer in enumerate(data.get("layers") or []):
        components = _layer_components(layer, f"layers[{i}]", warnings)
        if components is None:
            layers_out.append(layer)  # let validation name the problem
            continue
        out_layer = []
        for j, comp in enumerate(components):
            if isinstance(comp, dict):
                out_layer.append(_convert_component(comp, f"layers[{i}][{j}]", kinds_before, warnings))
            else:
                out_layer.append(comp)
        kinds_before.update(str(c.get("type")) for c in components if isinstance(c, dict))
        layers_out.append(out_layer)
    top["layers"] = layers_out
    return top, warnings.lines()


def _fit_name(top: dict[str, Any], limit: int, warnings: _Warnings) -> None:
    """The original's names are its file names, often longer than ours may be (they become folder
    names): a longer one is cut, with a hash of the whole name so that two cut alike stay apart,
    and the whole name is kept in the description (written with every run's architecture.yaml)."""
    name = top["name"]
    if not isinstance(name, str) or len(name) <= limit:
        return
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    short = f"{name[: limit - len(digest) - 1].rstrip('-_ ')}-{digest}"
    description = top.get("description")
    top["name"] = short
    top["description"] = f"{description} (original name: {name})" if description else f"original name: {name}"
    warnings.add("name", f"{len(name)} characters, over the limit of {limit}: shortened to {short}")


def _layer_components(layer: Any, where: str, warnings: _Warnings) -> list[Any] | None:
    """A layer's component list from any of the original's layouts (None: not a layer at all)."""
    if isinstance(layer, list):
        return layer
    if not isinstance(layer, dict):
        return None
    if isinstance(layer.get("models"), list):
        # The older MoA-style layout; the original reads only "models" from it.
        for key in layer:
            if key != "models":
                warnings.add(f"{where}.{key}", "has no effect and was ignored (the original Archon never reads it)")
        return list(layer["models"])
    if "type" in layer:
        warnings.add(
            where,
            "a single component, not a list: read as a layer of one component "
            "(the original Archon fails on this layout)",
        )
        return [layer]
    return None


def _convert_component(comp: dict[str, Any], where: str, kinds_before: set[str], warnings: _Warnings) -> dict[str, Any]:
    kind = comp.get("type")
    config_class = REGISTRY[kind].config_class if isinstance(kind, str) and kind in REGISTRY else None
    fields = set(config_class.model_fields) if config_class else set()
    model_type = comp.get("model_type")
    pairrm = kind == "ranker" and comp.get("model") == PAIRRM
    converted: dict[str, Any] = {}
    for key, value in comp.items():
        name = str(key)
        place = f"{where}.{name}"
        if name == "model_type":
            if model_type not in MODEL_TYPE_PREFIX and not pairrm:
                warnings.add(place, f"unknown value {value!r}, model used as given")
        elif name == "max_context_length":
            if "max_tokens" in comp:
                warnings.add(place, "has no effect next to max_tokens and was ignored")
            else:
                warnings.add(place, "read as max_tokens (the original Archon never reads max_context_length)")
                converted["max_tokens"] = value
        elif name == "length_contorl":
            warnings.add(place, "has no effect and was ignored (the original Archon never reads this misspelling)")
        elif kind == "unit_test_generator" and name == "unit_test_cap":
            converted["num_tests"] = value  # the original asks for exactly this many tests
        elif kind == "unit_test_evaluator" and name == "remove_unit_tests_from_prompt":
            if value is not True:
                warnings.add(place, "has no effect: the evaluator is always shown the query without the tests")
        elif kind == "unit_test_evaluator" and name == "first_pass":
            if value is True and "first_k" not in comp:
                converted["first_k"] = 1  # the original's legacy spelling of first_k: 1
        elif name == "samples" and kind in _FIRST_REPLY_ONLY and value != 1:
            warnings.add(
                place,
                f"the original Archon makes {value} calls here and uses only the first reply; archon makes one",
            )
        elif config_class is None or name in fields:
            converted[name] = value
        else:
            warnings.add(place, f"has no effect on a {kind} and was ignored")
    if kind == "unit_test_evaluator" and "top_k" not in comp:
        converted["top_k"] = None  # the original keeps every candidate, best first
    if kind == "fuser" and converted.get("length_control") and "critic" not in kinds_before:
        # The original adds the length instruction only to the prompt with critiques.
        del converted["length_control"]
        warnings.add(f"{where}.length_control", "has no effect: no critic comes before this fuser")
    if isinstance(converted.get("model"), str):
        converted["model"] = converted["model"] if pairrm else _route(converted["model"], model_type)
    if pairrm:
        warnings.add(
            where,
            f"{PAIRRM} is a reward model the original Archon runs in-process (no API call); archon "
            "cannot run it and counts this ranker as one LLM call: give it an LLM model before running",
        )
    _fit_limits(converted, model_type, config_class, where, warnings)
    return converted


def _fit_limits(
    converted: dict[str, Any],
    model_type: Any,
    config_class: type[ComponentConfig] | None,
    where: str,
    warnings: _Warnings,
) -> None:
    """max_tokens as the original sends it (4096 for Anthropic), and values over our limits lowered."""
    max_tokens = converted.get("max_tokens")
    if model_type == "Anthropic_API" and "max_tokens" in (config_class.model_fields if config_class else {}):
        if max_tokens != ANTHROPIC_MAX_TOKENS:
            warnings.add(
                f"{where}.max_tokens",
                f"sent as {ANTHROPIC_MAX_TOKENS}, as the original Archon does for every Anthropic model",
            )
        converted["max_tokens"] = ANTHROPIC_MAX_TOKENS
    for name in ("max_tokens", "samples"):
        value, limit = converted.get(name), _upper_bound(config_class, name)
        if isinstance(value, int) and not isinstance(value, bool) and limit is not None and value > limit:
            warnings.add(f"{where}.{name}", f"{value} is over archon's limit and was lowered to {limit}")
            converted[name] = limit
