"""The search space: a point is a handful of integers and choices; it builds an architecture.

Dimensions (after the paper, all overridable from a YAML file):
- ``top_models``: how many of the top-ranked models generate candidates (an ensemble);
- ``samples``: samples per generator;
- ``fusion_layers``: fuser layers (0-4); ``fusers_per_layer``: fused candidates each non-final
  fuser layer makes (the last fuser layer makes one, since only the first candidate is the answer);
- ``critic_ranker``: a critic and a ranker before each fuser layer, or not;
- ``final``: a last stage: none, majority_vote, verifier, unit_tests, or ranker.

The budget shapes the space: a point whose architecture costs more calls per query than the
budget is not in the feasible set and is never evaluated.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from archon_cli.config.architecture import Architecture
from archon_cli.config.files import describe_validation_error, read_config_file
from archon_cli.errors import ConfigError

FinalStage = Literal["none", "majority_vote", "verifier", "unit_tests", "ranker"]
DIMENSIONS = ("top_models", "samples", "fusion_layers", "fusers_per_layer", "critic_ranker", "final")


class SearchSpace(BaseModel):
    """Ranges are inclusive [low, high]; ``final`` and ``critic_ranker`` list their choices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    top_models: tuple[int, int] = (1, 4)
    samples: tuple[int, int] = (1, 5)
    fusion_layers: tuple[int, int] = (0, 4)
    fusers_per_layer: tuple[int, int] = (1, 3)
    critic_ranker: tuple[bool, ...] = (False, True)
    final: tuple[FinalStage, ...] = ("none", "majority_vote", "verifier", "unit_tests")
    ranker_top_k: int = Field(default=3, ge=1)
    unit_tests: int = Field(default=3, ge=1, le=20)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=256, ge=1)
    aux_max_tokens: int = Field(default=384, ge=1, description="max_tokens of fusers, critics, judges")

    @model_validator(mode="after")
    def _check(self) -> SearchSpace:
        for name in ("top_models", "samples", "fusion_layers", "fusers_per_layer"):
            low, high = getattr(self, name)
            if low > high or low < (0 if name == "fusion_layers" else 1):
                raise ValueError(
                    f"{name}: expected [low, high] with {'0' if name == 'fusion_layers' else '1'} <= low <= high"
                )
        if not self.critic_ranker or not self.final:
            raise ValueError("critic_ranker and final need at least one choice")
        return self

    def holds(self, point: Point) -> bool:
        """Whether every setting of ``point`` is one of this space's choices."""
        ranges = (self.top_models, self.samples, self.fusion_layers, self.fusers_per_layer)
        values = (point.top_models, point.samples, point.fusion_layers, point.fusers_per_layer)
        return (
            all(low <= v <= high for (low, high), v in zip(ranges, values, strict=True))
            and point.critic_ranker in self.critic_ranker
            and point.final in self.final
        )

    def for_pool(self, pool_size: int) -> SearchSpace:
        """The space with ``top_models`` clipped to the number of models in the pool."""
        low, high = self.top_models
        return self.model_copy(update={"top_models": (min(low, pool_size), min(high, pool_size))})


def load_space(path: str | Path) -> SearchSpace:
    data = read_config_file(Path(path), "search-space file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of dimensions")
    try:
        return SearchSpace.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, str(path))) from None


