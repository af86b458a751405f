"""Architecture files: ordered layers of components, validated with the paper's construction rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from archon_cli.components import REGISTRY
from archon_cli.components.base import ComponentConfig
from archon_cli.config.archon_format import convert_archon_format, is_archon_format
from archon_cli.config.files import describe_validation_error, read_config_file
from archon_cli.errors import ConfigError

MAX_NAME = 100


@dataclass(frozen=True)
class SizeCaps:
    """The most an architecture may hold, so a runaway file is refused before it runs (commands read
    overrides from ARCHON_MAX_LAYERS, ARCHON_MAX_COMPONENTS and ARCHON_MAX_CALLS_PER_QUERY)."""

    layers: int = 100
    components: int = 1_000
    calls_per_query: int = 10_000


if TYPE_CHECKING:
    ComponentSpec = ComponentConfig
else:
    # A discriminated union of every registered component's config, built from the registry.
    _CONFIG_CLASSES = tuple(c.config_class for c in REGISTRY.values())
    ComponentSpec = Annotated[Union[_CONFIG_CLASSES], Field(discriminator="type")]


class Architecture(BaseModel):
    """An ordered list of layers; each layer a non-empty list of components (of one type, except
    that generators and fusers may share a layer)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = ""
    layers: list[list[ComponentSpec]] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str) -> str:
        # The name becomes part of file and folder names (run ids, trial folders).
        if any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise ValueError("the name contains a control character")
        return name

    @model_validator(mode="after")
    def _check_rules(self) -> Architecture:
        for message in construction_errors(self.layers):
            raise ValueError(message)
        return self

    def static_calls(self) -> int:
        """LLM calls one query costs, counted from the file alone (see ``layer_calls``)."""
        return sum(self.layer_calls())

    def layer_calls(self) -> list[int]:
        """Calls per layer: generator = samples, fuser = samples, ranker 1, critic 1,
        verifier 2 per incoming candidate, unit-test generator 1, evaluator 1 per candidate,
        majority vote 0. Data-dependent layers use the upper bound of candidates passed on."""
        per_layer = []
        n = 0
        for layer in self.layers:
            calls = 0
            n_out = 0
            for component in layer:
                c, out = component.call_count(n)
                calls += c
                n_out += out
            per_layer.append(calls)
            n = n_out
        return per_layer

    def models(self) -> list[str]:
        """Every distinct model route the architecture calls, in order of appearance."""
        seen: dict[str, None] = {}
        for layer in self.layers:
            for component in layer:
                for model in component.models():
                    seen.setdefault(model, None)
        return list(seen)

    def components(self) -> list[ComponentConfig]:
        return [c for layer in self.layers for c in layer]


def _kinds(flag: str) -> str:
    """Registered kinds whose config sets ``flag``, as plural words: 'generators or fusers'."""
    return " or ".join(k + "s" for k, c in REGISTRY.items() if getattr(c.config_class, flag))


def construction_errors(layers: list[list[ComponentConfig]]) -> list[str]:
    """The construction rules, as messages naming the offending layer (empty list: valid).

    One component type per layer, except kinds that mix (generators and fusers); no layer that
    needs candidates before the first layer of openers (generators); single-component layers;
    a kind an earlier layer must hold. Each component declares these on its config class, and
    they are applied here without naming any kind."""
    openers = _kinds("opens")
    errors: list[str] = []
    seen: set[str] = set()
    opened = False  # whether candidates reach the layer
    for i, layer in enumerate(layers):
        if not layer:
            errors.append(f"layers[{i}]: a layer needs at least one component")
            continue
        kinds = list(dict.fromkeys(c.type for c in layer))
        if len(kinds) > 1 and not all(type(c).mixes for c in layer):
            errors.append(
                f"layers[{i}]: one component type per layer (only {_kinds('mixes')} may share one), "
                f"found {sorted(kinds)}"
            )
            continue
        opens_here = any(type(c).opens for c in layer)
        if not opened and not opens_here and type(layer[0]).needs_candidates:
            errors.append(f"layers[{i}]: a {kinds[0]} needs candidates, but no layer before it holds {openers}")
        rules = type(layer[0])
        if len(kinds) == 1 and rules.single_per_layer and len(layer) > 1:
            errors.append(f"layers[{i}]: a {kinds[0]} layer holds exactly one component, found {len(layer)}")
        for component in {type(c): c for c in layer}.values():
            needed = type(component).needs_earlier
            if needed is not None and needed not in seen:
                errors.append(f"layers[{i}]: a {component.type} needs a {needed} in an earlier layer")
        for j, component in enumerate(layer):
            problem = component.previous_layer_error(layers[i - 1] if i else [])
            if problem is not None:
                errors.append(f"layers[{i}][{j}].{problem}")
        seen.update(kinds)
        opened = opened or opens_here
    if not errors and not opened:
        errors.append(f"layers: no layer holds {openers}, so no answer is ever written")
    return errors


