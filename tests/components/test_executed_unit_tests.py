"""Executed unit tests (CodeT's dual agreement) on canned HumanEval candidates served by a loopback
OpenAI-compatible server: the evaluator makes no model call, picks a correct candidate whenever one
exists, and hostile candidates never pass a test."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from archon_cli.benchmarks.code.humaneval import HumanEval
from archon_cli.components.unit_test_evaluator import UnitTestEvaluatorConfig, dual_agreement
from archon_cli.components.unit_test_generator import parse_asserts
from archon_cli.config.architecture import Architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.execution.programs import run_unit_tests
from archon_cli.execution.sandbox import Sandbox
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import PURPOSE_HEADER
from tests.conftest import SHARED_DATA, free_port

pytestmark = pytest.mark.skipif(not Sandbox().capabilities().isolated, reason="no isolated sandbox here")

HOSTILE = {
    "exits early": "import sys\nsys.exit(0)\n",
    "os._exit in the function": "import os\n\ndef {name}(*args):\n    os._exit(0)\n",
    "equal to everything": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n    def __bool__(self):\n        return True\n\n"
        "def {name}(*args):\n    return Anything()\n"
    ),
    "rewrites assert": (
        "import builtins, sys\nbuiltins.AssertionError = type('Quiet', (Exception,), {{}})\n"
        "sys.settrace(lambda *a: None)\n\ndef {name}(*args):\n    raise AssertionError('ignored?')\n"
    ),
    "reads the tests": "import json\nTESTS = json.load(open('tests.json'))\n\ndef {name}(*args):\n    return TESTS\n",
    "kills its judge": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n\ndef {name}(*args):\n    return None\n",
    "loops forever": "def {name}(*args):\n    while True:\n        pass\n",
    "fork bomb": "import os\n\ndef {name}(*args):\n    while True:\n        os.fork()\n",
}

# Per problem: the generated asserts (one of them wrong, as a model's may be), a wrong candidate, and
# whether a correct candidate (the canonical solution) is among the samples.
PROBLEMS: dict[str, dict[str, Any]] = {
    "HumanEval/0": {
        "tests": [
            "assert has_close_elements([1.0, 2.0, 3.0], 0.5) == False",
            "assert has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) == True",
            "assert has_close_elements([1.0, 1.5], 0.6) == True",
            "assert has_close_elements([5.0, 7.0], 1.0) == True",  # wrong: 2.0 apart
        ],
        "wrong": "def has_close_elements(numbers, threshold):\n    return False\n",
        "correct": True,
    },
    "HumanEval/2": {
        "tests": [
            "assert truncate_number(3.5) == 0.5",
            "assert truncate_number(1.25) == 0.25",
            "assert truncate_number(7.0) == 0.0",
        ],
        "wrong": "def truncate_number(number):\n    return int(number)\n",
        "correct": True,
    },
    "HumanEval/4": {
        "tests": [
            "assert mean_absolute_deviation([1.0, 2.0, 3.0, 4.0]) == 1.0",
            "assert mean_absolute_deviation([2.0, 2.0]) == 0.0",
        ],
        "wrong": "def mean_absolute_deviation(numbers):\n    return max(numbers) - min(numbers)\n",
        "correct": False,
    },
}


def candidates_for(question: Any) -> list[str]:
    """The samples a generator gets for a problem, hostile ones first, the correct one last."""
    spec = PROBLEMS[question.id]
    name = question.meta["entry_point"]
    texts = [code.format(name=name) for code in HOSTILE.values()] + [spec["wrong"], spec["wrong"]]
    if spec["correct"]:
        texts.append(question.meta["prompt"] + question.meta["canonical"])
    return [f"Here is my solution:\n```python\n{t}```" for t in texts]


class CannedServer:
    """Loopback OpenAI-compatible chat server: the k-th generator draw of a problem gets its k-th
    canned candidate; the unit-test generator gets the problem's asserts."""

    def __init__(self, questions: list[Any]) -> None:
        self.questions = questions
        self.draws: Counter[str] = Counter()
        self.purposes: Counter[str] = Counter()
        self.port = free_port()

    def _question(self, text: str) -> Any:
        return next(q for q in self.questions if f"def {q.meta['entry_point']}(" in text)

    async def chat(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        purpose = request.headers.get(PURPOSE_HEADER, "")
        self.purposes[purpose] += 1
        text = "\n".join(str(m.get("content") or "") for m in body["messages"])
        question = self._question(text)
        texts = []
        for _ in range(int(body.get("n") or 1)):
            if purpose == "unit_test_generator":
                texts.append("```python\n" + "\n".join(PROBLEMS[question.id]["tests"]) + "\n```")
            else:
                pool = candidates_for(question)
                texts.append(pool[self.draws[question.id] % len(pool)])
                self.draws[question.id] += 1
        choices = [
            {"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": t}}
            for i, t in enumerate(texts)
        ]
        usage = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
        return web.json_response(
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "canned",
                "choices": choices,
                "usage": usage,
            }
        )

    def __enter__(self) -> CannedServer:
        import asyncio

        self.loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def questions() -> list[Any]:
    if not (SHARED_DATA / "humaneval" / "HumanEval.jsonl.gz").exists():
        pytest.skip("HumanEval data not here")
    import gzip

    with gzip.open(SHARED_DATA / "humaneval" / "HumanEval.jsonl.gz", "rt") as fh:
        canonical = {row["task_id"]: row["canonical_solution"] for row in map(json.loads, fh)}
    chosen = [q for q in HumanEval(SHARED_DATA).load() if q.id in PROBLEMS]
    for q in chosen:
        q.meta["canonical"] = canonical[q.id]
    return chosen


