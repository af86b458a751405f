"""`archon search` from the command line: bad input is one line and exit 2; a small real search
on the embedded model writes its leaderboard and best.yaml, and a re-run resumes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


def assert_user_error(result, fragment: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 2, (result.code, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--budget", "0"], "too small for even one call"),
        (["--budget", "5", "--models", " , "], "model pool is empty"),
        (["--budget", "5", "--algorithm", "annealing"], "unknown search algorithm 'annealing'"),
        (["--budget", "5", "--trials", "0"], "--trials 0"),
        (["--budget", "5", "--benchmark", "nope"], "unknown benchmark 'nope'"),
        (["--budget", "5", "--models", "nosuchprovider-model"], "cannot be routed"),
        (["--budget", "5", "--limit", "0"], "--limit 0"),
    ],
)
def test_bad_search_input(tmp_path: Path, args: list[str], fragment: str) -> None:
    full = ["search", "--benchmark", "tiny-arith", "--results-dir", str(tmp_path), *args]
    if args.count("--benchmark"):
        full = ["search", "--results-dir", str(tmp_path), *args]
    assert_user_error(run_cli(*full), fragment)


def test_budget_below_every_architecture_of_the_space(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("samples: [3, 5]\nfinal: [none]\nfusion_layers: [0, 0]\n", encoding="utf-8")
    result = run_cli(
        "search", "--benchmark", "tiny-arith", "--budget", "2", "--space", str(space), "--limit", "2",
        "--results-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert_user_error(result, "too small for any architecture in the space (the cheapest costs 3)")


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
