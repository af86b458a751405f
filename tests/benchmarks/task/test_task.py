"""A task as a benchmark: the data formats, the split, few-shot examples, run folders that record the
task's files (a changed file is never resumed into), a python scorer's failures as the question's
error, and archon check on a task."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from archon_cli.benchmarks import get_benchmark
from archon_cli.benchmarks.task.benchmark import TaskBenchmark
from archon_cli.commands.check import check_file
from archon_cli.config import parse_architecture
from archon_cli.errors import UserError
from archon_cli.evaluation.run_folder import EvalOptions, RunPlan, default_run_id, evaluate_into_folder, plan_questions
from archon_cli.llm.gateway import LLMGateway
from tests.benchmarks.task.helpers import write_jsonl, write_task
from tests.conftest import ROOT
from tests.fakes import FakeBackend

ROWS = [{"question": f"What is {i} + 1?", "answer": str(i + 1), "id": f"q{i}", "kind": "odd" if i % 2 else "even"} for i in range(20)]
ARCH, _ = parse_architecture({"name": "one", "layers": [[{"type": "generator", "model": "openai/fake-model"}]]})
EXAMPLE = ROOT / "examples" / "capitals" / "task.yaml"


def adder(request: object) -> str:
    """Right on even numbers, one off on odd ones."""
    text = request.messages[-1]["content"]  # type: ignore[attr-defined]
    n = int(text.split()[2])
    return f"The answer is {n + 1 + n % 2}."


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_every_format_reads_the_same_questions(tmp_path: Path, fmt: str) -> None:
    frame = pd.DataFrame(ROWS)
    path = tmp_path / f"data.{fmt}"
    if fmt == "jsonl":
        write_jsonl(path, ROWS)
    elif fmt == "json":
        path.write_text(json.dumps(ROWS))
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    bench = TaskBenchmark(write_task(tmp_path, data=path.name, input="{question}", id="id", category="kind", scorer="number"))
    questions = bench.load()
    assert [q.id for q in questions] == [r["id"] for r in ROWS]
    assert questions[3].turns == ("What is 3 + 1?",) and questions[3].reference == ["4"] and questions[3].category == "odd"


def test_a_bare_data_file_is_an_exact_task(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mine.jsonl", [{"input": f"Say {w}", "target": w} for w in ("yes", "no", "maybe", "so")])
    bench = get_benchmark(str(path))
    assert bench.name == "mine" and bench.scorer.name == "exact"  # type: ignore[attr-defined]
    assert [q.turns[0] for q in bench.load()] == ["Say yes", "Say no", "Say maybe", "Say so"]


def test_hub_data_fails_in_one_line_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    task = write_task(tmp_path, data="hf:someone/nothing-here:main@test")
    with pytest.raises(UserError, match=r"could not load someone/nothing-here from the Hugging Face hub") as info:
        get_benchmark(str(task))
    assert "\n" not in str(info.value)


def test_split_by_share_with_the_tasks_seed_and_by_column(tmp_path: Path) -> None:
    bench = TaskBenchmark(write_task(tmp_path, ROWS, split={"dev": 0.25, "seed": 3}))
    questions = bench.load()
    dev, test = bench.split(questions, "dev", 0), bench.split(questions, "test", 0)
    assert len(dev) == 5 and len(test) == 15 and not {q.id for q in dev} & {q.id for q in test}
    assert bench.split(questions, "dev", 99) == dev  # the task's seed, not --seed
    rows = [dict(r, part="dev" if i < 4 else "test") for i, r in enumerate(ROWS)]
    by_column = TaskBenchmark(write_task(tmp_path, rows, split={"column": "part"}, id="id"))
    assert [q.id for q in by_column.split(by_column.load(), "dev", 5)] == ["q0", "q1", "q2", "q3"]


def test_examples_come_from_the_dev_part_never_the_question(tmp_path: Path) -> None:
    bench = TaskBenchmark(write_task(tmp_path, ROWS, id="id", examples=3, instruction=" Answer with a number."))
    questions = bench.load()
    dev = {q.id for q in bench.split(questions, "dev", 0)}
    for question in questions:
        shots = bench.few_shot(question)
        assert len(shots) == 3 and question.turns[0] not in [s[0] for s in shots]
        ids = {q.id for q in questions if q.turns[0] in [s[0] for s in shots]}
        assert ids <= dev
        assert all(answer == str(int(text.split()[2]) + 1) for text, answer in shots)
    query = questions[0].query(examples=bench.few_shot(questions[0]))
    assert query.instruction == " Answer with a number." and query.messages[-1]["content"].endswith("Answer with a number.")


def plan_for(bench: TaskBenchmark, run_dir: Path) -> RunPlan:
    return RunPlan(run_dir=run_dir, architecture=ARCH, benchmark=bench, questions=plan_questions(bench, "all", 0, None), split="all", seed=0)


async def test_a_changed_data_file_is_a_new_run_never_resumed(tmp_path: Path) -> None:
    task = write_task(tmp_path, ROWS, id="id", category="kind", scorer="number")
    bench = TaskBenchmark(task)
    options = EvalOptions(str(task), split="all")
    run_id = default_run_id(ARCH, options, None, bench)
    assert run_id.startswith("eval-one-task-all-s0-")
    outcome = await evaluate_into_folder(plan_for(bench, tmp_path / run_id), LLMGateway(backend=FakeBackend(adder)))
    assert outcome.summary["score"] == 0.5 and outcome.summary["per_category"]["even"]["score"] == 1.0
    info = json.loads((tmp_path / run_id / "run.json").read_text())
    assert info["task"]["data_sha256"] == bench.task.data_sha256 and info["task"]["task_sha256"]

    write_jsonl(tmp_path / "data.jsonl", [*ROWS[:-1], dict(ROWS[-1], answer="99")])
    changed = TaskBenchmark(task)
    assert default_run_id(ARCH, options, None, changed) != run_id  # a new run by default
    with pytest.raises(UserError, match=r"was made with other files of task .*it is not resumed"):
        await evaluate_into_folder(plan_for(changed, tmp_path / run_id), LLMGateway(backend=FakeBackend(adder)))
    # The unchanged task resumes.
    write_jsonl(tmp_path / "data.jsonl", ROWS)
    again = await evaluate_into_folder(plan_for(TaskBenchmark(task), tmp_path / run_id), LLMGateway(backend=FakeBackend(adder)))
    assert again.summary["resumed"] == 20 and again.summary["this_run"]["calls"] == 0


async def test_a_python_scorer_that_fails_is_that_questions_error(tmp_path: Path) -> None:
    (tmp_path / "picky.py").write_text(
        "def score(reply, row):\n"
        "    if row['id'] == 'q3':\n        raise ValueError('cannot score q3')\n"
        "    if row['id'] == 'q5':\n        return 'maybe'\n"
        "    return str(row['answer']) in reply\n"
    )
    bench = TaskBenchmark(write_task(tmp_path, ROWS, id="id", scorer="python", function="picky.py:score"))
    outcome = await evaluate_into_folder(plan_for(bench, tmp_path / "run"), LLMGateway(backend=FakeBackend(adder)))
    records = {r["id"]: r for r in map(json.loads, (tmp_path / "run" / "questions.jsonl").read_text().splitlines())}
    assert len(records) == 20  # the run went on
    assert records["q3"]["error"] == "scoring failed: python scorer picky.py:score raised ValueError: cannot score q3"
    assert "returned 'maybe', not a bool or a number in [0, 1]" in records["q5"]["error"]
    assert records["q3"]["scoring_failed"] and records["q4"]["score"] == 1.0 and records["q7"]["score"] == 0.0
    assert outcome.summary["errors"] == 2


def test_check_reports_a_task(tmp_path: Path) -> None:
    record = check_file(EXAMPLE)
    assert record["ok"] and record["rows"] == 150 and record["columns"] == ["country", "capital", "region"]
    assert record["splits"]["dev"] + record["splits"]["test"] == 150
    assert record["first_input"].endswith("? Answer with the city only.") and record["scorer"] == "includes"


def test_check_names_each_bad_row(tmp_path: Path) -> None:
    rows = [*ROWS[:2], dict(ROWS[2], answer=""), *ROWS[3:6], dict(ROWS[6], id="q0"), *ROWS[7:]]
    record = check_file(write_task(tmp_path, rows, id="id", scorer="number"))
    assert not record["ok"]
    assert record["problems"] == [
        f"{tmp_path / 'data.jsonl'} row 3 column 'answer': no target",
        f"{tmp_path / 'data.jsonl'} row 7 column 'id': duplicate id 'q0' (also row 1)",
    ]


def test_check_tells_a_task_from_an_architecture() -> None:
    assert check_file(ROOT / "architectures" / "single-call.yaml").get("kind") is None
    assert check_file(EXAMPLE)["kind"] == "task"


def test_check_cli_prints_the_report(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", str(EXAMPLE))
    assert result.code == 0, result.stderr
    assert "150 rows read" in result.stdout and "columns: country, capital, region" in result.stdout
    assert "scorer: includes" in result.stdout and 'first input: "What is the capital of' in result.stdout
    assert os.path.basename(str(EXAMPLE)) in result.stdout


def test_system_prompt_from_text_a_template_or_a_column(tmp_path: Path) -> None:
    rows = [dict(r, persona=f"You are tutor {i}.") for i, r in enumerate(ROWS)]
    plain = TaskBenchmark(write_task(tmp_path, rows, system="Be brief."))
    assert {q.system for q in plain.load()} == {"Be brief."}
    templated = TaskBenchmark(write_task(tmp_path, rows, system="Topic: {kind}."))
    assert templated.load()[1].system == "Topic: odd."
    by_column = TaskBenchmark(write_task(tmp_path, rows, system="persona"))
    assert by_column.load()[2].system == "You are tutor 2."
    assert by_column.load()[2].query().messages[0] == {"role": "system", "content": "You are tutor 2."}
