"""The sandbox's child program: set the run up, then exec the model's code (see ``sandbox.py``).

``sandbox.py`` runs this file as ``python -I sandbox_child.py CONFIG_JSON`` in an environment of
its own, so nothing of the evaluator's interpreter state or environment reaches the code. It uses
the standard library only (``-I`` leaves the project off ``sys.path``). Importing it runs nothing;
the evaluator imports it only for its constants.

Isolated, in this order:
  1. join the run's control groups (a memory and process cap for the whole tree), if given;
  2. without root: a new user namespace in which the user's own uid is 1000 (what follows needs
     the capabilities a process has inside its own namespace, and only there);
  3. new mount, network, PID, IPC and UTS namespaces; fork the namespace's init (pid 1), which
  4. builds a new root on a tmpfs: the interpreter and its shared libraries bind-mounted
     read-only at their own paths, four /dev nodes, a new /proc, and /tmp (a private,
     size-capped tmpfs holding the run's files); ``pivot_root`` into it, the old root detached,
     the new root read-only;
  5. forks the code's process: a fresh unprivileged uid (root) or uid 1000 of the user namespace,
     no capabilities, ``no_new_privs``, the rlimits; exec of the interpreter on main.py in /tmp.
Unsandboxed: only the rlimits, then the exec.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import resource
import signal
import sys
import time
from typing import Any, NoReturn

# Exit status when the sandbox could not be set up (never the code's fault).
SETUP_FAILED = 125
# Where the run's files are inside an isolated run, and the uid the code has inside a user namespace.
WORKDIR = "/tmp"
USERNS_UID = 1000

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 32, 1024, 2048, 4096
MS_REC, MS_PRIVATE, MS_RELATIME, MS_STRICTATIME = 16384, 1 << 18, 1 << 21, 1 << 24
# statvfs f_flag bits (a bind remount must keep the flags the kernel locks in a user namespace).
ST_NOSUID, ST_NODEV, ST_NOEXEC, ST_NOATIME, ST_NODIRATIME, ST_RELATIME = 2, 4, 8, 1024, 2048, 4096
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
DEVICES = ("null", "zero", "random", "urandom")

Config = dict[str, Any]


def failure_marker(nonce: str) -> str:
    """What a setup failure writes before its reason; the nonce tells it from code printing the same words."""
    return f"archon-sandbox {nonce}: setup failed:"


def fail(cfg: Config, msg: str) -> NoReturn:
    os.write(2, (failure_marker(cfg["nonce"]) + " " + msg + "\n").encode())
    os._exit(SETUP_FAILED)


def libc() -> ctypes.CDLL:
    lib = ctypes.CDLL(None, use_errno=True)
    lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.unshare.argtypes = [ctypes.c_int]
    lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return lib


def check(cfg: Config, rc: int, what: str) -> None:
    if rc != 0:
        fail(cfg, what + ": " + os.strerror(ctypes.get_errno()))


def _encode(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def mount(
    cfg: Config, lib: ctypes.CDLL, src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    rc = lib.mount(_encode(src), _encode(target), _encode(fstype), flags, _encode(data))
    check(cfg, rc, "mount " + target)


def write_file(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def set_limits(cfg: Config) -> None:
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cfg["cpu_s"], cfg["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (cfg["memory_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (cfg["max_file_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (cfg["max_open_files"],) * 2)
    if cfg["nproc"] is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (cfg["nproc"], cfg["nproc"]))


def exec_code(cfg: Config) -> NoReturn:
    python = cfg["python"]
    os.execve(python, [python, "-I", cfg["script"]], cfg["env"])


# -- the new root ----------------------------------------------------------------------------------


def _kept_flags(path: str) -> int:
    """The mount flags of ``path``'s mount that a read-only bind remount must repeat."""
    f = os.statvfs(path).f_flag
    flags = MS_NOSUID
    flags |= MS_NODEV if f & ST_NODEV else 0
    flags |= MS_NOEXEC if f & ST_NOEXEC else 0
    flags |= MS_NODIRATIME if f & ST_NODIRATIME else 0
    flags |= MS_NOATIME if f & ST_NOATIME else MS_RELATIME if f & ST_RELATIME else MS_STRICTATIME
    return flags