@pytest.fixture(scope="module")
def server(questions: list[Any]) -> Iterator[CannedServer]:
    with CannedServer(questions) as canned:
        yield canned


def architecture(api_base: str) -> Architecture:
    model = {"model": "openai/canned", "api_base": api_base, "api_key_env": "CANNED_KEY"}
    n = len(HOSTILE) + 3
    return Architecture.model_validate(
        {
            "name": "executed-unit-tests",
            "layers": [
                [{"type": "unit_test_generator", **model, "num_tests": 5, "test_format": "asserts"}],
                [{"type": "generator", **model, "samples": n, "temperature": 0.7}],
                [{"type": "unit_test_evaluator", **model, "mode": "executed", "top_k": 1}],
            ],
        }
    )


async def test_a_correct_candidate_is_picked_whenever_one_exists(
    server: CannedServer, questions: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANNED_KEY", "sk-canned")
    arch = architecture(f"http://127.0.0.1:{server.port}/v1")
    assert arch.static_calls() == 1 + len(HOSTILE) + 3  # the executed evaluator: no call
    runner = ArchitectureRunner(arch, LLMGateway())
    bench = HumanEval(SHARED_DATA)
    for question in questions:
        before = Counter(server.purposes)
        response = await bench.respond(question, runner.run_safely)
        result = response.results[0]
        assert result.error is None
        sent = Counter(server.purposes) - before
        assert "unit_test_evaluator" not in sent and sent["unit_test_generator"] == 1
        score = await bench.score(question, response, None)
        if PROBLEMS[question.id]["correct"]:
            assert score.value == 1.0, (question.id, response.answers[0])
        else:
            assert score.value == 0.0
            assert "def mean_absolute_deviation(numbers):\n    return max" in response.answers[0]


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
async def test_hostile_candidates_never_pass(hostile: str, questions: list[Any]) -> None:
    question = questions[0]
    code = HOSTILE[hostile].format(name=question.meta["entry_point"])
    passed = await run_unit_tests(code, PROBLEMS[question.id]["tests"])
    assert passed == [False] * len(PROBLEMS[question.id]["tests"])


async def test_a_correct_program_passes_its_right_tests_and_not_the_wrong_one(questions: list[Any]) -> None:
    question = questions[0]
    code = question.meta["prompt"] + question.meta["canonical"]
    assert await run_unit_tests(code, [*PROBLEMS[question.id]["tests"], "the function is fast"]) == [
        True,
        True,
        True,
        False,
        None,
    ]


def test_dual_agreement_scores_group_size_times_tests_passed() -> None:
    a, b, none = frozenset({0, 1}), frozenset({0, 1, 2}), frozenset()
    assert dual_agreement([a, b, a, a, none, b]) == [6, 6, 6, 6, 0, 6]
    assert dual_agreement([b, a, a]) == [3, 4, 4]


def test_asserts_are_parsed_from_fences_numbers_and_bullets() -> None:
    reply = "Here are tests:\n```python\n1. assert f(1) == 2\n- assert f(2) == 3\nassert f(2) == 3\nprint(f(1))\nassert (\n```"
    assert parse_asserts(reply, 5) == ["assert f(1) == 2", "assert f(2) == 3"]


def test_executed_evaluation_costs_no_call_and_needs_no_route() -> None:
    config = UnitTestEvaluatorConfig(mode="executed", model="openai/never-called")
    assert config.call_count(7) == (0, 1)
    assert config.models() == []
    assert UnitTestEvaluatorConfig().call_count(7) == (7, 1)


def test_the_code_space_offers_executed_tests_at_one_call() -> None:
    from archon_cli.search.space import FeasibleSpace, Point, load_space

    space = load_space(Path(__file__).resolve().parents[2] / "spaces" / "code.yaml")
    feasible = FeasibleSpace(space, ["m1", "m2"], 12)
    point = Point(1, 10, 0, 1, False, "executed_tests", ("chat",), 0.7)
    assert feasible.contains(point) and point.label() == "g1x10-xut"
    layers = feasible.architecture(point).layers
    assert [c.type for layer in layers for c in layer] == ["generator", "unit_test_generator", "unit_test_evaluator"]
    assert feasible.calls(point) == 10 + 1
    assert feasible.calls(Point(1, 10, 0, 1, False, "unit_tests", ("chat",), 0.7)) == 10 + 1 + 10
