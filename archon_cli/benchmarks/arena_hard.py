"""Arena-Hard-Auto: hard real-user prompts, the architecture's answer judged against a baseline's.

``arena-hard`` is v0.1 (500 prompts, baseline GPT-4-0314). ``arena-hard-v2`` is v2.0: the 500 hard
prompts (coding, math) against o3-mini. Its 250 creative-writing prompts are graded upstream
against Gemini-2.0-Flash, whose answers are not in the offline data, so they are loaded only when a
``model_answer/gemini-2.0-flash-001.jsonl`` exists next to the questions.

The judge answers the prompt itself first, then compares both answers and ends with one label of
``[[A>>B]]``, ``[[A>B]]``, ``[[A=B]]``, ``[[B>A]]``, ``[[B>>A]]``. It is asked in both orders (model
as A, sample 0; model as B, sample 1). Each judgment is a win (1), tie (0.5) or loss (0) for the
model, and a decisive verdict (``>>``) counts three times, as upstream weighs it. A question's score
is the weighted mean of its judgments; a judgment with no verdict is left out, and a question where
neither judgment has one is an error. ``aggregate`` gives the weighted win rate over all judgments
(what upstream's Bradley-Terry fit reduces to with one model against one baseline) with a seeded
bootstrap 95% interval over questions.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from archon_cli.benchmarks.base import Benchmark, Judge, Question, Response, Score, read_jsonl
from archon_cli.benchmarks.judging import (
    Game,
    data_file,
    field,
    judge_both_orders,
    optional_data_file,
    parse_arena_verdict,
)
from archon_cli.errors import ArchonError, UserError
from archon_cli.llm.types import Message

_HUB_DATASET = "lmarena-ai/arena-hard-auto"
STRONG_WEIGHT = 3  # a decisive verdict counts as three games

JUDGE_SYSTEM = (
    "You judge two AI assistants' answers to the same user prompt.\n"
    "1. First write your own short answer to the prompt, so you know what a good answer needs.\n"
    "2. Then assess each assistant's answer against yours: name any mistakes or inaccurate statements, "
    "and say whether the answer is helpful (does what was asked; asks for clarification when the prompt "
    "is genuinely ambiguous), relevant, and concise, and whether it leaves out something important.\n"
    "3. Do not let the order of the answers, their length, or the assistants' names influence you.\n"
    "4. End with exactly one of these labels as your final verdict:\n"
    "[[A>>B]] when Assistant A is significantly better,\n"
    "[[A>B]] when Assistant A is slightly better,\n"
    "[[A=B]] when they are about equally good,\n"
    "[[B>A]] when Assistant B is slightly better,\n"
    "[[B>>A]] when Assistant B is significantly better.\n"
    'Write it as: "My final verdict: [[A>B]]" (with your own label).'
)


def judge_messages(prompt: str, answer_a: str, answer_b: str) -> list[Message]:
    """The pairwise judgment of answers A and B to ``prompt``."""
    user = (
        f"[User prompt]\n{prompt}\n[End of user prompt]\n\n"
        f"[Assistant A's answer]\n{answer_a}\n[End of Assistant A's answer]\n\n"
        f"[Assistant B's answer]\n{answer_b}\n[End of Assistant B's answer]"
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def game_outcome(advantage: int) -> tuple[float, int]:
    """The model's result (1 win, 0.5 tie, 0 loss) and the judgment's weight."""
    result = 1.0 if advantage > 0 else 0.0 if advantage < 0 else 0.5
    return result, STRONG_WEIGHT if abs(advantage) >= 2 else 1


def weighted_win_rate(games: list[list[dict[str, Any]]]) -> float:
    """Weighted win rate over all parsed judgments; ``games`` holds each question's judgments."""
    total = weight = 0.0
    for question_games in games:
        for game in question_games:
            if game.get("advantage") is None:
                continue
            result, w = game_outcome(int(game["advantage"]))
            total += result * w
            weight += w
    return total / weight if weight else float("nan")