@dataclass(frozen=True, order=True)
class Point:
    top_models: int
    samples: int
    fusion_layers: int
    fusers_per_layer: int
    critic_ranker: bool
    final: str

    def canonical(self, neutral_fusers: int = 1, neutral_critic: bool = False) -> Point:
        """Settings that have no effect are set to a neutral value, so equal architectures have
        equal points (a single fuser layer makes one candidate; no fusion, no critic/ranker)."""
        fusers = self.fusers_per_layer if self.fusion_layers >= 2 else neutral_fusers
        critic = self.critic_ranker if self.fusion_layers >= 1 else neutral_critic
        return Point(self.top_models, self.samples, self.fusion_layers, fusers, critic, self.final)

    def as_list(self) -> list[Any]:
        return [
            self.top_models,
            self.samples,
            self.fusion_layers,
            self.fusers_per_layer,
            int(self.critic_ranker),
            self.final,
        ]

    @classmethod
    def from_list(cls, values: list[Any]) -> Point:
        t, s, f, fp, cr, final = values
        return cls(int(t), int(s), int(f), int(fp), bool(int(cr)), str(final))

    def label(self) -> str:
        """A short readable name: g2x5-f2x3-cr-mv."""
        parts = [f"g{self.top_models}x{self.samples}"]
        if self.fusion_layers:
            parts.append(f"f{self.fusion_layers}x{self.fusers_per_layer}")
        if self.critic_ranker:
            parts.append("cr")
        short = {"none": "", "majority_vote": "mv", "verifier": "ver", "unit_tests": "ut", "ranker": "rk"}[self.final]
        if short:
            parts.append(short)
        return "-".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_architecture(
    point: Point,
    models: list[str],
    space: SearchSpace,
    name: str | None = None,
    endpoints: dict[str, dict[str, str]] | None = None,
) -> Architecture:
    """The architecture of ``point``: generators from the top ``top_models`` of the ranked
    ``models``; fusers, critics, rankers and the final stage use the top-ranked model.
    ``endpoints`` adds ``api_base`` / ``api_key_env`` to every component of a model."""
    p = point
    lead = models[0]
    aux = {"model": lead, "max_tokens": space.aux_max_tokens}
    layers: list[list[dict[str, Any]]] = [
        [
            {
                "type": "generator",
                "model": m,
                "samples": p.samples,
                "temperature": space.temperature,
                "max_tokens": space.max_tokens,
            }
            for m in models[: p.top_models]
        ]
    ]
    for i in range(p.fusion_layers):
        if p.critic_ranker:
            layers.append([{"type": "critic", **aux}])
            layers.append([{"type": "ranker", "model": lead, "top_k": space.ranker_top_k}])
        fused = 1 if i == p.fusion_layers - 1 else p.fusers_per_layer
        layers.append([{"type": "fuser", **aux, "samples": fused, "temperature": space.temperature}])
    if p.final == "majority_vote":
        layers.append([{"type": "majority_vote"}])
    elif p.final == "verifier":
        layers.append([{"type": "verifier", **aux}])
    elif p.final == "unit_tests":
        layers.append([{"type": "unit_test_generator", **aux, "num_tests": space.unit_tests}])
        layers.append([{"type": "unit_test_evaluator", "model": lead, "top_k": 1}])
    elif p.final == "ranker":
        layers.append([{"type": "ranker", "model": lead, "top_k": 1}])
    for layer in layers:
        for component in layer:
            component.update((endpoints or {}).get(str(component.get("model")), {}))
    return Architecture.model_validate({"name": name or p.label(), "layers": layers})


def architecture_id(point: Point, models: list[str]) -> str:
    """Stable id: the readable label plus a digest of the point and the models it uses."""
    p = point.canonical()  # ids ignore settings that have no effect
    digest = hashlib.sha256(f"{p.as_list()}|{models[: p.top_models]}|{models[0]}".encode()).hexdigest()[:6]
    return f"{p.label()}-{digest}"


class FeasibleSpace:
    """The points of a space whose architecture fits the budget, with memoised call counts."""

    def __init__(
        self,
        space: SearchSpace,
        models: list[str],
        calls_per_query: int | None,
        endpoints: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.space = space.for_pool(len(models))
        self.models = models
        self.endpoints = endpoints or {}
        self.calls_per_query = calls_per_query
        self._neutral = (self.space.fusers_per_layer[0], self.space.critic_ranker[0])
        self._calls = lru_cache(maxsize=None)(self._static_calls)

    def canonical(self, point: Point) -> Point:
        return point.canonical(*self._neutral)

    def _static_calls(self, point: Point) -> int:
        return self.architecture(point).static_calls()

    def architecture(self, point: Point) -> Architecture:
        return build_architecture(point, self.models, self.space, endpoints=self.endpoints)

    def calls(self, point: Point) -> int:
        return int(self._calls(self.canonical(point)))

    def contains(self, point: Point) -> bool:
        """In the space, canonical and within budget (the constraint handed to the optimiser)."""
        if not self.space.holds(point) or point != self.canonical(point):
            return False
        return self.calls_per_query is None or self.calls(point) <= self.calls_per_query

    def all_points(self) -> list[Point]:
        """Every feasible canonical point, in a fixed order."""
        s = self.space
        points = []
        for t, n, f, fp, cr, final in product(
            range(s.top_models[0], s.top_models[1] + 1),
            range(s.samples[0], s.samples[1] + 1),
            range(s.fusion_layers[0], s.fusion_layers[1] + 1),
            range(s.fusers_per_layer[0], s.fusers_per_layer[1] + 1),
            s.critic_ranker,
            s.final,
        ):
            p = Point(t, n, f, fp, cr, final)
            if self.contains(p):
                points.append(p)
        return sorted(set(points))

    def skopt_dimensions(self) -> list[Any]:
        from skopt.space import Categorical, Integer

        s = self.space
        return [
            Integer(*s.top_models, name="top_models")
            if s.top_models[0] < s.top_models[1]
            else Categorical([s.top_models[0]], name="top_models"),
            Integer(*s.samples, name="samples")
            if s.samples[0] < s.samples[1]
            else Categorical([s.samples[0]], name="samples"),
            Integer(*s.fusion_layers, name="fusion_layers")
            if s.fusion_layers[0] < s.fusion_layers[1]
            else Categorical([s.fusion_layers[0]], name="fusion_layers"),
            Integer(*s.fusers_per_layer, name="fusers_per_layer")
            if s.fusers_per_layer[0] < s.fusers_per_layer[1]
            else Categorical([s.fusers_per_layer[0]], name="fusers_per_layer"),
            Categorical([int(v) for v in s.critic_ranker], name="critic_ranker"),
            Categorical(list(s.final), name="final"),
        ]
