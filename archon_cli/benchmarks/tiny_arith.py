"""tiny-arith: a built-in benchmark the project generates itself, sized for the embedded models.

Single-digit addition and subtraction and "which is larger" between two-digit numbers, 200 of
each (600 questions; half dev, half test, so a search's comparisons rest on hundreds of
questions). The embedded SmolLM2-135M answers a part of these right (roughly 40-75% greedy,
depending on the task and the prompt style), and the right answer is often among its samples, so
inference-time techniques that select well have room to help. Questions are generated from fixed
seeds, so ids and answers never change; they are drawn at random (single-digit sums repeat). The
order interleaves the categories, so ``--limit N`` takes all three alike.

Each turn is the bare question; the answer-format instruction (" Answer with just the number.")
is the question's ``instruction``, and ``few_shot`` offers worked examples of the same category,
generated from another seed, never the question asked, for generators prompted few-shot.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from archon_cli.answers import extract_answer, normalize_number
from archon_cli.benchmarks.base import Benchmark, Judge, Question, Response, Score

_SEED = 20240923  # the first 60 questions of each category (the benchmark's original 180)
_MORE_SEED = 20261202  # the rest
_EXAMPLE_SEED = 7_000_003  # few-shot examples, apart from every question
_FIRST = 60
PER_CATEGORY = 200
SHOTS = 8  # worked examples offered per question
INSTRUCTION = " Answer with just the number."

Item = tuple[str, str]  # (question text, answer)


def _addition(rng: random.Random) -> Item:
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    return f"What is {a} + {b}?", str(a + b)


def _subtraction(rng: random.Random) -> Item:
    a, b = sorted((rng.randint(1, 9), rng.randint(1, 9)), reverse=True)
    return f"What is {a} - {b}?", str(a - b)


def _comparison(rng: random.Random) -> Item:
    a, b = rng.sample(range(10, 100), 2)
    return f"Which is larger, {a} or {b}?", str(max(a, b))


CATEGORIES: tuple[tuple[str, str, Callable[[random.Random], Item]], ...] = (
    ("add", "addition", _addition),
    ("sub", "subtraction", _subtraction),
    ("cmp", "comparison", _comparison),
)


def _items(seed: int, count: int) -> dict[str, list[Item]]:
    """``count`` items per category, one category after the other from one seeded generator."""
    rng = random.Random(seed)
    return {prefix: [make(rng) for _ in range(count)] for prefix, _, make in CATEGORIES}


def generate() -> list[Question]:
    first, more = _items(_SEED, _FIRST), _items(_MORE_SEED, PER_CATEGORY - _FIRST)
    questions: list[Question] = []
    for i in range(PER_CATEGORY):
        for prefix, category, _ in CATEGORIES:
            text, answer = first[prefix][i] if i < _FIRST else more[prefix][i - _FIRST]
            questions.append(
                Question(
                    id=f"{prefix}-{i:03d}", turns=(text,), reference=answer, category=category, instruction=INSTRUCTION
                )
            )
    return questions


_EXAMPLES = {
    category: items
    for (_, category, _), items in zip(CATEGORIES, _items(_EXAMPLE_SEED, SHOTS + 1).values(), strict=True)
}


def few_shot_examples(question: Question) -> tuple[Item, ...]:
    """``SHOTS`` worked examples of the question's category, skipping one that is the question."""
    pool = _EXAMPLES.get(question.category, [])
    return tuple(item for item in pool if item[0] != question.turns[0])[:SHOTS]


def is_correct(answer: str, reference: str) -> tuple[bool, str | None]:
    extracted = extract_answer(answer)
    value = normalize_number(extracted) if extracted is not None else None
    return value == reference, value


class TinyArith(Benchmark):
    name = "tiny-arith"
    dev_fraction = 0.5

    def load(self) -> list[Question]:
        return generate()

    def few_shot(self, question: Question) -> tuple[Item, ...]:
        return few_shot_examples(question)

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        correct, extracted = is_correct(response.answer, str(question.reference))
        return Score(1.0 if correct else 0.0, {"extracted": extracted, "reference": question.reference})
