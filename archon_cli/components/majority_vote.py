"""Majority vote: keep the candidates that give the most common final answer. No model call."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from archon_cli.answers import extract_answer
from archon_cli.components.base import LLM, Component, ComponentConfig
from archon_cli.state import Candidate, LayerInput, LayerOutput


class MajorityVoteConfig(ComponentConfig):
    type: Literal["majority_vote"] = "majority_vote"
    single_per_layer = True

    def call_count(self, n_in: int) -> tuple[int, int]:
        return 0, n_in


def vote_key(text: str) -> str | None:
    """The answer a candidate votes for, or None if it states none.

    Case-folded so that "Paris" and "paris" count as one answer.
    """
    answer = extract_answer(text)
    return answer.casefold() if answer is not None else None


def majority(candidates: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
    """Candidates carrying the winning answer, in incoming order.

    Ties go to the answer that appears first; with no extractable answer, the first candidate.
    """
    keys = [vote_key(c.text) for c in candidates]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return candidates[:1]
    # Counter keeps first-insertion order and max() returns the first maximum, so a tie goes
    # to the answer seen earliest.
    winner = max(counts, key=lambda k: counts[k])
    return tuple(c for c, k in zip(candidates, keys, strict=True) if k == winner)


class MajorityVote(Component[MajorityVoteConfig]):
    kind = "majority_vote"
    config_class = MajorityVoteConfig

    async def run(self, layer_input: LayerInput, llm: LLM) -> LayerOutput:
        keys = [vote_key(c.text) for c in layer_input.candidates]
        counts = Counter(k for k in keys if k is not None)
        decision = {"votes": keys, "counts": dict(counts.most_common())}
        return LayerOutput(candidates=majority(layer_input.candidates), decision=decision)
