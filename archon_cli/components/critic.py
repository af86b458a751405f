"""Critic: one model call writes strengths and weaknesses for every candidate.

The critique is stored on the candidate, so later rankers and fusers see it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Literal

from archon_cli.components.base import LLM, Component, LLMComponentConfig, format_candidates
from archon_cli.llm.types import Message
from archon_cli.state import Candidate, LayerInput, LayerOutput


class CriticConfig(LLMComponentConfig):
    type: Literal["critic"] = "critic"
    single_per_layer = True

    def call_count(self, n_in: int) -> tuple[int, int]:
        return (1 if n_in > 0 else 0), n_in


def build_messages(question: str, candidates: Sequence[Candidate]) -> list[Message]:
    """One user message: the question, the numbered candidates, one block per candidate asked."""
    # Old critiques are left out: this critic writes fresh ones and should not just echo them.
    template = "\n".join(f"[{k}] Strengths: ... Weaknesses: ..." for k in range(1, len(candidates) + 1))
    content = (
        f"Question:\n{question}\n\n"
        f"Candidate answers:\n\n{format_candidates(candidates, with_critiques=False)}\n\n"
        "For each candidate answer, say briefly what is good and what is wrong or missing. "
        "Use exactly this format, one line per candidate:\n"
        f"{template}"
    )
    return [{"role": "user", "content": content}]


# Block markers, strongest first: "[2]" or "Candidate 2" at a line start; then "2." / "2)" at a
# line start (weaker, since a critique may contain its own numbered list); then "[2]" anywhere.
_MARKERS = (
    re.compile(r"^[ \t>#*-]*(?:\[\s*(\d+)\s*\]|candidate\s*\[?\s*(\d+)\s*\]?)[ \t*]*[:.)-]?", re.I | re.M),
    re.compile(r"^[ \t>#*-]*(\d+)[.)](?!\d)", re.M),
    re.compile(r"\[\s*(\d+)\s*\]()"),
)


def _blocks(text: str, marker: re.Pattern[str], n: int) -> list[str | None]:
    """Text between consecutive markers, by candidate; first non-empty block per candidate wins."""
    marks = []
    for m in marker.finditer(text):
        number = next(g for g in m.groups() if g)
        marks.append((m.start(), m.end(), int(number) - 1))
    out: list[str | None] = [None] * n
    for j, (_start, end, index) in enumerate(marks):
        # Out-of-range markers still end the block before them.
        stop = marks[j + 1][0] if j + 1 < len(marks) else len(text)
        body = text[end:stop].strip(" \t\n*:-")
        if 0 <= index < n and out[index] is None and body:
            out[index] = body
    return out


def parse_critiques(text: str, n: int) -> list[str | None]:
    """One critique per candidate (None where the reply has no block for it).

    Tries each marker style and keeps the one that finds the most blocks.
    """
    best: list[str | None] = [None] * n
    for marker in _MARKERS:
        found = _blocks(text, marker, n)
        if sum(b is not None for b in found) > sum(b is not None for b in best):
            best = found
    return best


class Critic(Component[CriticConfig]):
    kind = "critic"
    config_class = CriticConfig

    async def run(self, layer_input: LayerInput, llm: LLM) -> LayerOutput:
        candidates = layer_input.candidates
        if not candidates:
            return LayerOutput(candidates=())
        messages = build_messages(layer_input.query.text, candidates)
        reply = await llm.complete(self.config.request(messages))
        critiques = parse_critiques(reply.text, len(candidates))
        if any(c is None for c in critiques):
            llm.note_parse_failure(self.kind)
        return LayerOutput(
            candidates=tuple(
                dataclasses.replace(candidate, critique=critique)
                for candidate, critique in zip(candidates, critiques, strict=True)
            ),
            decision={"reply": reply.text, "parsed": [c is not None for c in critiques]},
        )
