"""MATH-500 (500 competition problems, the subset used by "Let's Verify Step by Step").

Answers are compared by mathematical equivalence with the ``math-verify`` library, not by string
or regex: ``\\frac{1}{2}`` equals ``0.5``, ``\\sqrt{2}/2`` equals ``\\frac{\\sqrt{2}}{2}``. The reply's
last ``\\boxed{}`` is the answer when there is one; otherwise math-verify searches the whole reply.

math-verify bounds its parsing and comparison time with ``signal.alarm``, which only works in the
main thread. The CLI's event loop runs there, so scoring keeps those timeouts; called from any
other thread it runs without them (the library raises otherwise), and a pathological expression
could then take long.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from archon_cli.answers import last_boxed
from archon_cli.benchmarks.base import Benchmark, Judge, Question, Response, Score, read_jsonl
from archon_cli.errors import UserError

_INSTRUCTION = "Solve the problem step by step. Put your final answer in \\boxed{}."
# Seconds math-verify may spend parsing one expression or comparing one pair (whole seconds:
# it uses signal.alarm).
_TIMEOUT_SECONDS = 5

# math-verify logs a warning per timeout and when timeouts are off; those lines would break into
# the progress display, and a timeout already scores 0.
logging.getLogger("math_verify").setLevel(logging.ERROR)


def _timeout() -> int | None:
    return _TIMEOUT_SECONDS if threading.current_thread() is threading.main_thread() else None


def parse_gold(answer: str) -> list[Any]:
    """The gold answer as math-verify objects (boxed, so the whole string is the answer)."""
    from math_verify import parse  # imports sympy: only when MATH is scored

    return list(parse(f"\\boxed{{{answer}}}", parsing_timeout=_timeout()))  # type: ignore[arg-type]


def parse_reply(reply: str) -> tuple[list[Any], str | None]:
    """The reply's answer as math-verify objects, from its last ``\\boxed{}`` when it has one,
    and the text that was parsed (None when math-verify searched the whole reply)."""
    from math_verify import parse

    boxed = last_boxed(reply)
    if boxed:
        parsed = list(parse(f"\\boxed{{{boxed}}}", parsing_timeout=_timeout()))  # type: ignore[arg-type]
        if parsed:
            return parsed, boxed
    return list(parse(reply, parsing_timeout=_timeout())), None  # type: ignore[arg-type]


def is_equivalent(reply: str, gold: str) -> tuple[bool, str | None]:
    """Whether the reply's answer equals ``gold`` mathematically; also what was extracted."""
    from math_verify import verify

    try:
        expected = parse_gold(gold)
        predicted, boxed = parse_reply(reply)
        extracted = boxed if boxed is not None else (str(predicted[-1]) if predicted else None)
        if not expected or not predicted:
            return False, extracted
        return bool(verify(expected, predicted, timeout_seconds=_timeout())), extracted
    except Exception:  # odd input can still raise inside sympy: an unparseable answer is a wrong one
        return False, None


class Math500(Benchmark):
    name = "math"
    data_files = ("math/math500_test.jsonl",)
    hub_id = "HuggingFaceH4/MATH-500"

    def load(self) -> list[Question]:
        if self.data_dir is None:
            rows = self.hub_rows("HuggingFaceH4/MATH-500", "test")
        else:
            rows = read_jsonl(self.data_path("math", "math500_test.jsonl"), self.name)
        questions = []
        for index, row in enumerate(rows):
            try:
                problem, answer = str(row["problem"]), str(row["answer"])
            except KeyError as exc:
                raise UserError(f"{self.name}: row {index + 1} has no {exc.args[0]!r} field") from None
            questions.append(
                Question(
                    # unique_id ("test/precalculus/807.json") names the problem in the full MATH set.
                    id=str(row.get("unique_id") or f"math-{index:03d}"),
                    turns=(f"{problem}\n\n{_INSTRUCTION}",),
                    reference=answer,
                    category=str(row.get("subject") or ""),
                    meta={"level": row.get("level")},
                )
            )
        return questions

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        correct, extracted = is_equivalent(response.answer, str(question.reference))
        return Score(
            1.0 if correct else 0.0,
            {"extracted": extracted, "reference": question.reference, "level": question.meta.get("level")},
        )
