"""tiny-arith: a built-in benchmark the project generates itself, sized for the embedded models.

Single-digit addition and subtraction and "which is larger" between two-digit numbers. The
embedded SmolLM2-135M answers a part of these right (roughly 40-75% greedy, depending on the
task), and the right answer is often among its samples, so inference-time techniques that select
well have room to help. Questions are generated from a fixed seed, so ids and answers never change.
"""

from __future__ import annotations

import random

from archon_cli.answers import extract_answer, normalize_number
from archon_cli.benchmarks.base import Benchmark, Judge, Question, Response, Score

_SEED = 20240923
_PER_CATEGORY = 60
_SUFFIX = " Answer with just the number."


def generate() -> list[Question]:
    rng = random.Random(_SEED)
    questions: list[Question] = []
    for i in range(_PER_CATEGORY):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        questions.append(
            Question(
                id=f"add-{i:03d}", turns=(f"What is {a} + {b}?{_SUFFIX}",), reference=str(a + b), category="addition"
            )
        )
    for i in range(_PER_CATEGORY):
        a, b = sorted((rng.randint(1, 9), rng.randint(1, 9)), reverse=True)
        questions.append(
            Question(
                id=f"sub-{i:03d}", turns=(f"What is {a} - {b}?{_SUFFIX}",), reference=str(a - b), category="subtraction"
            )
        )
    for i in range(_PER_CATEGORY):
        a, b = rng.sample(range(10, 100), 2)
        questions.append(
            Question(
                id=f"cmp-{i:03d}",
                turns=(f"Which is larger, {a} or {b}?{_SUFFIX}",),
                reference=str(max(a, b)),
                category="comparison",
            )
        )
    return questions


def is_correct(answer: str, reference: str) -> tuple[bool, str | None]:
    extracted = extract_answer(answer)
    value = normalize_number(extracted) if extracted is not None else None
    return value == reference, value


class TinyArith(Benchmark):
    name = "tiny-arith"
    description = "built-in: single-digit addition/subtraction and 'which is larger' (180 questions, no data needed)"

    def load(self) -> list[Question]:
        return generate()

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        correct, extracted = is_correct(response.answer, str(question.reference))
        return Score(1.0 if correct else 0.0, {"extracted": extracted, "reference": question.reference})
