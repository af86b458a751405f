"""AlpacaEval: 805 instructions, the architecture's output judged against a baseline's output.

``alpaca-eval`` is AlpacaEval 2.0 (baseline: GPT-4 Turbo ``gpt4_1106_preview``), ``alpaca-eval-1``
is AlpacaEval 1.0 (baseline: ``text_davinci_003``). The judge sees both outputs twice, the model's
first (sample 0) and the baseline's first (sample 1), so position bias cancels. A question's score
is the model's win probability: 1 win, 0 loss, 0.5 for a tie or two orders that disagree.
An unparseable verdict counts as a tie and is counted in ``parse_failures``.

``aggregate`` adds the raw win rate and the length-controlled win rate of AlpacaEval 2.0: a
logistic regression predicting the preference from a model term (the intercept) and a length term
``tanh((len_model - len_baseline) / std)``; the LC win rate is its prediction with the length term
at zero. Upstream also has a per-instruction difficulty term, estimated from the many models on its
leaderboard; with one model it is not identifiable, so it is left out.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from archon_cli.benchmarks.base import Benchmark, Judge, Question, Response, Score
from archon_cli.benchmarks.judging import choice_advantage, data_file, field, judge_both_orders, read_json_list
from archon_cli.errors import UserError
from archon_cli.llm.types import Message

_HUB_DATASET = "tatsu-lab/alpaca_eval"

JUDGE_SYSTEM = (
    "You compare two outputs that AI assistants wrote for the same instruction and decide which one "
    "a careful human expert would prefer. Prefer the output that does what the instruction asks, is "
    "correct, and is genuinely useful; a longer output is not better for being longer. The order in "
    "which the outputs are shown must not affect your decision. Give one or two sentences of reasoning, "
    "then end with your verdict on its own line: [[A]] if output A is better, [[B]] if output B is "
    "better, or [[C]] only if neither is better than the other."
)


def judge_messages(instruction: str, output_a: str, output_b: str) -> list[Message]:
    """The pairwise judgment of outputs A and B for ``instruction``."""
    user = (
        f"Instruction:\n{instruction}\n\n"
        f"=== Output A ===\n{output_a}\n=== End of output A ===\n\n"
        f"=== Output B ===\n{output_b}\n=== End of output B ===\n\n"
        "Which output is better? End with [[A]], [[B]] or [[C]]."
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def game_preference(advantage: int | None) -> float:
    """One judgment as the model's preference: 1 win, 0.5 tie or no verdict, 0 loss."""
    if advantage is None or advantage == 0:
        return 0.5
    return 1.0 if advantage > 0 else 0.0


