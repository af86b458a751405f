"""`archon search` from the command line: a small real search on the embedded model writes its
leaderboard and best.yaml, and a re-run resumes (bad input: tests/reliability/test_bad_input.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.mark.local_model
def test_small_search_on_the_embedded_model(tmp_path: Path, local_model_available: None) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(
        "top_models: [1, 1]\nsamples: [1, 3]\nfusion_layers: [0, 0]\nfinal: [none, majority_vote]\nmax_tokens: 8\n",
        encoding="utf-8",
    )
    args = (
        "search", "--benchmark", "tiny-arith", "--budget", "3", "--models", "local/smollm2-135m",
        "--space", str(space), "--trials", "3", "--limit", "4", "--test-limit", "4", "--final-k", "1",
        "--results-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"), "--search-id", "s", "--json",
    )  # fmt: skip
    first = run_cli(*args)
    assert first.code == 0, first.stderr
    meta = json.loads(first.stdout)
    assert meta["status"] == "complete" and meta["trials_done"] == 3
    rows = list(csv.DictReader((tmp_path / "s" / "leaderboard.csv").open()))
    assert len(rows) == 3 and rows[0]["test_score"] != ""
    assert all(float(r["calls_per_query"]) <= 3 for r in rows)
    # best.yaml is an architecture file `archon eval` accepts.
    evaluated = run_cli(
        "eval", str(tmp_path / "s" / "best.yaml"), "-b", "tiny-arith", "--limit", "2",
        "--results-dir", str(tmp_path / "e"), "--cache-dir", str(tmp_path / "cache"), "--json",
    )  # fmt: skip
    assert evaluated.code == 0, evaluated.stderr
    # The same command again resumes: nothing is sent, the same leaderboard comes back.
    again = json.loads(run_cli(*args).stdout)
    assert again["calls_sent_this_run"] == 0
    assert again["real_calls"] == meta["real_calls"] and again["best"]["arch_id"] == meta["best"]["arch_id"]


def test_leaderboard_is_whole_when_not_a_terminal() -> None:
    """A piped or logged leaderboard keeps every cell whole (no "0.300-0.…", "architect…")."""
    import io

    from rich.console import Console

    from archon_cli.commands.common import print_table
    from archon_cli.commands.search import _table
    from archon_cli.search.trials import Trial

    trials = [
        Trial(
            trial=i, arch_id=f"g1x{i}-styles-s0-s2-s3-t0.0-majority-vote-{i:06d}", point=None, stage="search",
            dev_score=0.6 + i / 100, ci95=[0.3001, 0.9002], calls_per_query=3.0, tokens_per_query=30.0,
            cost_per_query=0.0, errors=0, objective=0.6 + i / 100, nominal_calls=1, real_calls=1, run_dir="x",
            rung=2, questions=400, vs_baseline={"difference": 6.1, "ci_low": 2.0, "ci_high": 10.3},
        )
        for i in range(1, 4)
    ]
    out = io.StringIO()
    console = Console(file=out, width=80)
    assert not console.is_terminal
    print_table(console, _table(trials, "accuracy", "leaderboard"))
    text = out.getvalue()
    assert "…" not in text
    for t in trials:
        row = next(line for line in text.splitlines() if t.arch_id in line)
        assert "0.300-0.900" in row and "+6.1 [+2.0, +10.3]" in row and "400" in row
