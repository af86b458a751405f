"""The sandbox's child program: apply the limits, then exec the model's code (see ``sandbox.py``).

``sandbox.py`` runs this file as ``python -I sandbox_child.py CONFIG_JSON``, so nothing of the
evaluator's interpreter state reaches the code. It uses the standard library only: ``-I`` leaves
the project off ``sys.path``. Isolated, it runs as root: it unshares namespaces, forks an init
(pid 1 of the new PID namespace) that sets up the mounts and forks the code's process, which drops
to the sandbox uid before exec. Importing it runs nothing; the evaluator imports it only for its
constants.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import stat
import sys
from typing import Any, NoReturn

# Exit status when the sandbox could not be set up (never the code's fault).
SETUP_FAILED = 125

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38

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
    lib.unshare.argtypes = [ctypes.c_int]
    lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return lib


def check(cfg: Config, rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        fail(cfg, what + ": " + os.strerror(err))


def _encode(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def mount(
    cfg: Config, lib: ctypes.CDLL, src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    rc = lib.mount(_encode(src), _encode(target), _encode(fstype), flags, _encode(data))
    check(cfg, rc, "mount " + target)


def limits(cfg: Config, cpu_s: int, nproc: int | None) -> None:
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (cfg["memory_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (cfg["max_file_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (cfg["max_open_files"],) * 2)
    if nproc is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def run_code(cfg: Config) -> NoReturn:
    argv = [sys.executable, "-I", cfg["script"]]
    os.execve(sys.executable, argv, cfg["env"])


def unescape(path: str) -> str:
    """/proc/self/mountinfo escapes space, tab, newline and backslash as octal."""
    out, i = "", 0
    while i < len(path):
        if path[i] == "\\" and path[i + 1 : i + 4].isdigit():
            out += chr(int(path[i + 1 : i + 4], 8))
            i += 4
        else:
            out += path[i]
            i += 1
    return out


def expose(cfg: Config, lib: ctypes.CDLL, paths: list[str]) -> None:
    """A directory the sandbox uid cannot enter (mode without o+x) that holds the interpreter is
    covered with a tmpfs in which only the needed paths are bind-mounted back."""
    blocked: dict[str, list[str]] = {}
    for path in paths:
        parts = path.strip("/").split("/")
        for n in range(1, len(parts)):
            ancestor = "/" + "/".join(parts[:n])
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                blocked.setdefault(ancestor, []).append(path)
                break
    for ancestor in sorted(blocked, key=len):
        handles = [(p, os.open(p, os.O_PATH)) for p in sorted(set(blocked[ancestor]))]
        mount(cfg, lib, "tmpfs", ancestor, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
        for path, fd in handles:
            os.makedirs(path, exist_ok=True)
            mount(cfg, lib, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)


def setup_mounts(cfg: Config, lib: ctypes.CDLL, workdir: str, uid: int) -> None:
    mount(cfg, lib, None, "/", None, MS_REC | MS_PRIVATE)
    expose(cfg, lib, cfg["expose"])
    # Keep the prepared files, then put a private size-capped tmpfs on the run's directory.
    saved = {}
    for name in os.listdir(workdir):
        with open(os.path.join(workdir, name), "rb") as fh:
            saved[name] = fh.read()
    options = f"size={cfg['writable_mb']}m,nr_inodes=4096,mode=0700,uid={uid},gid={uid}"
    mount(cfg, lib, "tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for name, data in saved.items():
        path = os.path.join(workdir, name)
        with open(path, "wb") as fh:
            fh.write(data)
        os.chown(path, uid, uid)
    mount(cfg, lib, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    with open("/proc/self/mountinfo") as fh:
        entries = [line.split() for line in fh]
    for entry in entries:
        target, mount_options = unescape(entry[4]), entry[5].split(",")
        if target == workdir:
            continue
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID
        flags |= (MS_NODEV if "nodev" in mount_options else 0) | (MS_NOEXEC if "noexec" in mount_options else 0)
        mount(cfg, lib, None, target, None, flags)


def isolated(cfg: Config) -> NoReturn:
    lib = libc()
    uid = cfg["uid"]
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
    # pid 1 of the new namespace, still root: the evaluator killing our parent kills us.
    check(cfg, lib.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    setup_mounts(cfg, lib, cfg["workdir"], uid)
    child = os.fork()
    if child == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            check(cfg, lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")
            os.chdir(cfg["workdir"])
            limits(cfg, cfg["cpu_s"], cfg["nproc"])
            run_code(cfg)
        except BaseException as exc:
            fail(cfg, type(exc).__name__ + ": " + str(exc))
    # As init: reap every orphan until the code's process ends; leaving ends the namespace.
    while True:
        pid, status = os.wait()
        if pid == child:
            relay(status)


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
        if os.getppid() != cfg["parent"]:
            os._exit(1)
        if cfg["isolated"]:
            isolated(cfg)
        os.chdir(cfg["workdir"])
        limits(cfg, cfg["cpu_s"], cfg["nproc"])
        run_code(cfg)
    except SystemExit:
        raise
    except BaseException as exc:
        fail(cfg, type(exc).__name__ + ": " + str(exc))


if __name__ == "__main__":
    main(sys.argv)
