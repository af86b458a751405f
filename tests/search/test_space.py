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


STYLED = Path(__file__).resolve().parents[2] / "spaces"


def styled_space(**overrides: object) -> SearchSpace:
    data: dict[str, object] = {
        "top_models": [1, 1],
        "samples": [1, 3],
        "fusion_layers": [0, 0],
        "critic_ranker": [False],
        "final": ["none", "majority_vote"],
        "temperature": [0.0, 0.7],
        "styles": {
            "plain": {},
            "qa8": {"prompt_format": "few_shot_completion", "answer_format": ""},
            "calc": {"system_prompt": "You are a calculator."},
        },
        **overrides,
    }
    return SearchSpace.model_validate(data)


def test_the_space_produces_style_sets_and_temperatures() -> None:
    fs = FeasibleSpace(styled_space(), MODELS[:1], None)
    points = fs.all_points()
    # 7 non-empty sets of 3 styles x (greedy: 1 sample + sampled: 3 counts) x 2 finals
    assert len(points) == 7 * 4 * 2
    assert {p.styles for p in points} == set(fs.space.style_choices()) and ("plain", "qa8") in fs.space.style_choices()
    assert {p.temperature for p in points} == {0.0, 0.7}
    assert all(p.samples == 1 for p in points if p.temperature == 0.0)  # greedy samples are all alike
    # one generator per style, in the space's order, each with the style's settings
    arch = fs.architecture(Point(1, 2, 0, 1, False, "majority_vote", ("plain", "qa8"), 0.0))
    generators = arch.layers[0]
    assert [(g.prompt_format, g.answer_format, g.samples, g.temperature) for g in generators] == [
        ("chat", None, 2, 0.0),
        ("few_shot_completion", "", 2, 0.0),
    ]
    assert arch.layers[1][0].type == "majority_vote"


def test_style_and_temperature_points_round_trip_for_the_optimiser_and_files() -> None:
    fs = FeasibleSpace(styled_space(), MODELS[:1], None)
    for p in fs.all_points():
        assert fs.from_skopt(fs.to_skopt(p)) == p
        assert Point.from_list(p.as_list()) == p
        assert (
            Point(
                **{
                    **p.to_dict(),
                    "styles": list(p.styles),
                    "temperature": int(p.temperature) if p.temperature == 0 else p.temperature,
                }
            )
            == p
        )
    dims = fs.skopt_dimensions()
    assert len(dims) == len(fs.to_skopt(fs.all_points()[0])) == 6 + 3 + 1
    labels = {p.label() for p in fs.all_points()}
    assert "g1x1-plain+qa8-mv-t0" in labels
    # a point of default style and temperature keeps the id it had before these dimensions
    plain = Point(1, 3, 0, 1, False, "none")
    assert architecture_id(plain, MODELS).startswith("g1x3-") and plain.as_list()[6:] == ["chat", 0.7]


def test_every_algorithm_searches_the_style_dimensions() -> None:
    from archon_cli.search.algorithms import make_algorithm

    fs = FeasibleSpace(styled_space(), MODELS[:1], None)
    for name in ("gp", "random", "greedy"):
        algorithm = make_algorithm(name, fs, 0)
        seen = set()
        for _ in range(12):
            p = fs.canonical(algorithm.ask())
            assert fs.contains(p), (name, p)
            seen.add(p)
            algorithm.tell(p, 0.5 + 0.1 * len(p.styles) - 0.2 * p.temperature)
        assert len({p.styles for p in seen}) > 1 or name == "greedy", name


def test_style_settings_are_checked_like_a_generator(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shots"):
        styled_space(styles={"bad": {"shots": 3}})  # shots without a few-shot format
    with pytest.raises(ValueError, match="not one of the styles"):
        styled_space(style_sets=[["plain", "nope"]])
    with pytest.raises(ValueError, match="style name"):
        styled_space(styles={"two words": {}})
    with pytest.raises(ValueError, match="temperature"):
        styled_space(temperature=[0.7, 0.7])
    only = styled_space(style_sets=[["qa8", "plain"], ["calc"]])
    assert only.style_choices() == [("plain", "qa8"), ("calc",)]  # the space's order
    bad = tmp_path / "s.yaml"
    bad.write_text("styles:\n  x:\n    prompt_format: two_shot\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="prompt_format"):
        load_space(bad)


def test_the_tiny_arith_and_paper_spaces_load() -> None:
    tiny = load_space(STYLED / "tiny-arith.yaml")
    assert tiny.temperatures == (0.0, 0.7) and "qa8" in tiny.styles
    assert tiny.stop == ("off", "beta-0.9", "beta-0.95", "window-3")
    points = FeasibleSpace(tiny, MODELS, 8).all_points()
    assert points and {p.stop for p in points} == set(tiny.stop)
    paper = load_space(STYLED / "paper.yaml")
    assert paper.temperatures == (0.7,) and paper.style_choices() == [("chat",)]
