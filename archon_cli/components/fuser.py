"""Fuser: merge all incoming candidates (and their critiques) into new, improved answers."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from archon_cli.components.base import LLM, Component, LLMComponentConfig, format_candidates, sample
from archon_cli.llm.types import Message
from archon_cli.state import Candidate, LayerInput, LayerOutput, Query


class FuserConfig(LLMComponentConfig):
    type: Literal["fuser"] = "fuser"
    mixes = True
    samples: int = Field(default=1, ge=1, le=64)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    length_control: bool = Field(default=False, description="ask for an answer about as long as the candidates")

    def call_count(self, n_in: int) -> tuple[int, int]:
        # Nothing to fuse means no call: run() returns early on empty input.
        return (self.samples, self.samples) if n_in > 0 else (0, 0)


def word_target(candidates: Sequence[Candidate]) -> int:
    """Median candidate length in words: the length a length-controlled fusion aims for."""
    return max(1, round(statistics.median(len(c.text.split()) for c in candidates)))


def fusion_instruction(question: str, candidates: Sequence[Candidate], *, length_control: bool) -> str:
    """The user-turn text asking for one answer that combines the numbered candidates."""
    has_critiques = any(c.critique for c in candidates)
    intro = f"Here are {len(candidates)} candidate answers to this question"
    intro += ", each followed by a critique." if has_critiques else "."
    rules = [
        "Write one new answer to the question that is better than all of them.",
        "Keep what is right in the candidates, fix what is wrong, and leave out mistakes.",
    ]
    if length_control:
        rules.append(f"Make your answer about {word_target(candidates)} words long, as long as the candidates.")
    rules.append("Reply with the answer only. Do not mention the candidates.")
    numbered = format_candidates(candidates)
    return f"Question:\n{question}\n\n{intro}\n\n{numbered}\n\n" + "\n".join(rules)


def build_messages(query: Query, candidates: Sequence[Candidate], *, length_control: bool) -> list[Message]:
    """Earlier chat turns kept as real messages; the last user turn carries the fusion request.

    Returns new dicts, so the query's messages are never changed.
    """
    messages = [dict(m) for m in query.messages]
    if messages and messages[-1].get("role") == "user":
        history, question = messages[:-1], messages[-1]["content"]
    else:
        history, question = [], query.text
    content = fusion_instruction(question, candidates, length_control=length_control)
    return [*history, {"role": "user", "content": content}]


class Fuser(Component[FuserConfig]):
    kind = "fuser"
    config_class = FuserConfig

    async def run(self, layer_input: LayerInput, llm: LLM) -> LayerOutput:
        candidates = layer_input.candidates
        if not candidates:
            return LayerOutput(candidates=())
        messages = build_messages(layer_input.query, candidates, length_control=self.config.length_control)
        replies = await sample(llm, self.config.request(messages), self.config.samples)
        origin = f"fuser:{self.config.model}"
        return LayerOutput(
            candidates=tuple(Candidate(text=r.text.strip(), origin=f"{origin}#{i}") for i, r in enumerate(replies))
        )