def length_controlled_win_rate(
    preferences: ArrayLike, model_lengths: ArrayLike, baseline_lengths: ArrayLike
) -> dict[str, float]:
    """Raw and length-controlled win rate of the model over the baseline.

    ``preferences`` are in [0, 1] (1 = model preferred). The GLM is a weighted logistic regression
    (each question appears as a win with weight p and a loss with weight 1 - p) with an intercept
    (the model term) and ``tanh(length difference / its std)``; the LC win rate sets that term to 0.
    scikit-learn's default mild L2 penalty acts on the length coefficient only (not the intercept):
    negligible over hundreds of questions, and it keeps a handful of questions, or preferences a
    length split separates perfectly, from giving an infinite coefficient.
    """
    p = np.asarray(preferences, dtype=float)
    diff = np.asarray(model_lengths, dtype=float) - np.asarray(baseline_lengths, dtype=float)
    if not (len(p) == len(diff)):
        raise ValueError("preferences and lengths must have the same length")
    raw = float(p.mean()) if len(p) else float("nan")
    result = {"win_rate": raw, "lc_win_rate": raw, "length_coefficient": 0.0}
    std = float(diff.std()) if len(diff) else 0.0
    # With no spread in lengths or preferences there is nothing to correct.
    if len(p) < 2 or std == 0.0 or float(p.min()) == float(p.max()):
        return result
    from sklearn.linear_model import LogisticRegression

    x = np.tanh(diff / std)
    features = np.concatenate([x, x])[:, None]
    targets = np.concatenate([np.ones_like(p), np.zeros_like(p)])
    weights = np.concatenate([p, 1.0 - p])
    keep = weights > 0
    model = LogisticRegression(max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning on a degenerate table is not the user's problem
        model.fit(features[keep], targets[keep], sample_weight=weights[keep])
    intercept = float(model.intercept_[0])
    result["lc_win_rate"] = float(1.0 / (1.0 + np.exp(-intercept)))
    result["length_coefficient"] = float(model.coef_[0][0])
    return result


class AlpacaEval(Benchmark):
    name = "alpaca-eval"
    description = "AlpacaEval 2.0 (805 instructions), pairwise vs GPT-4 Turbo; win rate and length-controlled"
    metric = "win rate vs baseline (0-1)"
    scale = 1.0
    needs_judge = True
    baseline_file: ClassVar[str] = "gpt4_1106_preview_model_outputs.json"
    hub_file: ClassVar[str] = "alpaca_eval_gpt4_baseline.json"
    data_files = ("alpaca_eval/gpt4_1106_preview_model_outputs.json",)
    hub_id = _HUB_DATASET

    def load(self) -> list[Question]:
        path = data_file(self, ("alpaca_eval", self.baseline_file), _HUB_DATASET, self.hub_file)
        questions = []
        for index, row in enumerate(read_json_list(path, self.name)):
            where = f"{self.baseline_file} item {index + 1}"
            instruction = str(field(row, "instruction", self.name, where))
            baseline = field(row, "output", self.name, where)
            if not isinstance(baseline, str):
                raise UserError(f"{self.name}: {where} has an output that is not text")
            questions.append(
                Question(
                    id=f"{index:03d}",  # upstream order is fixed, so the index is a stable id
                    turns=(instruction,),
                    reference=baseline,
                    category=str(row.get("dataset") or ""),
                    meta={"baseline": str(row.get("generator") or "")},
                )
            )
        return questions

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        if judge is None:
            raise UserError(f"{self.name} needs a judge model (--judge)")
        instruction, baseline = question.turns[0], str(question.reference)
        games = await judge_both_orders(
            judge, lambda a, b: judge_messages(instruction, a, b), response.answer, baseline, choice_advantage
        )
        preferences = [game_preference(g.advantage) for g in games]
        return Score(
            sum(preferences) / len(preferences),
            {
                "games": [g.as_dict() for g in games],
                "parse_failures": sum(g.advantage is None for g in games),
                "model_length": len(response.answer),
                "baseline_length": len(baseline),
                "judgments": [g.judgment for g in games],
            },
        )

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Raw and length-controlled win rate over the answered questions."""
        scored = [r for r in records if not r.get("error") and r.get("score") is not None]
        details = [r.get("score_details") or {} for r in scored]
        if not scored or any("model_length" not in d for d in details):
            return {}
        figures = length_controlled_win_rate(
            [float(r["score"]) for r in scored],
            [float(d["model_length"]) for d in details],
            [float(d["baseline_length"]) for d in details],
        )
        return {
            **figures,
            "win_rate_questions": len(scored),
            "avg_model_length": float(np.mean([d["model_length"] for d in details])),
            "avg_baseline_length": float(np.mean([d["baseline_length"] for d in details])),
            "judge_parse_failures": int(sum(int(d.get("parse_failures", 0)) for d in details)),
        }


class AlpacaEval1(AlpacaEval):
    name = "alpaca-eval-1"
    description = "AlpacaEval 1.0 (805 instructions), pairwise vs text-davinci-003"
    baseline_file = "text_davinci_003_model_outputs.json"
    hub_file = "alpaca_eval.json"
    data_files = ("alpaca_eval/text_davinci_003_model_outputs.json",)
