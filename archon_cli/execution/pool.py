"""Reused sandboxes: a few sandboxed processes, each set up once, that run many short programs.

A run of ``Sandbox`` sets up a whole sandbox for one program (a control group, a child program,
namespaces, a new root, a fresh interpreter): about 0.1 s here (bench/RESULTS.md). A generator's
programs and an evaluator's executed tests are many short programs per question, so the pool keeps
``size`` sandboxes alive instead. Each is the same isolated child program in serve mode
(``sandbox_child.serve``): the namespace's init, set up once, forks a fresh process per program
that drops to the code's uid and its limits and runs the program; when the program ends (or hits
its time limit, or prints more than the cap) init kills every other process of the namespace and
clears the private /tmp before the next one. What isolation keeps per program:

  - programs of one sandbox run one after the other, never together, and nothing of one survives
    into the next: not a process (killed and reaped by init), not a file (/tmp cleared), not
    memory (each is a fresh fork of init, which runs no model code);
  - everything else as ``Sandbox``: no host file, no network, own PID namespace, no capabilities,
    ``no_new_privs``, the rlimits per program, the control group's memory and process cap for the
    sandbox's whole tree (programs are killed first under it: their ``oom_score_adj`` is 1000).

What is shared: the uid inside a sandbox (its programs are never alive together, so none can
signal or trace another) and the control group (so a program that hits the memory cap is
reported by the count of kills rising during its run). Where isolation is not available, the pool
runs each program through ``Sandbox.run`` (unsandboxed mode could not kill leftovers safely).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from archon_cli.execution import sandbox_child
from archon_cli.execution.cgroups import RunGroups, make_run_groups
from archon_cli.execution.sandbox import (
    _CHILD,
    _OWN_PROCESSES,
    ExecResult,
    Isolation,
    Sandbox,
    SandboxLimits,
    _cgroup_support,
    _env,
    _kill_group,
    _remove,
    child_config,
    prepare_base,
)

# Seconds to wait for a sandbox to be set up, and beyond a program's own limit for its answer.
_START_TIMEOUT_S = 20.0
_ANSWER_MARGIN_S = 5.0
_SCRIPT = "main.py"

# Sandboxes are started from this one long-lived thread: the child program asks to die with the
# thread that started it (PR_SET_PDEATHSIG), and executor threads come and go with event loops.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archon-sandbox-spawner")


class _Died(Exception):
    """The sandbox process ended or stopped answering."""


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    base: str
    groups: RunGroups | None
    uid: int | None
    nonce: str
    buffer: bytearray

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read_line(self, deadline: float) -> bytes:
        stdout = self.proc.stdout
        assert stdout is not None
        fd = stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Died("no answer in time")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise _Died("ended")
                self.buffer += chunk
        line, _, rest = bytes(self.buffer).partition(b"\n")
        self.buffer[:] = rest
        return line

    def oom_kills(self) -> int:
        return self.groups.oom_kills() if self.groups is not None else 0

    def run(self, request: dict[str, Any], wait_s: float) -> dict[str, Any]:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write((json.dumps(request) + "\n").encode())
            stdin.flush()
        except OSError as exc:
            raise _Died(str(exc)) from None
        answer: dict[str, Any] = json.loads(self._read_line(time.monotonic() + wait_s))
        return answer

    def setup_failure(self) -> str:
        """The child program's reason, when it failed to set the sandbox up."""
        stderr = self.proc.stderr
        text = ""
        if stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                os.set_blocking(stderr.fileno(), False)
                text = (stderr.read() or b"").decode("utf-8", errors="replace")
        marker = sandbox_child.failure_marker(self.nonce)
        if marker in text:
            return (text.split(marker, 1)[1].strip().splitlines() or ["unknown"])[0]
        return (text.strip().splitlines() or ["the sandbox process ended"])[-1]

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2.0)
        _kill_group(self.proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2.0)
        if self.groups is not None:
            self.groups.close()
        _remove(self.base)


def _start(limits: SandboxLimits) -> _Worker:
    """A sandbox in serve mode, set up and ready (raises _Died with the reason otherwise)."""
    import secrets

    base = prepare_base("", None)
    groups = None
    support = _cgroup_support()
    if support is not None:
        try:
            groups = make_run_groups(support, limits.memory_mb, limits.max_processes + _OWN_PROCESSES)
        except OSError as exc:
            _remove(base)
            raise _Died(f"cannot create a control group: {exc}") from None
    nonce = secrets.token_hex(8)
    config = child_config(
        limits, isolated=True, base=base, nonce=nonce, parent=os.getpid(), cgroups=groups.procs if groups else None
    )
    config["serve"] = True

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-I", _CHILD, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=config["files"],
            env=_env(config["files"]),
            start_new_session=True,
        )

    try:
        proc = _SPAWNER.submit(spawn).result()
    except OSError as exc:
        if groups is not None:
            groups.close()
        _remove(base)
        raise _Died(f"cannot start: {exc}") from None
    worker = _Worker(proc, base, groups, config.get("uid"), nonce, bytearray())
    try:
        ready = worker._read_line(time.monotonic() + _START_TIMEOUT_S)
    except _Died:
        reason = worker.setup_failure()
        worker.close()
        raise _Died(reason) from None
    if ready != b"ready":
        worker.close()
        raise _Died(f"unexpected first line {ready[:80]!r}")
    return worker


