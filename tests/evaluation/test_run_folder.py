"""The run folder: evaluate_into_folder writes its four files and resumes; load_result reads eval
folders and search folders back, on the questions they have."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archon_cli.benchmarks.tiny_arith import TinyArith
from archon_cli.config import parse_architecture
from archon_cli.errors import UserError
from archon_cli.evaluation.run_folder import (
    EvalOptions,
    RunPlan,
    default_run_id,
    evaluate_into_folder,
    load_result,
    plan_questions,
)
from archon_cli.llm.gateway import LLMGateway
from archon_cli.testing.simulated import SimulatedBackend

ARCH, _ = parse_architecture({"name": "one-call", "layers": [[{"type": "generator", "model": "sim/a"}]]})


def plan(run_dir: Path, n: int = 6) -> RunPlan:
    benchmark = TinyArith()
    return RunPlan(
        run_dir=run_dir,
        architecture=ARCH,
        benchmark=benchmark,
        questions=plan_questions(benchmark, "dev", 0, n),
        split="dev",
        seed=0,
        limit=n,
    )


async def test_evaluate_into_folder_writes_the_folder_and_resumes(tmp_path: Path) -> None:
    backend = SimulatedBackend({"sim/a": 1.0})
    first = await evaluate_into_folder(plan(tmp_path / "run"), LLMGateway(backend=backend))
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert files == [".lock", "architecture.yaml", "questions.jsonl", "run.json", "summary.json", "traces.jsonl"]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary == first.summary and summary["run_id"] == "run" and summary["complete"]
    assert summary["score"] == 1.0 and summary["resumed"] == 0 and summary["this_run"]["calls"] == 6
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["kind"] == "eval" and info["limit"] == 6 and len(info["question_ids"]) == 6

    again_plan = plan(tmp_path / "run")
    assert again_plan.finished() == 6
    again = await evaluate_into_folder(again_plan, LLMGateway(backend=backend))
    assert again.summary["resumed"] == 6 and again.summary["this_run"]["calls"] == 0 and backend.sent == 6
    assert again.summary["score"] == summary["score"]


async def test_this_run_counts_only_what_this_evaluation_sent(tmp_path: Path) -> None:
    gateway = LLMGateway(backend=SimulatedBackend({"sim/a": 1.0}))  # shared, as a search shares it
    first = await evaluate_into_folder(plan(tmp_path / "a", 3), gateway)
    second = await evaluate_into_folder(plan(tmp_path / "b", 6), gateway)
    assert (first.summary["this_run"]["calls"], second.summary["this_run"]["calls"]) == (3, 6)
    assert gateway.stats.calls == 9


async def test_load_result_reads_an_eval_folder_and_a_search_folder(tmp_path: Path) -> None:
    gateway = LLMGateway(backend=SimulatedBackend({"sim/a": 1.0}))
    await evaluate_into_folder(plan(tmp_path / "eval"), gateway)
    (run,) = load_result(tmp_path / "eval")
    assert run.kind == "eval" and run.complete and len(run.records) == 6 and run.summary["score"] == 1.0

    search = tmp_path / "search"
    search.mkdir()
    (search / "search.json").write_text(json.dumps({"kind": "search"}), encoding="utf-8")
    with pytest.raises(UserError, match="no evaluated trials yet"):
        load_result(search)
    await evaluate_into_folder(plan(search / "trials" / "t1", 2), gateway)
    assert [r.kind for r in load_result(search)] == ["trial"]
    await evaluate_into_folder(plan(search / "final" / "t1", 4), gateway)
    (final,) = load_result(search)
    assert final.kind == "final" and final.search == "search" and len(final.records) == 4


def test_default_run_id_depends_on_the_command() -> None:
    options = EvalOptions("tiny-arith", limit=5)
    run_id = default_run_id(ARCH, options, None)
    assert run_id.startswith("eval-one-call-tiny-arith-dev-s0-n5-")
    assert run_id == default_run_id(ARCH, EvalOptions("tiny-arith", limit=5), None)
    assert run_id != default_run_id(ARCH, options, "local/smollm2-135m")
