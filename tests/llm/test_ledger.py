"""The spend ledger (spend.jsonl): what earlier runs of a folder sent, read back by a resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_cli.errors import BudgetExceeded
from archon_cli.llm.accountant import Budget, BudgetAccountant, Spend
from archon_cli.llm.ledger import read_spend
from archon_cli.llm.types import Usage


def test_settled_sends_count_what_they_spent_and_those_in_flight_their_worst(tmp_path: Path) -> None:
    ledger = tmp_path / "run" / "spend.jsonl"
    killed = BudgetAccountant(Budget(total_calls=10, total_tokens=1000))
    killed.keep_spend(ledger)
    assert not ledger.exists()  # nothing reserved, nothing written
    done = killed.try_reserve("m", Spend(1, 100, 0.0))
    in_flight = killed.try_reserve("m", Spend(2, 200, 0.0))
    released = killed.try_reserve("m", Spend(1, 100, 0.0))
    assert done and in_flight and released
    killed.settle(done, Usage(10, 5, 0.0))
    killed.release(released)
    with ledger.open("ab") as f:
        f.write(b'{"r": "torn-1", "c": 1')  # a kill mid-line
    assert read_spend(ledger) == (3, 215, 0.0)  # 1 call of 15 tokens, and the 2 in flight at their worst

    resumed = BudgetAccountant(Budget(total_calls=10, total_tokens=1000))
    assert resumed.count_earlier(ledger) == Spend(3, 215, 0.0)
    assert resumed.spent == Spend(3, 215, 0.0) and resumed.stats.calls == 0
    resumed.keep_spend(ledger)
    rest = resumed.try_reserve("m", Spend(7, 0, 0.0))
    assert rest is not None
    resumed.settle(rest, Usage(1, 1, 0.0))
    with pytest.raises(BudgetExceeded, match="10 of 10 total calls sent, 3 of them before this resume"):
        resumed.try_reserve("m", Spend(1, 0, 0.0))
    assert read_spend(ledger) == (10, 217, 0.0)
