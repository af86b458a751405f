"""Adaptive drawing: the generators before a majority vote with ``stop`` draw their samples in
rounds, until the vote's rule says it is decided or every generator reached its ``samples``.

The order is fixed and interleaved: sample 1 of each generator (in the layer's order), then sample
2 of each, and so on, so a run is reproducible and a generator's k-th sample is always its prompt's
k-th sample slot (the cached samples of a fixed run, or of an earlier adaptive one, are reused).
A round of the ``beta`` rule is ``round`` more samples of every generator (``min`` samples at least
in the first); a round of the ``window`` rule is the next ``size`` samples of that order. A
generator's share of a round goes out as one request with ``n`` where the route takes it. The vote
receives the samples drawn in the layer's order (each generator's samples together), as a fixed
run hands them on, so a vote that never stops early answers what the fixed vote answers.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from archon_cli.components.base import LLM
from archon_cli.components.generator import Generator
from archon_cli.components.majority_vote import BetaStop, StopRule, WindowStop, vote_key
from archon_cli.state import Candidate, LayerInput, LayerOutput


def interleaved(samples: Sequence[int]) -> list[tuple[int, int]]:
    """(generator, sample number) in drawing order: sample 0 of each generator, then sample 1, ..."""
    return [(g, s) for s in range(max(samples, default=0)) for g, count in enumerate(samples) if s < count]


def rounds(samples: Sequence[int], rule: StopRule) -> list[list[int]]:
    """The rounds of drawing for generators of ``samples`` each: per round, how many more samples
    each generator draws. Together they draw every sample once (the static count)."""
    order = interleaved(samples)
    cuts: list[int] = []  # where each round ends in ``order``
    if isinstance(rule, WindowStop):
        cuts = list(range(rule.size, len(order), rule.size))
    else:
        first = max(rule.round, math.ceil(rule.min / max(len(samples), 1)))
        ends = range(first, max(samples, default=0), rule.round)
        cuts = [sum(min(count, end) for count in samples) for end in ends]
    plan = []
    start = 0
    for end in [*cuts, len(order)]:
        if end <= start:
            continue
        counts = [0] * len(samples)
        for g, _ in order[start:end]:
            counts[g] += 1
        plan.append(counts)
        start = end
    return plan


async def draw_until_decided(
    generators: Sequence[Generator], rule: BetaStop | WindowStop, layer_input: LayerInput, llms: Sequence[LLM]
) -> list[LayerOutput]:
    """Each generator's output, holding the samples drawn before ``rule`` decided the vote
    (generator i calls through ``llms[i]``, so the engine traces each one's calls)."""
    drawn: list[list[Candidate]] = [[] for _ in generators]
    keys: list[str | None] = []  # the vote's answers in drawing order
    for counts in rounds([g.config.samples for g in generators], rule):
        replies = await asyncio.gather(
            *(
                g.draw(layer_input, llms[i], len(drawn[i]), count)
                for i, (g, count) in enumerate(zip(generators, counts, strict=True))
                if count
            )
        )
        fresh = iter(replies)
        new: list[list[Candidate]] = []
        for i, count in enumerate(counts):
            got = list(next(fresh)) if count else []
            drawn[i] += got
            new.append(got)
        # This round's answers in the interleaved order (sample k of each generator, then k + 1).
        round_keys = [vote_key(c.text) for c in _interleave(new)]
        keys += round_keys
        if rule.decided(keys, len(round_keys)):
            break
    return [LayerOutput(candidates=tuple(c)) for c in drawn]


def _interleave(per_generator: list[list[Candidate]]) -> list[Candidate]:
    return [per_generator[g][s] for g, s in interleaved([len(c) for c in per_generator])]