def bind_readonly(cfg: Config, lib: ctypes.CDLL, source: str, root: str) -> None:
    """``source`` (a host file or directory) at the same path under ``root``, read-only."""
    target = root + source
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            write_file(target, "")
    mount(cfg, lib, source, target, None, MS_BIND | MS_REC)
    mount(cfg, lib, None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _kept_flags(source))


def replicate_links(path: str, root: str, bound: list[str], depth: int = 0) -> None:
    """Make ``path`` resolve under ``root`` as it does on the host: each symlink on the way (such as
    /lib64 -> usr/lib64 on merged-/usr systems) is recreated, up to a bound directory."""
    if depth > 20:
        return
    parts = [p for p in path.split("/") if p]
    current = ""
    for index, part in enumerate(parts):
        current += "/" + part
        if any(current == b or current.startswith(b + "/") for b in bound):
            return
        if os.path.islink(current):
            link = os.readlink(current)
            if not os.path.lexists(root + current):
                os.makedirs(os.path.dirname(root + current), exist_ok=True)
                os.symlink(link, root + current)
            target = os.path.normpath(os.path.join(os.path.dirname(current), link))
            rest = "/".join(parts[index + 1 :])
            replicate_links(target + ("/" + rest if rest else ""), root, bound, depth + 1)
            return
        if index < len(parts) - 1:
            os.makedirs(root + current, exist_ok=True)


