"""The code sandbox: it runs code apart, and contains loops, fork bombs, huge allocations, writes
outside its directory and network connections; runs side by side do not interfere.

Every dangerous program here is bounded in the test code itself (a fork depth, an allocation size),
so a broken sandbox fails the test without taking the machine down. The protections that depend on
isolation (root + namespaces) are skipped, with the reason, where the machine cannot provide them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from archon_cli.benchmarks.code.sandbox import ExecResult, Sandbox, SandboxLimits

LIMITS = SandboxLimits(timeout_s=2.0, memory_mb=256, max_processes=16, max_output_bytes=4096)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(LIMITS)


def needs(flag: str):  # type: ignore[no-untyped-def]
    caps = Sandbox().capabilities()
    return pytest.mark.skipif(not getattr(caps, flag), reason=f"sandbox here lacks {flag}: {caps.reason}")


def leftovers(result: ExecResult) -> list[int]:
    """Live processes of the run: its sandbox uid (isolated) or its process group (basic)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if state != "Z" and ((result.uid is not None and uid == result.uid) or int(pgrp) == result.pid):
            found.append(int(entry))
    return found


def test_runs_code_with_stdin_in_its_own_directory(sandbox: Sandbox) -> None:
    code = "import os, sys\nopen('note.txt', 'w').write('kept')\nprint(sys.stdin.read().upper(), os.getcwd() == os.environ['HOME'])"
    result = sandbox.run_sync(code, stdin="abc")
    assert result.ok, result.stderr
    assert result.stdout.split() == ["ABC", "True"]
    assert not result.timed_out


def test_failing_code_reports_exit_code_and_stderr(sandbox: Sandbox) -> None:
    result = sandbox.run_sync("raise ValueError('boom')")
    assert not result.ok and result.returncode == 1
    assert "ValueError: boom" in result.stderr


