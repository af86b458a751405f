"""Run model-written Python in a separate, limited process (the code benchmarks' sandbox).

The code never runs in the evaluator's process: each run is a child ``sys.executable -I`` in a
session (process group) of its own, with a fresh temporary directory, and at most ``max_concurrent``
runs at a time. What is enforced depends on the machine; ``Sandbox.capabilities()`` says which mode
is in use, and benchmark records carry it (``sandbox``: "isolated" or "basic").

Always enforced (any Linux user, "basic" mode and up):
  - a wall-clock timeout: the whole process group is SIGKILLed, so a hang never stalls the
    evaluation; the run also dies with the evaluator (parent-death signal);
  - ``RLIMIT_CPU`` (busy loops), ``RLIMIT_AS`` (huge allocations fail with MemoryError),
    ``RLIMIT_FSIZE`` (no file larger than the cap), ``RLIMIT_NOFILE``, ``RLIMIT_CORE`` = 0;
  - stdout and stderr are drained in full but only the first ``max_output_bytes`` of each is kept;
  - cwd, ``HOME`` and ``TMPDIR`` are the temporary directory; the environment is minimal.

Also enforced when the evaluator runs as root and the kernel allows namespaces ("isolated" mode;
the project's machines are such, as root without containers). Setup runs as root; the code never does:
  - a new network namespace with only a loopback interface that is down: every connection fails,
    including to servers on the host's 127.0.0.1;
  - a new mount namespace in which every mount is remounted read-only; the only writable place is a
    private, size-capped tmpfs on the run's directory, gone with the run (nothing reaches the disk);
  - a new PID namespace (and IPC, UTS): the code sees only its own processes, and when the run ends,
    times out or loses the evaluator, the namespace's init dies and the kernel kills everything left
    inside, including processes that called ``setsid()`` to leave the process group;
  - a fresh random unprivileged uid/gid, no capabilities, ``no_new_privs``: the code cannot signal
    or trace host processes, and ``RLIMIT_NPROC`` (which the kernel ignores for root, and which is per
    uid, hence the fresh uid) caps its processes and threads: that is what stops a fork bomb;
  - a directory above the interpreter that the fresh uid could not enter (here a 0700 ``/root``
    holding pyenv) is covered, inside the namespace only, by a tmpfs exposing just the interpreter's
    prefix, read-only. (The run's directory, under the system temp dir, must be reachable.)

Not enforced in "basic" mode (non-root, or namespaces refused, e.g. a container without
CAP_SYS_ADMIN): no network isolation and no filesystem isolation beyond the user's own permissions
(the code can write wherever the evaluating user can, and connect anywhere); descendants that call
``setsid()`` escape the timeout kill, and forked descendants outlive an evaluator that is killed. For a
non-root user ``RLIMIT_NPROC`` is the user's current thread count plus ``max_processes``, so fork bombs
are still capped; for root without namespaces it is not (the kernel exempts root). Linux only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from archon_cli.benchmarks.code import sandbox_child
from archon_cli.errors import UserError

log = logging.getLogger(__name__)

Isolation = Literal["auto", "on", "off"]

# The child program, run as ``sys.executable -I sandbox_child.py CONFIG_JSON``: it applies the limits
# (and, isolated, the namespaces and mounts), then execs the code.
_CHILD = str(Path(sandbox_child.__file__).resolve())
_PROBE_TIMEOUT = 20.0


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits. ``cpu_s`` defaults to the timeout plus one second."""

    timeout_s: float = 10.0
    memory_mb: int = 1024
    cpu_s: int | None = None
    max_processes: int = 64
    max_file_mb: int = 16
    writable_mb: int = 64
    max_open_files: int = 256
    max_output_bytes: int = 64 * 1024


@dataclass(frozen=True)
class ExecResult:
    """What one run did. ``returncode`` is negative for a signal (``-9`` after a timeout kill)."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration: float
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    isolated: bool = False
    setup_error: str | None = None
    # For inspection (tests check nothing is left behind): the process group's id and, isolated, the uid.
    pid: int | None = None
    uid: int | None = None

    @property
    def ok(self) -> bool:
        """Exited with status 0 in time."""
        return self.returncode == 0 and not self.timed_out and self.setup_error is None


@dataclass(frozen=True)
class SandboxCapabilities:
    """Which protections a run gets on this machine (see the module docstring)."""

    isolated: bool
    reason: str = ""
    process_limit: bool = False

    @property
    def network_blocked(self) -> bool:
        return self.isolated

    @property
    def filesystem_readonly(self) -> bool:
        return self.isolated


def _user_process_count(uid: int) -> int:
    """Threads owned by ``uid``: RLIMIT_NPROC counts every thread of the user's processes."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1").strip())
    return count


