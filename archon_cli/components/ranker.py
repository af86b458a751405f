"""Ranker: one model call orders the candidates best-first; the top ``top_k`` go on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from archon_cli.components.base import LLM, Component, LLMComponentConfig, format_candidates
from archon_cli.llm.types import Message
from archon_cli.state import Candidate, LayerInput, LayerOutput


class RankerConfig(LLMComponentConfig):
    type: Literal["ranker"] = "ranker"
    single_per_layer = True
    top_k: int = Field(default=1, ge=1)

    def call_count(self, n_in: int) -> tuple[int, int]:
        # A single candidate is already ranked, so run() asks nothing then.
        return (1 if n_in > 1 else 0), min(self.top_k, n_in)


def example_ranking(n: int) -> str:
    """A format example for ``n`` candidates: ``[2] > [1] > [3]`` (shortened for n < 3)."""
    order = [2, 1, *range(3, n + 1)] if n >= 2 else [1]
    return " > ".join(f"[{k}]" for k in order[:n])


def build_messages(question: str, candidates: Sequence[Candidate]) -> list[Message]:
    """One user message: the question, the numbered candidates (with critiques), the format."""
    content = (
        f"Question:\n{question}\n\n"
        f"Candidate answers:\n\n{format_candidates(candidates)}\n\n"
        f"Rank the {len(candidates)} candidate answers from best to worst. "
        "Reply with one line of candidate numbers in brackets, best first, like this:\n"
        f"{example_ranking(len(candidates))}"
    )
    return [{"role": "user", "content": content}]


_BRACKETED = re.compile(r"\[\s*(\d+)\s*\]")
_BARE = re.compile(r"(?<![\d.])(\d+)(?!\.?\d)")


def parse_ranking(text: str, n: int) -> list[int] | None:
    """0-based order of ``n`` candidates from a reply like ``[2] > [1] > [3]``, or None.

    Numbers count in order of first appearance; out-of-range ones and repeats are ignored and
    candidates never named are appended in incoming order. Bracketed numbers are preferred, so
    numbers quoted in an explanation ("it says 42") do not disturb a ranking line.
    """
    order: list[int] = []
    for pattern in (_BRACKETED, _BARE):
        for m in pattern.finditer(text):
            index = int(m.group(1)) - 1
            if 0 <= index < n and index not in order:
                order.append(index)
        if order:
            break
    if not order:
        return None
    return order + [i for i in range(n) if i not in order]


class Ranker(Component[RankerConfig]):
    kind = "ranker"
    config_class = RankerConfig

    async def run(self, layer_input: LayerInput, llm: LLM) -> LayerOutput:
        candidates = layer_input.candidates
        if len(candidates) <= 1:
            return LayerOutput(candidates=candidates[: self.config.top_k])
        messages = build_messages(layer_input.query.text, candidates)
        reply = await llm.complete(self.config.request(messages))
        parsed = order = parse_ranking(reply.text, len(candidates))
        if order is None:
            llm.note_parse_failure(self.kind)
            order = list(range(len(candidates)))
        # The same Candidate objects move, so each keeps its critique.
        ranked = tuple(candidates[i] for i in order)
        decision = {"reply": reply.text, "order": order, "parsed": parsed is not None}
        return LayerOutput(candidates=ranked[: self.config.top_k], decision=decision)
