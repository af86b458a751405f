"""Shared pieces of the judge-based benchmarks (MT-Bench, AlpacaEval, Arena-Hard).

Pure verdict parsers (a rating as FastChat reads it, a pairwise ``[[A]]``/``[[B]]``/``[[C]]``
choice) and pairwise judging in both orders. (Their data files: benchmarks/data.py.)
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from archon_cli.benchmarks.base import Judge
from archon_cli.llm.types import Message

# -- verdict parsers ----------------------------------------------------------------------------

# FastChat's patterns (fastchat/llm_judge/common.py: one_score_pattern, one_score_pattern_backup).
_DOUBLE_BRACKET = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_SINGLE_BRACKET = re.compile(r"\[(\d+\.?\d*)\]")


def parse_rating(text: str) -> float | None:
    """The rating in a judgment, as FastChat's ``run_judge_single`` reads it: the first ``[[n]]``,
    else the first ``[n]``; any number counts (no range check); None where FastChat gives -1."""
    match = _DOUBLE_BRACKET.search(text) or _SINGLE_BRACKET.search(text)
    return float(match.group(1)) if match else None


Choice = Literal["A", "B", "tie"]
_CHOICE = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)


def parse_choice(text: str) -> Choice | None:
    """``[[A]]``, ``[[B]]``, or ``[[C]]``/``[[tie]]`` for a tie. Two different verdicts in one
    judgment (a judge echoing the instructions) are no verdict."""
    found = {m.upper() for m in _CHOICE.findall(text)}
    if len(found) != 1:
        return None
    value = found.pop()
    return "tie" if value in ("C", "TIE") else value  # type: ignore[return-value]


# -- pairwise judging ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Game:
    """One judgment of the model against the baseline. ``model_first``: the model's answer was
    shown as A. ``advantage`` is the model's advantage (positive = model better, None = unparsed)."""

    model_first: bool
    advantage: int | None
    judgment: str

    def as_dict(self) -> dict[str, Any]:
        return {"model_position": "A" if self.model_first else "B", "advantage": self.advantage}


BuildMessages = Callable[[str, str], list[Message]]


async def judge_both_orders(
    judge: Judge, build: BuildMessages, model_answer: str, baseline_answer: str, parse: Callable[[str], int | None]
) -> list[Game]:
    """Ask the judge with the model as A (sample 0) and as B (sample 1), so a judge that favours
    one position cannot favour the model. ``parse`` returns A's advantage; games report the model's."""
    orders = (True, False)
    texts = await asyncio.gather(
        *(
            judge.ask(build(model_answer, baseline_answer) if first else build(baseline_answer, model_answer), i)
            for i, first in enumerate(orders)
        )
    )
    games = []
    for first, text in zip(orders, texts, strict=True):
        a_advantage = parse(text)
        advantage = None if a_advantage is None else (a_advantage if first else -a_advantage)
        games.append(Game(model_first=first, advantage=advantage, judgment=text))
    return games


def choice_advantage(text: str) -> int | None:
    """``parse_choice`` as A's advantage: +1 A, 0 tie, -1 B."""
    choice = parse_choice(text)
    return None if choice is None else {"A": 1, "tie": 0, "B": -1}[choice]
