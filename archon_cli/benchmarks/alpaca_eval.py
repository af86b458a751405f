"""AlpacaEval: 805 instructions, the architecture's output judged against a baseline's output.

``alpaca-eval`` is AlpacaEval 2.0 (baseline: GPT-4 Turbo ``gpt4_1106_preview``), ``alpaca-eval-1``
is AlpacaEval 1.0 (baseline: ``text_davinci_003``). The judge sees both outputs twice, the model's
first (sample 0) and the baseline's first (sample 1), so position bias cancels. A question's score
is the model's win probability over the judgments with a verdict (1 win, 0.5 tie, 0 loss); a
question with no verdict is left out. (The official annotator asks once, in a random order, and
reads the verdict's probability from the judge's token log-probabilities; ours asks for a verdict
in words, which any provider can give.)

``aggregate`` adds the length-controlled win rate of AlpacaEval 2.0 as tatsu-lab/alpaca_eval
computes it (``metrics/glm_winrate.py``, ``get_length_controlled_winrate``; see
``length_controlled_win_rate``). It needs the per-instruction difficulty the official code reads
from the ``tatsu-lab/alpaca_eval`` dataset on the hub: ``df_gamed.csv`` (difficulty and the
annotations of two length-gamed baselines: the official default, ``length_controlled_v1``), else
``instruction_difficulty.csv`` (the same formula without the gamed rows, ``length_controlled_noreg``),
looked up under ``--data-dir`` (``alpaca_eval/``) or on the hub. With neither, the difficulty term is
left out (``length_controlled_minimal``) and the summary says so (``lc_variant``, ``lc_note``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from archon_cli.benchmarks.base import Benchmark, Judge, OfficialJudge, Question, Response, Score
from archon_cli.benchmarks.data import data_file, field, optional_data_file, read_json_list
from archon_cli.benchmarks.judging import choice_advantage, judge_both_orders
from archon_cli.errors import UserError
from archon_cli.llm.types import Message

_HUB_DATASET = "tatsu-lab/alpaca_eval"
# glm_winrate.py GLM_INFO: the gamed-baseline rows weigh 0.2, shared by the two gamed baselines.
GAMED_WEIGHT = 0.2 / 2
CV_FOLDS = 5
CV_SEED = 123

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


def game_preference(advantage: int) -> float:
    """One judgment as the model's preference: 1 win, 0.5 tie, 0 loss."""
    return 1.0 if advantage > 0 else 0.0 if advantage < 0 else 0.5


@dataclass(frozen=True)
class GamedRows:
    """The gamed-baseline annotations of ``df_gamed.csv``: preference in [0, 1], the standardised
    length difference, and the instruction's difficulty."""

    preference: np.ndarray
    std_delta_len: np.ndarray
    difficulty: np.ndarray


def _fit_no_intercept_l1_cv(
    features: np.ndarray, preferences: np.ndarray, weights: np.ndarray | None
) -> np.ndarray:
    """The official fit (``fit_LogisticRegressionCV`` with probabilities as targets): each row twice,
    as a win weighted by p x w and a loss weighted by (1 - p) x w; an L1 logistic regression without
    intercept (liblinear, random_state 123), C chosen among 10 by 5-fold cross-validation with both
    copies of a row in one fold, scored by the weighted log loss against p. The coefficients."""
    import sklearn
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GroupKFold

    n = len(preferences)
    x = np.concatenate([features, features])
    y = np.concatenate([np.ones(n), np.zeros(n)])
    target = np.concatenate([preferences, 1.0 - preferences])  # the probability of each copy's label
    w = np.ones(n) if weights is None else weights
    row_weight = np.concatenate([w, w])
    groups = np.concatenate([np.arange(n), np.arange(n)])

    def loss(
        y_true: np.ndarray, y_pred: np.ndarray, true_prob: np.ndarray, row_weight: np.ndarray | None = None
    ) -> float:
        p = np.where(y_true == 1, true_prob, 1.0 - true_prob)  # the row's preference, on both copies
        q = np.clip(y_pred, 1e-15, 1 - 1e-15)
        terms = p * np.log(q) + (1 - p) * np.log(1 - q)
        return float(-np.mean(terms if row_weight is None else terms * row_weight))

    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's notices about its penalty arguments
        scorer = make_scorer(loss, response_method="predict_proba", greater_is_better=False)
        scorer = scorer.set_score_request(true_prob=True, row_weight=True)
        model = LogisticRegressionCV(
            cv=GroupKFold(n_splits=CV_FOLDS),
            scoring=scorer,
            penalty="l1",
            solver="liblinear",
            dual=False,
            fit_intercept=False,
            random_state=CV_SEED,
        )
        model.set_fit_request(sample_weight=True)
        model.fit(
            x,
            y,
            sample_weight=target * row_weight,
            groups=groups,
            true_prob=target,
            row_weight=None if weights is None else row_weight,
        )
    return np.asarray(model.coef_[0], dtype=float)