def build_root(cfg: Config, lib: ctypes.CDLL, uid: int) -> None:
    """Steps 4: the new root (see the module docstring), entered with pivot_root."""
    root = cfg["root"]
    mount(cfg, lib, None, "/", None, MS_REC | MS_PRIVATE)
    mount(cfg, lib, "tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=4096")
    bound = sorted(cfg["binds"], key=len)
    for path in cfg["links"]:
        replicate_links(path, root, bound)
    for path in bound:
        bind_readonly(cfg, lib, path, root)
    os.makedirs(root + "/dev")
    for name in DEVICES:
        write_file(f"{root}/dev/{name}", "")
        mount(cfg, lib, f"/dev/{name}", f"{root}/dev/{name}", None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, f"{root}/dev/{name}")
    os.symlink("/proc/self/fd/1", f"{root}/dev/stdout")
    os.symlink("/proc/self/fd/2", f"{root}/dev/stderr")
    os.makedirs(root + "/proc")
    mount(cfg, lib, "proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    work = root + WORKDIR
    os.makedirs(work, exist_ok=True)
    options = f"size={cfg['writable_mb']}m,nr_inodes=4096,mode=0700,uid={uid},gid={uid}"
    mount(cfg, lib, "tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for name in os.listdir(cfg["files"]):
        with open(os.path.join(cfg["files"], name), "rb") as src, open(os.path.join(work, name), "wb") as dst:
            dst.write(src.read())
        os.chown(os.path.join(work, name), uid, uid)
    old = root + "/.old"
    os.makedirs(old)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        fail(cfg, f"pivot_root: unsupported architecture {platform.machine()}")
    check(cfg, lib.syscall(number, root.encode(), old.encode()), "pivot_root")
    os.chdir("/")
    check(cfg, lib.umount2(b"/.old", MNT_DETACH), "umount old root")
    os.rmdir("/.old")
    mount(cfg, lib, None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def enter_user_namespace(cfg: Config, lib: ctypes.CDLL) -> None:
    """Step 2: the user's uid and gid become USERNS_UID inside; nothing else is mapped."""
    uid, gid = os.geteuid(), os.getegid()
    check(cfg, lib.unshare(CLONE_NEWUSER), "unshare user namespace")
    write_file("/proc/self/setgroups", "deny")
    write_file("/proc/self/uid_map", f"{USERNS_UID} {uid} 1")
    write_file("/proc/self/gid_map", f"{USERNS_UID} {gid} 1")


def isolated(cfg: Config) -> NoReturn:
    lib = libc()
    userns = cfg["user"] == "userns"
    if userns:
        enter_user_namespace(cfg, lib)
    uid = USERNS_UID if userns else cfg["uid"]
    check(cfg, lib.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    init = os.fork()
    if init:
        # Outside the PID namespace: relay the init's status. SIGTERM (the evaluator's timeout) kills
        # the init, and with it the whole namespace; reaping it here leaves no zombie behind.
        signal.signal(signal.SIGTERM, lambda *_: os.kill(init, signal.SIGKILL))
        while True:
            try:
                _, status = os.waitpid(init, 0)
                break
            except InterruptedError:
                continue
        relay(status)
    # pid 1 of the new namespace, with every capability inside it: the evaluator killing our parent
    # kills us, and no process of the code may read or trace us.
    check(cfg, lib.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    check(cfg, lib.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl")
    build_root(cfg, lib, uid)
    if cfg.get("serve"):
        serve(cfg, lib, uid)
    child = os.fork()
    if child == 0:
        try:
            if not userns:
                os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            check(cfg, lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")
            os.chdir(WORKDIR)
            set_limits(cfg)
            exec_code(cfg)
        except BaseException as exc:
            fail(cfg, type(exc).__name__ + ": " + str(exc))
    # As init: reap every orphan until the code's process ends; leaving ends the namespace.
    while True:
        pid, status = os.wait()
        if pid == child:
            relay(status)


# -- serve mode: one sandbox set up once, a fresh forked process per program -----------------------


def drop_to(cfg: Config, lib: ctypes.CDLL, uid: int, limits: Config) -> None:
    """In a forked child of init: the code's uid, no capabilities, ``no_new_privs``, the rlimits."""
    if cfg["user"] != "userns":
        os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    check(cfg, lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")
    os.chdir(WORKDIR)
    set_limits({**cfg, **limits})


def run_inline(cfg: Config, script: str) -> NoReturn:
    """Run ``script`` (in the working directory) the way ``python -I script`` would, in this forked
    copy of init's interpreter: a fresh ``__main__``, the run's environment, stdio on fds 0-2, the
    exit status from ``SystemExit``, a traceback and status 1 for any other exception."""
    import atexit
    import builtins
    import io
    import threading
    import traceback
    import types

    os.environ.clear()
    os.environ.update(cfg["env"])
    sys.argv = [script]
    sys.path[0] = WORKDIR
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr  # type: ignore[misc]
    main = types.ModuleType("__main__")
    main.__file__ = os.path.join(WORKDIR, script)
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    status = 0
    try:
        with open(script, encoding="utf-8") as fh:
            source = fh.read()
        exec(compile(source, script, "exec"), main.__dict__)
    except SystemExit as exc:
        if exc.code is None:
            status = 0
        elif isinstance(exc.code, int):
            status = exc.code & 0xFF
        else:
            print(exc.code, file=sys.stderr)
            status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    try:
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        status = status or 120
    os._exit(status)


def _read_line(buffer: bytearray) -> bytes | None:
    """The next line of fd 0 (the evaluator's requests), None at its end."""
    while b"\n" not in buffer:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


def _clear(directory: str) -> None:
    """Remove everything the previous program left in ``directory`` (init may, whatever its modes)."""
    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            for root, dirs, files in os.walk(entry.path, topdown=False):
                for name in files:
                    os.unlink(os.path.join(root, name))
                for name in dirs:
                    path = os.path.join(root, name)
                    os.unlink(path) if os.path.islink(path) else os.rmdir(path)
            os.rmdir(entry.path)
        else:
            os.unlink(entry.path)


def _kill_the_rest() -> None:
    """As the namespace's init: kill every other process in it and reap them all. kill(-1) from
    init reaches every process of the namespace but init; repeated, as a dying fork bomb may still
    have forked."""
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0] != 0:
                pass
        except ChildProcessError:
            return
        time.sleep(0.001)


def run_one(cfg: Config, lib: ctypes.CDLL, uid: int, request: Config) -> Config:
    """One program: its files in a cleared WORKDIR, a forked child that drops to the code's uid and
    runs it; stdout and stderr kept up to the cap (more stdout stops the program), the wall-clock
    limit, then every process left killed. The result as the evaluator reads it."""
    import select

    _clear(WORKDIR)
    for name, text in request["files"].items():
        path = os.path.join(WORKDIR, name)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chown(path, uid, uid)
    stdin = os.memfd_create("stdin")
    os.write(stdin, request["stdin"].encode("utf-8"))
    os.lseek(stdin, 0, os.SEEK_SET)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(stdin, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.closerange(3, 1 << 16)
            with open("/proc/self/oom_score_adj", "w") as fh:  # under the memory cap, the program goes first
                fh.write("1000")
            drop_to(cfg, lib, uid, request["limits"])
            run_inline(cfg, request["script"])
        except BaseException as exc:
            fail(cfg, type(exc).__name__ + ": " + str(exc))
    for fd in (stdin, out_w, err_w):
        os.close(fd)
    cap = int(request["max_output_bytes"])
    kept = {out_r: bytearray(), err_r: bytearray()}
    cut = {out_r: False, err_r: False}
    open_fds = [out_r, err_r]
    deadline = started + float(request["timeout_s"])
    try:
        watch = os.pidfd_open(pid)
    except (AttributeError, OSError):
        watch = None
    status: int | None = None
    timed_out = False
    while status is None:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        fds = open_fds + ([watch] if watch is not None else [])
        ready, _, _ = select.select(fds, [], [], min(left, 0.005 if watch is None else left))
        for fd in ready:
            if fd == watch:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.remove(fd)
                continue
            room = cap - len(kept[fd])
            kept[fd] += chunk[: max(room, 0)]
            if len(chunk) > room:
                cut[fd] = True
        if cut[out_r] or cut[err_r]:
            break  # more output than anyone reads: stop it now rather than at the time limit
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = raw
    duration = time.monotonic() - started
    _kill_the_rest()
    for fd in open_fds:  # every writer is gone: read what is left, up to the cap
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            room = cap - len(kept[fd])
            kept[fd] += chunk[: max(room, 0)]
            if len(chunk) > room:
                cut[fd] = True
    for fd in (out_r, err_r, *([watch] if watch is not None else [])):
        os.close(fd)
    # Not reaped in the loop: killed by _kill_the_rest, as a timeout kill is.
    returncode = -int(signal.SIGKILL) if status is None else os.waitstatus_to_exitcode(status)
    return {
        "returncode": returncode,
        "stdout": kept[out_r].decode("utf-8", errors="replace"),
        "stderr": kept[err_r].decode("utf-8", errors="replace"),
        "stdout_truncated": cut[out_r],
        "stderr_truncated": cut[err_r],
        "timed_out": timed_out,
        "duration": round(duration, 4),
    }


def serve(cfg: Config, lib: ctypes.CDLL, uid: int) -> NoReturn:
    """As init of a namespace set up once: run one program per request line on fd 0 (JSON: script,
    files, stdin, limits, timeout_s, max_output_bytes), each in a fresh forked process, and answer
    each with one JSON line on fd 1, until fd 0 ends."""
    with contextlib.suppress(OSError):  # under the memory cap, init goes last (allowed as real root)
        write_file("/proc/self/oom_score_adj", "-1000")
    os.write(1, b"ready\n")
    buffer = bytearray()
    while True:
        line = _read_line(buffer)
        if line is None:
            os._exit(0)
        try:
            answer = run_one(cfg, lib, uid, json.loads(line))
        except Exception as exc:  # the sandbox's fault, never the program's: the evaluator sees it
            answer = {"setup_error": type(exc).__name__ + ": " + str(exc)}
            _kill_the_rest()
        data = memoryview((json.dumps(answer) + "\n").encode())
        while data:
            data = data[os.write(1, data) :]


def relay(status: int) -> NoReturn:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def main(argv: list[str]) -> NoReturn:
    cfg: Config = json.loads(argv[1])
    try:
        # If the evaluator dies (Ctrl-C, crash), so does the run; the check closes the race with its exit.
        check(cfg, libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
        if cfg["parent"] is not None and os.getppid() != cfg["parent"]:
            os._exit(1)
        for procs in cfg["cgroups"]:  # step 1, also unsandboxed: the caps hold for the whole tree
            write_file(procs, str(os.getpid()))
        if cfg["isolated"]:
            isolated(cfg)
        os.chdir(cfg["files"])
        set_limits(cfg)
        exec_code(cfg)
    except SystemExit:
        raise
    except BaseException as exc:
        fail(cfg, type(exc).__name__ + ": " + str(exc))


if __name__ == "__main__":
    main(sys.argv)
