"""HumanEval: known right and wrong solutions in the sandbox, containment during scoring, and one
`archon eval` on the embedded model."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from archon_cli.benchmarks.base import Question
from archon_cli.benchmarks.code.humaneval import HumanEval, build_program
from archon_cli.config import parse_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import ArchonError
from archon_cli.evaluation.evaluate import evaluate
from archon_cli.execution.sandbox import ExecResult, Sandbox
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest
from tests.benchmarks.code import FAST, fenced, reply
from tests.conftest import SHARED_DATA, run_cli, short_generator_file
from tests.fakes import FakeBackend

HAS_CLOSE_RIGHT = """from typing import List

def has_close_elements(numbers: List[float], threshold: float) -> bool:
    ordered = sorted(numbers)
    return any(b - a < threshold for a, b in zip(ordered, ordered[1:]))
"""
HAS_CLOSE_WRONG = """def has_close_elements(numbers, threshold):
    return any(abs(a - b) <= threshold for a in numbers for b in numbers)
"""
DECODE_CYCLIC_RIGHT = """def decode_cyclic(s: str):
    groups = [s[3 * i:3 * i + 3] for i in range((len(s) + 2) // 3)]
    return "".join(g[-1] + g[:-1] if len(g) == 3 else g for g in groups)
"""


@pytest.fixture(scope="module")
def humaneval() -> HumanEval:
    return HumanEval(SHARED_DATA, sandbox=Sandbox(FAST))


@pytest.fixture(scope="module")
def humaneval_questions(humaneval: HumanEval) -> dict[str, Question]:
    return {q.id: q for q in humaneval.load()}


def test_humaneval_loads_164_prompts(humaneval_questions: dict[str, Question]) -> None:
    assert len(humaneval_questions) == 164
    first = humaneval_questions["HumanEval/0"]
    assert first.meta["entry_point"] == "has_close_elements"
    assert "def has_close_elements(numbers: List[float], threshold: float) -> bool:" in first.turns[0]
    assert "```python" in first.turns[0]


async def test_humaneval_right_and_wrong_solutions(
    humaneval: HumanEval, humaneval_questions: dict[str, Question]
) -> None:
    q0, q2, q38 = (humaneval_questions[f"HumanEval/{k}"] for k in (0, 2, 38))
    # The body alone (a completion of the prompt) and a reply that indents nothing.
    cases = [
        (q0, fenced(HAS_CLOSE_RIGHT), 1.0),
        (q0, fenced(HAS_CLOSE_WRONG), 0.0),  # zero distance of an element to itself
        (q2, "    return number - int(number)\n", 1.0),
        (q2, "return round(number)", 0.0),
        (q38, fenced(DECODE_CYCLIC_RIGHT), 1.0),  # uses encode_cyclic from the prompt in the tests
        (q38, fenced("def decode_cyclic(s):\n    return s\n"), 0.0),
    ]
    scores = await asyncio.gather(*(humaneval.score(q, reply(text), None) for q, text, _ in cases))
    assert [s.value for s in scores] == [expected for _, _, expected in cases]
    assert scores[0].details["reply_read_as"] == "function" and scores[2].details["reply_read_as"] == "body"
    assert scores[1].details["exception"] == "AssertionError" and scores[1].details["verdict"] == "failed: "
    assert scores[1].details["passed"] is False and scores[1].details["timed_out"] is False


WRONG = "def has_close_elements(numbers, threshold):\n    return True\n"


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        # A wrong function that ends the program before the asserts can fail: officially a failure.
        (fenced(WRONG.replace("return True", "import sys\n    sys.exit(0)")), "failed: 0"),
        (fenced(WRONG + "\n_ = exit()\n"), "failed: 'NoneType' object is not callable"),
        (fenced(WRONG + "\n_ = quit()\n"), "failed: 'NoneType' object is not callable"),
        (fenced(WRONG.replace("return True", "raise SystemExit")), "failed: "),
        ("    import os\n    os._exit(0)\n", "timed out"),  # a body: leaves without a verdict
        # Right, but slower than the official 3 seconds.
        (fenced("import time\n" + HAS_CLOSE_RIGHT.replace("    ordered", "    time.sleep(3.5)\n    ordered")), "timed out"),
    ],
    ids=["sys.exit(0)", "exit()", "quit()", "raise SystemExit", "os._exit(0)", "3.5 s"],
)
async def test_exiting_early_or_running_over_3_seconds_fails(
    humaneval: HumanEval, humaneval_questions: dict[str, Question], text: str, verdict: str
) -> None:
    score = await humaneval.score(humaneval_questions["HumanEval/0"], reply(text), None)
    assert score.value == 0.0
    assert score.details["verdict"] == verdict and score.details["passed"] is False


def test_humaneval_program_keeps_prompt_helpers() -> None:
    program, kind = build_program(
        "import math\n\ndef f(x):\n    '''doc'''\n",
        fenced("def f(x):\n    return 1\n"),
        "f",
        "def check(c):\n    assert c(0) == 1\n",
    )
    assert kind == "function"
    assert program.index("import math") < program.index("return 1") < program.index("check(f)")


def survivors(name: str) -> list[str]:
    """Processes on this machine whose name (comm) is ``name``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == name:
                found.append(entry.name)
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Sandbox().capabilities().isolated, reason="needs the isolated sandbox")
async def test_evaluation_contains_hostile_solutions_and_goes_on(
    humaneval: HumanEval, humaneval_questions: dict[str, Question], tmp_path: Path
) -> None:
    """Through the shared evaluation loop: each hostile reply scores 0 with no error, and what it
    tried did not happen on the host (no file written, no process left, no memory taken); the good
    one, evaluated alongside, scores 1."""
    q0 = humaneval_questions["HumanEval/0"]
    escape = tmp_path / "escaped.txt"
    marker = "sv" + os.urandom(4).hex()  # the forked processes name themselves this
    hostile = {
        "loop": "def has_close_elements(numbers, threshold):\n    while True:\n        pass\n",
        # posix.fork, not os.fork (which the official guard disables): 8 forks, each child leaving
        # the process group and naming itself, to outlive the run if it could.
        "fork": (
            "import ctypes, posix, time\n"
            "def has_close_elements(numbers, threshold):\n"
            "    for _ in range(3):\n"
            "        if posix.fork() == 0:\n"
            "            posix.setsid()\n"
            f"            ctypes.CDLL(None).prctl(15, {marker.encode()!r}, 0, 0, 0)\n"
            "            time.sleep(60)\n"
            "    return True\n"
        ),
        "alloc": "def has_close_elements(numbers, threshold):\n    return len(bytearray(1024 ** 3)) > 0\n",
        "write": f"def has_close_elements(numbers, threshold):\n    open({str(escape)!r}, 'w').write('x')\n    return True\n",
    }
    solutions = {**hostile, "good": HAS_CLOSE_RIGHT}
    questions = [replace(q0, id=name, turns=(f"{q0.turns[0]}\n#{name}",)) for name in solutions]

    def answer(request: CompletionRequest) -> str:
        return fenced(solutions[request.messages[-1]["content"].rsplit("#", 1)[1]])

    architecture, _ = parse_architecture({"name": "one", "layers": [[{"type": "generator", "model": "openai/m"}]]})
    runner = ArchitectureRunner(architecture, LLMGateway(backend=FakeBackend(answer)))
    outcome = await evaluate(runner, humaneval, questions, concurrency=8)
    records = {r["id"]: r for r in outcome.records}
    assert len(records) == 5 and all(r["error"] is None for r in records.values())
    assert records["good"]["score"] == 1.0
    assert all(records[name]["score"] == 0.0 for name in hostile), records
    assert records["loop"]["score_details"]["timed_out"] is True
    assert records["alloc"]["score_details"]["exception"] == "MemoryError"
    assert not escape.exists()
    assert survivors(marker) == []


async def test_a_sandbox_that_cannot_start_is_an_error_not_a_zero(humaneval_questions: dict[str, Question]) -> None:
    class BrokenSandbox(Sandbox):
        async def run(self, code: str, **kwargs: Any) -> ExecResult:
            return ExecResult(None, "", "", False, 0.0, setup_error="cannot start: out of processes")

    bench = HumanEval(SHARED_DATA, sandbox=BrokenSandbox())
    with pytest.raises(ArchonError, match="out of processes"):
        await bench.score(humaneval_questions["HumanEval/0"], reply(fenced(HAS_CLOSE_RIGHT)), None)


@pytest.mark.local_model
def test_eval_humaneval_on_the_embedded_model(tmp_path: Path, local_model_available: None) -> None:
    arch = short_generator_file(tmp_path, max_tokens=128)
    results = tmp_path / "results"
    result = run_cli(
        "eval", str(arch), "-b", "humaneval", "--limit", "2", "--data-dir", str(SHARED_DATA),
        "--results-dir", str(results), "--cache-dir", str(tmp_path / "cache"),
        timeout=600,  # about 10 s on an idle machine; much slower when other jobs share the 2 cores
    )  # fmt: skip
    assert result.code == 0, result.stderr
    (run_dir,) = results.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["benchmark"] == "humaneval" and summary["questions"] == 2 and summary["errors"] == 0
    records = [json.loads(line) for line in (run_dir / "questions.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["score"] in (0.0, 1.0)
        assert {"passed", "timed_out", "stderr_tail", "sandbox"} <= set(record["score_details"])
