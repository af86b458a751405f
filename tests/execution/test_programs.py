"""Program-of-thought candidates in reused sandboxes: what a program prints is its answer, and every
hostile program is a failed candidate that leaves nothing behind for the next one."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from archon_cli.execution.pool import SandboxPool, shared_pool
from archon_cli.execution.programs import PROGRAM_LIMITS, program_text, run_program
from archon_cli.execution.sandbox import Sandbox
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(
    not Sandbox().capabilities().isolated, reason=f"no isolated sandbox here: {Sandbox().capabilities().reason}"
)


def fenced(code: str) -> str:
    return f"```python\n{code}\n```"


def live_processes_of(uid: int | None) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if uid is not None and int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith("Z"):
            found.append(int(entry))
    return found


async def answer_after(hostile: str) -> tuple[str, str | None]:
    """The hostile program's outcome, then proof that the pool is unharmed: a normal program in
    the same sandboxes still answers, and no process of the programs' uid is left."""
    outcome = await run_program(fenced(hostile))
    normal = await asyncio.gather(*(run_program(fenced("print(6 * 7)")) for _ in range(4)))
    assert [o.answer for o in normal] == ["42"] * 4
    pool = shared_pool(PROGRAM_LIMITS)
    for worker in pool._idle:
        assert worker.alive()
        assert live_processes_of(worker.uid) == []
    return outcome.answer, outcome.error


async def test_a_program_prints_its_answer() -> None:
    outcome = await run_program("Here it is:\n```python\na = 7\nb = 5\nprint(a + b)\n```\nDone.")
    assert (outcome.answer, outcome.error) == ("12", None)
    assert outcome.program == "a = 7\nb = 5\nprint(a + b)\n"


def test_the_program_is_read_from_an_unclosed_block_or_bare_code() -> None:
    assert program_text("print(1 + 2)\nThis prints three.") == "print(1 + 2)\n"
    assert program_text("```python\nx = 3\nprint(x)") == "x = 3\nprint(x)\n"
    assert program_text("x = 4\nprint(x)\n```\nQuestion: next") == "x = 4\nprint(x)\n"


async def test_the_last_printed_line_is_the_answer() -> None:
    outcome = await run_program(fenced("print('thinking...')\nprint(' 99 ')"))
    assert outcome.answer == "99"


async def test_an_exception_is_an_empty_candidate_keeping_the_error() -> None:
    answer, error = await answer_after("print(1 / 0)")
    assert answer == ""
    assert error == "exit 1: ZeroDivisionError: division by zero"


async def test_no_program_and_no_output_are_failures() -> None:
    assert (await run_program("I think the answer is 5.")).error is not None
    assert (await run_program("")).error == "no program in the reply"
    assert (await run_program(fenced("x = 5"))).error == "printed nothing"


# -- hostile programs: each a failed candidate, nothing else affected --------------------------------


async def test_infinite_loop() -> None:
    started = time.monotonic()
    answer, error = await answer_after("while True:\n    pass")
    assert answer == "" and error == "timed out after 2 s"
    assert time.monotonic() - started < 8


async def test_fork_bomb() -> None:
    answer, error = await answer_after("import os\nwhile True:\n    os.fork()\nprint(1)")
    assert answer == "" and error is not None


async def test_a_gigabyte_of_output() -> None:
    answer, error = await answer_after(
        "import sys\nfor _ in range(16384):\n    sys.stdout.write('7' * 65536)\nprint(7)"
    )
    assert answer == "" and error == "printed more than 16 KB"


async def test_ten_thousand_lines() -> None:
    answer, error = await answer_after("for i in range(10000):\n    print(i)")
    assert answer == "" and error == "printed more than 16 KB"


async def test_reading_etc_passwd() -> None:
    answer, error = await answer_after("print(open('/etc/passwd').read().splitlines()[0])")
    assert answer == "" and error is not None and "FileNotFoundError" in error


async def test_reading_the_project() -> None:
    target = ROOT / "pyproject.toml"
    assert target.exists()
    answer, error = await answer_after(f"print(open({str(target)!r}).read()[:40])")
    assert answer == "" and error is not None and "FileNotFoundError" in error


async def test_opening_a_socket() -> None:
    code = "import socket\ns = socket.create_connection(('127.0.0.1', 22), timeout=1)\nprint('connected')"
    answer, error = await answer_after(code)
    assert answer == "" and error is not None and "Error" in error


async def test_sys_exit_before_printing() -> None:
    answer, error = await answer_after("import sys\nsys.exit(0)\nprint(5)")
    assert answer == "" and error == "printed nothing"


async def test_os_exit() -> None:
    answer, error = await answer_after("import os\nprint(5, end='')\nos._exit(0)")
    assert answer == "" and error == "printed nothing"  # buffered output dies with os._exit, as in python


async def test_a_background_process_and_files_do_not_reach_the_next_program() -> None:
    pool = SandboxPool(PROGRAM_LIMITS, size=1)
    try:
        code = (
            "import os, time\nopen('left.txt', 'w').write('x')\n"
            "if os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('forked')"
        )
        first = await pool.run(code)
        assert first.stdout.strip() == "forked"
        second = await pool.run(
            "import os\nprint(sorted(os.listdir('.')), len([p for p in os.listdir('/proc') if p.isdigit()]))"
        )
        # only init and itself: the sleeper was killed; the file was removed
        assert second.stdout.strip() == "['main.py'] 2"
        assert pool.started == 1
    finally:
        pool.close()


async def test_reuse_is_faster_than_a_sandbox_per_program() -> None:
    pool = SandboxPool(PROGRAM_LIMITS, size=2)
    sandbox = Sandbox(PROGRAM_LIMITS)
    try:
        await pool.run("print(1)")
        started = time.monotonic()
        results = await asyncio.gather(*(pool.run("print(2)") for _ in range(10)))
        reused = time.monotonic() - started
        started = time.monotonic()
        await asyncio.gather(*(sandbox.run("print(2)") for _ in range(10)))
        fresh = time.monotonic() - started
        assert [r.stdout for r in results] == ["2\n"] * 10
        assert reused < fresh
    finally:
        pool.close()


async def test_a_flood_of_errors_is_stopped_early() -> None:
    started = time.monotonic()
    answer, error = await answer_after("import sys\nwhile True:\n    sys.stderr.write('e' * 65536)")
    assert answer == "" and error is not None and "killed by signal 9" in error
    assert time.monotonic() - started < 1.9  # stopped at the cap, not at the 2 s limit
