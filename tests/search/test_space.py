"""The search space: points build valid architectures, the budget bounds the feasible set."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_cli.errors import ConfigError
from archon_cli.search.space import FeasibleSpace, Point, SearchSpace, architecture_id, build_architecture, load_space

MODELS = ["local/smollm2-135m", "local/gemma-3-270m"]


def test_point_builds_the_expected_layers() -> None:
    space = SearchSpace()
    arch = build_architecture(Point(2, 3, 2, 2, True, "majority_vote"), MODELS, space)
    kinds = [layer[0].type for layer in arch.layers]
    assert kinds == ["generator", "critic", "ranker", "fuser", "critic", "ranker", "fuser", "majority_vote"]
    assert [g.model for g in arch.layers[0]] == MODELS and all(g.samples == 3 for g in arch.layers[0])
    # Non-final fuser layers make fusers_per_layer candidates; the last one makes one.
    assert arch.layers[3][0].samples == 2 and arch.layers[6][0].samples == 1
    # generators 6 + (critic 1 + ranker 1 + fuser 2) + (critic 1 + ranker 1 + fuser 1) + vote 0
    assert arch.static_calls() == 13


def test_unit_tests_and_verifier_final_stages() -> None:
    space = SearchSpace()
    ut = build_architecture(Point(1, 4, 0, 1, False, "unit_tests"), MODELS, space)
    assert [layer[0].type for layer in ut.layers] == ["generator", "unit_test_generator", "unit_test_evaluator"]
    assert ut.static_calls() == 4 + 1 + 4
    ver = build_architecture(Point(1, 4, 0, 1, False, "verifier"), MODELS, space)
    assert ver.static_calls() == 4 + 2 * 4


def test_budget_shapes_the_feasible_set() -> None:
    space = SearchSpace()
    unbounded = FeasibleSpace(space, MODELS, None).all_points()
    for budget in (1, 5, 12, 30):
        feasible = FeasibleSpace(space, MODELS, budget)
        points = feasible.all_points()
        assert points, budget
        assert all(feasible.calls(p) <= budget for p in points)
        # every canonical point of the unbounded space within budget is in the feasible set
        assert {p for p in unbounded if feasible.calls(p) <= budget} == set(points)
    assert FeasibleSpace(space, MODELS, 1).all_points() == [
        Point(1, 1, 0, 1, False, "majority_vote"),
        Point(1, 1, 0, 1, False, "none"),
    ]


def test_settings_without_effect_collapse_to_one_point() -> None:
    fs = FeasibleSpace(SearchSpace(), MODELS, None)
    a = fs.canonical(Point(1, 3, 1, 3, True, "none"))
    b = fs.canonical(Point(1, 3, 1, 1, True, "none"))
    assert a == b  # with one fuser layer, fusers_per_layer has no effect
    assert fs.canonical(Point(1, 3, 0, 2, True, "none")) == Point(1, 3, 0, 1, False, "none")
    assert architecture_id(a, MODELS) == architecture_id(b, MODELS)
    assert architecture_id(a, MODELS) != architecture_id(a, list(reversed(MODELS)))


def test_pool_smaller_than_space_clips_top_models() -> None:
    fs = FeasibleSpace(SearchSpace(top_models=(1, 4)), MODELS[:1], None)
    assert {p.top_models for p in fs.all_points()} == {1}
    assert not fs.contains(Point(2, 1, 0, 1, False, "none"))  # only one model to choose from


def test_points_outside_the_ranges_are_not_in_the_space() -> None:
    fs = FeasibleSpace(SearchSpace(samples=(1, 3), final=("none", "verifier")), MODELS, None)
    assert fs.contains(Point(1, 3, 0, 1, False, "verifier"))
    for outside in (
        Point(1, 4, 0, 1, False, "none"),  # samples above the range
        Point(1, 1, 5, 1, False, "none"),  # fusion layers above the range
        Point(1, 1, 0, 1, False, "majority_vote"),  # a final stage the space does not offer
    ):
        assert not fs.contains(outside), outside


def test_space_file_overrides_and_rejects_typos(tmp_path: Path) -> None:
    good = tmp_path / "space.yaml"
    good.write_text("samples: [1, 3]\nfinal: [none, majority_vote]\nmax_tokens: 32\n", encoding="utf-8")
    space = load_space(good)
    assert space.samples == (1, 3) and space.final == ("none", "majority_vote") and space.max_tokens == 32
    bad = tmp_path / "bad.yaml"
    bad.write_text("sampels: [1, 3]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="sampels: unknown key"):
        load_space(bad)
    inverted = tmp_path / "inv.yaml"
    inverted.write_text("samples: [5, 1]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="samples"):
        load_space(inverted)
