"""The code sandbox: it runs code apart, and contains loops, fork bombs, memory hogs, reads of host
files, host sockets, loopback servers, the evaluator's environment and writes outside its
directory; runs side by side do not interfere.

Each containment test checks the containment itself (what the host saw, what the code could
read), not a score, and where it matters runs the same program unsandboxed as a control, to show
the check could fail. Every dangerous program is bounded in the test itself (a fork depth, an
allocation size), so a broken sandbox fails the test without taking the machine down. Tests that
need isolation are skipped, with the reason, on machines that cannot isolate (CI here runs as root,
where everything runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archon_cli.errors import UserError
from archon_cli.execution import sandbox as sandbox_module
from archon_cli.execution import sandbox_child
from archon_cli.execution.sandbox import (
    ExecResult,
    Sandbox,
    SandboxCapabilities,
    SandboxLimits,
    child_config,
    prepare_base,
)
from tests.conftest import ROOT, SHARED_DATA

LIMITS = SandboxLimits(timeout_s=3.0, memory_mb=256, max_processes=16, max_output_bytes=4096)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(LIMITS)


def unsandboxed() -> Sandbox:
    return Sandbox(LIMITS, isolation="off")


def needs(flag: str):  # type: ignore[no-untyped-def]
    caps = Sandbox().capabilities()
    return pytest.mark.skipif(not getattr(caps, flag), reason=f"sandbox here lacks {flag}: {caps.reason}")


def leftovers(result: ExecResult) -> list[int]:
    """Live processes of the run: its sandbox uid (isolated as root) or its process group."""
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


# -- running code ----------------------------------------------------------------------------------


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


def test_the_standard_library_works_inside(sandbox: Sandbox) -> None:
    code = "import ssl, sqlite3, ctypes, decimal, zlib, json, multiprocessing, hashlib\nprint(hashlib.sha256(b'x').hexdigest()[:8])"
    result = sandbox.run_sync(code)
    assert result.ok and result.stdout.strip() == "2d711642", result.stderr


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


def test_output_is_capped_and_the_rest_drained(sandbox: Sandbox) -> None:
    result = sandbox.run_sync("import sys\nsys.stdout.write('x' * 5_000_000)\nprint('done', file=sys.stderr)\n")
    assert result.ok
    assert len(result.stdout) == LIMITS.max_output_bytes and result.stdout_truncated
    assert result.stderr.strip() == "done" and not result.stderr_truncated


def test_file_size_limit(sandbox: Sandbox) -> None:
    result = sandbox.run_sync("open('big', 'w').write('x' * (20 * 1024 * 1024))\n")  # the cap is 16 MiB
    assert not result.ok and "File too large" in result.stderr


# -- containment: files ----------------------------------------------------------------------------

READ_PROBE = """
import json, os
seen = {}
for path in PATHS:
    try:
        seen[path] = sorted(os.listdir(path))[:3] if os.path.isdir(path) else open(path).read(40)
    except OSError as exc:
        seen[path] = type(exc).__name__
