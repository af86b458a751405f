"""A built-in benchmark written as a task file gives the same per-question scores as the built-in
one, for the same architecture, questions and prompt: gsm8k as a ``number`` task, MixEval's
multiple-choice items as a ``choice`` task. The replies come from a scripted backend that answers
each prompt and sample in one of several forms (right, wrong, boxed, unparseable, ...), so the
scoring and the vote are what is compared."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from archon_cli.benchmarks import get_benchmark
from archon_cli.benchmarks.base import Benchmark, Question
from archon_cli.benchmarks.gsm8k import _INSTRUCTION as GSM8K_INSTRUCTION
from archon_cli.benchmarks.mixeval import MULTIPLE_CHOICE_INSTRUCTION, format_options, option_letters
from archon_cli.config import parse_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.evaluation.evaluate import evaluate
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest
from tests.benchmarks.task.helpers import write_jsonl
from tests.conftest import SHARED_DATA
from tests.fakes import FakeBackend

N = 60
ARCHITECTURES = {
    "single": [[{"type": "generator", "model": "openai/fake-model", "max_tokens": 64}]],
    "vote": [
        [{"type": "generator", "model": "openai/fake-model", "samples": 5, "temperature": 0.7, "max_tokens": 64}],
        [{"type": "majority_vote"}],
    ],
}


def variant(request: CompletionRequest, count: int) -> int:
    key = f"{request.messages[-1]['content']}:{request.sample_index}"
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % count


async def scores(bench: Benchmark, questions: list[Question], layers: list[Any], reply: Any) -> dict[str, Any]:
    architecture, _ = parse_architecture({"name": "a", "layers": layers})
    runner = ArchitectureRunner(architecture, LLMGateway(backend=FakeBackend(reply)))
    outcome = await evaluate(runner, bench, questions, concurrency=8)
    return {r["id"]: (r["score"], r["score_details"].get("extracted"), r["error"]) for r in outcome.records}


@pytest.fixture(scope="module")
def gsm8k_task(tmp_path_factory: pytest.TempPathFactory) -> tuple[Benchmark, Benchmark]:
    builtin = get_benchmark("gsm8k", SHARED_DATA)
    questions = builtin.load()[:N]
    folder = tmp_path_factory.mktemp("gsm8k")
    # The data as a user would write it: the question text, the gold number.
    rows = [
        {"id": q.id, "question": q.turns[0].removesuffix(f"\n{GSM8K_INSTRUCTION}"), "gold": q.reference}
        for q in questions
    ]
    write_jsonl(folder / "gsm8k.jsonl", rows)
    spec = {
        "name": "gsm8k-task",
        "data": "gsm8k.jsonl",
        "input": "{question}\n" + GSM8K_INSTRUCTION,
        "target": "gold",
        "id": "id",
        "scorer": "number",
    }
    (folder / "task.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return builtin, get_benchmark(str(folder / "task.yaml"))


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
async def test_gsm8k_as_a_number_task_scores_as_the_builtin(gsm8k_task: tuple[Benchmark, Benchmark], arch: str) -> None:
    builtin, task = gsm8k_task
    ours = {q.id: q for q in builtin.load()[:N]}
    theirs = task.load()
    assert [q.id for q in theirs] == list(ours)
    assert [q.asked(0) for q in theirs] == [ours[q.id].asked(0) for q in theirs]  # the same prompt

    def reply(request: CompletionRequest) -> str:
        prompt = request.messages[-1]["content"]
        gold = next(q.reference for q in ours.values() if q.asked(0) == prompt)
        return [
            f"The answer is {gold}.",
            f"So she pays ${gold}.00 in total",
            f"The answer is {int(gold) + 1}.",
            f"\\boxed{{{gold}}}",
            "I am not sure.",
            f"{gold} apples, then {int(gold) + 2}",
        ][variant(request, 6)]

    expected = await scores(builtin, list(ours.values()), ARCHITECTURES[arch], reply)
    got = await scores(task, theirs, ARCHITECTURES[arch], reply)
    assert got == expected
    values = [v[0] for v in expected.values()]
    assert 0.2 < sum(values) / len(values) < 0.9  # both right and wrong replies were scored


@pytest.fixture(scope="module")
def mixeval_task(tmp_path_factory: pytest.TempPathFactory) -> tuple[Benchmark, list[Question], Benchmark]:
    builtin = get_benchmark("mixeval", SHARED_DATA)
    items = [q for q in builtin.load() if q.category == "multiple-choice"][:N]
    folder = tmp_path_factory.mktemp("mixeval")
    rows = []
    for q in items:
        options = q.meta["options"]
        # The built-in prompt is context and prompt, the lettered options, the instruction.
        head = q.turns[0].split(f"\n{format_options(options)}\n")[0]
        rows.append({"id": q.id, "prompt": head, "options": options, "target": [q.reference]})
    write_jsonl(folder / "mc.jsonl", rows)
    spec = {
        "data": "mc.jsonl",
        "input": "prompt",
        "instruction": "\n" + MULTIPLE_CHOICE_INSTRUCTION,
        "target": "target",
        "options": "options",
        "id": "id",
        "scorer": "choice",
    }
    (folder / "mc.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return builtin, items, get_benchmark(str(folder / "mc.yaml"))


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
async def test_mixeval_multiple_choice_as_a_choice_task_scores_as_the_builtin(
    mixeval_task: tuple[Benchmark, list[Question], Benchmark], arch: str
) -> None:
    builtin, items, task = mixeval_task
    ours = {q.id: q for q in items}
    theirs = task.load()
    assert [q.id for q in theirs] == list(ours)
    assert [q.asked(0) for q in theirs] == [ours[q.id].asked(0) for q in theirs]

    def reply(request: CompletionRequest) -> str:
        prompt = request.messages[-1]["content"]
        q = next(q for q in ours.values() if q.asked(0) == prompt)
        options, gold = q.meta["options"], q.reference
        letters = option_letters(len(options))
        other = (gold + 1) % len(options)
        return [
            letters[gold],
            f"The answer is ({letters[other]}).",
            f"After thinking it over I would say {options[gold]} is the one",
            "I really cannot tell which one it is from this.",  # the random pick, seeded per question
            f"**{letters[other]}. {options[other]}**",
        ][variant(request, 5)]

    expected = await scores(builtin, items, ARCHITECTURES[arch], reply)
    got = await scores(task, theirs, ARCHITECTURES[arch], reply)
    assert got == expected
    values = [v[0] for v in expected.values()]
    assert 0.2 < sum(values) / len(values) < 0.9
