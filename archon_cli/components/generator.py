"""Generator: sample candidate answers from one model. Several generators in a layer form an ensemble."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archon_cli.components.base import LLM, Component, LLMComponentConfig, sample
from archon_cli.llm.types import Message
from archon_cli.state import Candidate, LayerInput, LayerOutput


class GeneratorConfig(LLMComponentConfig):
    type: Literal["generator"] = "generator"
    opens = True
    needs_candidates = False
    mixes = True
    samples: int = Field(default=1, ge=1, le=256)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    system_prompt: str | None = None

    def call_count(self, n_in: int) -> tuple[int, int]:
        return self.samples, self.samples


def build_messages(query_messages: tuple[Message, ...], system_prompt: str | None) -> list[Message]:
    """The query's messages, with our system prompt first if one is set. Never mutates the input."""
    messages = [dict(m) for m in query_messages]
    if system_prompt:
        messages = [m for m in messages if m.get("role") != "system"]
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


class Generator(Component[GeneratorConfig]):
    kind = "generator"
    config_class = GeneratorConfig

    async def run(self, layer_input: LayerInput, llm: LLM) -> LayerOutput:
        messages = build_messages(layer_input.query.messages, self.config.system_prompt)
        replies = await sample(llm, self.config.request(messages), self.config.samples)
        origin = f"generator:{self.config.model}"
        return LayerOutput(
            candidates=tuple(Candidate(text=r.text.strip(), origin=f"{origin}#{i}") for i, r in enumerate(replies))
        )
