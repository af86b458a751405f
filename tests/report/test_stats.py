"""Pure statistics of `archon compare`: paired bootstrap, verdicts, Pareto front."""

from __future__ import annotations

import pytest

from archon_cli.report.stats import PairedDifference, paired_bootstrap, pareto_front, points_factor, verdict


def _pair_with_flips(n: int = 200, correct: int = 120, flipped: int = 20) -> tuple[list[float], list[float]]:
    """A has ``correct`` right answers; B is A with ``flipped`` of them turned wrong."""
    a = [1.0] * correct + [0.0] * (n - correct)
    b = list(a)
    for i in range(flipped):
        b[i] = 0.0
    return a, b


def test_known_difference_is_found_and_significant() -> None:
    a, b = _pair_with_flips(n=200, correct=120, flipped=20)  # 10% of questions flipped from 1 to 0
    result = paired_bootstrap(a, b, seed=0)
    assert result.n == 200
    assert result.diff == pytest.approx(0.10)
    assert 0 < result.low < 0.10 < result.high < 0.20
    assert result.significant
    text = verdict("A", "B", result, scale=1.0)
    assert text.startswith("A beats B by 10.0 points, CI ")
    low, high = (float(x) for x in text.split("CI ")[1].split("-"))
    assert 0 < low < 10 < high


def test_winner_is_named_first_whatever_the_order() -> None:
    a, b = _pair_with_flips()
    result = paired_bootstrap(b, a)
    assert result.diff == pytest.approx(-0.10) and result.significant
    text = verdict("B", "A", result, scale=1.0)
    assert text.startswith("A beats B by 10.0 points")
    assert "--" not in text  # the interval is turned around, not printed negative


def test_identical_runs_show_no_significant_difference() -> None:
    a = [1.0, 0.0, 1.0, 1.0, 0.0] * 20
    result = paired_bootstrap(a, list(a))
    assert (result.diff, result.low, result.high) == (0.0, 0.0, 0.0)
    assert not result.significant
    assert verdict("A", "B", result, 1.0) == "no significant difference (A - B = 0.0 points, CI 0.0-0.0)"


def test_small_noisy_difference_is_not_significant() -> None:
    a = [1.0, 0.0] * 20
    b = list(a)
    b[0], b[1] = 0.0, 1.0  # one question won, one lost
    b[2] = 0.0
    result = paired_bootstrap(a, b)
    assert result.low < 0 < result.high or result.low == 0
    assert verdict("A", "B", result, 1.0).startswith("no significant difference (A - B = 2.5 points")


def test_bootstrap_is_seeded() -> None:
    # Continuous scores (MT-Bench-like), so different resamples give visibly different quantiles.
    a = [1 + 9 * ((i * 37) % 101) / 101 for i in range(60)]
    b = [1 + 9 * ((i * 53) % 97) / 97 for i in range(60)]
    assert paired_bootstrap(a, b, seed=3) == paired_bootstrap(a, b, seed=3)
    assert paired_bootstrap(a, b, seed=3, resamples=2500) != paired_bootstrap(a, b, seed=4, resamples=2500)


def test_scale_ten_metrics_use_raw_points() -> None:
    assert points_factor(1.0) == 100 and points_factor(10.0) == 1
    result = PairedDifference(diff=0.5, low=0.2, high=0.8, n=80)
    assert verdict("A", "B", result, scale=10.0) == "A beats B by 0.5 points, CI 0.2-0.8"


def test_bootstrap_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="length"):
        paired_bootstrap([1.0, 0.0], [1.0])
    with pytest.raises(ValueError, match="no shared"):
        paired_bootstrap([], [])


def test_pareto_front_on_known_points() -> None:
    # (calls per query, score): lower calls and higher score are better.
    points: list[tuple[float, float | None]] = [
        (1.0, 0.50),  # 0: cheapest -> front
        (5.0, 0.45),  # 1: dominated by 0
        (3.0, 0.60),  # 2: front
        (3.0, 0.55),  # 3: dominated by 2 (same calls, lower score)
        (10.0, 0.70),  # 4: best score -> front
        (12.0, 0.70),  # 5: dominated by 4 (same score, more calls)
        (8.0, None),  # 6: no score -> never on the front
    ]
    assert pareto_front(points) == [0, 2, 4]


def test_pareto_front_keeps_ties_and_handles_trivial_sets() -> None:
    assert pareto_front([(2.0, 0.5), (2.0, 0.5), (3.0, 0.4)]) == [0, 1]
    assert pareto_front([(1.0, 0.3)]) == [0]
    assert pareto_front([]) == []
