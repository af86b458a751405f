"""Unit test evaluator: score each candidate by how many unit tests it passes; keep the top_k
(or the first first_k that pass every test)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from archon_cli.components.base import LLM, Component, LLMComponentConfig
from archon_cli.llm.types import Message
from archon_cli.state import LayerInput, LayerOutput


class UnitTestEvaluatorConfig(LLMComponentConfig):
    type: Literal["unit_test_evaluator"] = "unit_test_evaluator"
    single_per_layer = True
    needs_earlier = "unit_test_generator"
    top_k: int | None = Field(default=1, ge=1, description="candidates kept, best first (None: all)")
    first_k: int | None = Field(
        default=None, ge=1, description="keep the first first_k candidates passing every test, when that many do"
    )

    def call_count(self, n_in: int) -> tuple[int, int]:
        # An upper bound: with no unit tests in the input, run() makes no calls at all.
        kept = n_in if self.top_k is None else min(self.top_k, n_in)
        if self.first_k is not None:
            kept = max(kept, min(self.first_k, n_in))
        return n_in, kept


def build_messages(question: str, answer: str, tests: Sequence[str]) -> list[Message]:
    """One user message: the question, one candidate, the numbered tests, the reply format."""
    numbered = "\n".join(f"{k}. {test}" for k, test in enumerate(tests, start=1))
    content = (
        f"Question:\n{question}\n\n"
        f"Answer to check:\n{answer}\n\n"
        f"Tests:\n{numbered}\n\n"
        "For each test, decide whether the answer passes it. "
        f"Reply with {len(tests)} lines, one per test, each exactly like "
        '"1: PASS" or "1: FAIL", using the test\'s number.'
    )
    return [{"role": "user", "content": content}]


_WORD = r"(?P<word>pass(?:ed|es)?|fail(?:ed|s)?|yes|no|true|false)\b"
_NUMBERED = re.compile(r"^[ \t>*#-]*(?:test\s*)?[\[(]?(?P<k>\d+)[\])]?\s*[:.)=-]?[ \t*]*" + _WORD, re.I | re.M)
# Without numbers only a line that is nothing but the result counts: "no idea" is no result.
_UNNUMBERED = re.compile(r"^[ \t>*#-]*" + _WORD + r"[ \t*.!]*$", re.I | re.M)


def _passed(word: str) -> bool:
    return word.lower().startswith(("pass", "yes", "true"))


def parse_test_results(text: str, n_tests: int) -> list[bool] | None:
    """Pass/fail per test from lines like ``2: PASS``; missing tests fail; None if none is read.

    When no line carries a test number, lines holding only a result word are taken in order.
    """
    results: list[bool | None] = [None] * n_tests
    found = False
    for m in _NUMBERED.finditer(text):
        index = int(m.group("k")) - 1
        if 0 <= index < n_tests and results[index] is None:
            results[index] = _passed(m.group("word"))
            found = True
    if not found:
        words = [m.group("word") for m in _UNNUMBERED.finditer(text)][:n_tests]
        for index, word in enumerate(words):
            results[index] = _passed(word)
            found = True
    if not found:
        return None
    return [r is True for r in results]


class UnitTestEvaluator(Component[UnitTestEvaluatorConfig]):
    kind = "unit_test_evaluator"
    config_class = UnitTestEvaluatorConfig

    async def run(self, layer_input: LayerInput, llm: LLM) -> LayerOutput:
        candidates = layer_input.candidates
        tests = layer_input.unit_tests
        if not candidates or not tests:
            return LayerOutput(candidates=candidates[: self.config.top_k])
        question = layer_input.asked.text
        replies = await asyncio.gather(
            *(llm.complete(self.config.request(build_messages(question, c.text, tests))) for c in candidates)
        )
        scores = []
        verdicts: list[list[bool] | None] = []
        for reply in replies:
            results = parse_test_results(reply.text, len(tests))
            verdicts.append(results)
            if results is None:
                llm.note_parse_failure(self.kind)
                scores.append(0)
            else:
                scores.append(sum(results))
        decision = {"tests": list(tests), "results": verdicts, "scores": scores, "replies": [r.text for r in replies]}
        first_k = self.config.first_k
        if first_k is not None:
            passing = [c for c, score in zip(candidates, scores, strict=True) if score == len(tests)]
            if len(passing) >= first_k:
                return LayerOutput(candidates=tuple(passing[:first_k]), decision=decision)
        # sorted() is stable, so equal scores keep their incoming order.
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        kept = tuple(candidates[i] for i in order[: self.config.top_k])
        return LayerOutput(candidates=kept, decision=decision)
