"""Budgets against a witness, the fault server: a total-calls budget of N means the server receives at
most N requests, retries included, the run stops with exit code 3, and what finished is saved; in
every command, the same holds for calls, tokens and dollars."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from archon_cli.testing import FaultPlan, FaultServer
from tests.reliability import (
    FAST_RETRY,
    eval_args,
    only_run_dir,
    read_records,
    run_parallel,
    summary_json,
    write_architecture,
)

BUDGET = 20


def test_total_calls_budget_caps_what_the_server_receives(tmp_path: Path) -> None:
    # Faults make retries happen: they must be paid from the same budget.
    plan = FaultPlan(latency=0.02, error_500=0.2, error_429=0.1, retry_after=0.02, seed=9)
    budget = tmp_path / "budget.yaml"
    budget.write_text(f"total_calls: {BUDGET}\n", encoding="utf-8")
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "prompt": f"What is {i % 9 + 1} + {i % 5 + 1}? #{i}"}) + "\n" for i in range(30)
        ),
        encoding="utf-8",
    )
    answers = tmp_path / "answers.jsonl"
    with FaultServer(plan) as eval_server, FaultServer(plan) as run_server:
        eval_arch = write_architecture(tmp_path / "eval.yaml", eval_server.api_base)
        run_arch = write_architecture(tmp_path / "run.yaml", run_server.api_base, samples=3)
        evaluated, ran = run_parallel(
            eval_args(eval_arch, tmp_path / "results", tmp_path / "cache", 50, "--budget", str(budget)),
            (
                "run",
                str(run_arch),
                "--input",
                str(queries),
                "--output",
                str(answers),
                "--budget",
                str(budget),
                "--no-cache",
                "--json",
                *FAST_RETRY,
            ),
        )
        eval_stats, run_stats = eval_server.stats(), run_server.stats()

    # archon eval: stopped by the budget, exit 3, the finished questions and a summary saved.
    assert evaluated.code == 3, evaluated.stderr
    assert "Traceback" not in evaluated.stderr and "budget reached" in evaluated.stderr
    summary = summary_json(evaluated.stdout)
    assert eval_stats["requests"] == summary["this_run"]["calls"] <= BUDGET
    assert summary["this_run"]["retries"] > 0, "this seed should cause retries inside the budget"
    assert not summary["complete"]
    run_dir = only_run_dir(tmp_path / "results")
    records = read_records(run_dir)
    assert 0 < len(records) == summary["questions"] < 50
    assert json.loads((run_dir / "summary.json").read_text())["questions"] == len(records)
    assert sum(r["calls"] for r in records) <= eval_stats["requests"]

    # archon run --input: three samples per query, same cap; answers written so far are kept.
    assert ran.code == 3, ran.stderr
    assert "Traceback" not in ran.stderr and "budget reached" in ran.stderr
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert run_stats["requests"] == report["calls"] <= BUDGET
    assert report["not_run_budget"] > 0
    written = [json.loads(line) for line in answers.read_text().splitlines()]
    assert written and all(r["calls"] <= 3 + r["retries"] for r in written)
    assert report["answered"] == sum(1 for r in written if r["error"] is None)


# -- every command, every whole-run limit ------------------------------------------------------

MODEL = "openai/gpt-4o-mini"  # priced in LiteLLM's cost map, served by the fault server
# Transient faults (retried) and permanent refusals (403, 422: one send each) are all paid for.
WITNESS_PLAN = FaultPlan(
    latency=0.01, error_500=0.05, error_429=0.05, error_403=0.05, error_422=0.05, retry_after=0.01, seed=3
)
LIMITS = {"calls": ("total_calls", 12), "tokens": ("total_tokens", 500), "dollars": ("dollars", 0.00008)}
COMMANDS = ("run", "eval", "search", "compare")


def _generator(api_base: str, samples: int = 1) -> dict[str, Any]:
    return {
        "type": "generator",
        "model": MODEL,
        "api_base": api_base,
        "samples": samples,
        "temperature": 0.7,
        "max_tokens": 16,
        "timeout": 5.0,
    }


def _command(command: str, folder: Path, api_base: str, budget: Path) -> list[str]:
    """``command`` on the fault server, with more work than the budget pays for, JSON on stdout."""
    folder.mkdir()
    common = ["--budget", str(budget), "--cache-dir", str(folder / "cache"), "--concurrency", "0", "--json"]
    arch = write_architecture(folder / "arch.yaml", api_base, layers=[[_generator(api_base)]])
    if command == "run":
        queries = folder / "queries.jsonl"
        queries.write_text(
            "".join(
                json.dumps({"id": f"q{i}", "prompt": f"What is {i % 9 + 1} + {i // 9}?"}) + "\n" for i in range(80)
            ),
            encoding="utf-8",
        )
        return [
            "run",
            str(arch),
            "--input",
            str(queries),
            "--output",
            str(folder / "answers.jsonl"),
            *FAST_RETRY,
            *common,
        ]
    if command == "eval":
        return eval_args(arch, folder / "results", folder / "cache", 80, "--budget", str(budget), "--concurrency", "0")
    if command == "search":
        pool = folder / "pool.yaml"
        pool.write_text(yaml.safe_dump([{"model": MODEL, "api_base": api_base}]), encoding="utf-8")
        space = folder / "space.yaml"
        space.write_text("samples: [1, 3]\nfusion_layers: [0, 0]\nfinal: [none, majority_vote]\nmax_tokens: 16\n")
        return [
            "search", "--benchmark", "tiny-arith", "--pool", str(pool), "--space", str(space), "--trials", "4", "--limit", "10",
            "--test-limit", "10", "--final-k", "1", "--algorithm", "random", "--results-dir", str(folder / "results"),
            *common,
        ]  # fmt: skip
    other = write_architecture(folder / "vote.yaml", api_base, name="three", layers=[[_generator(api_base, 3)]])
    return [
        "compare", str(arch), str(other), "-b", "tiny-arith", "--split", "all", "--limit", "40",
        "--results-dir", str(folder / "results"), *common,
    ]  # fmt: skip


def _counted(command: str, stdout: str) -> dict[str, Any]:
    """What the command says it sent: calls, tokens and dollars of the whole run."""
    data = summary_json(stdout) if command != "compare" else json.loads(stdout)
    figures = data if command == "run" else data["this_run"]
    return {"calls": figures["calls"], "tokens": figures["tokens"], "dollars": figures["cost"]}


def test_every_limit_holds_for_what_is_sent_in_every_command(tmp_path: Path) -> None:
    """The witness: requests the server saw <= calls counted <= the limit; the same for the tokens it
    billed and what they cost. `search` ignored a budget file's whole-run limits (the server saw
    50-85 requests for total_calls 25), and token and dollar limits overshot up to 16x."""
    from archon_cli.llm.litellm_backend import LiteLLMBackend

    cases = [(c, lim) for c in COMMANDS for lim in LIMITS]
    servers = {case: FaultServer(WITNESS_PLAN).start() for case in cases}
    try:
        commands = []
        for (command, limit), server in servers.items():
            key, value = LIMITS[limit]
            budget = tmp_path / f"{command}-{limit}.yaml"
            budget.write_text(yaml.safe_dump({"calls_per_query": 4, key: value}), encoding="utf-8")
            commands.append(_command(command, tmp_path / f"{command}-{limit}", server.api_base, budget))
        results = run_parallel(*commands)
        served = {case: server.stats() for case, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()

    price = LiteLLMBackend().price
    for ((command, limit), result), seen in zip(zip(cases, results, strict=True), served.values(), strict=True):
        where = f"{command} under {limit}: {result.stderr[-1500:]}"
        assert result.code == 3, where
        assert "Traceback" not in result.stderr and "budget reached" in result.stderr, where
        counted = _counted(command, result.stdout)
        billed = seen["prompt_tokens"] + seen["completion_tokens"]
        cost = price(MODEL, seen["prompt_tokens"], seen["completion_tokens"])
        _, value = LIMITS[limit]
        assert seen["requests"] <= counted["calls"], where
        assert billed <= counted["tokens"] and cost <= counted["dollars"] + 1e-12, where
        assert counted[limit] <= value, (where, counted)
        assert seen["requests"] > 3, where  # the budget paid for real work before it stopped