print(json.dumps(seen))
"""


@needs("filesystem_readonly")
def test_host_files_are_invisible(sandbox: Sandbox) -> None:
    """/etc/passwd, the project's source, the benchmark data and the evaluator's virtualenv."""
    paths = ["/etc/passwd", str(ROOT / "README.md"), str(SHARED_DATA), str(Path(sandbox_module.__file__).parent)]
    paths += [str(Path(sys.prefix) / "pyvenv.cfg")]
    paths = [p for p in paths if os.path.exists(p)]
    code = f"PATHS = {paths!r}\n" + READ_PROBE
    result = sandbox.run_sync(code)
    seen = json.loads(result.stdout)
    assert all(seen[p] == "FileNotFoundError" for p in paths), seen
    # Control: unsandboxed, the same program reads them.
    control = json.loads(unsandboxed().run_sync(code).stdout)
    assert all(control[p] != "FileNotFoundError" for p in paths), control


@needs("filesystem_readonly")
def test_writes_outside_its_directory_do_not_reach_the_host(sandbox: Sandbox, tmp_path: Path) -> None:
    targets = [tmp_path / "escaped.txt", Path("/tmp") / f"archon-escape-{os.getpid()}.txt", Path("/escaped.txt")]
    code = (
        "import sys\n"
        f"for path in {[str(p) for p in targets]!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('escaped')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, type(exc).__name__)\n"
        "open('inside.txt', 'w').write('fine')\n"
    )
    result = sandbox.run_sync(code)
    assert result.ok, result.stderr
    assert not any(p.exists() for p in targets), result.stdout
    # Control: unsandboxed, the first write lands on the host.
    control = unsandboxed().run_sync(f"open({str(targets[0])!r}, 'w').write('escaped')")
    assert control.ok and targets[0].read_text() == "escaped"


# -- containment: sockets and the network ------------------------------------------------------------


class Listener:
    """Servers on the host (a Unix socket at a path anyone may use, in a folder anyone may enter, an
    abstract Unix socket and TCP on 127.0.0.1) recording every byte any client sends."""

    def __init__(self, folder: Path) -> None:
        self.path = str(folder / "host.sock")
        self.abstract = f"\0archon-test-{os.getpid()}-{id(self)}"
        self.received: list[bytes] = []
        self.sockets = []
        for family, address in ((socket.AF_UNIX, self.path), (socket.AF_UNIX, self.abstract)):
            s = socket.socket(family)
            s.bind(address)
            self.sockets.append(s)
        os.chmod(self.path, 0o777)
        os.chmod(folder, 0o777)
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        self.port = tcp.getsockname()[1]
        self.sockets.append(tcp)
        self.done = threading.Event()
        self.threads = []
        for s in self.sockets:
            s.listen()
            s.settimeout(0.05)
            thread = threading.Thread(target=self._serve, args=(s,))
            thread.start()
            self.threads.append(thread)

    def _serve(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                if self.done.is_set():
                    return
                continue
            conn.settimeout(2.0)
            with contextlib.suppress(OSError):
                self.received.append(conn.recv(100))
            conn.close()

    def close(self) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join()
        for s in self.sockets:
            s.close()

    def client(self) -> str:
        targets = [("AF_UNIX", self.path), ("AF_UNIX", self.abstract), ("AF_INET", ("127.0.0.1", self.port))]
        return (
            "import socket\n"
            f"for family, address in {targets!r}:\n"
            "    s = socket.socket(getattr(socket, family))\n"
            "    s.settimeout(1)\n"
            "    try:\n"
            "        s.connect(address)\n"
            "        s.sendall(b'leak')\n"
            "        print('connected', family)\n"
            "    except OSError as exc:\n"
            "        print('refused', family, type(exc).__name__)\n"
        )


@pytest.fixture
def listener() -> Iterator[Listener]:
    folder = Path(tempfile.mkdtemp(prefix="archon-test-sockets-"))  # under /tmp: reachable by any uid
    server = Listener(folder)
    yield server
    server.close()
    shutil.rmtree(folder, ignore_errors=True)


@needs("network_blocked")
def test_host_unix_sockets_and_loopback_servers_are_out_of_reach(sandbox: Sandbox, listener: Listener) -> None:
    result = sandbox.run_sync(listener.client())
    assert result.ok, result.stderr
    assert result.stdout.count("refused") == 3, result.stdout
    time.sleep(0.2)
    assert listener.received == []
    # Control: unsandboxed, all three servers receive the bytes.
    control = unsandboxed().run_sync(listener.client())
    assert control.stdout.count("connected") == 3, control.stdout
    time.sleep(0.2)
    assert listener.received == [b"leak"] * 3


# -- containment: the evaluator's environment and processes -----------------------------------------

ENVIRON_PROBE = """
import os
found = []
pids = [p for p in os.listdir('/proc') if p.isdigit()] + [str(EVALUATOR), str(os.getppid())]
for pid in pids:
    try:
        if SECRET in open(f'/proc/{pid}/environ', 'rb').read():
            found.append(pid)
    except OSError:
        pass
