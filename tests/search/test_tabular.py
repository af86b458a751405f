"""The tabular benchmark: every architecture of spaces/tabular.yaml (126: sets of greedy prompt
styles, voting or not) evaluated once with the embedded model on the 300 tiny-arith dev questions,
with each question's result (bench/build_tabular.py wrote tests/data/tabular_tiny_arith.csv). Search algorithms are compared on the table without
calling a model; bench/search_efficiency.py reports the comparison over 20 seeds."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from archon_cli.benchmarks.tiny_arith import TinyArith
from archon_cli.evaluation.run_folder import plan_questions
from archon_cli.search.space import FeasibleSpace, Point, load_space
from archon_cli.search.tabular import (
    load_table,
    read_table,
    rung_cost,
    table_row,
    top_fraction_threshold,
    trials_per_algorithm,
    write_table,
)

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "tests" / "data" / "tabular_tiny_arith.csv"
MODELS = ["local/smollm2-135m"]


def feasible_space(budget: int | None = None) -> FeasibleSpace:
    return FeasibleSpace(load_space(ROOT / "spaces" / "tabular.yaml"), MODELS, budget)


def test_the_table_covers_the_whole_space_question_by_question() -> None:
    table = load_table(TABLE)
    assert set(table.scores) == set(feasible_space().all_points()) and len(table.scores) == 126
    # one column per dev question, in the dev split's order, and each score is their mean
    assert list(table.questions) == [q.id for q in plan_questions(TinyArith(), "dev", 0, None)]
    assert len(table.questions) == 300
    for point, score in table.scores.items():
        assert score == pytest.approx(sum(table.correct[point]) / 300, abs=1e-6)
    assert len({p.styles for p in table.scores}) == 63 and {p.final for p in table.scores} == {"none", "majority_vote"}


def test_the_differences_of_the_table_exceed_its_noise() -> None:
    table = load_table(TABLE)
    ranked = sorted(table.scores, key=table.scores.__getitem__)
    best, median = ranked[-1], ranked[len(ranked) // 2]
    half_width = 1.96 * (0.25 / 300) ** 0.5  # the widest 95% interval of one score on 300 questions
    assert table.scores[best] - table.scores[ranked[0]] > 2 * half_width
    # paired on the same questions, the best beats the median architecture by more than chance:
    # a sign test over the questions where the two differ (|z| > 1.96)
    wins = sum(a > b for a, b in zip(table.correct[best], table.correct[median], strict=True))
    losses = sum(a < b for a, b in zip(table.correct[best], table.correct[median], strict=True))
    assert (wins - losses) / (wins + losses) ** 0.5 > 1.96, (wins, losses)


def test_every_algorithm_reaches_the_best_architecture_of_the_table() -> None:
    table = read_table(TABLE)
    trials = trials_per_algorithm(table, feasible_space(), range(3), ("gp", "random", "greedy"))
    # len(table) + 1 would mean an algorithm never evaluated the best architecture
    assert all(1 <= t <= len(table) for ts in trials.values() for t in ts), trials


def test_an_efficiency_run_is_the_same_for_the_same_seeds() -> None:
    table = read_table(TABLE)
    first = trials_per_algorithm(table, feasible_space(), [3, 4], ("gp", "random", "greedy"))
    again = trials_per_algorithm(table, feasible_space(), [3, 4], ("gp", "random", "greedy"))
    assert first == again
    assert (
        trials_per_algorithm(table, feasible_space(), [5], ("random",))
        != trials_per_algorithm(table, feasible_space(), [6], ("random",))
        or len(table) < 3
    )


def test_the_multi_fidelity_search_replays_on_the_table_per_question() -> None:
    loaded = load_table(TABLE)
    feasible = feasible_space()
    costs = [rung_cost(loaded, feasible, seed, "random", (25, 100)) for seed in range(4)]
    assert costs == [rung_cost(loaded, feasible, seed, "random", (25, 100)) for seed in range(4)]  # deterministic
    # it ends with a best architecture measured on all 300 questions, having screened the others on
    # 25 or 100: far fewer questions than one full evaluation per trial (random's median is ~29 trials)
    assert all(0 < c < 29 for c in costs), costs


def test_gp_reaches_the_top_tenth_no_slower_than_random() -> None:
    table = read_table(TABLE)
    target = top_fraction_threshold(table, 0.1)
    trials = trials_per_algorithm(table, feasible_space(), range(10), ("gp", "random"), target=target)
    assert statistics.median(trials["gp"]) <= statistics.median(trials["random"]), trials


def test_a_table_round_trips_with_its_questions_and_scores_subsets(tmp_path: Path) -> None:
    feasible = feasible_space()
    points = feasible.all_points()[:3]
    rows = []
    for i, p in enumerate(points):
        row = table_row(p, (i + 1) / 4, float(len(p.styles)))
        row.update({"q:a": 1, "q:b": int(i > 0), "q:c": int(i > 1), "q:d": 0})
        rows.append(row)
    path = tmp_path / "t.csv"
    write_table(path, rows)
    loaded = load_table(path)
    assert loaded.scores == {p: (i + 1) / 4 for i, p in enumerate(points)}
    assert loaded.questions == ("a", "b", "c", "d")
    assert loaded.calls[points[0]] == len(points[0].styles)
    assert loaded.score(points[1], ["a", "b"]) == 1.0 and loaded.score(points[1], ["c", "d"]) == 0.0
    with pytest.raises(ValueError, match="no question 'z'"):
        loaded.score(points[0], ["z"])

    outside = Point(top_models=9, samples=1, fusion_layers=0, fusers_per_layer=1, critic_ranker=False, final="none")
    with pytest.raises(ValueError, match="disagree"):
        trials_per_algorithm({**read_table(path), outside: 1.0}, feasible, [0], ["random"])
    (tmp_path / "empty.csv").write_text("top_models,samples\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no rows"):
        read_table(tmp_path / "empty.csv")


def test_a_table_from_before_the_style_dimensions_still_loads(tmp_path: Path) -> None:
    old = tmp_path / "old.csv"
    old.write_text(
        "top_models,samples,fusion_layers,fusers_per_layer,critic_ranker,final,score,calls_per_query\n"
        "1,3,0,1,False,majority_vote,0.5,3.0\n",
        encoding="utf-8",
    )
    loaded = load_table(old)
    assert loaded.scores == {Point(1, 3, 0, 1, False, "majority_vote"): 0.5} and loaded.questions == ()


def test_top_fraction_threshold_counts_ties_in() -> None:
    a, b, c, d = (
        Point(1, 1, 0, 1, False, "none"),
        Point(1, 2, 0, 1, False, "none"),
        Point(1, 3, 0, 1, False, "none"),
        Point(1, 4, 0, 1, False, "none"),
    )
    table = {a: 0.9, b: 0.5, c: 0.5, d: 0.1}
    assert top_fraction_threshold(table, 0.25) == 0.9
    assert top_fraction_threshold(table, 0.5) == 0.5  # b and c tie: both are in
    assert top_fraction_threshold(table, 0.01) == 0.9  # at least one architecture
