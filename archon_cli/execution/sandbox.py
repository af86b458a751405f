"""Run model-written Python in a separate, limited, isolated process (the code benchmarks' sandbox).

The code never runs in the evaluator's process: each run is a child program
(``sandbox_child.py``) in a session (process group) of its own, started with a minimal
environment, which sets the run up and execs the interpreter on the code; at most
``max_concurrent`` runs at a time. ``Sandbox.capabilities()`` says what this machine provides, and
``describe()`` is what a run folder's summary records.

Isolated mode (the default wherever the kernel allows it: as root, or as a normal user where
unprivileged user namespaces are allowed):
  - the code sees a root of its own: the interpreter, its standard library and its shared
    libraries, read-only, four /dev nodes, a /proc of its own, and ``/tmp``, a private
    size-capped tmpfs holding its files (its only writable place, gone with the run). No host
    file is visible: not /etc, not the project, not the data, not the evaluator's virtualenv;
  - a network namespace with only a loopback interface that is down: no connection reaches the
    host or anything else, and host Unix sockets (which live on the host's filesystem, or, for
    abstract ones, in the host's network namespace) are out of reach;
  - a PID namespace: the code sees only its own processes (not the evaluator, so not its
    ``/proc/<pid>/environ``), and when the run ends, times out or loses the evaluator, the
    namespace's init dies and the kernel kills everything left, including processes that left the
    process group with ``setsid()``;
  - the code runs with no capabilities and ``no_new_privs``: as root, as a fresh random uid (so it
    cannot signal, trace or share limits with anything else); as a normal user, as uid 1000 of a
    user namespace of its own;
  - memory: a control group caps the whole process tree (``cgroups.py``) where one is writable
    (as root, usually); elsewhere each process has ``RLIMIT_AS`` and their number is capped, so the
    tree is bounded by their product (``memory_cap`` says which).

Always, in both modes: a wall-clock timeout (the whole process group is SIGKILLed; the run also
dies with the evaluator), ``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE``, no core
files, a process cap (``RLIMIT_NPROC``: a fresh uid's own count, or the user's current thread count
plus ``max_processes``), stdout and stderr drained in full with only the first
``max_output_bytes`` of each kept, and a minimal environment.

Unsandboxed mode (where isolation is impossible, e.g. a container that refuses namespaces): the
code runs as the evaluating user, in a temporary directory, with the limits above and nothing else:
it can read and write what the user can, connect anywhere, and read the evaluator's environment.
``Sandbox.run`` refuses it unless ``allow_unsandboxed`` (the CLI's ``--allow-unsandboxed``) or
``isolation="off"`` says so. Linux only.
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
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from archon_cli.errors import UserError
from archon_cli.execution import sandbox_child
from archon_cli.execution.cgroups import CgroupSupport, RunGroups, find_cgroups, make_run_groups, remove_stale

log = logging.getLogger(__name__)

Isolation = Literal["auto", "on", "off"]

# The child program, run as ``sys.executable -I sandbox_child.py CONFIG_JSON``.
_CHILD = str(Path(sandbox_child.__file__).resolve())
_PROBE_TIMEOUT = 20.0
# Processes the sandbox itself adds to a run's control group: the child program, the namespace's init.
_OWN_PROCESSES = 4
_PROBE_CODE = (
    "import os, socket\n"
    "assert os.getuid() != 0 and os.geteuid() != 0\n"
    "assert not os.path.exists('/etc/passwd')\n"
    "print('ok')\n"
)


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
    # For inspection (tests check nothing is left behind): the process group's id and, isolated as
    # root, the uid the code ran as.
    pid: int | None = None
    uid: int | None = None
    memory_exceeded: bool = False

    @property
    def ok(self) -> bool:
        """Exited with status 0 in time."""
        return self.returncode == 0 and not self.timed_out and self.setup_error is None

    @property
    def mode(self) -> str:
        return "isolated" if self.isolated else "unsandboxed"


@dataclass(frozen=True)
class SandboxCapabilities:
    """What runs get on this machine (see the module docstring). ``user``: "fresh-uid" (root) or
    "userns" (a user namespace); ``memory_cap``: "cgroup-v1", "cgroup-v2" or "per-process"."""

    isolated: bool
    reason: str = ""
    user: str | None = None
    memory_cap: str = "per-process"

    @property
    def network_blocked(self) -> bool:
        return self.isolated

    @property
    def filesystem_readonly(self) -> bool:
        return self.isolated

    @property
    def process_limit(self) -> bool:
        """Whether RLIMIT_NPROC binds (the kernel exempts root, so unsandboxed root has none)."""
        return self.isolated or self.memory_cap != "per-process" or os.geteuid() != 0

    @property
    def tree_memory_cap(self) -> bool:
        return self.memory_cap != "per-process"

    def describe(self) -> dict[str, Any]:
        """What a run folder records about the sandbox its code ran in."""
        if not self.isolated:
            return {"mode": "unsandboxed", "reason": self.reason, "memory_cap": self.memory_cap}
        return {
            "mode": "isolated",
            "user": self.user,
            "filesystem": "private root (interpreter read-only, /tmp private)",
            "network": "none (own network namespace)",
            "processes": "own PID namespace",
            "memory_cap": self.memory_cap,
        }


# -- what the interpreter needs inside an isolated run ------------------------------------------------


@dataclass(frozen=True)
class Runtime:
    """An interpreter as an isolated run needs it: its real path, the host paths bind-mounted
    read-only (the binary, its standard library, the directories of its shared libraries), and the
    paths whose symlinks are recreated so the dynamic loader finds them."""

    python: str
    binds: tuple[str, ...]
    links: tuple[str, ...]


_RUNTIME_QUERY = (
    "import json, os, sys, sysconfig\n"
    "paths = {sysconfig.get_path(k) for k in ('stdlib', 'platstdlib')}\n"
    "paths |= {p for p in sys.path if p.endswith('lib-dynload')}\n"
    "print(json.dumps({'python': os.path.realpath(sys.executable),"
    " 'paths': sorted(os.path.realpath(p) for p in paths if p and os.path.isdir(p))}))\n"
)


def _shared_libraries(files: list[str]) -> list[str]:
    """The shared libraries ``ldd`` lists for ``files`` (paths as the loader names them)."""
    try:
        out = subprocess.run(["ldd", *files], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        line = line.strip()
        if line.endswith(":"):  # "FILE:", the header ldd prints per file
            continue
        target = line.split("=>", 1)[1].split("(")[0].strip() if "=>" in line else line.split("(")[0].strip()
        if target.startswith("/"):
            found.append(target)
    return sorted(set(found))


def _outermost(paths: set[str]) -> tuple[str, ...]:
    """``paths`` without those inside another of them."""
    return tuple(sorted(p for p in paths if not any(p != q and p.startswith(q + os.sep) for q in paths)))


@cache
def runtime(python: str) -> Runtime:
    """What ``python`` needs inside an isolated run (asked once per interpreter). The real binary is
    asked, not a virtualenv's link to it: the code gets the standard library, not the evaluator's packages."""
    python = os.path.realpath(python)
    out = subprocess.run([python, "-I", "-c", _RUNTIME_QUERY], capture_output=True, text=True, timeout=60)
    info = json.loads(out.stdout)
    real = str(info["python"])
    paths = [str(p) for p in info["paths"]]
    extensions = [str(f) for p in paths if p.endswith("lib-dynload") for f in Path(p).glob("*.so")]
    libraries = _shared_libraries([real, *extensions])
    if libraries:
        lib_dirs = {os.path.dirname(os.path.realpath(lib)) for lib in libraries}
        links = tuple(libraries)
    else:  # no ldd: the usual library directories
        candidates = ("/lib", "/lib64", "/usr/lib", "/usr/lib64")
        lib_dirs = {os.path.realpath(p) for p in candidates if os.path.isdir(p)}
        links = tuple(p for p in candidates if os.path.lexists(p))
    binds = {real, *paths, *lib_dirs}
    return Runtime(python=real, binds=_outermost(binds), links=links)


# -- running ----------------------------------------------------------------------------------------


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


def _env(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
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
def _cgroup_support() -> CgroupSupport | None:
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
        own = Path("/proc/self/cgroup").read_text()
    except OSError:
        return None
    support = find_cgroups(mountinfo, own)
    if support is not None:
        remove_stale(support)
    return support


def child_config(
    limits: SandboxLimits,
    *,
    isolated: bool,
    base: str,
    python: str = sys.executable,
    nonce: str = "",
    parent: int | None = None,
    cgroups: list[str] | None = None,
) -> dict[str, Any]:
    """The child program's configuration for one run whose files are in ``base``/files (and, isolated,
    whose new root is mounted on ``base``/root)."""
    files = os.path.join(base, "files")
    root_user = os.geteuid() == 0
    uid = 1_000_000 + secrets.randbelow(1_000_000_000) if isolated and root_user else None
    if isolated and root_user:
        nproc: int | None = limits.max_processes
    elif os.geteuid() != 0 and sys.platform.startswith("linux"):
        nproc = _user_process_count(os.geteuid()) + limits.max_processes
    else:
        nproc = None
    config: dict[str, Any] = {
        "parent": parent,
        "nonce": nonce,
        "isolated": isolated,
        "files": files,
        "script": "main.py",
        "python": python,
        "env": _env(sandbox_child.WORKDIR if isolated else files),
        "cgroups": cgroups or [],
        "memory_mb": limits.memory_mb,
        "cpu_s": limits.cpu_s or int(limits.timeout_s) + 1,
        "nproc": nproc,
        "max_file_mb": limits.max_file_mb,
        "writable_mb": limits.writable_mb,
        "max_open_files": limits.max_open_files,
    }
    if isolated:
        layout = runtime(python)
        config.update(
            python=layout.python,
            root=os.path.join(base, "root"),
            user="fresh-uid" if root_user else "userns",
            uid=uid,
            binds=list(layout.binds),
            links=[layout.python, *layout.links],
        )
    return config


def prepare_base(code: str, files: Mapping[str, str] | None) -> str:
    """A fresh directory with files/ (main.py and the extra files) and root/ (a mount point)."""
    for name in files or {}:
        if "/" in name or name.startswith(".") or name == "main.py":
            raise ValueError(f"sandbox file name {name!r}: must be a plain file name other than main.py")
    base = tempfile.mkdtemp(prefix="archon-sandbox-")
    os.mkdir(os.path.join(base, "files"))
    os.mkdir(os.path.join(base, "root"))
    for name, text in {**(files or {}), "main.py": code}.items():
        Path(base, "files", name).write_text(text, encoding="utf-8")
    return base


async def _execute(
    code: str,
    limits: SandboxLimits,
    *,
    caps: SandboxCapabilities,
    stdin: str,
    files: Mapping[str, str] | None = None,
) -> ExecResult:
    isolated = caps.isolated

    def setup_failed(reason: str) -> ExecResult:
        return ExecResult(None, "", "", False, 0.0, isolated=isolated, setup_error=reason)

    try:
        base = await asyncio.to_thread(prepare_base, code, files)
    except OSError as exc:
        return setup_failed(f"cannot create a directory: {exc}")
    groups: RunGroups | None = None
    started = time.monotonic()
    try:
        support = _cgroup_support() if caps.tree_memory_cap else None
        if support is not None:
            try:
                groups = make_run_groups(support, limits.memory_mb, limits.max_processes + _OWN_PROCESSES)
            except OSError as exc:
                return setup_failed(f"cannot create a control group: {exc}")
        nonce = secrets.token_hex(8)
        config = child_config(
            limits,
            isolated=isolated,
            base=base,
            nonce=nonce,
            parent=os.getpid(),
            cgroups=groups.procs if groups else None,
        )
        try:
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
                    cwd=config["files"],
                    env=_env(config["files"]),
                    start_new_session=True,  # its own process group, killed as a whole
                )
        except OSError as exc:  # the machine is out of processes, memory or disk: not the code's fault
            return setup_failed(f"cannot start: {exc}")
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
            uid=config.get("uid"),
            memory_exceeded=groups.memory_exceeded() if groups else False,
        )
    finally:
        if groups is not None:
            await asyncio.to_thread(groups.close)
        await asyncio.to_thread(_remove, base)


@cache
def _probe_isolation() -> SandboxCapabilities:
    """Can this machine run the isolated mode? Tried once per process with a trivial program."""
    support = _cgroup_support()
    memory_cap = support.version if support is not None else "per-process"
    if not sys.platform.startswith("linux"):
        return SandboxCapabilities(False, f"isolation needs Linux namespaces (platform is {sys.platform})")
    user = "fresh-uid" if os.geteuid() == 0 else "userns"
    trial = SandboxCapabilities(True, user=user, memory_cap=memory_cap)
    probe = _execute(_PROBE_CODE, SandboxLimits(timeout_s=_PROBE_TIMEOUT), caps=trial, stdin="")
    # A thread of its own, so the probe also works when called from inside a running event loop.
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            result = pool.submit(asyncio.run, probe).result()
    except (OSError, ValueError, subprocess.SubprocessError) as exc:  # e.g. the interpreter's layout unreadable
        return SandboxCapabilities(False, f"isolated probe failed: {exc}", memory_cap=memory_cap)
    if result.ok and result.stdout.strip() == "ok":
        return trial
    last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
    how = "namespaces as root" if user == "fresh-uid" else "an unprivileged user namespace"
    return SandboxCapabilities(
        False, f"{how} could not be set up ({result.setup_error or last_line})", memory_cap=memory_cap
    )


class Sandbox:
    """Runs Python code under ``limits``, at most ``max_concurrent`` at a time per event loop.

    ``isolation``: "auto" uses the isolated mode where this machine supports it and otherwise
    refuses to run code unless ``allow_unsandboxed``; "on" requires isolation (UserError otherwise);
    "off" never isolates (the caller's explicit choice).
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        max_concurrent: int = 2,
        isolation: Isolation = "auto",
        allow_unsandboxed: bool = False,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.limits = limits or SandboxLimits()
        self.max_concurrent = max_concurrent
        self.isolation = isolation
        self.allow_unsandboxed = allow_unsandboxed
        # One semaphore per event loop: asyncio primitives must not cross loops (tests run many).
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def capabilities(self) -> SandboxCapabilities:
        """What runs get here (probes the machine once per process)."""
        if self.isolation == "off":
            support = _cgroup_support()
            return SandboxCapabilities(
                False, "isolation turned off", memory_cap=support.version if support else "per-process"
            )
        caps = _probe_isolation()
        if self.isolation == "on" and not caps.isolated:
            raise UserError(f"sandbox isolation is not available here: {caps.reason}")
        return caps

    def check_ready(self) -> SandboxCapabilities:
        """The capabilities, or a one-line UserError when code would run unsandboxed without permission."""
        caps = self.capabilities()
        if not caps.isolated and self.isolation == "auto" and not self.allow_unsandboxed:
            raise UserError(
                f"model-written code cannot be isolated on this machine ({caps.reason}); pass "
                "--allow-unsandboxed to run it anyway, as you, able to read your files, use your "
                "network and see the evaluator's environment"
            )
        return caps

    def describe(self) -> dict[str, Any]:
        return self.capabilities().describe()

    async def run(
        self,
        code: str,
        *,
        stdin: str = "",
        files: Mapping[str, str] | None = None,
        limits: SandboxLimits | None = None,
    ) -> ExecResult:
        """Run ``code`` as a script with ``stdin``; ``files`` are extra files put next to it."""
        caps = await asyncio.to_thread(self.check_ready)
        if not caps.isolated and self.isolation == "auto":
            _warn_once(caps.reason)
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.max_concurrent)
        async with sem:
            return await _execute(code, limits or self.limits, caps=caps, stdin=stdin, files=files)

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
    log.warning("model-written code runs unsandboxed (allowed by --allow-unsandboxed): %s", reason)


__all__ = ["ExecResult", "Sandbox", "SandboxCapabilities", "SandboxLimits"]
