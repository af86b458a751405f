"""The component contract: a pydantic config, a static call count, and an async ``run``."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from archon_cli.llm.types import Completion, CompletionRequest, Message
from archon_cli.state import Candidate, LayerInput, LayerOutput

DEFAULT_MODEL = "local/smollm2-135m"


class ComponentConfig(BaseModel):
    """Base of every component's settings. Unknown keys are errors, so typos never pass silently.

    Each component declares its own layer rules here, as class variables; ``config.architecture``
    applies them to every kind alike, so a new component brings its rules in its own file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str

    # Makes candidates from the query alone and ignores those it receives: an architecture's
    # first candidates come from one of these.
    opens: ClassVar[bool] = False
    # Works on incoming candidates, so no layer of it may come before the first opener.
    needs_candidates: ClassVar[bool] = True
    # May share a layer with components of other kinds that may too (generators and fusers).
    mixes: ClassVar[bool] = False
    # A layer of this kind holds exactly one component (judges, rankers, filters).
    single_per_layer: ClassVar[bool] = False
    # A kind some earlier layer must hold (an evaluator needs a test generator's tests).
    needs_earlier: ClassVar[str | None] = None

    def call_count(self, n_in: int) -> tuple[int, int]:
        """Static cost: (LLM calls made, upper bound on candidates passed on) for ``n_in`` inputs."""
        raise NotImplementedError

    def models(self) -> list[str]:
        """Model routes this component calls (used to check routes and keys before any call)."""
        return []

    def previous_layer_error(self, previous: Sequence[ComponentConfig]) -> str | None:
        """Why this component cannot follow ``previous`` (the layer before it), or None."""
        return None


class LLMComponentConfig(ComponentConfig):
    """Settings shared by components that call a model."""

    model: str = DEFAULT_MODEL
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1, le=65536)
    api_base: str | None = None
    api_key_env: str | None = Field(default=None, description="name of the environment variable holding the API key")
    timeout: float = Field(
        default=120.0, gt=0, le=3600, description="seconds to wait for one reply before retrying (not for local models)"
    )

    def models(self) -> list[str]:
        return [self.model]

    def request(
        self,
        messages: list[Message] | tuple[Message, ...],
        *,
        stop: tuple[str, ...] = (),
        max_tokens: int | None = None,
        step: str | None = None,
        prompt: str | None = None,
    ) -> CompletionRequest:
        """A request to this component's model with its sampling settings. Its ``purpose`` names
        the component (and the ``step``, for components that make calls of several kinds). The
        sample slot is left to the query's ``SampleSlots``: every call draws its own sample.
        ``prompt`` asks for a plain text completion of it instead (``messages`` then empty)."""
        return CompletionRequest(
            model=self.model,
            messages=tuple(dict(m) for m in messages),
            temperature=self.temperature,
            max_tokens=max_tokens if max_tokens is not None else self.max_tokens,
            stop=stop,
            api_base=self.api_base,
            api_key_env=self.api_key_env,
            timeout=self.timeout,
            purpose=self.type if step is None else f"{self.type}:{step}",
            prompt=prompt,
        )


def format_candidates(candidates: Sequence[Candidate], *, with_critiques: bool = True) -> str:
    """The candidates numbered [1], [2], ... with their text as-is, each with its critique."""
    blocks = []
    for i, candidate in enumerate(candidates, start=1):
        block = f"[{i}] {candidate.text}"
        if with_critiques and candidate.critique:
            block += f"\nCritique of [{i}]: {candidate.critique}"
        blocks.append(block)
    return "\n\n".join(blocks)


class LLM(Protocol):
    """What a component may do with models: complete a request, and report a reply it could not parse.
    One that also has ``complete_samples(request, n)`` (the engine's ``QueryLLM``) gets a
    component's samples of one prompt together (see ``sample``)."""

    async def complete(self, request: CompletionRequest) -> Completion: ...

    def note_parse_failure(self, component: str) -> None: ...


async def sample(llm: LLM, request: CompletionRequest, n: int) -> list[Completion]:
    """``n`` samples of ``request``: through ``llm.complete_samples`` where it has one (one request
    with ``n`` where the provider takes it), else ``n`` concurrent ``complete`` calls."""
    together = getattr(llm, "complete_samples", None)
    if together is not None and n > 1:
        return list(await together(request, n))
    return list(await asyncio.gather(*(llm.complete(request) for _ in range(n))))


C = TypeVar("C", bound=ComponentConfig)


class Component(ABC, Generic[C]):
    """One inference-time technique. Subclasses set ``kind`` and ``config_class``."""

    kind: ClassVar[str]
    config_class: ClassVar[type[ComponentConfig]]

    def __init__(self, config: C) -> None:
        self.config = config

    @abstractmethod
    async def run(self, layer_input: LayerInput, llm: LLM) -> LayerOutput:
        """Turn the incoming candidates into this component's candidates."""
