"""Traces: what every layer did for each question, in traces.jsonl beside questions.jsonl.

A 4-layer architecture (generators -> critic -> ranker -> fuser) is evaluated against the loopback
fault server, whose ranker and critic replies follow the candidates' correctness, so every
component's inputs and outputs can be checked against what it must have done."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archon_cli.engine.trace import without_run_figures
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import run_cli

LIMIT = 8


def four_layer(folder: Path, api_base: str, name: str = "four") -> Path:
    path = folder / f"{name}.yaml"
    llm = f"model: openai/fake-model, api_base: '{api_base}'"
    path.write_text(
        f"name: {name}\nlayers:\n"
        f"  - - {{type: generator, {llm}, samples: 3, max_tokens: 16}}\n"
        f"  - - {{type: critic, {llm}, max_tokens: 64}}\n"
        f"  - - {{type: ranker, {llm}, top_k: 2, max_tokens: 16}}\n"
        f"  - - {{type: fuser, {llm}, max_tokens: 16}}\n",
        encoding="utf-8",
    )
    return path


def evaluate(arch: Path, folder: Path, run_id: str, *extra: str, limit: int = LIMIT) -> Path:
    result = run_cli(
        *("eval", str(arch), "-b", "tiny-arith", "--limit", str(limit), "--run-id", run_id),
        *("--results-dir", str(folder / "results"), "--cache-dir", str(folder / "cache"), "--no-report", *extra),
    )
    assert result.code == 0, result.stderr
    return folder / "results" / run_id


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, FaultServer, Path]]:
    folder = tmp_path_factory.mktemp("trace")
    with FaultServer(FaultPlan(wrong_rate=0.3, seed=3)) as server:
        arch = four_layer(folder, server.api_base)
        run = evaluate(arch, folder, "first")
        yield folder, server, run


def test_the_trace_holds_each_components_inputs_and_outputs(loopback: tuple[Path, FaultServer, Path]) -> None:
    _, _, run = loopback
    records = {r["id"]: r for r in read_jsonl(run / "questions.jsonl")}
    traces = {t["id"]: t for t in read_jsonl(run / "traces.jsonl")}
    assert set(traces) == set(records) and len(traces) == LIMIT
    for qid, trace in traces.items():
        texts, cands = trace["texts"], trace["candidates"]
        assert len(set(texts)) == len(texts), "each distinct text is stored once"
        (turn,) = trace["turns"]
        assert texts[turn["messages"][-1][1]].startswith(("What is", "Which is"))
        gen, critic, ranker, fuser = (layer["components"][0] for layer in turn["layers"])
        assert [c["type"] for c in (gen, critic, ranker, fuser)] == ["generator", "critic", "ranker", "fuser"]
        assert gen["model"] == "openai/fake-model" and gen["prompt_style"] == "chat"
        # Generators: three samples out, nothing in.
        assert gen["inputs"] == [] and len(gen["outputs"]) == 3 and gen["replies"] == 3
        # The critic receives the generators' candidates (the same ones, by reference) and passes
        # each on with its critique, which the server wrote from the candidate's correctness.
        assert critic["inputs"] == gen["outputs"]
        assert [cands[i][0] for i in critic["outputs"]] == [cands[i][0] for i in critic["inputs"]]
        right = records[qid]["score_details"]["reference"]
        for i in critic["outputs"]:
            text, critique = texts[cands[i][0]], texts[cands[i][1]]
            assert ("Strengths: correct" in critique) == (text == right), (text, right, critique)
        reply = texts[critic["decision"]["reply"]["t"]]
        assert critic["decision"]["parsed"] == [True, True, True] and reply.startswith("[1]")
        # The ranker: its parsed order puts the right candidates first; its top 2 go on.
        decision = ranker["decision"]
        assert ranker["inputs"] == critic["outputs"] and decision["parsed"] is True
        order = decision["order"]
        assert sorted(order) == [0, 1, 2]
        assert ranker["outputs"] == [ranker["inputs"][k] for k in order[:2]]
        correct = [texts[cands[ranker["inputs"][k]][0]] == right for k in order]
        assert correct == sorted(correct, reverse=True), "right answers ranked first"
        # The fuser receives the ranker's two and writes the answer.
        assert fuser["inputs"] == ranker["outputs"] and len(fuser["outputs"]) == 1
        assert texts[cands[fuser["outputs"][0]][0]] == texts[turn["answer"]] == records[qid]["answer"]
        # Calls and tokens per component add up to the question's.
        assert sum(c["replies"] for c in (gen, critic, ranker, fuser)) == 6
        tokens = sum(c["prompt_tokens"] + c["completion_tokens"] for c in (gen, critic, ranker, fuser))
        assert tokens == records[qid]["prompt_tokens"] + records[qid]["completion_tokens"]
        assert all(c["run"]["calls"] + c["run"]["cache_hits"] == c["replies"] for c in (gen, critic, ranker, fuser))


def test_a_rerun_from_the_cache_gives_the_same_trace(loopback: tuple[Path, FaultServer, Path]) -> None:
    folder, server, run = loopback
    sent = server.stats()["requests"]
    again = evaluate(folder / "four.yaml", folder, "again")
    assert server.stats()["requests"] == sent, "all from the cache"
    first = {t["id"]: t for t in read_jsonl(run / "traces.jsonl")}
    second = {t["id"]: t for t in read_jsonl(again / "traces.jsonl")}
    assert {k: without_run_figures(v) for k, v in first.items()} == {
        k: without_run_figures(v) for k, v in second.items()
    }
    # Only the figures of the execution differ: this time every reply came from the cache.
    for trace in second.values():
        for layer in trace["turns"][0]["layers"]:
            for c in layer["components"]:
                assert c["run"]["calls"] == 0 and c["run"]["cache_hits"] == c["replies"]


def test_a_resumed_run_loses_no_trace_and_sets_damaged_lines_aside(loopback: tuple[Path, FaultServer, Path]) -> None:
    folder, _, _ = loopback
    run = evaluate(folder / "four.yaml", folder, "resumed", limit=4)
    # A kill mid-write: a torn trace line, and a question whose trace was written but not its record.
    traces = run / "traces.jsonl"
    lines = traces.read_text(encoding="utf-8").splitlines()
    questions = (run / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    (run / "questions.jsonl").write_text("\n".join(questions[:-1]) + "\n", encoding="utf-8")
    traces.write_text("\n".join(lines) + '\n{"id": "torn', encoding="utf-8")
    resumed = evaluate(folder / "four.yaml", folder, "resumed", limit=LIMIT)
    kept = read_jsonl(resumed / "traces.jsonl")
    assert {t["id"] for t in kept} == {r["id"] for r in read_jsonl(resumed / "questions.jsonl")}
    assert len({t["id"] for t in kept}) == LIMIT
    assert (resumed / "traces.jsonl.damaged").read_text(encoding="utf-8").startswith('{"id": "torn')


def test_no_trace_writes_none_and_run_json_includes_the_trace(loopback: tuple[Path, FaultServer, Path]) -> None:
    folder, _, _ = loopback
    run = evaluate(folder / "four.yaml", folder, "untraced", "--no-trace", limit=2)
    assert (run / "questions.jsonl").is_file() and not (run / "traces.jsonl").exists()
    result = run_cli("run", str(folder / "four.yaml"), "--prompt", "What is 2 + 3?", "--json", "--no-cache")
    assert result.code == 0, result.stderr
    record = json.loads(result.stdout)
    trace = record["trace"]
    layers = trace["turns"][0]["layers"]
    assert [layer["components"][0]["type"] for layer in layers] == ["generator", "critic", "ranker", "fuser"]
    assert trace["texts"][trace["turns"][0]["answer"]] == record["answer"]
