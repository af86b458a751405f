"""`archon eval` end to end, as a subprocess: run folder contents, resume after kill -9, and
provider failures recorded per question (one-line user errors: tests/reliability/test_bad_input.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED_DATA, CliResult, run_cli, short_generator_file
from tests.reliability import read_jsonl

ARCH = "architectures/single-call.yaml"
# Seconds: about 10 on an idle 2-core machine; generous because other jobs may share the cores.
MODEL_TIMEOUT = 900
RECORD_KEYS = {
    "id",
    "answer",
    "score",
    "calls",
    "cache_hits",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "latency",
    "error",
}


def tiny_arith_args(results: Path, *extra: str) -> list[str]:
    return ["eval", ARCH, "-b", "tiny-arith", "--limit", "20", "--results-dir", str(results), *extra]


def run_dir_of(results: Path) -> Path:
    dirs = [p for p in results.iterdir() if p.is_dir() and p.name.startswith("eval-")]
    assert len(dirs) == 1, dirs
    return dirs[0]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, local_model_available: None) -> tuple[CliResult, Path]:
    """One uninterrupted 20-question tiny-arith run; other tests compare against it."""
    tmp = tmp_path_factory.mktemp("baseline")
    result = run_cli(*tiny_arith_args(tmp, "--cache-dir", str(tmp / "cache"), "--json"), timeout=MODEL_TIMEOUT)
    assert result.code == 0, result.stderr
    return result, run_dir_of(tmp)


@pytest.mark.local_model
def test_eval_writes_records_and_summary(baseline: tuple[CliResult, Path]) -> None:
    result, run_dir = baseline
    assert {p.name for p in run_dir.iterdir()} >= {"run.json", "architecture.yaml", "questions.jsonl", "summary.json"}
    records = read_jsonl(run_dir / "questions.jsonl")
    assert len(records) == 20
    assert all(set(r) >= RECORD_KEYS for r in records)
    run_info = json.loads((run_dir / "run.json").read_text())
    assert sorted(r["id"] for r in records) == sorted(run_info["question_ids"])
    assert all(r["error"] is None and r["score"] in (0.0, 1.0) and r["answer"] for r in records)

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["questions"] == 20 and summary["errors"] == 0 and summary["complete"] is True
    assert summary["calls_per_query"] == 1
    assert summary["score"] == pytest.approx(sum(r["score"] for r in records) / 20)
    low, high = summary["ci95"]
    assert low <= summary["score"] <= high
    assert summary["prompt_tokens"] == sum(r["prompt_tokens"] for r in records) > 0
    # --json prints the summary that was written, plus where the run folder is.
    printed = json.loads(result.stdout)
    assert printed.pop("run_dir") == str(run_dir)
    assert printed == summary


@pytest.mark.local_model
def test_eval_gsm8k_from_the_data_dir(tmp_path: Path, local_model_available: None) -> None:
    # A short reply cap keeps this fast: the point is the data path and the scorer, not the score.
    arch = short_generator_file(tmp_path, max_tokens=48)
    result = run_cli(
        "eval", str(arch), "-b", "gsm8k", "--limit", "5", "--data-dir", str(SHARED_DATA),
        "--results-dir", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "cache"), "--json",
        timeout=MODEL_TIMEOUT,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["benchmark"] == "gsm8k" and summary["questions"] == 5 and summary["errors"] == 0
    gold = {
        f"gsm8k-{i:04d}": json.loads(line)["answer"].split("#### ")[-1].replace(",", "")
        for i, line in enumerate((SHARED_DATA / "gsm8k" / "test.jsonl").read_text().splitlines())
    }
    records = read_jsonl(Path(summary["run_dir"]) / "questions.jsonl")
    assert len(records) == 5
    for record in records:
        assert record["score_details"]["reference"] == gold[record["id"]]
        assert record["score"] in (0.0, 1.0) and record["calls"] + record["cache_hits"] == 1


@pytest.mark.local_model
def test_kill_and_resume_matches_an_uninterrupted_run(tmp_path: Path, baseline: tuple[CliResult, Path]) -> None:
    results = tmp_path / "r"
    args = tiny_arith_args(results, "--no-cache")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "archon_cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + MODEL_TIMEOUT
        log: Path | None = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = list(results.glob("*/questions.jsonl"))
            if found and len(read_jsonl(found[0])) >= 3:
                log = found[0]
                break
            time.sleep(0.02)
        assert log is not None, "the run finished or stalled before 3 questions were recorded"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    before = read_jsonl(log)
    assert 3 <= len(before) < 20, len(before)

    again = run_cli(*args, "--json", timeout=MODEL_TIMEOUT)
    assert again.code == 0, again.stderr
    after = read_jsonl(log)
    ids = [r["id"] for r in after]
    assert len(ids) == len(set(ids)) == 20, "a question was recorded twice"
    # Records finished before the kill were kept as they were, not run again.
    for record in before:
        assert record in after
    summary = json.loads(again.stdout)
    assert summary["questions"] == 20 and summary["complete"] is True
    assert summary["resumed"] == len(before)
    # Only the unfinished questions were asked (identical prompts in flight are sent once: a cache hit).
    assert summary["this_run"]["calls"] + summary["this_run"]["cache_hits"] == 20 - len(before)
    # Greedy decoding: the resumed run scores every question as the uninterrupted one did.
    _, baseline_dir = baseline
    expected = {r["id"]: r["score"] for r in read_jsonl(baseline_dir / "questions.jsonl")}
    assert {r["id"]: r["score"] for r in after} == expected


def test_provider_failures_are_recorded_per_question(tmp_path: Path) -> None:
    """A real connection error from LiteLLM (nothing listens on port 9): every question is still
    attempted and recorded with its error, and errors never count as correct."""
    arch = tmp_path / "unreachable.yaml"
    arch.write_text(
        "name: unreachable\nlayers:\n  - - type: generator\n      model: openai/x\n"
        "      api_base: http://127.0.0.1:9\n      temperature: 0.0\n      max_tokens: 8\n",
        encoding="utf-8",
    )
    result = run_cli(
        "eval", str(arch), "-b", "tiny-arith", "--limit", "3", "--results-dir", str(tmp_path / "r"), "--no-cache",
        "--max-attempts", "3", "--retry-wait", "0.01", env={"OPENAI_API_KEY": "sk-test"},
    )  # fmt: skip
    assert result.code == 1, result.stderr  # every question failed: the run did not succeed
    assert "Traceback" not in result.stderr and "every question failed" in result.stderr
    run_dir = run_dir_of(tmp_path / "r")
    records = read_jsonl(run_dir / "questions.jsonl")
    assert len(records) == 3
    for record in records:
        assert record["error"] and ("Connection error" in record["error"] or "Cannot connect" in record["error"])
        assert record["score"] is None and record["answer"] == ""
        assert record["calls"] == 3 and record["retries"] == 2  # retried up to --max-attempts, then gave up
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["questions"] == 3 and summary["errors"] == 3 and summary["answered"] == 0
    assert summary["score"] == 0.0 and summary["score_answered"] is None
    assert summary["error_reasons"] and any(m in summary["error_reasons"][0] for m in ("Connection error", "Cannot connect"))


def test_square_brackets_in_an_error_line_are_printed_as_they_are(tmp_path: Path) -> None:
    """Error lines are text, not Rich markup: "[red]" or "[/x]" in a name a user typed stays."""
    from tests.conftest import assert_user_error

    result = run_cli("eval", str(tmp_path / "arch[bold]x[/bold].yaml"), "-b", "tiny-arith")
    assert_user_error(result, "arch[bold]x[/bold].yaml: architecture file not found")
    result = run_cli("eval", "architectures/single-call.yaml", "-b", "tiny[red]")
    assert_user_error(result, "unknown benchmark 'tiny[red]'")
