"""`archon run` from the command line: answers, JSON, input files (one-line errors with exit code 2:
tests/reliability/test_bad_input.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

ARCH = "architectures/single-call.yaml"


def test_help_is_fast_and_lists_commands() -> None:
    import time

    started = time.perf_counter()
    result = run_cli("--help")
    assert result.code == 0
    assert "run" in result.stdout
    assert time.perf_counter() - started < 5  # generous: the real figure is reported by `make bench`


def test_version() -> None:
    result = run_cli("--version")
    assert result.code == 0 and result.stdout.startswith("archon ")


@pytest.mark.local_model
def test_run_prompt_json_on_embedded_model(tmp_path: Path, local_model_available: None) -> None:
    args = (
        "run",
        "architectures/best-of-n-ranker.yaml",
        "--prompt",
        "Name a fruit.",
        "--json",
        "--cache-dir",
        str(tmp_path),
    )
    first = run_cli(*args)
    assert first.code == 0, first.stderr
    record = json.loads(first.stdout)
    assert record["answer"] and record["error"] is None
    assert record["calls"] == record["static_calls"] == 5 and record["cache_hits"] == 0
    assert [layer["type"] for layer in record["layers"]] == ["generator", "ranker"]
    assert record["prompt_tokens"] > 0 and record["cost"] == 0
    # The same command again is answered from the cache: zero calls, same answer.
    second = json.loads(run_cli(*args).stdout)
    assert second["calls"] == 0 and second["cache_hits"] == 5 and second["answer"] == record["answer"]


@pytest.mark.local_model
def test_run_input_file_writes_jsonl_and_resumes(tmp_path: Path, local_model_available: None) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "\n".join(
            json.dumps({"id": f"q{i}", "prompt": f"What is {i} plus 1? Answer with the number."}) for i in range(3)
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "answers.jsonl"
    result = run_cli("run", ARCH, "--input", str(queries), "--output", str(out), "--no-cache")
    assert result.code == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == ["q0", "q1", "q2"]
    assert all(r["answer"] and r["calls"] == 1 for r in records)
    again = run_cli("run", ARCH, "--input", str(queries), "--output", str(out), "--no-cache", "--json")
    summary = json.loads(again.stdout)
    assert summary["skipped_already_done"] == 3 and summary["calls"] == 0
    assert len(out.read_text().splitlines()) == 3


@pytest.mark.local_model
def test_trace_shows_each_layer(local_model_available: None, tmp_path: Path) -> None:
    result = run_cli(
        "run", "architectures/gen-ranker-fuser.yaml", "--prompt", "Say hello.", "--trace", "--cache-dir", str(tmp_path)
    )
    assert result.code == 0, result.stderr
    for title in ("layer 0: generator", "layer 1: ranker", "layer 2: fuser"):
        assert title in result.stderr


def _archon_component(kind: str, max_tokens: int, **keys: object) -> dict[str, object]:
    """A component written as the original Archon's files write them, on the embedded model."""
    return {"type": kind, "model": "smollm2-135m", "model_type": "Local", "temperature": 0.7,
            "max_tokens": max_tokens, **keys}  # fmt: skip


@pytest.mark.local_model
def test_original_archon_object_layers_run_on_the_embedded_model(tmp_path: Path, local_model_available: None) -> None:
    path = tmp_path / "moa.json"
    layers = [
        {"branches": 1, "models": [_archon_component("generator", 24, samples=2, top_k=1)] * 2},
        {"branches": 1, "models": [_archon_component("fuser", 24, samples=1, top_k=1)]},
    ]
    path.write_text(json.dumps({"name": "moa-objects", "layers": layers}), encoding="utf-8")
    result = run_cli("run", str(path), "--prompt", "Name a fruit.", "--json", "--no-cache")
    assert result.code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["answer"] and record["calls"] == record["static_calls"] == 5
    assert [(layer["type"], layer["candidates"]) for layer in record["layers"]] == [("generator", 4), ("fuser", 1)]
    assert "layers[0].branches, layers[1].branches: has no effect" in result.stderr


@pytest.mark.local_model
def test_original_archon_unit_tests_first_run_on_the_embedded_model(
    tmp_path: Path, local_model_available: None
) -> None:
    path = tmp_path / "tests-first.json"
    layers = [
        [_archon_component("unit_test_generator", 48, samples=1, unit_test_cap=2)],
        [_archon_component("generator", 24, samples=2)],
        [_archon_component("unit_test_evaluator", 16, samples=1, top_k=1, remove_unit_tests_from_prompt=True)],
    ]
    path.write_text(json.dumps({"name": "tests-first", "layers": layers}), encoding="utf-8")
    result = run_cli("run", str(path), "--prompt", "What is 2 + 3?", "--json", "--no-cache")
    assert result.code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["answer"] and record["calls"] == record["static_calls"] == 1 + 2 + 2
    assert [(layer["type"], layer["candidates"]) for layer in record["layers"]] == [
        ("unit_test_generator", 0),
        ("generator", 2),
        ("unit_test_evaluator", 1),
    ]


def test_run_accepts_a_prompt_style(tmp_path: Path) -> None:
    from archon_cli.testing import FaultPlan, FaultServer

    arch = tmp_path / "styled.yaml"
    with FaultServer(FaultPlan(wrong_rate=0.0)) as server:
        arch.write_text(
            "name: styled\nlayers:\n  - - {type: generator, model: openai/fake, api_base: '"
            + server.api_base
            + "', temperature: 0, prompt_format: few_shot_chat, answer_format: ' Digits only.',"
            " system_prompt: 'You are a calculator.'}\n",
            encoding="utf-8",
        )
        result = run_cli("run", str(arch), "--prompt", "What is 2 + 3?", "--json", "--no-cache")
    assert result.code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["answer"] == "5" and record["calls"] == 1