def length_controlled_win_rate(
    preferences: ArrayLike,
    model_lengths: ArrayLike,
    baseline_lengths: ArrayLike,
    difficulty: ArrayLike | None = None,
    gamed: GamedRows | None = None,
) -> dict[str, Any]:
    """Raw and length-controlled win rate of the model over the baseline, as glm_winrate.py does.

    ``preferences`` in [0, 1] (1: the model preferred). The GLM predicts the preference from
    tanh(standardised length difference, baseline minus model), the instruction's ``difficulty``
    (when given) and a model term, without intercept; with ``gamed`` rows (they need
    ``difficulty``) those join the fit at weight 0.1, anchoring the length and difficulty weights.
    The LC win rate is the mean over instructions of the prediction at equal length:
    sigmoid(w_model + w_difficulty x difficulty). Fewer than 5 questions, or no spread in lengths,
    leave nothing to fit: the LC win rate is then the raw one.
    """
    p = np.asarray(preferences, dtype=float)
    delta = np.asarray(baseline_lengths, dtype=float) - np.asarray(model_lengths, dtype=float)
    if len(p) != len(delta):
        raise ValueError("preferences and lengths must have the same length")
    d = None if difficulty is None else np.asarray(difficulty, dtype=float)
    if d is None:
        variant = "length_controlled_minimal"
    else:
        variant = "length_controlled_noreg" if gamed is None else "length_controlled_v1"
    raw = float(p.mean()) if len(p) else float("nan")
    result: dict[str, Any] = {"win_rate": raw, "lc_win_rate": raw, "length_coefficient": 0.0, "lc_variant": variant}
    std = float(delta.std(ddof=1)) if len(delta) > 1 else 0.0
    if len(p) < CV_FOLDS or std == 0.0:
        result["lc_variant"] = "none (too few questions or no spread in lengths)"
        return result
    columns = [np.tanh(delta / std)] + ([d] if d is not None else []) + [np.ones(len(p))]
    features = np.column_stack(columns)
    targets, weights = p, None
    if gamed is not None and d is not None:
        gamed_features = np.column_stack(
            [np.tanh(gamed.std_delta_len), gamed.difficulty, np.zeros(len(gamed.preference))]
        )
        keep = ~np.isnan(gamed.preference)
        features = np.vstack([gamed_features[keep], features])
        targets = np.concatenate([gamed.preference[keep], p])
        weights = np.concatenate([np.full(int(keep.sum()), GAMED_WEIGHT), np.ones(len(p))])
    coef = _fit_no_intercept_l1_cv(features, targets, weights)
    logits = coef[-1] + (coef[1] * d if d is not None else 0.0)
    predicted = np.exp(-np.logaddexp(0.0, -np.broadcast_to(logits, p.shape)))
    result.update(
        lc_win_rate=float(predicted.mean()),
        lc_standard_error=float(predicted.std(ddof=1) / np.sqrt(len(predicted))),
        length_coefficient=float(coef[0]),
        model_coefficient=float(coef[-1]),
    )
    if d is not None:
        result["difficulty_coefficient"] = float(coef[1])
    return result


def read_gamed_rows(path: Path) -> tuple[dict[int, float], GamedRows]:
    """``df_gamed.csv``: the difficulty per instruction index (its first row per index, as the
    official code takes it) and the gamed-baseline rows."""
    import pandas as pd

    table = pd.read_csv(path)
    missing = {"index", "instruction_difficulty", "preference", "std_delta_len"} - set(table.columns)
    if missing:
        raise ValueError(f"{path.name} has no {', '.join(sorted(missing))} column")
    firsts = table.drop_duplicates("index")
    by_index = dict(zip(firsts["index"].astype(int), firsts["instruction_difficulty"].astype(float), strict=True))
    rows = GamedRows(
        preference=table["preference"].astype(float).to_numpy(),  # already in [0, 1]: used as stored
        std_delta_len=table["std_delta_len"].astype(float).to_numpy(),
        difficulty=table["instruction_difficulty"].astype(float).to_numpy(),
    )
    return by_index, rows


def read_difficulty(path: Path, instructions: Callable[[], list[str]]) -> dict[int, float]:
    """``instruction_difficulty.csv``: one difficulty per instruction, keyed by its index or its text
    (the first column), or in instruction order (``instructions`` gives the texts, in order)."""
    import pandas as pd

    table = pd.read_csv(path)
    if table.shape[1] < 2:
        raise ValueError(f"{path.name} has fewer than two columns")
    keys, values = table.iloc[:, 0], table.iloc[:, -1].astype(float)
    if pd.api.types.is_integer_dtype(keys):
        return dict(zip(keys.astype(int), values, strict=True))
    texts = instructions()
    position = {text: i for i, text in enumerate(texts)}
    by_text = {position[str(k)]: float(v) for k, v in zip(keys, values, strict=True) if str(k) in position}
    if by_text:
        return by_text
    if len(values) == len(texts):
        return dict(enumerate(values))
    raise ValueError(f"{path.name}: cannot tell which instruction each difficulty belongs to")


