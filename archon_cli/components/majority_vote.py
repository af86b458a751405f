"""Majority vote: keep the candidates that give the most common final answer. No model call.

With ``stop`` the vote is adaptive: the generators of the layer before it draw their samples in
rounds (engine/rounds.py) and stop once the rule says the vote is decided, or at their static
count. Two published rules, both on the answers as the vote extracts them (``vote_key``):
- ``beta`` (Adaptive-Consistency, Aggarwal et al. 2023): with v1 and v2 the counts of the two
  leading answers, stop when P(p1 > p2) >= ``confidence`` under Beta(v1 + 1, v2 + 1), once at
  least ``min`` samples are drawn; each round draws ``round`` more samples of every generator.
- ``window`` (Early-Stopping Self-Consistency, Li et al. 2024): draw windows of ``size`` samples;
  stop when every answer of a window is the same.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from archon_cli.answers import extract_answer
from archon_cli.components.base import LLM, Component, ComponentConfig
from archon_cli.state import Candidate, LayerInput, LayerOutput


class BetaStop(BaseModel):
    """Adaptive-Consistency's Beta stopping rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Literal["beta"] = "beta"
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    min: int = Field(default=2, ge=1, le=256, description="samples drawn before the rule may stop")
    round: int = Field(default=1, ge=1, le=256, description="samples each generator draws per round")

    def decided(self, keys: Sequence[str | None], last_round: int) -> bool:
        if len(keys) < self.min:
            return False
        return beta_confidence(keys) >= self.confidence

    def describe(self) -> str:
        return f"beta {self.confidence:g}"


class WindowStop(BaseModel):
    """Early-Stopping Self-Consistency's window rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Literal["window"] = "window"
    size: int = Field(default=4, ge=2, le=256)

    def decided(self, keys: Sequence[str | None], last_round: int) -> bool:
        window = keys[len(keys) - last_round :] if last_round else []
        return len(window) == self.size and window[0] is not None and len(set(window)) == 1

    def describe(self) -> str:
        return f"window {self.size}"


StopRule = Annotated[BetaStop | WindowStop, Field(discriminator="rule")]


def beta_confidence(keys: Sequence[str | None]) -> float:
    """P(p1 > p2) for the two leading answers of ``keys`` (None: no answer, not a vote), under
    Beta(v1 + 1, v2 + 1): P(X > 1/2) for X of that Beta, which for whole counts is
    P(Binomial(v1 + v2 + 1, 1/2) <= v1), worked out exactly. 0 when no sample states an answer."""
    counts = sorted(Counter(k for k in keys if k is not None).values(), reverse=True)
    if not counts:
        return 0.0
    v1, v2 = counts[0], counts[1] if len(counts) > 1 else 0
    n = v1 + v2 + 1
    return sum(math.comb(n, j) for j in range(v1 + 1)) / 2**n


class MajorityVoteConfig(ComponentConfig):
    type: Literal["majority_vote"] = "majority_vote"
    single_per_layer = True
    stop: StopRule | None = Field(
        default=None, description="draw the generators' samples in rounds until the vote is decided"
    )

    def call_count(self, n_in: int) -> tuple[int, int]:
        return 0, n_in

    def previous_layer_error(self, previous: Sequence[ComponentConfig]) -> str | None:
        # Only generators draw in rounds; a vote over fused, ranked or judged candidates has
        # nothing to stop early.
        if self.stop is not None and any(c.type != "generator" for c in previous):
            kinds = sorted({c.type for c in previous})
            return f"stop: the layer before a majority_vote with stop must hold only generators, found {kinds}"
        return None


def vote_key(text: str, extract: Callable[[str], str | None] | None = None) -> str | None:
    """The answer a candidate votes for, or None if it states none: read by ``extract`` (the
    benchmark's own reading, ``Query.answer_key``) where given, else by ``extract_answer``.

    Case-folded so that "Paris" and "paris" count as one answer.
    """
    answer = (extract or extract_answer)(text)
    return answer.casefold() if answer is not None else None


def majority(
    candidates: tuple[Candidate, ...], extract: Callable[[str], str | None] | None = None
) -> tuple[Candidate, ...]:
    """Candidates carrying the winning answer, in incoming order.

    Ties go to the answer that appears first; with no extractable answer, the first candidate.
    """
    keys = [vote_key(c.text, extract) for c in candidates]
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
        extract = layer_input.query.answer_key
        keys = [vote_key(c.text, extract) for c in layer_input.candidates]
        counts = Counter(k for k in keys if k is not None)
        decision = {"votes": keys, "counts": dict(counts.most_common())}
        return LayerOutput(candidates=majority(layer_input.candidates, extract), decision=decision)