def test_infinite_loop_is_killed_at_the_timeout(sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = sandbox.run_sync("while True:\n    pass\n")
    assert result.timed_out and not result.ok
    assert result.returncode is not None and result.returncode < 0
    assert time.monotonic() - started < LIMITS.timeout_s + 3
    assert leftovers(result) == []


def test_sleeping_code_is_killed_by_the_wall_clock(sandbox: Sandbox) -> None:
    result = sandbox.run_sync("import time\ntime.sleep(60)\n")
    assert result.timed_out and result.duration < LIMITS.timeout_s + 3


@needs("process_limit")
def test_fork_bomb_is_stopped_by_the_process_limit(sandbox: Sandbox) -> None:
    # At most 2**9 = 512 processes even if nothing stopped it; the sandbox allows 16.
    bomb = (
        "import os, time\n"
        "for _ in range(9):\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError as exc:\n"
        "        print('fork refused:', type(exc).__name__, flush=True)\n"
        "        break\n"
        "time.sleep(30)\n"
    )
    result = sandbox.run_sync(bomb)
    assert not result.ok and result.timed_out
    assert "fork refused: BlockingIOError" in result.stdout  # the limit stopped it, not the depth cap
    time.sleep(0.2)
    assert leftovers(result) == []


def test_huge_allocation_fails_with_memory_error(sandbox: Sandbox) -> None:
    # 1 GiB of address space, four times the sandbox's 256 MiB (harmless without the limit: calloc is lazy).
    result = sandbox.run_sync("block = bytearray(1024 ** 3)\nprint(len(block))\n")
    assert not result.ok and not result.timed_out
    assert "MemoryError" in result.stderr


def test_output_is_capped_and_the_rest_drained(sandbox: Sandbox) -> None:
    result = sandbox.run_sync("import sys\nsys.stdout.write('x' * 5_000_000)\nprint('done', file=sys.stderr)\n")
    assert result.ok
    assert len(result.stdout) == LIMITS.max_output_bytes and result.stdout_truncated
    assert result.stderr.strip() == "done" and not result.stderr_truncated


def test_file_size_limit(sandbox: Sandbox) -> None:
    result = sandbox.run_sync("open('big', 'w').write('x' * (20 * 1024 * 1024))\n")  # the cap is 16 MiB
    assert not result.ok and "File too large" in result.stderr


@needs("filesystem_readonly")
def test_writes_outside_its_directory_are_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    outside = [tmp_path / "escaped.txt", Path("/tmp") / f"archon-escape-{os.getpid()}.txt"]
    code = (
        "import sys\n"
        "refused = 0\n"
        f"for path in {[str(p) for p in outside]!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('escaped')\n"
        "    except OSError as exc:\n"
        "        refused += 1\n"
        "        print(type(exc).__name__, exc.errno, file=sys.stderr)\n"
        "open('inside.txt', 'w').write('fine')\n"
        "print(refused)\n"
        "sys.exit(0 if refused == 0 else 1)\n"
    )
    result = sandbox.run_sync(code)
    assert result.stdout.strip() == "2", result.stderr  # both refused; its own directory was writable
    assert not result.ok
    assert not any(p.exists() for p in outside)
    # Control: without isolation the same write lands (the test would see an escape).
    control = Sandbox(LIMITS, isolation="off").run_sync(f"open({str(outside[0])!r}, 'w').write('escaped')")
    assert control.ok and outside[0].read_text() == "escaped"


def connect_from(sandbox: Sandbox) -> tuple[ExecResult, list[bytes]]:
    """Run code that connects to a server this test starts on 127.0.0.1; what the server received."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.05)
    port = server.getsockname()[1]
    received: list[bytes] = []
    done = threading.Event()

    def accept() -> None:
        while True:  # until no connection is pending after the run ended
            try:
                conn, _ = server.accept()
            except OSError:
                if done.is_set():
                    return
                continue
            conn.settimeout(2.0)
            received.append(conn.recv(100))
            conn.close()

    thread = threading.Thread(target=accept)
    thread.start()
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\ns.sendall(b'leak')\n"
    try:
        result = sandbox.run_sync(code)
    finally:
        done.set()
        thread.join()
        server.close()
    return result, received


@needs("network_blocked")
def test_network_connection_to_a_local_server_fails(sandbox: Sandbox) -> None:
    result, received = connect_from(sandbox)
    assert not result.ok and "OSError" in result.stderr
    assert received == []
    # Control: without isolation the same program reaches the server, so the check above can fail.
    result, received = connect_from(Sandbox(LIMITS, isolation="off"))
    assert result.ok and received == [b"leak"]


@needs("isolated")
def test_processes_that_leave_the_group_still_die(sandbox: Sandbox) -> None:
    code = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('parent done')\n"
    result = sandbox.run_sync(code)
    assert result.ok and result.stdout.strip() == "parent done"
    time.sleep(0.2)
    assert leftovers(result) == []


async def test_concurrent_runs_are_bounded_and_do_not_share_files() -> None:
    sandbox = Sandbox(LIMITS, max_concurrent=2)
    code = "import sys, time\nopen('mine', 'w').write(sys.stdin.read())\ntime.sleep(0.4)\nprint(open('mine').read())\n"
    started = time.monotonic()
    results = await asyncio.gather(*(sandbox.run(code, stdin=str(k)) for k in range(4)))
    elapsed = time.monotonic() - started
    assert [r.stdout.strip() for r in results] == ["0", "1", "2", "3"]
    assert elapsed >= 0.8  # four 0.4 s runs, two at a time


async def test_the_event_loop_keeps_running_while_code_runs(sandbox: Sandbox) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticker = asyncio.ensure_future(tick())
    await sandbox.run("import time\ntime.sleep(0.6)\n")
    ticker.cancel()
    assert ticks >= 6


def test_without_isolation_limits_still_apply() -> None:
    sandbox = Sandbox(LIMITS, isolation="off")
    assert not sandbox.capabilities().isolated
    assert sandbox.run_sync("print(6 * 7)").stdout.strip() == "42"
    looped = sandbox.run_sync("while True:\n    pass\n")
    assert looped.timed_out and leftovers(looped) == []
    assert "MemoryError" in sandbox.run_sync("bytearray(1024 ** 3)").stderr
