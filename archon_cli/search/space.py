"""The search space: a point is a handful of integers and choices; it builds an architecture.

Dimensions (after the paper, all overridable from a YAML file):
- ``top_models``: how many of the top-ranked models generate candidates (an ensemble);
- ``samples``: samples per generator;
- ``fusion_layers``: fuser layers (0-4); ``fusers_per_layer``: fused candidates each non-final
  fuser layer makes (the last fuser layer makes one, since only the first candidate is the answer);
- ``critic_ranker``: a critic and a ranker before each fuser layer, or not;
- ``final``: a last stage: none, majority_vote, verifier, unit_tests (a model judges the tests),
  executed_tests (code tasks: generated asserts run against each candidate, ranked by CodeT's dual
  agreement; one call for the tests, none per candidate), or ranker;
- ``styles``: the set of prompt styles the generators use (each model gets one generator per style
  of the set, so a set of three styles of one model is an ensemble of three prompts); the space
  names its styles (``styles``: name -> generator settings) and lists the sets to choose from
  (``style_sets``; by default every non-empty set of its styles);
- ``temperature``: the sampling temperature of generators and fusers, one of the space's choices.
  At temperature 0 every sample of a prompt is the same greedy answer, so ``samples`` has no
  effect there and is set to its lowest value;
- ``stop``: the majority vote's stopping rule (``off``, ``beta-0.9``, ``beta-0.95``, ``window-3``:
  components/majority_vote.py), which only a final majority vote over more than one sample uses.
  An adaptive architecture's static count is its cap (the budget filter uses it); what it spends,
  the measured calls per query, is what the objective's cost term and the Pareto chart see.

The budget shapes the space: a point whose architecture costs more calls per query than the
budget is not in the feasible set and is never evaluated.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from itertools import combinations, product
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from archon_cli.components.generator import DEFAULT_SHOTS, MAX_REPAIR, GeneratorConfig, PromptFormat
from archon_cli.components.majority_vote import MajorityVoteConfig
from archon_cli.config.architecture import Architecture
from archon_cli.config.files import describe_validation_error, read_config_file
from archon_cli.errors import ConfigError
from archon_cli.search.choices import FINAL_STAGES

if TYPE_CHECKING:
    FinalStage = str
else:  # the registered final stages (search/choices.py), so a space file's typo names the choices
    FinalStage = Literal[tuple(FINAL_STAGES)]
DIMENSIONS = (
    "top_models", "samples", "fusion_layers", "fusers_per_layer", "critic_ranker", "final", "styles", "temperature",
    "stop",
)  # fmt: skip
DEFAULT_STYLE = "chat"  # a generator with no style settings: the query's own messages, zero-shot
DEFAULT_TEMPERATURE = 0.7
_STYLE_NAME = re.compile(r"^[A-Za-z0-9_]{1,24}$")
STOP_OFF = "off"
_STOP_NAME = re.compile(r"^(?:off|beta-(0\.\d+)|window-(\d+))$")


def stop_rule(name: str) -> dict[str, Any] | None:
    """The majority vote's ``stop`` setting a space's stop choice names (None for ``off``):
    ``beta-0.95`` is Adaptive-Consistency at that confidence, ``window-3`` ESC's window of 3."""
    m = _STOP_NAME.match(name)
    if m is None:
        raise ValueError(
            f"stop choice {name!r}: expected off, beta-<confidence> (beta-0.95) or window-<size> (window-3)"
        )
    if m.group(1):
        return {"rule": "beta", "confidence": float(m.group(1))}
    if m.group(2):
        return {"rule": "window", "size": int(m.group(2))}
    return None