class SandboxPool:
    """Runs programs in ``size`` reused sandboxes (see the module docstring); ``run`` takes and
    returns what ``Sandbox.run`` does. Sandboxes start on first use and live until ``close`` (or
    the evaluator's exit)."""

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        size: int = 2,
        isolation: Isolation = "auto",
        allow_unsandboxed: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.limits = limits or SandboxLimits()
        self.size = size
        self.sandbox = Sandbox(
            self.limits, max_concurrent=size, isolation=isolation, allow_unsandboxed=allow_unsandboxed
        )
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="archon-sandbox-pool")
        self.started = 0  # sandboxes started so far (tests and the bench read it)
        _POOLS.add(self)

    async def run(
        self,
        code: str,
        *,
        stdin: str = "",
        files: Mapping[str, str] | None = None,
        limits: SandboxLimits | None = None,
    ) -> ExecResult:
        caps = await asyncio.to_thread(self.sandbox.check_ready)
        if not caps.isolated:
            return await self.sandbox.run(code, stdin=stdin, files=files, limits=limits)
        for name in files or {}:
            if "/" in name or name.startswith(".") or name == _SCRIPT:
                raise ValueError(f"sandbox file name {name!r}: must be a plain file name other than main.py")
        # Threads of the pool's own (as many as sandboxes), so waiting programs never hold the
        # event loop's default executor, which the rest of the process shares.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._threads, self._run_blocking, code, stdin, dict(files or {}), limits or self.limits
        )

    def run_sync(self, code: str, **kwargs: Any) -> ExecResult:
        return asyncio.run(self.run(code, **kwargs))

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.close()
            self.started += 1
        return _start(self.limits)

    def _run_blocking(self, code: str, stdin: str, files: dict[str, str], limits: SandboxLimits) -> ExecResult:
        request = {
            "script": _SCRIPT,
            "files": {**files, _SCRIPT: code},
            "stdin": stdin,
            "timeout_s": limits.timeout_s,
            "max_output_bytes": limits.max_output_bytes,
            "limits": {"cpu_s": limits.cpu_s or int(limits.timeout_s) + 1, "memory_mb": limits.memory_mb},
        }
        with self._slots:
            try:
                worker = self._take()
            except _Died as exc:
                return ExecResult(None, "", "", False, 0.0, isolated=True, setup_error=str(exc))
            started = time.monotonic()
            kills = worker.oom_kills()
            try:
                answer = worker.run(request, limits.timeout_s + _ANSWER_MARGIN_S)
            except (_Died, ValueError) as exc:
                # The sandbox itself died under this program (the memory cap's killer chose init) or
                # stopped answering: the program failed; the next one gets a fresh sandbox.
                exceeded = worker.oom_kills() > kills
                worker.close()
                timed_out = isinstance(exc, _Died) and str(exc) == "no answer in time"
                return ExecResult(
                    -9, "", f"sandbox process ended during the run ({exc})", timed_out,
                    round(time.monotonic() - started, 4), isolated=True, pid=worker.proc.pid, uid=worker.uid,
                    memory_exceeded=exceeded,
                )  # fmt: skip
            with self._lock:
                self._idle.append(worker)
        if "setup_error" in answer:
            return ExecResult(None, "", "", False, 0.0, isolated=True, setup_error=str(answer["setup_error"]))
        stderr = str(answer["stderr"])
        setup_error = None
        marker = sandbox_child.failure_marker(worker.nonce)
        if answer["returncode"] == sandbox_child.SETUP_FAILED and marker in stderr:
            setup_error = (stderr.split(marker, 1)[1].strip().splitlines() or ["unknown"])[0]
        return ExecResult(
            returncode=int(answer["returncode"]),
            stdout=str(answer["stdout"]),
            stderr=stderr,
            timed_out=bool(answer["timed_out"]),
            duration=float(answer["duration"]),
            stdout_truncated=bool(answer["stdout_truncated"]),
            stderr_truncated=bool(answer["stderr_truncated"]),
            isolated=True,
            setup_error=setup_error,
            pid=worker.proc.pid,
            uid=worker.uid,
            memory_exceeded=worker.oom_kills() > kills,
        )

    def close(self) -> None:
        """Stop every idle sandbox (a later ``run`` starts new ones)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()


_POOLS: weakref.WeakSet[SandboxPool] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for pool in list(_POOLS):
        pool.close()


_SHARED: dict[tuple[SandboxLimits, int], SandboxPool] = {}
_SHARED_LOCK = threading.Lock()


def shared_pool(limits: SandboxLimits, size: int | None = None) -> SandboxPool:
    """One pool per limits for the whole process (components share it): ``size`` sandboxes, by
    default one per CPU, at least 2."""
    size = size or max(2, os.cpu_count() or 2)
    with _SHARED_LOCK:
        pool = _SHARED.get((limits, size))
        if pool is None:
            pool = _SHARED[(limits, size)] = SandboxPool(limits, size=size)
        return pool


__all__ = ["SandboxPool", "shared_pool"]
