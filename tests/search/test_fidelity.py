"""Rungs of the multi-fidelity search: parsing, nesting, promotions (ASHA) and the top-up."""

from __future__ import annotations

import pytest

from archon_cli.errors import UserError
from archon_cli.search.estimate import estimate_calls
from archon_cli.search.fidelity import (
    DEFAULT_RUNGS,
    RungScheduler,
    expected_architectures,
    parse_rungs,
    rung_sizes,
    spread,
)


def test_parse_rungs() -> None:
    assert parse_rungs(None) == DEFAULT_RUNGS
    assert parse_rungs("10,40") == (10, 40)
    assert parse_rungs("off") is None and parse_rungs("OFF") is None
    for bad in ("", "a,b", "40,10", "0,5", "5,5"):
        with pytest.raises(UserError, match="--rungs"):
            parse_rungs(bad)


def test_rung_sizes_end_with_the_whole_dev_split() -> None:
    assert rung_sizes((25, 100, 400), 400) == (25, 100, 400)
    assert rung_sizes((25, 100, 400), 150) == (25, 100, 150)
    assert rung_sizes((25, 100, 400), 20) == (20,)  # too few questions for rungs: the plain search
    assert rung_sizes(None, 36) == (36,)


def test_spread_mixes_categories_and_is_seeded() -> None:
    items = [f"add-{i}" for i in range(30)] + [f"sub-{i}" for i in range(30)]
    first = spread(items, items, seed=0, salt="x")
    assert sorted(first) == sorted(items) and first == spread(items, items, seed=0, salt="x")
    assert first != spread(items, items, seed=1, salt="x")
    prefix = first[:10]
    assert any(p.startswith("add") for p in prefix) and any(p.startswith("sub") for p in prefix)


def test_promotion_takes_the_top_quarter_of_a_rung() -> None:
    s = RungScheduler((10, 40, 160))
    for i, score in enumerate([0.5, 0.9, 0.4]):
        s.record(f"a{i}", 0, score, 1.0, i + 1)
    assert s.promotion() is None  # 3 // 4 = 0: nobody yet
    s.record("a3", 0, 0.6, 1.0, 4)
    assert s.promotion() == ("a1", 1)  # the best of four
    s.record("a1", 1, 0.7, 1.0, 2)
    assert s.promotion() is None
    for i in range(4, 8):
        s.record(f"a{i}", 0, 0.1, 1.0, i + 1)
    assert s.promotion() == ("a3", 1)  # 8 // 4 = 2: the second best goes up too
    s.record("a3", 1, 0.65, 1.0, 4)
    # The top-up fills the top rung from the highest rung below it, best first, one rung at a time.
    assert s.top_up(1) == ("a1", 2)
    s.record("a1", 2, 0.72, 1.0, 2)
    assert s.top_up(1) is None
    assert s.top_up(2) == ("a3", 2)
    s.record("a3", 2, 0.6, 1.0, 4)
    assert s.top_up(3) == ("a0", 1)  # then the best of rung 0 climbs
    assert s.at(2) == ["a1", "a3"]


def test_ties_go_to_fewer_calls_then_the_earlier_trial() -> None:
    s = RungScheduler((5, 20))
    s.record("costly", 0, 0.5, 4.0, 1)
    s.record("cheap", 0, 0.5, 1.0, 2)
    s.record("late", 0, 0.5, 1.0, 3)
    s.record("bad", 0, 0.1, 1.0, 4)
    assert s.at(0) == ["cheap", "late", "costly", "bad"]
    assert s.promotion() == ("cheap", 1)


def test_expected_architectures_and_the_estimate() -> None:
    assert expected_architectures(40, (25, 100, 400), 1) == [40, 10, 2]
    assert expected_architectures(8, (25, 100, 400), 2) == [8, 2, 2]  # the top-up keeps 2 finalists
    e = estimate_calls(
        pool_size=2, dev=400, test=100, rungs=(25, 100, 400), trials=40, final_k=1, architecture_calls=[1, 3] * 50
    )
    # 40 x 25 + 10 x 75 + 2 x 300 questions at 2 calls each.
    assert (e.stage1, e.baseline, e.search, e.final) == (800, 100, 2 * (1000 + 750 + 600), 200)
    assert e.total == 800 + 100 + 4700 + 200
    assert "--search-calls 1,000 is below it" in e.describe(1000)
    plain = estimate_calls(
        pool_size=1, dev=36, test=0, rungs=(36,), trials=5, final_k=0, architecture_calls=[2, 2, 2]
    )
    assert (plain.search, plain.final) == (3 * 36 * 2, 0)  # only 3 architectures exist
