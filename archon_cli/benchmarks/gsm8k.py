"""GSM8K (test, 1319 grade-school word problems): the reply's final number must equal the gold number.

The gold answer is the number after ``#### `` in the upstream ``answer`` field. The reply's final
answer comes from ``answers.extract_answer`` (boxed, "the answer is", else the last number), so
commas, a dollar sign, units and a trailing period do not matter; numbers compare by value
("18.0" equals "18", "1/2" equals "0.5").
"""

from __future__ import annotations

from fractions import Fraction

from archon_cli.answers import extract_answer, normalize_number
from archon_cli.benchmarks.base import Benchmark, Judge, Question, Response, Score, read_jsonl
from archon_cli.errors import UserError

_INSTRUCTION = (
    'Solve the problem step by step, then end your reply with "The answer is N." where N is the final number.'
)


def as_number(text: str | None) -> Fraction | None:
    """A canonical number string from ``normalize_number`` ("-12.5", "3/4") as an exact value."""
    if text is None:
        return None
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def gold_number(answer: str) -> str | None:
    """The gold number of an upstream GSM8K answer: what follows the last ``#### ``."""
    _, sep, tail = answer.rpartition("####")
    return normalize_number(tail) if sep else None


def numbers_equal(reply: str, gold: str) -> tuple[bool, str | None]:
    """Whether the reply's final number equals ``gold`` by value; also the extracted answer."""
    extracted = extract_answer(reply)
    value, expected = as_number(extracted), as_number(normalize_number(gold))
    return value is not None and value == expected, extracted


class GSM8K(Benchmark):
    name = "gsm8k"
    data_files = ("gsm8k/test.jsonl",)
    hub_id = "openai/gsm8k"

    def load(self) -> list[Question]:
        if self.data_dir is None:
            rows = self.hub_rows("openai/gsm8k", "test", "main")
        else:
            rows = read_jsonl(self.data_path("gsm8k", "test.jsonl"), self.name)
        questions = []
        for index, row in enumerate(rows):
            try:
                question, answer = str(row["question"]), str(row["answer"])
            except KeyError as exc:
                raise UserError(f"{self.name}: row {index + 1} has no {exc.args[0]!r} field") from None
            gold = gold_number(answer)
            if gold is None:
                raise UserError(f"{self.name}: row {index + 1} has no final number after '####'")
            questions.append(
                Question(
                    id=f"gsm8k-{index:04d}",  # upstream rows carry no id; the file order is fixed
                    turns=(f"{question}\n{_INSTRUCTION}",),
                    reference=gold,
                    meta={"solution": answer},
                )
            )
        return questions

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        correct, extracted = numbers_equal(response.answer, str(question.reference))
        return Score(1.0 if correct else 0.0, {"extracted": extracted, "reference": question.reference})
