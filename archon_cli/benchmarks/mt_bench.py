"""MT-Bench: 80 two-turn questions in 8 categories, each turn rated 1-10 by a judge model.

Single-answer grading with the upstream judge prompts (``mt_bench/judge_prompts.jsonl``, read at
run time): turn 1 is graded with ``single-v1``, turn 2 with ``single-v1-multi-turn`` (the judge sees
the whole conversation and grades the second answer). Math, reasoning and coding use the
reference-guided ``single-math-v1`` variants with the GPT-4 reference answers
(``reference_answer/gpt-4.jsonl``, else the question's inline ``reference``).

Scored as FastChat scores it (``fastchat/llm_judge``): each turn is judged once (``common.py``
``run_judge_single``; the rating is the first ``[[n]]``, else the first ``[n]``), a turn without a
rating is dropped, and the score is the mean of all rated turns (``show_result.py``
``display_result_single``): a question's score is the mean of its rated turns, weighted by their
number; a question with none is left out (unscored), never counted as 0. The official judge is
GPT-4 at temperature 0 with up to 2048 tokens (``gen_judgment.py``, ``run_judge_single``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from archon_cli.benchmarks.base import Benchmark, Judge, OfficialJudge, Question, Response, Score, read_jsonl
from archon_cli.benchmarks.data import data_file, field
from archon_cli.benchmarks.judging import parse_rating
from archon_cli.errors import UserError
from archon_cli.llm.types import Message

# Categories graded against a reference answer (as upstream does).
REFERENCE_CATEGORIES = frozenset({"math", "reasoning", "coding"})
_HUB_SPACE = "lmsys/mt-bench"


def prompt_name(turn: int, with_reference: bool) -> str:
    """The judge prompt for ``turn`` (0 or 1) of a question with or without a reference."""
    base = "single-math-v1" if with_reference else "single-v1"
    return f"{base}-multi-turn" if turn == 1 else base


class MTBench(Benchmark):
    name = "mt-bench"
    metric = "mt-bench score (1-10)"
    scale = 10.0
    needs_judge = True
    data_files = ("mt_bench/question.jsonl", "mt_bench/reference_answer/gpt-4.jsonl", "mt_bench/judge_prompts.jsonl")
    hub_id = _HUB_SPACE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prompts: dict[str, dict[str, str]] | None = None

    def official_judge(self) -> OfficialJudge:
        return OfficialJudge(
            "openai/gpt-4", "OPENAI_API_KEY", 2048, 0.0, "FastChat gen_judgment.py --judge-model gpt-4, run_judge_single"
        )

    def _file(self, *parts: str, hub_path: str) -> Path:
        return data_file(self, ("mt_bench", *parts), _HUB_SPACE, hub_path, repo_type="space")

    def load(self) -> list[Question]:
        rows = read_jsonl(self._file("question.jsonl", hub_path="data/mt_bench/question.jsonl"), self.name)
        references = self._references()
        questions = []
        for index, row in enumerate(rows):
            where = f"question.jsonl row {index + 1}"
            qid = str(field(row, "question_id", self.name, where))
            category = str(field(row, "category", self.name, where))
            turns = field(row, "turns", self.name, where)
            if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
                raise UserError(f"{self.name}: {where} has no list of turns")
            reference = None
            if category in REFERENCE_CATEGORIES:
                reference = references.get(qid) or row.get("reference")
            questions.append(
                Question(
                    id=qid,
                    turns=tuple(turns),
                    reference=tuple(str(r) for r in reference) if reference else None,
                    category=category,
                )
            )
        self.judge_prompts()  # a missing judge-prompt file is a load-time error, not a per-question one
        return questions

    def _references(self) -> dict[str, list[str]]:
        path = self._file("reference_answer", "gpt-4.jsonl", hub_path="data/mt_bench/reference_answer/gpt-4.jsonl")
        references: dict[str, list[str]] = {}
        for row in read_jsonl(path, self.name):
            choices = row.get("choices") or [{}]
            turns = choices[0].get("turns")
            if "question_id" in row and isinstance(turns, list):
                references[str(row["question_id"])] = [str(t) for t in turns]
        return references

    def judge_prompts(self) -> dict[str, dict[str, str]]:
        """The judge prompts by name, read once from the data."""
        if self._prompts is None:
            path = self._file("judge_prompts.jsonl", hub_path="data/judge_prompts.jsonl")
            prompts = {str(r.get("name")): r for r in read_jsonl(path, self.name)}
            for turn in (0, 1):
                for with_reference in (False, True):
                    wanted = prompt_name(turn, with_reference)
                    if wanted not in prompts:
                        raise UserError(f"{self.name}: {path} has no judge prompt named {wanted!r}")
            self._prompts = prompts
        return self._prompts

    def judge_messages(self, question: Question, answers: list[str], turn: int) -> tuple[str, list[Message]]:
        """The judge prompt's name and the messages grading ``answers[turn]``."""
        with_reference = question.category in REFERENCE_CATEGORIES and bool(question.reference)
        name = prompt_name(turn, with_reference)
        prompt = self.judge_prompts()[name]
        reference = list(question.reference or ())
        values = {
            "question": question.turns[0],
            "answer": answers[0],
            "question_1": question.turns[0],
            "question_2": question.turns[1] if len(question.turns) > 1 else "",
            "answer_1": answers[0],
            "answer_2": answers[1] if len(answers) > 1 else "",
            "ref_answer_1": reference[0] if reference else "",
            "ref_answer_2": reference[1] if len(reference) > 1 else "",
        }
        try:
            content = str(prompt["prompt_template"]).format(**values)
        except (KeyError, IndexError, ValueError) as exc:
            raise UserError(
                f"{self.name}: judge prompt {name!r} has a placeholder archon cannot fill ({exc})"
            ) from None
        messages: list[Message] = []
        if prompt.get("system_prompt"):
            messages.append({"role": "system", "content": str(prompt["system_prompt"])})
        messages.append({"role": "user", "content": content})
        return name, messages

    async def _rate_turn(self, judge: Judge, messages: list[Message]) -> tuple[float | None, str]:
        """The turn's rating (None when the judgment has none) and the judgment."""
        text = await judge.ask(messages)
        return parse_rating(text), text

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        if judge is None:
            raise UserError(f"{self.name} needs a judge model (--judge)")
        answers = response.answers
        turns = min(len(answers), len(question.turns))
        prompts = [self.judge_messages(question, answers, turn) for turn in range(turns)]
        rated = await asyncio.gather(*(self._rate_turn(judge, messages) for _, messages in prompts))
        ratings = [rating for rating, _ in rated]
        parsed = [r for r in ratings if r is not None]
        return Score(
            sum(parsed) / len(parsed) if parsed else None,
            {
                "ratings": ratings,
                "judge_prompts": [name for name, _ in prompts],
                "weight": len(parsed),
                "judge_asked": len(ratings),
                "judge_parsed": len(parsed),
                "judgments": [text for _, text in rated],
            },
        )

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Mean rating per turn (upstream reports both), over the turns that got a rating."""
        by_turn: dict[int, list[float]] = {}
        for record in records:
            if record.get("error"):
                continue
            for turn, rating in enumerate((record.get("score_details") or {}).get("ratings") or []):
                if rating is not None:
                    by_turn.setdefault(turn + 1, []).append(float(rating))
        return {f"turn_{turn}_score": sum(v) / len(v) for turn, v in sorted(by_turn.items())}