class AlpacaEval(Benchmark):
    name = "alpaca-eval"
    metric = "win rate vs baseline (0-1)"
    scale = 1.0
    needs_judge = True
    baseline_file: ClassVar[str] = "gpt4_1106_preview_model_outputs.json"
    hub_file: ClassVar[str] = "alpaca_eval_gpt4_baseline.json"
    data_files = ("alpaca_eval/gpt4_1106_preview_model_outputs.json",)
    hub_id = _HUB_DATASET
    # The official annotator's model (alpaca_eval evaluators_configs: weighted_alpaca_eval_gpt4_turbo).
    annotator: ClassVar[tuple[str, str]] = ("openai/gpt-4-1106-preview", "weighted_alpaca_eval_gpt4_turbo")
    length_controlled: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._instructions: list[str] = []
        self._difficulty: tuple[dict[int, float] | None, GamedRows | None, str] | None = None

    def official_judge(self) -> OfficialJudge:
        model, config = self.annotator
        return OfficialJudge(model, "OPENAI_API_KEY", 512, 0.0, f"alpaca_eval evaluators_configs/{config}")

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
        self._instructions = [q.turns[0] for q in questions]
        return questions

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        if judge is None:
            raise UserError(f"{self.name} needs a judge model (--judge)")
        instruction, baseline = question.turns[0], str(question.reference)
        games = await judge_both_orders(
            judge, lambda a, b: judge_messages(instruction, a, b), response.answer, baseline, choice_advantage
        )
        preferences = [game_preference(g.advantage) for g in games if g.advantage is not None]
        return Score(
            sum(preferences) / len(preferences) if preferences else None,
            {
                "games": [g.as_dict() for g in games],
                "judge_asked": len(games),
                "judge_parsed": len(preferences),
                "model_length": len(response.answer),
                "baseline_length": len(baseline),
                "judgments": [g.judgment for g in games],
            },
        )

    def _instruction_texts(self) -> list[str]:
        if not self._instructions:
            self.load()
        return self._instructions

    def difficulty_inputs(self) -> tuple[dict[int, float] | None, GamedRows | None, str]:
        """The per-instruction difficulty and gamed rows from the data directory or the hub, and
        where they came from (or why they were left out). Looked up once per benchmark object."""
        if self._difficulty is None:
            self._difficulty = self._find_difficulty()
        return self._difficulty

    def _find_difficulty(self) -> tuple[dict[int, float] | None, GamedRows | None, str]:
        for name in ("df_gamed.csv", "instruction_difficulty.csv"):
            try:
                path = optional_data_file(self, ("alpaca_eval", name), _HUB_DATASET, name)
            except UserError as exc:
                return None, None, f"left out: {exc}"
            if path is None:
                continue
            try:
                if name == "df_gamed.csv":
                    by_index, gamed = read_gamed_rows(path)
                    return by_index, gamed, str(path)
                return read_difficulty(path, self._instruction_texts), None, str(path)
            except (OSError, ValueError, KeyError, UserError) as exc:
                return None, None, f"left out: {path} is unreadable ({exc})"
        where = f"{self.data_dir}/alpaca_eval" if self.data_dir else f"{_HUB_DATASET} on the hub"
        return None, None, f"left out: neither df_gamed.csv nor instruction_difficulty.csv in {where}"

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Raw and length-controlled win rate over the questions with a verdict."""
        scored = [r for r in records if not r.get("error") and r.get("score") is not None]
        details = [r.get("score_details") or {} for r in scored]
        if not scored or any("model_length" not in d for d in details):
            return {}
        figures: dict[str, Any] = {}
        difficulty: list[float] | None = None
        gamed: GamedRows | None = None
        if self.length_controlled:
            by_index, gamed, source = self.difficulty_inputs()
            ids = [int(r["id"]) if str(r["id"]).isdigit() else -1 for r in scored]
            if by_index is not None and all(i in by_index for i in ids):
                difficulty = [by_index[i] for i in ids]
            elif by_index is not None:
                source = f"left out: {source} lacks some of the questions"
                gamed = None
            figures["difficulty_source"] = source
        figures.update(
            length_controlled_win_rate(
                [float(r["score"]) for r in scored],
                [float(d["model_length"]) for d in details],
                [float(d["baseline_length"]) for d in details],
                difficulty,
                gamed if difficulty is not None else None,
            )
        )
        if self.length_controlled and difficulty is None:
            figures["lc_note"] = (
                "the per-instruction difficulty term was left out (no df_gamed.csv or instruction_difficulty.csv "
                "under --data-dir alpaca_eval/ or on the hub): this LC win rate is length_controlled_minimal, "
                "not the official default"
            )
        return {
            **figures,
            "win_rate_questions": len(scored),
            "avg_model_length": float(np.mean([d["model_length"] for d in details])),
            "avg_baseline_length": float(np.mean([d["baseline_length"] for d in details])),
        }


class AlpacaEval1(AlpacaEval):
    name = "alpaca-eval-1"
    baseline_file = "text_davinci_003_model_outputs.json"
    hub_file = "alpaca_eval.json"
    data_files = ("alpaca_eval/text_davinci_003_model_outputs.json",)
    annotator = ("openai/gpt-4", "alpaca_eval_gpt4")
