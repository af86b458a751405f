"""Verifier: per candidate, reason about correctness, then give a verdict; keep the correct ones."""

from __future__ import annotations

import asyncio
import re
from typing import Literal

from archon_cli.components.base import LLM, Component, LLMComponentConfig
from archon_cli.llm.types import Message
from archon_cli.state import LayerInput, LayerOutput


class VerifierConfig(LLMComponentConfig):
    type: Literal["verifier"] = "verifier"
    single_per_layer = True

    def call_count(self, n_in: int) -> tuple[int, int]:
        return 2 * n_in, n_in


def reasoning_messages(question: str, answer: str) -> list[Message]:
    """First call: check the answer step by step."""
    content = (
        f"Question:\n{question}\n\n"
        f"Proposed answer:\n{answer}\n\n"
        "Check the proposed answer step by step. Test each claim and each calculation "
        "against the question, and say whether it really answers the question. "
        "Write your reasoning."
    )
    return [{"role": "user", "content": content}]


def verdict_messages(question: str, answer: str, reasoning: str) -> list[Message]:
    """Second call: turn the reasoning into a one-line verdict."""
    content = (
        f"Question:\n{question}\n\n"
        f"Proposed answer:\n{answer}\n\n"
        f"Reasoning about the proposed answer:\n{reasoning}\n\n"
        "Based on this reasoning, is the proposed answer correct? "
        "Reply with exactly one line, either\n"
        "Verdict: correct\n"
        "or\n"
        "Verdict: incorrect"
    )
    return [{"role": "user", "content": content}]


# Negative forms come first in the alternation and are matched as whole words, so "incorrect"
# and "not correct" never read as "correct".
_DECISION = re.compile(
    r"\b(?P<neg>incorrect|invalid|false|wrong|not\s+(?:\w+\s+)?(?:correct|valid|true|right))\b"
    r"|\b(?P<pos>correct|valid|true)\b",
    re.I,
)
_YES_NO = re.compile(r"^\W*(?P<word>yes|no)\b", re.I)
_VERDICT = re.compile(r"\bverdict\b", re.I)


def _decide(text: str) -> bool | None:
    yes_no = _YES_NO.match(text)
    if yes_no:
        return yes_no.group("word").lower() == "yes"
    m = _DECISION.search(text)
    if m is None:
        return None
    return m.group("pos") is not None


def parse_verdict(text: str) -> bool | None:
    """True for correct, False for incorrect, None when the reply says neither.

    Reads what follows the last "Verdict" label when there is one, else the reply's first
    decision word. "yes"/"no" count only as the first word, since "no errors" is not a verdict.
    """
    labels = list(_VERDICT.finditer(text))
    if labels:
        decision = _decide(text[labels[-1].end() :].lstrip(" \t:*-"))
        if decision is not None:
            return decision
    return _decide(text)


class Verifier(Component[VerifierConfig]):
    kind = "verifier"
    config_class = VerifierConfig

    async def _verify(self, question: str, answer: str, llm: LLM) -> tuple[bool | None, str, str]:
        """The verdict (None: unreadable), the reasoning and the verdict reply."""
        # The verdict depends on the reasoning, so these two calls run in sequence.
        reasoning = await llm.complete(self.config.request(reasoning_messages(question, answer), step="reasoning"))
        verdict = await llm.complete(
            self.config.request(verdict_messages(question, answer, reasoning.text.strip()), step="verdict")
        )
        return parse_verdict(verdict.text), reasoning.text, verdict.text

    async def run(self, layer_input: LayerInput, llm: LLM) -> LayerOutput:
        candidates = layer_input.candidates
        if not candidates:
            return LayerOutput(candidates=())
        question = layer_input.query.text
        checked = await asyncio.gather(*(self._verify(question, c.text, llm) for c in candidates))
        verdicts = [verdict for verdict, _, _ in checked]
        for verdict in verdicts:
            if verdict is None:
                llm.note_parse_failure(self.kind)
        kept = tuple(c for c, v in zip(candidates, verdicts, strict=True) if v)
        decision = {
            "verdicts": verdicts,
            "reasoning": [r for _, r, _ in checked],
            "replies": [v for _, _, v in checked],
            "kept_all_rejected": not kept,
        }
        # Rejecting everything would leave later layers nothing to work with.
        return LayerOutput(candidates=kept or candidates, decision=decision)