class StyleSettings(BaseModel):
    """A named prompt style: the generator settings it sets (see components/generator.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_format: PromptFormat = "chat"
    shots: int = Field(default=DEFAULT_SHOTS, ge=0, le=64)
    answer_format: str | None = None
    system_prompt: str | None = None
    repair: int = Field(default=0, ge=0, le=MAX_REPAIR)
    max_tokens: int | None = Field(default=None, ge=1, description="the style's answer length (default: the space's)")

    @model_validator(mode="after")
    def _valid_generator(self) -> StyleSettings:
        GeneratorConfig(**self.generator_settings())  # the same rules as in an architecture file
        return self

    def generator_settings(self) -> dict[str, Any]:
        """Only the settings that differ from a plain generator's, so a plain style adds nothing."""
        return self.model_dump(exclude_defaults=True)


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
    temperature: float | tuple[float, ...] = Field(
        default=DEFAULT_TEMPERATURE, description="one temperature, or the choices of the temperature dimension"
    )
    styles: dict[str, StyleSettings] = Field(default_factory=lambda: {DEFAULT_STYLE: StyleSettings()})
    style_sets: tuple[tuple[str, ...], ...] | None = Field(
        default=None, description="the sets of styles to choose from (default: every non-empty set)"
    )
    stop: tuple[str, ...] = Field(
        default=(STOP_OFF,), description="the majority vote's stopping rules to choose from (off, beta-0.95, window-3)"
    )
    max_tokens: int = Field(default=256, ge=1)
    aux_max_tokens: int = Field(default=384, ge=1, description="max_tokens of fusers, critics, judges")

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_choices(cls, value: Any) -> Any:
        # YAML reads a bare ``off`` as false; one choice may be given alone.
        values = value if isinstance(value, list | tuple) else [value]
        return tuple(STOP_OFF if v is False else v for v in values)

    @field_validator("styles")
    @classmethod
    def _style_names(cls, styles: dict[str, StyleSettings]) -> dict[str, StyleSettings]:
        if not styles:
            raise ValueError("list at least one style")
        for name in styles:
            if not _STYLE_NAME.match(name):
                raise ValueError(f"style name {name!r}: use 1-24 letters, digits or underscores")
        return styles

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
        temperatures = self.temperatures
        if (
            not temperatures
            or any(not 0.0 <= t <= 2.0 for t in temperatures)
            or len(set(temperatures)) < len(temperatures)
        ):
            raise ValueError("temperature: expected one value, or distinct choices, each from 0 to 2")
        for chosen in self.style_sets or ():
            unknown = [n for n in chosen if n not in self.styles]
            if unknown:
                raise ValueError(f"style_sets: {unknown[0]!r} is not one of the styles ({', '.join(self.styles)})")
            if not chosen or len(set(chosen)) < len(chosen):
                raise ValueError("style_sets: each set needs one or more distinct styles")
        if self.style_sets is not None and not self.style_sets:
            raise ValueError("style_sets: list at least one set")
        if not self.stop or len(set(self.stop)) < len(self.stop):
            raise ValueError("stop: expected one or more distinct choices")
        for name in self.stop:
            MajorityVoteConfig.model_validate({"stop": stop_rule(name)})  # the vote's own rules on its settings
        return self

    @property
    def temperatures(self) -> tuple[float, ...]:
        """The temperature dimension's choices."""
        return (float(self.temperature),) if isinstance(self.temperature, int | float) else tuple(self.temperature)

    def style_choices(self) -> list[tuple[str, ...]]:
        """The style sets to choose from, each in the order the space lists its styles."""
        names = list(self.styles)
        if self.style_sets is None:
            return [c for k in range(1, len(names) + 1) for c in combinations(names, k)]
        return list(dict.fromkeys(tuple(n for n in names if n in chosen) for chosen in self.style_sets))

    def choices(self, dimension: str) -> list[Any]:
        """Every value of one dimension (``DIMENSIONS``)."""
        ranges = {
            "top_models": self.top_models,
            "samples": self.samples,
            "fusion_layers": self.fusion_layers,
            "fusers_per_layer": self.fusers_per_layer,
        }
        if dimension in ranges:
            low, high = ranges[dimension]
            return list(range(low, high + 1))
        choices: dict[str, list[Any]] = {
            "critic_ranker": list(self.critic_ranker),
            "final": list(self.final),
            "styles": list(self.style_choices()),
            "temperature": list(self.temperatures),
            "stop": list(self.stop),
        }
        return choices[dimension]

    def holds(self, point: Point) -> bool:
        """Whether every setting of ``point`` is one of this space's choices."""
        ranges = (self.top_models, self.samples, self.fusion_layers, self.fusers_per_layer)
        values = (point.top_models, point.samples, point.fusion_layers, point.fusers_per_layer)
        return (
            all(low <= v <= high for (low, high), v in zip(ranges, values, strict=True))
            and point.critic_ranker in self.critic_ranker
            and point.final in self.final
            and point.styles in self.style_choices()
            and point.temperature in self.temperatures
            and (point.stop in self.stop or point.stop == STOP_OFF)  # off: where no rule has an effect
        )

    def style_settings(self, name: str) -> dict[str, Any]:
        """The generator settings of a style (the default style needs no entry)."""
        if name in self.styles:
            return self.styles[name].generator_settings()
        if name == DEFAULT_STYLE:
            return {}
        raise ConfigError(f"style {name!r} is not one of the space's styles ({', '.join(self.styles)})")

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
    styles: tuple[str, ...] = (DEFAULT_STYLE,)
    temperature: float = DEFAULT_TEMPERATURE
    stop: str = STOP_OFF

    def __post_init__(self) -> None:
        # Points read back from JSON carry lists and ints; equal points must hash alike.
        object.__setattr__(self, "styles", tuple(self.styles))
        object.__setattr__(self, "temperature", float(self.temperature))

    def canonical(self, neutral_fusers: int = 1, neutral_critic: bool = False, neutral_samples: int = 1) -> Point:
        """Settings that have no effect are set to a neutral value, so equal architectures have
        equal points (a single fuser layer makes one candidate; no fusion, no critic/ranker; at
        temperature 0 every sample of a prompt is the same greedy answer; a stopping rule needs a
        final majority vote right after generators with more than one sample between them)."""
        fusers = self.fusers_per_layer if self.fusion_layers >= 2 else neutral_fusers
        critic = self.critic_ranker if self.fusion_layers >= 1 else neutral_critic
        samples = self.samples if self.temperature > 0 else neutral_samples
        votes_on_samples = self.final == "majority_vote" and self.fusion_layers == 0
        stop = self.stop if votes_on_samples and self.top_models * len(self.styles) * samples > 1 else STOP_OFF
        return Point(
            self.top_models,
            samples,
            self.fusion_layers,
            fusers,
            critic,
            self.final,
            self.styles,
            self.temperature,
            stop,
        )

    def is_plain(self) -> bool:
        """Default style and temperature: the point as the six-dimension space knew it."""
        return self.styles == (DEFAULT_STYLE,) and self.temperature == DEFAULT_TEMPERATURE and self.stop == STOP_OFF

    def as_list(self) -> list[Any]:
        return [
            self.top_models,
            self.samples,
            self.fusion_layers,
            self.fusers_per_layer,
            int(self.critic_ranker),
            self.final,
            "+".join(self.styles),
            self.temperature,
            *([self.stop] if self.stop != STOP_OFF else []),  # (points without a rule keep their old list)
        ]

    @classmethod
    def from_list(cls, values: list[Any]) -> Point:
        """The inverse of ``as_list`` (a six-value list: default style and temperature). The
        optimiser's vectors differ (one 0/1 per style): read them with ``FeasibleSpace.from_skopt``."""
        t, s, f, fp, cr, final, *rest = values
        if len(rest) not in (0, 2, 3) or (rest and not isinstance(rest[0], str)):
            raise ValueError(f"not a point's as_list() (an optimiser vector? use FeasibleSpace.from_skopt): {values}")
        styles = tuple(str(rest[0]).split("+")) if rest else (DEFAULT_STYLE,)
        temperature = float(rest[1]) if len(rest) > 1 else DEFAULT_TEMPERATURE
        stop = str(rest[2]) if len(rest) > 2 else STOP_OFF
        return cls(int(t), int(s), int(f), int(fp), bool(int(cr)), str(final), styles, temperature, stop)

    def label(self) -> str:
        """A short readable name: g2x5-f2x3-cr-mv, with the styles and temperature when not the
        defaults: g1x3-chat+qa8-mv-t0."""
        parts = [f"g{self.top_models}x{self.samples}"]
        if self.styles != (DEFAULT_STYLE,):
            parts.append("+".join(self.styles))
        if self.fusion_layers:
            parts.append(f"f{self.fusion_layers}x{self.fusers_per_layer}")
        if self.critic_ranker:
            parts.append("cr")
        short = FINAL_STAGES[self.final]
        if short:
            parts.append(short)
        if self.temperature != DEFAULT_TEMPERATURE:
            parts.append(f"t{self.temperature:g}")
        if self.stop != STOP_OFF:
            parts.append(self.stop.replace("-", ""))  # beta0.95, window3
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
    """The architecture of ``point``: one generator per style of the point's set for each of the
    top ``top_models`` of the ranked ``models`` (model by model, styles in the space's order);
    fusers, critics, rankers and the final stage use the top-ranked model. Generators and fusers
    sample at the point's temperature. ``endpoints`` adds ``api_base`` / ``api_key_env`` to every
    component of a model."""
    p = point
    lead = models[0]
    aux = {"model": lead, "max_tokens": space.aux_max_tokens}
    layers: list[list[dict[str, Any]]] = [
        [
            {
                "type": "generator",
                "model": m,
                "samples": p.samples,
                "temperature": p.temperature,
                "max_tokens": space.max_tokens,
                **space.style_settings(style),
            }
            for m in models[: p.top_models]
            for style in p.styles
        ]
    ]
    for i in range(p.fusion_layers):
        if p.critic_ranker:
            layers.append([{"type": "critic", **aux}])
            layers.append([{"type": "ranker", "model": lead, "top_k": space.ranker_top_k}])
        fused = 1 if i == p.fusion_layers - 1 else p.fusers_per_layer
        layers.append([{"type": "fuser", **aux, "samples": fused, "temperature": p.temperature}])
    if p.final == "majority_vote":
        rule = stop_rule(p.stop) if p.fusion_layers == 0 else None
        layers.append([{"type": "majority_vote", **({"stop": rule} if rule else {})}])
    elif p.final == "verifier":
        layers.append([{"type": "verifier", **aux}])
    elif p.final == "unit_tests":
        layers.append([{"type": "unit_test_generator", **aux, "num_tests": space.unit_tests}])
        layers.append([{"type": "unit_test_evaluator", "model": lead, "top_k": 1}])
    elif p.final == "executed_tests":
        layers.append([{"type": "unit_test_generator", **aux, "num_tests": space.unit_tests, "test_format": "asserts"}])
        layers.append([{"type": "unit_test_evaluator", "mode": "executed", "top_k": 1}])
    elif p.final == "ranker":
        layers.append([{"type": "ranker", "model": lead, "top_k": 1}])
    for layer in layers:
        for component in layer:
            component.update((endpoints or {}).get(str(component.get("model")), {}))
    return Architecture.model_validate({"name": name or p.label(), "layers": layers})