def construction_warnings(layers: list[list[ComponentConfig]]) -> list[str]:
    """Legal shapes that waste work, each explained (the architecture is valid; see the README)."""
    warnings: list[str] = []
    opened = False
    for i, layer in enumerate(layers):
        opens_here = any(type(c).opens for c in layer)
        if opens_here and not opened:
            for j, component in enumerate(layer):
                if type(component).needs_candidates:
                    warnings.append(
                        f"layers[{i}][{j}]: this {component.type} shares the layer of the first "
                        f"{_kinds('opens')}, so no candidates reach it: it makes no call and adds no "
                        "candidate (the original Archon fails here)"
                    )
        elif opened and all(type(c).opens for c in layer):
            warnings.append(
                f"layers[{i}]: its {_kinds('opens')} ignore the candidates this layer receives, "
                "which are dropped (as in the original Archon)"
            )
        opened = opened or opens_here
    last = layers[-1] if layers else []
    if last and not any(type(c).opens or type(c).needs_candidates for c in last):
        warnings.append(f"layers[{len(layers) - 1}]: nothing after this {last[0].type} uses what it writes")
    return warnings


def check_size(architecture: Architecture, caps: SizeCaps, source: str = "<architecture>") -> None:
    """Refuse an architecture past ``caps`` (layers, components, static calls per query)."""
    for what, count, cap, variable in (
        ("layers", len(architecture.layers), caps.layers, "ARCHON_MAX_LAYERS"),
        ("components", len(architecture.components()), caps.components, "ARCHON_MAX_COMPONENTS"),
        ("calls per query", architecture.static_calls(), caps.calls_per_query, "ARCHON_MAX_CALLS_PER_QUERY"),
    ):
        if count > cap:
            raise ConfigError(f"{source}: {count:,} {what}, over the cap of {cap:,} (raise it with {variable}=N)")


def parse_architecture(
    data: Any, source: str = "<architecture>", caps: SizeCaps | None = None
) -> tuple[Architecture, list[str]]:
    """Validate loaded YAML/JSON data. Returns the architecture and warnings (Archon-format keys
    that have no effect). Raises ConfigError naming ``source`` and the field path, or the cap
    (``caps``, default SizeCaps()) the architecture is past."""
    warnings: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with 'name' and 'layers', got {type(data).__name__}")
    if is_archon_format(data):
        data, warnings = convert_archon_format(data, MAX_NAME)
        warnings = [f"{source}: {w}" for w in warnings]
    try:
        arch = Architecture.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source, frozenset(REGISTRY))) from None
    check_size(arch, caps or SizeCaps(), source)
    warnings += [f"{source}: {w}" for w in construction_warnings(arch.layers)]
    return arch, warnings


def load_architecture(path: str | Path, caps: SizeCaps | None = None) -> tuple[Architecture, list[str]]:
    """Read and validate an architecture file (YAML, JSON, or the original Archon JSON format)."""
    p = Path(path)
    return parse_architecture(read_config_file(p, "architecture file"), str(p), caps)