print('visible pids', len(set(pids)))
print('secret found in', sorted(set(found)))
"""


# An evaluator started with a key in its environment (as `archon eval` would be), running a probe.
EVALUATOR = """
import os, sys
from archon_cli.execution.sandbox import Sandbox, SandboxLimits
code = f"EVALUATOR = {os.getpid()}\\nSECRET = {os.environ['ARCHON_PLANTED_KEY'].encode()!r}\\n" + sys.argv[2]
print(Sandbox(SandboxLimits(timeout_s=5.0), isolation=sys.argv[1]).run_sync(code).stdout)
"""


def probe_from_evaluator(isolation: str) -> str:
    secret = "sk-archon-planted-" + os.urandom(6).hex()
    env = {**os.environ, "ARCHON_PLANTED_KEY": secret}
    proc = subprocess.run(
        [sys.executable, "-c", EVALUATOR, isolation, ENVIRON_PROBE],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@needs("isolated")
def test_the_evaluators_environment_is_out_of_reach() -> None:
    out = probe_from_evaluator("auto")
    assert "secret found in []" in out, out
    # Control: unsandboxed, the code reads the evaluator's /proc/<pid>/environ and finds the key.
    control = probe_from_evaluator("off")
    assert "secret found in []" not in control and "secret found in" in control, control


@needs("isolated")
def test_processes_that_leave_the_group_still_die(sandbox: Sandbox) -> None:
    code = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('parent done')\n"
    result = sandbox.run_sync(code)
    assert result.ok and result.stdout.strip() == "parent done"
    time.sleep(0.2)
    assert leftovers(result) == []


# -- containment: processes and memory --------------------------------------------------------------


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


MEMORY_HOG = """
import os, time
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(150 << 20)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(1)
            os._exit(0)
        except MemoryError:
            os._exit(3)
    children.append(pid)
outcomes = []
for pid in children:
    _, status = os.waitpid(pid, 0)
    outcomes.append('ok' if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 'stopped')
print(' '.join(outcomes))
"""


@needs("tree_memory_cap")
def test_memory_is_capped_for_the_whole_process_tree(sandbox: Sandbox) -> None:
    """Four children of 150 MiB each: every one is within the 256 MiB per-process limit, the tree
    is not; the control group stops some of them."""
    result = sandbox.run_sync(MEMORY_HOG)
    outcomes = result.stdout.split()
    assert len(outcomes) == 4 and "stopped" in outcomes, (result.stdout, result.stderr)
    assert result.memory_exceeded
    # Control: without a tree cap (per-process limits only) all four succeed.
    per_process = SandboxCapabilities(False, "control", memory_cap="per-process")
    control = asyncio.run(sandbox_module._execute(MEMORY_HOG, LIMITS, caps=per_process, stdin=""))
    assert control.stdout.split() == ["ok"] * 4, control.stderr


# -- modes ------------------------------------------------------------------------------------------


def test_without_isolation_limits_still_apply() -> None:
    sandbox = unsandboxed()
    assert not sandbox.capabilities().isolated
    assert sandbox.run_sync("print(6 * 7)").stdout.strip() == "42"
    looped = sandbox.run_sync("while True:\n    pass\n")
    assert looped.timed_out and leftovers(looped) == []
    assert "MemoryError" in sandbox.run_sync("bytearray(1024 ** 3)").stderr


def test_without_isolation_code_runs_only_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine that cannot isolate: running code is a one-line UserError naming the option,
    unless --allow-unsandboxed (allow_unsandboxed) says otherwise; the mode is described."""
    unavailable = SandboxCapabilities(False, "namespaces refused (test)")
    monkeypatch.setattr(sandbox_module, "_probe_isolation", lambda: unavailable)
    refusing = Sandbox(LIMITS)
    with pytest.raises(UserError, match="--allow-unsandboxed") as caught:
        refusing.check_ready()
    assert "\n" not in str(caught.value) and "namespaces refused (test)" in str(caught.value)
    with pytest.raises(UserError, match="--allow-unsandboxed"):
        refusing.run_sync("print('never runs')")
    allowed = Sandbox(LIMITS, allow_unsandboxed=True)
    assert allowed.run_sync("print('ran')").stdout.strip() == "ran"
    assert allowed.describe()["mode"] == "unsandboxed"