def architecture_id(point: Point, models: list[str]) -> str:
    """Stable id: the readable label plus a digest of the point and the models it uses (a point
    of default style and temperature keeps the id it had before those dimensions existed)."""
    p = point.canonical()  # ids ignore settings that have no effect
    values = p.as_list()[:6] if p.is_plain() else p.as_list()
    digest = hashlib.sha256(f"{values}|{models[: p.top_models]}|{models[0]}".encode()).hexdigest()[:6]
    return f"{p.label()}-{digest}"


# Calls per query of each point, by space (as JSON) and point: they do not depend on which models
# fill the pool, so the search's views of one space (the budget check, the estimate, the ranked
# pool) build each point's architecture once.
_CALLS: dict[tuple[str, Point], int] = {}


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
        self._neutral = (self.space.fusers_per_layer[0], self.space.critic_ranker[0], self.space.samples[0])
        self._space_key = self.space.model_dump_json()
        self._listed: tuple[Point, ...] | None = None  # all_points, once listed

    def canonical(self, point: Point) -> Point:
        return point.canonical(*self._neutral)

    def _static_calls(self, point: Point) -> int:
        key = (self._space_key, point)
        if key not in _CALLS:
            _CALLS[key] = self.architecture(point).static_calls()
        return _CALLS[key]

    def architecture(self, point: Point) -> Architecture:
        return build_architecture(point, self.models, self.space, endpoints=self.endpoints)

    def calls(self, point: Point) -> int:
        return self._static_calls(self.canonical(point))

    def contains(self, point: Point) -> bool:
        """In the space, canonical and within budget (the constraint handed to the optimiser)."""
        if not self.space.holds(point) or point != self.canonical(point):
            return False
        return self.calls_per_query is None or self.calls(point) <= self.calls_per_query

    def all_points(self) -> list[Point]:
        """Every feasible canonical point, in a fixed order (a new list: callers may shuffle it).
        Listed once per space: the driver, the loop and the algorithm each ask for it."""
        if self._listed is None:
            s = self.space
            points = set()
            for values in product(*(s.choices(d) for d in DIMENSIONS)):
                p = self.canonical(Point(*values))  # (a rule where none applies is the point without one)
                if self.contains(p):
                    points.add(p)
            self._listed = tuple(sorted(points))
        return list(self._listed)

    # The optimiser's view of a point: the six numbers and choices, then one 0/1 per style of the
    # space (whether the set holds it, so the GP learns what each style adds), then temperature.

    # The stop dimension is there only when the space offers more than one rule, so the vectors
    # (and the seeded searches) of spaces without rules stay what they were.

    def to_skopt(self, point: Point) -> list[Any]:
        choices = self.space.stop
        stop = [point.stop if point.stop in choices else choices[0]] if len(choices) > 1 else []
        return [*point.as_list()[:6], *(int(n in point.styles) for n in self.space.styles), point.temperature, *stop]

    def from_skopt(self, values: list[Any]) -> Point:
        names = list(self.space.styles)
        flags, temperature = values[6 : 6 + len(names)], values[6 + len(names)]
        styles = tuple(n for n, flag in zip(names, flags, strict=True) if int(flag))
        stop = str(values[7 + len(names)]) if len(self.space.stop) > 1 else self.space.stop[0]
        point = Point.from_list([*values[:6], "+".join(styles), temperature, stop])
        if stop not in (STOP_OFF, self.canonical(point).stop):  # no rule applies here: off, listed or not
            point = Point.from_list([*values[:6], "+".join(styles), temperature, STOP_OFF])
        return point

    def skopt_dimensions(self) -> list[Any]:
        from skopt.space import Categorical, Integer

        s = self.space
        sets = s.style_choices()
        styles = [Categorical(sorted({int(n in chosen) for chosen in sets}), name=f"style_{n}") for n in s.styles]
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
            *styles,
            Categorical(list(s.temperatures), name="temperature"),
            *([Categorical(list(s.stop), name="stop")] if len(s.stop) > 1 else []),
        ]
