"""AlpacaEval: loading, pairwise judging in both orders, ties and unparseable verdicts, the LC win rate."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from archon_cli.benchmarks import get_benchmark
from archon_cli.benchmarks.alpaca_eval import AlpacaEval, length_controlled_win_rate
from archon_cli.benchmarks.base import Question, Response
from archon_cli.benchmarks.judging import parse_choice
from archon_cli.errors import UserError
from archon_cli.llm.types import Message
from tests.conftest import SHARED_DATA, run_cli, short_generator_file
from tests.fakes import ScriptedJudge

MODEL = "MODEL-OUTPUT-TEXT"


@pytest.fixture(scope="module")
def bench() -> AlpacaEval:
    benchmark = get_benchmark("alpaca-eval", SHARED_DATA)
    assert isinstance(benchmark, AlpacaEval)
    return benchmark


@pytest.fixture(scope="module")
def question(bench: AlpacaEval) -> Question:
    return bench.load()[0]


def response(text: str = MODEL) -> Response:
    return Response(answers=[text], results=[])


def test_loads_805_instructions_with_both_baselines(bench: AlpacaEval) -> None:
    v2 = bench.load()
    v1 = get_benchmark("alpaca-eval-1", SHARED_DATA).load()
    assert len(v2) == len(v1) == 805
    assert [q.id for q in v2[:3]] == ["000", "001", "002"] and v2[-1].id == "804"
    assert [q.turns for q in v2] == [q.turns for q in v1]
    assert v2[0].reference != v1[0].reference  # GPT-4 Turbo vs text-davinci-003 outputs
    assert v2[0].meta["baseline"] == "gpt4_1106_preview" and v1[0].meta["baseline"] == "text_davinci_003"
    assert {q.category for q in v2} == {"helpful_base", "koala", "oasst", "selfinstruct", "vicuna"}


def test_missing_data_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"text_davinci_003_model_outputs\.json"):
        get_benchmark("alpaca-eval-1", tmp_path).load()


@pytest.mark.parametrize(
    ("text", "choice"),
    [("Output A is clearly better.\n[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", "tie"), ("[[tie]]", "tie")],
)
def test_parse_choice(text: str, choice: str) -> None:
    assert parse_choice(text) == choice


def test_parse_choice_rejects_missing_or_contradictory_verdicts() -> None:
    assert parse_choice("Both are good.") is None
    assert parse_choice("Reply [[A]] if A is better or [[B]] if B is better.") is None


async def test_both_orders_are_asked_and_a_position_biased_judge_cancels_out(
    bench: AlpacaEval, question: Question
) -> None:
    judge = ScriptedJudge("[[A]]")  # always prefers whatever is shown first
    score = await bench.score(question, response(), judge)
    assert score.value == 0.5
    assert [index for _, index in judge.asked] == [0, 1]
    first, second = judge.user_prompts()
    baseline = str(question.reference)
    # The model's output is A in the first call and B in the second; the baseline the other way round.
    assert first.index("Output A") < first.index(MODEL) < first.index("Output B") < first.index(baseline[:200])
    assert second.index("Output A") < second.index(baseline[:200]) < second.index("Output B") < second.index(MODEL)
    assert score.details["games"] == [
        {"model_position": "A", "advantage": 1},
        {"model_position": "B", "advantage": -1},
    ]


def prefers_model(messages: Sequence[Message], _index: int) -> str:
    prompt = messages[-1]["content"]
    return "[[A]]" if prompt.index(MODEL) < prompt.index("Output B") else "[[B]]"


async def test_consistent_win_loss_and_tie(bench: AlpacaEval, question: Question) -> None:
    assert (await bench.score(question, response(), ScriptedJudge(prefers_model))).value == 1.0
    prefers_baseline = ScriptedJudge(lambda m, i: "[[B]]" if prefers_model(m, i) == "[[A]]" else "[[A]]")
    assert (await bench.score(question, response(), prefers_baseline)).value == 0.0
    tie = await bench.score(question, response(), ScriptedJudge("Equally good. [[C]]"))
    assert tie.value == 0.5 and tie.details["judge_parsed"] == 2


async def test_unparseable_verdicts_are_left_out_and_counted(bench: AlpacaEval, question: Question) -> None:
    judge = ScriptedJudge(["I like both.", "[[A]]"])  # model-first call unparseable, then the baseline wins
    score = await bench.score(question, response(), judge)
    assert score.value == 0.0  # the one verdict: a loss (not a tie averaged in)
    assert (score.details["judge_asked"], score.details["judge_parsed"]) == (2, 1)
    assert score.details["model_length"] == len(MODEL)
    assert score.details["baseline_length"] == len(str(question.reference))
    nothing = await bench.score(question, response(), ScriptedJudge("I like both."))
    assert nothing.value is None and nothing.details["judge_parsed"] == 0


def test_lc_win_rate_removes_a_pure_length_effect() -> None:
    """Preferences driven only by length: the model wins when longer, and it is usually longer."""
    rng = np.random.default_rng(7)
    n = 600
    baseline = rng.integers(500, 1500, n).astype(float)
    model = baseline + rng.normal(400, 400, n)
    diff = model - baseline
    p_win = 1 / (1 + np.exp(-4 * np.tanh(diff / diff.std())))  # no model term: 50% at equal length
    preferences = (rng.random(n) < p_win).astype(float)
    figures = length_controlled_win_rate(preferences, model, baseline)
    assert figures["win_rate"] > 0.7
    assert figures["lc_win_rate"] == pytest.approx(0.5, abs=0.05)
    assert figures["length_coefficient"] < -2  # upstream's feature: baseline minus model length


def test_lc_win_rate_equals_raw_when_preferences_ignore_length() -> None:
    """In every length bucket the model wins 7 of 10 (ties counted half): nothing to correct."""
    diffs = np.repeat(np.linspace(-800, 800, 9), 10)
    pattern = [1, 1, 1, 1, 1, 1, 0.5, 0.5, 0, 0]
    preferences = np.tile(pattern, 9)
    baseline = np.full(len(diffs), 1000.0)
    figures = length_controlled_win_rate(preferences, baseline + diffs, baseline)
    assert figures["win_rate"] == pytest.approx(0.7)
    assert figures["lc_win_rate"] == pytest.approx(0.7, abs=0.01)
    assert abs(figures["length_coefficient"]) < 0.05


def test_lc_win_rate_with_nothing_to_fit() -> None:
    assert length_controlled_win_rate([1.0, 1.0], [10, 20], [5, 5])["lc_win_rate"] == 1.0
    assert length_controlled_win_rate([1.0, 0.0], [10, 10], [5, 5])["lc_win_rate"] == 0.5


def test_aggregate_reads_lengths_from_the_records(bench: AlpacaEval) -> None:
    records = [
        {"id": str(i), "score": s, "error": None, "score_details": {"model_length": m, "baseline_length": 100}}
        for i, (s, m) in enumerate([(1.0, 300), (0.0, 50), (0.5, 100), (1.0, 200)])
    ]
    records.append({"id": "x", "score": None, "error": "boom", "score_details": {}})
    figures = bench.aggregate(records)
    assert figures["win_rate"] == pytest.approx(0.625)
    assert figures["win_rate_questions"] == 4
    assert figures["avg_model_length"] == pytest.approx(162.5)
    assert 0.0 < figures["lc_win_rate"] < 1.0
    assert bench.aggregate([]) == {}


def lc_records(n: int = 40, seed: int = 3) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "id": f"{i:03d}",
            "score": float(rng.choice([0.0, 0.5, 1.0])),
            "error": None,
            "score_details": {"model_length": int(rng.integers(100, 900)), "baseline_length": 500},
        }
        for i in range(n)
    ]


def test_without_the_difficulty_file_the_summary_says_it_was_left_out(tmp_path: Path) -> None:
    (tmp_path / "alpaca_eval").mkdir()
    figures = get_benchmark("alpaca-eval", tmp_path).aggregate(lc_records())
    assert figures["lc_variant"] == "length_controlled_minimal"
    assert figures["difficulty_source"].startswith("left out")
    assert "difficulty term was left out" in figures["lc_note"]


def test_the_difficulty_file_is_used_from_the_data_dir(tmp_path: Path) -> None:
    """instruction_difficulty.csv (tatsu-lab/alpaca_eval on the hub) under --data-dir: the
    difficulty term joins the GLM (length_controlled_noreg); with df_gamed.csv, the official default."""
    folder = tmp_path / "alpaca_eval"
    folder.mkdir()
    rng = np.random.default_rng(0)
    difficulty = rng.normal(0, 1, 805)
    pd.DataFrame({"index": range(805), "difficulty": difficulty}).to_csv(folder / "instruction_difficulty.csv", index=False)
    bench = get_benchmark("alpaca-eval", tmp_path)
    figures = bench.aggregate(lc_records())
    assert figures["lc_variant"] == "length_controlled_noreg" and "lc_note" not in figures
    assert figures["difficulty_source"].endswith("instruction_difficulty.csv")
    assert "difficulty_coefficient" in figures
    gamed = pd.DataFrame(
        {
            "model": ["gamed_verbose"] * 805 + ["gamed_concise"] * 805,
            "index": list(range(805)) * 2,
            "instruction_difficulty": list(difficulty) * 2,
            "preference": rng.uniform(0, 1, 1610),
            "std_delta_len": rng.normal(0, 1, 1610),
            "not_gamed_baseline": False,
        }
    )
    gamed.to_csv(folder / "df_gamed.csv", index=False)
    figures = get_benchmark("alpaca-eval", tmp_path).aggregate(lc_records())
    assert figures["lc_variant"] == "length_controlled_v1" and figures["difficulty_source"].endswith("df_gamed.csv")


@pytest.mark.local_model
def test_eval_on_the_embedded_model_writes_a_summary(tmp_path: Path, local_model_available: None) -> None:
    """One AlpacaEval instruction end to end on the embedded model, which also judges. (The 135M
    judge rarely writes a verdict: the run says how many it could read.)"""
    arch = short_generator_file(tmp_path, max_tokens=24)
    result = run_cli(
        "eval", str(arch), "-b", "alpaca-eval", "--limit", "1", "--data-dir", str(SHARED_DATA),
        "--judge", "local/smollm2-135m", "--judge-max-tokens", "24", "--results-dir", str(tmp_path / "results"),
        "--cache-dir", str(tmp_path / "cache"), "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    (run_dir,) = (tmp_path / "results").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    record = json.loads((run_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert summary["metric"] == "win rate vs baseline (0-1)" and summary["questions"] == summary["answered"] == 1
    assert summary["judge_calls"] == 2 and len(record["score_details"]["games"]) == 2
    assert summary["judge_verdicts"]["asked"] == 2 and summary["judge"] == "local/smollm2-135m"
    assert summary["reliable"] == (summary["judge_verdicts"]["parsed"] == 2)
    assert record["score_details"]["model_length"] == len(record["answer"])
