"""Budget files and the static-cost check before any call."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_cli.config import check_budget, load_budget, parse_architecture
from archon_cli.errors import ConfigError, UserError


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_budget_from_integer_and_file(tmp_path: Path) -> None:
    assert load_budget("30").calls_per_query == 30
    with pytest.raises(UserError, match="too small"):
        load_budget("0")
    path = _write(tmp_path, "b.yaml", "calls_per_query: 10\ntotal_calls: 500\ndollars: 1.5\n")
    budget = load_budget(str(path))
    assert (budget.calls_per_query, budget.total_calls, budget.dollars, budget.name) == (10, 500, 1.5, "b")
    with pytest.raises(ConfigError, match="callz: unknown key"):
        load_budget(str(_write(tmp_path, "c.yaml", "callz: 3\n")))


def test_an_architecture_over_the_budget_is_refused_before_any_call() -> None:
    arch, _ = parse_architecture({"name": "five", "layers": [[{"type": "generator", "samples": 5}]]})
    check_budget(arch, load_budget("5"))
    with pytest.raises(UserError, match="budget of 4 calls per query is below the cost of 'five': 5"):
        check_budget(arch, load_budget("4"))