def _interpreter_paths() -> list[str]:
    """What the code's interpreter needs to read: its binary's directory and its prefixes."""
    paths = {
        os.path.dirname(os.path.realpath(sys.executable)),
        os.path.realpath(sys.base_prefix),
        os.path.realpath(sys.base_exec_prefix),
        os.path.realpath(sys.prefix),
    }
    # Nested paths are covered by their outermost one.
    return sorted(p for p in paths if not any(p != q and p.startswith(q + os.sep) for q in paths))


def _env(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        # Numeric libraries would start a thread per core, each counted against RLIMIT_NPROC.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


async def _read_capped(stream: asyncio.StreamReader | None, cap: int) -> tuple[bytes, bool]:
    """Read to EOF, keeping the first ``cap`` bytes: draining the rest keeps the child from blocking."""
    if stream is None:
        return b"", False
    kept = bytearray()
    truncated = False
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return bytes(kept), truncated
        room = cap - len(kept)
        if room > 0:
            kept += chunk[:room]
        if len(chunk) > room:
            truncated = True


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def _wait_group_gone(pgid: int, limit_s: float = 2.0) -> None:
    """SIGKILL is asynchronous: wait (briefly) until the group's processes are really gone, so a
    finished run holds no CPU or memory while the next one starts."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and _group_alive(pgid):
        await asyncio.sleep(0.01)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is still running. Zombies do not count: orphans are
    reaped by the machine's init, which may take its time."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if not os.path.isdir("/proc/self"):
        return True
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as fh:
                state, _ppid, group = fh.read().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state not in ("Z", "X"):
            return True
    return False


def _remove(path: str) -> None:
    def unlock(func, target, _exc):  # type: ignore[no-untyped-def]
        # Code may leave directories without write permission; the owner can restore it.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)

    shutil.rmtree(path, onerror=unlock)


@cache
def _probe_isolation() -> tuple[bool, str]:
    """Can this machine run the isolated mode? Tried once per process with a trivial program."""
    if not sys.platform.startswith("linux"):
        return False, f"isolation needs Linux namespaces (platform is {sys.platform})"
    if os.geteuid() != 0:
        return False, "isolation needs root (namespaces, a fresh uid); running as a normal user"
    code = "import os\nassert os.getuid() != 0\nprint('ok')\n"
    probe = _execute(code, SandboxLimits(timeout_s=_PROBE_TIMEOUT), isolated=True, stdin="")
    # A thread of its own, so the probe also works when called from inside a running event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(asyncio.run, probe).result()
    if result.ok and result.stdout.strip() == "ok":
        return True, "namespaces and a fresh uid"
    last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
    return False, f"isolated probe failed: {result.setup_error or last_line}"


async def _execute(
    code: str,
    limits: SandboxLimits,
    *,
    isolated: bool,
    stdin: str,
    files: Mapping[str, str] | None = None,
) -> ExecResult:
    for name in files or {}:
        if "/" in name or name.startswith(".") or name == "main.py":
            raise ValueError(f"sandbox file name {name!r}: must be a plain file name other than main.py")
    try:
        workdir = tempfile.mkdtemp(prefix="archon-sandbox-")
    except OSError as exc:
        return ExecResult(None, "", "", False, 0.0, isolated=isolated, setup_error=f"cannot create a directory: {exc}")
    started = time.monotonic()
    try:
        uid = 1_000_000 + secrets.randbelow(1_000_000_000) if isolated else None
        if isolated:
            nproc: int | None = limits.max_processes
        elif os.geteuid() != 0 and sys.platform.startswith("linux"):
            nproc = _user_process_count(os.geteuid()) + limits.max_processes
        else:
            nproc = None
        nonce = secrets.token_hex(8)
        config = {
            "parent": os.getpid(),
            "nonce": nonce,
            "isolated": isolated,
            "workdir": workdir,
            "script": "main.py",
            "uid": uid,
            "env": _env(workdir),
            "expose": _interpreter_paths(),
            "memory_mb": limits.memory_mb,
            "cpu_s": limits.cpu_s or int(limits.timeout_s) + 1,
            "nproc": nproc,
            "max_file_mb": limits.max_file_mb,
            "writable_mb": limits.writable_mb,
            "max_open_files": limits.max_open_files,
        }
        try:
            for name, text in {**(files or {}), "main.py": code}.items():
                Path(workdir, name).write_text(text, encoding="utf-8")
            # An unnamed file, not a pipe: the child reads it at its own pace and nothing can block.
            with tempfile.TemporaryFile() as stdin_file:
                stdin_file.write(stdin.encode("utf-8"))
                stdin_file.seek(0)
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-I",
                    _CHILD,
                    json.dumps(config),
                    stdin=stdin_file,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    cwd=workdir,
                    env=_env(workdir),
                    start_new_session=True,  # its own process group, killed as a whole
                )
        except OSError as exc:  # the machine is out of processes, memory or disk: not the code's fault
            return ExecResult(None, "", "", False, 0.0, isolated=isolated, setup_error=f"cannot start: {exc}")
        readers = (
            asyncio.ensure_future(_read_capped(proc.stdout, limits.max_output_bytes)),
            asyncio.ensure_future(_read_capped(proc.stderr, limits.max_output_bytes)),
        )
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), timeout=limits.timeout_s)
        except TimeoutError:
            timed_out = True
            if isolated:
                # The child program kills the namespace's init and reaps it; SIGKILL below is the fallback.
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), timeout=1.0)
        finally:
            # Also after a normal exit: background processes left in the group must not outlive the run.
            _kill_group(proc.pid)
        returncode = await proc.wait()
        await _wait_group_gone(proc.pid)
        # A descendant that left the group could hold the pipes open; do not wait on it for long.
        done, pending = await asyncio.wait(readers, timeout=2.0)
        for task in pending:
            task.cancel()
        out, out_cut = readers[0].result() if readers[0] in done else (b"", True)
        err, err_cut = readers[1].result() if readers[1] in done else (b"", True)
        stderr = err.decode("utf-8", errors="replace")
        setup_error = None
        marker = sandbox_child.failure_marker(nonce)
        if returncode == sandbox_child.SETUP_FAILED and marker in stderr:
            setup_error = (stderr.split(marker, 1)[1].strip().splitlines() or ["unknown"])[0]
        return ExecResult(
            returncode=returncode,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=stderr,
            timed_out=timed_out,
            duration=round(time.monotonic() - started, 4),
            stdout_truncated=out_cut,
            stderr_truncated=err_cut,
            isolated=isolated,
            setup_error=setup_error,
            pid=proc.pid,
            uid=uid,
        )
    finally:
        await asyncio.to_thread(_remove, workdir)


class Sandbox:
    """Runs Python code under ``limits``, at most ``max_concurrent`` at a time per event loop.

    ``isolation``: "auto" uses the isolated mode where this machine supports it, "on" requires it
    (UserError otherwise), "off" never uses it.
    """

    def __init__(
        self, limits: SandboxLimits | None = None, *, max_concurrent: int = 2, isolation: Isolation = "auto"
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.limits = limits or SandboxLimits()
        self.max_concurrent = max_concurrent
        self.isolation = isolation
        # One semaphore per event loop: asyncio primitives must not cross loops (tests run many).
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def capabilities(self) -> SandboxCapabilities:
        """The protections runs get here (probes the machine once per process)."""
        if self.isolation == "off":
            isolated, reason = False, "isolation turned off"
        else:
            isolated, reason = _probe_isolation()
            if self.isolation == "on" and not isolated:
                raise UserError(f"sandbox isolation is not available here: {reason}")
        process_limit = isolated or (os.geteuid() != 0 and sys.platform.startswith("linux"))
        return SandboxCapabilities(isolated=isolated, reason=reason, process_limit=process_limit)

    async def run(
        self,
        code: str,
        *,
        stdin: str = "",
        files: Mapping[str, str] | None = None,
        limits: SandboxLimits | None = None,
    ) -> ExecResult:
        """Run ``code`` as a script with ``stdin``; ``files`` are extra files put next to it."""
        caps = await asyncio.to_thread(self.capabilities)
        if not caps.isolated and self.isolation == "auto":
            _warn_once(caps.reason)
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.max_concurrent)
        async with sem:
            return await _execute(code, limits or self.limits, isolated=caps.isolated, stdin=stdin, files=files)

    def run_sync(
        self,
        code: str,
        *,
        stdin: str = "",
        files: Mapping[str, str] | None = None,
        limits: SandboxLimits | None = None,
    ) -> ExecResult:
        """``run`` for callers without an event loop."""
        return asyncio.run(self.run(code, stdin=stdin, files=files, limits=limits))


@cache
def _warn_once(reason: str) -> None:
    log.warning("code sandbox runs without network/filesystem isolation: %s", reason)


__all__ = ["ExecResult", "Sandbox", "SandboxCapabilities", "SandboxLimits"]
