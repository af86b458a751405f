"""A simulated model provider for search tests: deterministic, with per-model accuracy set by the test.

It answers arithmetic questions ("What is 3 + 4?", "... 9 - 2 ...", "Which is larger, 12 or 40?").
A generator sample is right when a seeded hash of (model, question, sample) falls under the model's
accuracy; a wrong sample is one of several wrong numbers, so majority vote over more samples of a
more accurate model scores higher. The other components (told apart by the request's ``purpose``)
are simulated as adding nothing: a fuser repeats the first candidate, a ranker keeps the order, a
verifier accepts all, unit tests all pass.
So the best architecture within a budget is known on paper: majority vote over the most samples
of the most accurate model.
"""

from __future__ import annotations

import hashlib
import re

from archon_cli.errors import UserError
from archon_cli.llm.types import CompletionRequest, Usage

_ADD = re.compile(r"What is (\d+) \+ (\d+)\?")
_SUB = re.compile(r"What is (\d+) - (\d+)\?")
_CMP = re.compile(r"Which is larger, (\d+) or (\d+)\?")
_CANDIDATE = re.compile(r"^\[1\]\s*(.*)$", re.M)


def _uniform(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def gold_answer(prompt: str) -> int | None:
    """The answer to the last arithmetic question in ``prompt`` (few-shot prompts quote worked
    examples before the question asked)."""
    found = [(m.start(), kind, m) for kind, rx in (("+", _ADD), ("-", _SUB), ("max", _CMP)) for m in rx.finditer(prompt)]
    if not found:
        return None
    _, kind, m = max(found, key=lambda f: f[0])
    a, b = int(m[1]), int(m[2])
    return a + b if kind == "+" else a - b if kind == "-" else max(a, b)


class SimulatedBackend:
    """A Backend for LLMGateway. ``accuracy`` maps model route -> probability a sample is right."""

    def __init__(self, accuracy: dict[str, float], seed: int = 0, wrong_choices: int = 6) -> None:
        self.accuracy = accuracy
        self.seed = seed
        self.wrong_choices = wrong_choices
        self.sent = 0

    def check_route(self, model: str, api_base: str | None = None, api_key_env: str | None = None) -> None:
        if model not in self.accuracy:
            raise UserError(f"simulated provider has no model {model!r}")

    async def complete(self, request: CompletionRequest) -> tuple[str, Usage]:
        self.sent += 1
        prompt = request.prompt if request.prompt is not None else request.messages[-1]["content"]
        return self._reply(request, prompt), Usage(prompt_tokens=len(prompt) // 4, completion_tokens=4)

    def _reply(self, request: CompletionRequest, prompt: str) -> str:
        kind = request.purpose.partition(":")[0]
        if kind == "verifier":
            return "Verdict: correct"
        if kind == "unit_test_evaluator":
            return "\n".join(f"{k}: PASS" for k in range(1, 21))
        if kind == "unit_test_generator":
            return "1. The answer is a number."
        if kind == "ranker":
            return "[1]"  # the first candidate first; the rest keep their order
        if kind == "critic":
            return "[1] Strengths: fine. Weaknesses: none."
        if kind == "fuser":
            first = _CANDIDATE.search(prompt)
            return first[1].strip() if first else "0"
        gold = gold_answer(prompt)
        if gold is None:
            return "1. The answer is a number."
        u = _uniform(self.seed, request.model, prompt, request.sample_index)
        if u < self.accuracy[request.model]:
            return str(gold)
        k = int(_uniform("wrong", self.seed, request.model, prompt, request.sample_index) * self.wrong_choices)
        return str(gold + k + 1)