def test_isolated_mode_is_described() -> None:
    caps = Sandbox().capabilities()
    description = caps.describe()
    if caps.isolated:
        assert description["mode"] == "isolated"
        assert description["user"] == ("fresh-uid" if os.geteuid() == 0 else "userns")
        assert description["memory_cap"] in ("cgroup-v1", "cgroup-v2", "per-process")
    else:
        assert description["mode"] == "unsandboxed" and description["reason"]


NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists(SYSTEM_PYTHON),
    reason="needs root (to become an unprivileged user), setpriv and a system Python",
)
def test_without_root_a_user_namespace_isolates() -> None:
    """The non-root path for real: the child program runs as `nobody` with the system's Python (the
    project's interpreter lives in a folder `nobody` cannot enter), in an unprivileged user
    namespace. The code is uid 1000 there, sees no host file, no network, and not the init's
    environment; a key planted in the launching environment does not reach it."""
    probe = (
        "import os, socket, json\n"
        "out = {'uid': os.getuid(), 'passwd': os.path.exists('/etc/passwd'), 'pids': sorted(os.listdir('/proc'))[:3]}\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 22), timeout=1)\n"
        "    out['net'] = 'connected'\n"
        "except OSError as exc:\n"
        "    out['net'] = type(exc).__name__\n"
        "try:\n"
        "    out['init_environ'] = open('/proc/1/environ', 'rb').read().decode()\n"
        "except OSError as exc:\n"
        "    out['init_environ'] = type(exc).__name__\n"
        "out['env'] = sorted(os.environ)\n"
        "try:\n"
        "    open(HOST_FILE, 'w').write('escaped')\n"
        "    out['write'] = 'written'\n"
        "except OSError as exc:\n"
        "    out['write'] = type(exc).__name__\n"
        "print(json.dumps(out))\n"
    )
    host_folder = Path(tempfile.mkdtemp(prefix="archon-test-open-"))
    os.chmod(host_folder, 0o777)  # nobody may write here on the host
    host_file = host_folder / "escaped.txt"
    base = prepare_base(f"HOST_FILE = {str(host_file)!r}\n" + probe, None)
    try:
        config = child_config(LIMITS, isolated=True, base=base, python=SYSTEM_PYTHON, nonce="test")
        config.update(user="userns", uid=None, nproc=None, parent=None)
        shutil.copy(sandbox_child.__file__, os.path.join(base, "child.py"))
        for folder, _, names in os.walk(base):
            os.chown(folder, NOBODY, NOBODY)
            for name in names:
                os.chown(os.path.join(folder, name), NOBODY, NOBODY)
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        env = {"PATH": "/usr/bin:/bin", "ARCHON_PLANTED_KEY": "sk-planted"}
        proc = subprocess.run(
            [*command, SYSTEM_PYTHON, "-I", os.path.join(base, "child.py"), json.dumps(config)],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)
        written = host_file.exists()
        shutil.rmtree(host_folder, ignore_errors=True)
    if proc.returncode == sandbox_child.SETUP_FAILED:
        pytest.skip(f"unprivileged user namespaces are refused here: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["uid"] == sandbox_child.USERNS_UID
    assert seen["passwd"] is False and seen["net"] in ("OSError", "ConnectionRefusedError")
    assert seen["init_environ"] == "PermissionError"
    assert "ARCHON_PLANTED_KEY" not in seen["env"]
    assert seen["write"] == "FileNotFoundError" and not written


# -- concurrency ------------------------------------------------------------------------------------


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