def bootstrap_win_rate(
    games: list[list[dict[str, Any]]], resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``weighted_win_rate``, resampling questions (both of a
    question's judgments stay together)."""
    if not games:
        return (float("nan"), float("nan"))
    # Per question: weighted wins and total weight, so a resample is two sums.
    wins = np.zeros(len(games))
    weights = np.zeros(len(games))
    for i, question_games in enumerate(games):
        for game in question_games:
            if game.get("advantage") is not None:
                result, w = game_outcome(int(game["advantage"]))
                wins[i] += result * w
                weights[i] += w
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(games), size=(resamples, len(games)))
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = wins[picks].sum(axis=1) / weights[picks].sum(axis=1)
    rates = rates[~np.isnan(rates)]
    if not len(rates):
        return (float("nan"), float("nan"))
    alpha = (1 - confidence) / 2
    return (float(np.quantile(rates, alpha)), float(np.quantile(rates, 1 - alpha)))


def answer_text(row: dict[str, Any]) -> str | None:
    """The assistant's reply in an upstream answer row (content is text or ``{"answer": ...}``)."""
    messages = row.get("messages")
    if isinstance(messages, list) and messages:
        content = messages[-1].get("content") if isinstance(messages[-1], dict) else None
        if isinstance(content, dict):
            content = content.get("answer")
        if isinstance(content, str):
            return content
    choices = row.get("choices")  # the older upstream answer format
    if isinstance(choices, list) and choices and isinstance(choices[0].get("turns"), list):
        turn = choices[0]["turns"][0]
        return str(turn.get("content") if isinstance(turn, dict) else turn)
    return None


class ArenaHard(Benchmark):
    name = "arena-hard"
    description = "Arena-Hard-Auto v0.1 (500 hard prompts), pairwise vs GPT-4-0314 on A>>B..B>>A"
    metric = "win rate vs baseline (0-1)"
    scale = 1.0
    needs_judge = True
    version: ClassVar[str] = "v0.1"
    # Baseline per question category; a category whose baseline file is absent is not loaded
    # unless marked required.
    baselines: ClassVar[dict[str, str]] = {"arena-hard-v0.1": "gpt-4-0314"}
    required: ClassVar[frozenset[str]] = frozenset({"arena-hard-v0.1"})
    data_files = ("arena_hard/v0.1/question.jsonl", "arena_hard/v0.1/model_answer/gpt-4-0314.jsonl")
    hub_id = _HUB_DATASET

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._used_baselines: list[str] = []

    def _hub_path(self, *parts: str) -> str:
        return "/".join(("data", f"arena-hard-{self.version}", *parts))

    def load(self) -> list[Question]:
        questions_path = data_file(
            self, ("arena_hard", self.version, "question.jsonl"), _HUB_DATASET, self._hub_path("question.jsonl")
        )
        rows = read_jsonl(questions_path, self.name)
        answers: dict[str, dict[str, str]] = {}
        for category, model in self.baselines.items():
            local = ("arena_hard", self.version, "model_answer", f"{model}.jsonl")
            hub = self._hub_path("model_answer", f"{model}.jsonl")
            path = (
                data_file(self, local, _HUB_DATASET, hub)
                if category in self.required
                else optional_data_file(self, local, _HUB_DATASET, hub)
            )
            if path is not None:
                answers[category] = {
                    str(r["uid"]): text
                    for r in read_jsonl(path, self.name)
                    if "uid" in r and (text := answer_text(r)) is not None
                }
        self._used_baselines = sorted(self.baselines[c] for c in answers)
        questions, missing = [], []
        for index, row in enumerate(rows):
            where = f"question.jsonl row {index + 1}"
            uid = str(field(row, "uid", self.name, where))
            category = str(field(row, "category", self.name, where))
            prompt = field(row, "prompt", self.name, where)
            if category not in answers:
                continue  # no baseline for this category (v2.0 creative writing offline)
            baseline = answers[category].get(uid)
            if baseline is None:
                missing.append(uid)
                continue
            questions.append(
                Question(
                    id=uid,
                    turns=(str(prompt),),
                    reference=baseline,
                    category=str(row.get("subcategory") or category),
                    meta={"baseline": self.baselines[category], "cluster": str(row.get("cluster") or "")},
                )
            )
        if missing:
            raise UserError(f"{self.name}: the baseline answers lack {len(missing)} question(s), e.g. uid {missing[0]}")
        return questions

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        if judge is None:
            raise UserError(f"{self.name} needs a judge model (--judge)")
        prompt, baseline = question.turns[0], str(question.reference)
        games: list[Game] = await judge_both_orders(
            judge, lambda a, b: judge_messages(prompt, a, b), response.answer, baseline, parse_arena_verdict
        )
        parsed = [game_outcome(g.advantage) for g in games if g.advantage is not None]
        if not parsed:
            raise ArchonError(f"{self.name} question {question.id}: no verdict in either judgment")
        return Score(
            sum(result * w for result, w in parsed) / sum(w for _, w in parsed),
            {
                "games": [g.as_dict() for g in games],
                "parse_failures": sum(g.advantage is None for g in games),
                "model_length": len(response.answer),
                "baseline_length": len(baseline),
                "judgments": [g.judgment for g in games],
            },
        )

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The weighted win rate vs the baseline with its bootstrap 95% interval."""
        games = [
            list((r.get("score_details") or {}).get("games") or [])
            for r in records
            if not r.get("error") and r.get("score") is not None
        ]
        if not games:
            return {}
        counts = {"strong_wins": 0, "wins": 0, "ties": 0, "losses": 0, "strong_losses": 0, "unparsed": 0}
        names = {2: "strong_wins", 1: "wins", 0: "ties", -1: "losses", -2: "strong_losses"}
        for question_games in games:
            for game in question_games:
                advantage = game.get("advantage")
                counts["unparsed" if advantage is None else names[int(advantage)]] += 1
        low, high = bootstrap_win_rate(games)
        return {
            "win_rate": weighted_win_rate(games),
            "win_rate_ci95": [low, high],
            "win_rate_questions": len(games),
            "baseline": ", ".join(self._used_baselines or sorted(self.baselines.values())),
            "verdicts": counts,
        }


class ArenaHardV2(ArenaHard):
    name = "arena-hard-v2"
    description = (
        "Arena-Hard-Auto v2.0 (500 hard prompts), pairwise vs o3-mini; its 250 creative-writing "
        "prompts are skipped (their Gemini baseline is not offline)"
    )
    version = "v2.0"
    baselines: ClassVar[dict[str, str]] = {
        "hard_prompt": "o3-mini-2025-01-31",
        "creative_writing": "gemini-2.0-flash-001",
    }
    required = frozenset({"hard_prompt"})
    data_files = ("arena_hard/v2.0/question.jsonl", "arena_hard/v2.0/model_answer/o3-mini-2025-01-31.jsonl")
