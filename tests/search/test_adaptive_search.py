"""`stop` as a search dimension, end to end against the loopback server: the adaptive vote scores
what its fixed twin scores at fewer measured calls and ranks above it; the leaderboard and
search.json show measured and static calls per query side by side; the budget filter uses the
static count."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from archon_cli.search.space import FeasibleSpace, Point, SearchSpace, build_architecture, stop_rule
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import assert_user_error, run_cli

SPACE = """\
top_models: [1, 1]
samples: [5, 5]
fusion_layers: [0, 0]
fusers_per_layer: [1, 1]
critic_ranker: [false]
final: [majority_vote]
temperature: 0.7
stop: [off, beta-0.9]
max_tokens: 8
"""


def _search(tmp: Path, api_base: str, budget: str) -> list[str]:
    (tmp / "pool.yaml").write_text(f"models:\n  - model: openai/fake-model\n    api_base: {api_base}\n")
    (tmp / "space.yaml").write_text(SPACE)
    return [
        *("search", "-b", "tiny-arith", "--budget", budget, "--pool", str(tmp / "pool.yaml")),
        *("--space", str(tmp / "space.yaml"), "--algorithm", "random", "--trials", "2", "--rungs", "off"),
        *("--limit", "12", "--test-limit", "6", "--final-k", "1", "--seed", "1", "--cost-weight", "0.01"),
        *("--results-dir", str(tmp / "results"), "--cache-dir", str(tmp / "cache"), "--json"),
    ]


def test_the_adaptive_twin_ranks_first_at_the_same_score_and_fewer_measured_calls(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(seed=2)) as server:  # every draw of a question gives its one answer
        result = run_cli(*_search(tmp_path, server.api_base, "5"), timeout=240)
    assert result.code == 0, result.stderr
    search_dir = next((tmp_path / "results").iterdir())
    with (search_dir / "leaderboard.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    adaptive, fixed = rows
    assert adaptive["arch_id"].startswith("g1x5-mv-beta0.9-") and "beta" not in fixed["arch_id"]
    assert adaptive["dev_score"] == fixed["dev_score"]
    # beta 0.9 is sure after three agreeing samples (one request with n = 2, one with n = 1).
    assert (float(adaptive["calls_per_query"]), adaptive["static_calls_per_query"]) == (3.0, "5")
    assert (float(fixed["calls_per_query"]), fixed["static_calls_per_query"]) == (5.0, "5")
    assert float(adaptive["objective"]) > float(fixed["objective"])
    info = json.loads((search_dir / "search.json").read_text())
    assert info["best"]["point"]["stop"] == "beta-0.9"
    assert (info["best"]["calls_per_query"], info["best"]["static_calls_per_query"]) == (3.0, 5.0)
    trial_summary = json.loads((search_dir / info["best"]["run_dir"] / "summary.json").read_text())
    assert (trial_summary["calls_per_query"], trial_summary["static_calls_per_query"]) == (3.0, 5)


def test_the_budget_filter_counts_the_static_cap(tmp_path: Path) -> None:
    """The adaptive vote spends 3 calls a query here, but may spend 5: a budget of 4 admits neither."""
    result = run_cli(*_search(tmp_path, "http://127.0.0.1:9/v1", "4"))
    assert_user_error(result, "too small for any architecture")


def test_stop_only_where_a_final_vote_counts_samples() -> None:
    space = SearchSpace.model_validate({"final": ["none", "majority_vote"], "stop": [False, "beta-0.95", "window-3"]})
    assert space.stop == ("off", "beta-0.95", "window-3")  # YAML's bare `off` reads as false
    feasible = FeasibleSpace(space, ["m"], None)
    vote = Point(1, 3, 0, 1, False, "majority_vote", stop="window-3")
    assert feasible.contains(vote) and vote.label() == "g1x3-mv-window3"
    assert feasible.canonical(Point(1, 3, 0, 1, False, "none", stop="beta-0.95")).stop == "off"
    assert feasible.canonical(Point(1, 1, 0, 1, False, "majority_vote", stop="beta-0.95")).stop == "off"
    arch = build_architecture(vote, ["m"], space)
    assert arch.layers[-1][0].stop is not None and arch.layers[-1][0].stop.size == 3  # type: ignore[attr-defined]
    assert arch.static_calls() == 3
    # The optimiser's vector carries the rule only when the space offers several.
    assert feasible.from_skopt(feasible.to_skopt(vote)) == vote
    plain = FeasibleSpace(SearchSpace(), ["m"], None)
    assert len(plain.to_skopt(Point(1, 3, 0, 1, False, "majority_vote"))) == len(plain.skopt_dimensions())
    assert stop_rule("off") is None and stop_rule("beta-0.9") == {"rule": "beta", "confidence": 0.9}
    with pytest.raises(ValueError, match="stop"):
        SearchSpace.model_validate({"stop": ["beta-2"]})


def test_a_space_without_off_still_holds_the_architectures_no_rule_applies_to() -> None:
    space = SearchSpace.model_validate(
        {
            "samples": [1, 3],
            "fusion_layers": [0, 0],
            "final": ["none", "majority_vote"],
            "stop": ["beta-0.95", "window-3"],
        }
    )
    feasible = FeasibleSpace(space, ["m"], None)
    points = feasible.all_points()
    assert {(p.final, p.stop) for p in points if p.samples == 3} == {
        ("none", "off"),
        ("majority_vote", "beta-0.95"),
        ("majority_vote", "window-3"),
    }
    for point in points:
        assert feasible.from_skopt(feasible.to_skopt(point)) == point
