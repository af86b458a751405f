"""Executed unit tests: which generated tests a candidate program passes, run inside the sandbox.

The sandbox runs this file as its ``main.py`` with the candidate in ``candidate.py``, the tests in
``tests.json`` and a per-run token and time limit on stdin. A test is an assert the model wrote,
split (``split_assert``) into an expression that calls the candidate and, for ``assert X == Y``
with a literal ``Y``, the expected value; other asserts expect a truthy value.

The candidate cannot fake a pass, by exiting early, rewriting ``assert`` or anything else done in
its own process, because no verdict is made where candidate code runs:

  - before reading anything, this runner forks a helper that never learns the token or the
    expected values; the runner then reads the token, the tests and their expected values,
    removes ``tests.json``, and makes itself non-dumpable (no process of its uid can trace it or
    open its file descriptors);
  - for each test the helper forks a fresh process that runs the candidate and evaluates the one
    test expression, and sends back the value, serialised with ``marshal`` (plain data only: an
    object that claims to equal everything cannot be sent), or the exception's name;
  - the runner compares the value with the expected one and prints the verdicts on one line that
    starts with the token. No value (an early exit, ``os._exit``, a crash, the time limit) is a
    failure; so is a value the runner cannot read.

A candidate can still answer the tests it can read correctly by hard-coding them, as any program
could. Standard library only: the sandbox's interpreter sees nothing else. Importing it runs nothing.
"""

from __future__ import annotations

import ast
import json
import marshal
import os
import select
import signal
import struct
import sys
import time
from typing import Any

CANDIDATE_FILE = "candidate.py"
TESTS_FILE = "tests.json"
PR_SET_DUMPABLE = 4
_MAX_VALUE_BYTES = 1 << 20


def split_assert(test: str) -> dict[str, Any] | None:
    """``assert f(1) == 2`` -> {"expr": "f(1)", "expected": "2"}; ``assert f(1)`` -> {"expr": "f(1)",
    "expected": None} (truthy); None for anything that is not one assert statement."""
    try:
        tree = ast.parse(test.strip())
    except (SyntaxError, ValueError):
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    check = tree.body[0].test
    if (
        isinstance(check, ast.Compare)
        and len(check.ops) == 1
        and isinstance(check.ops[0], ast.Eq)
        and _is_literal(check.comparators[0])
    ):
        return {"expr": ast.unparse(check.left), "expected": ast.unparse(check.comparators[0])}
    is_eq = isinstance(check, ast.Compare) and len(check.ops) == 1 and isinstance(check.ops[0], ast.Eq)
    if is_eq and isinstance(check, ast.Compare) and _is_literal(check.left):  # assert 2 == f(1)
        return {"expr": ast.unparse(check.comparators[0]), "expected": ast.unparse(check.left)}
    return {"expr": ast.unparse(check), "expected": None}


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _send(fd: int, data: bytes) -> None:
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int, deadline: float) -> bytes | None:
    data = b""
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _value_of(candidate: str, expr: str) -> bytes:
    """In a fresh process: run the candidate, evaluate ``expr``; b"V" + marshal of the value, or
    b"E" + the exception's name."""
    try:
        namespace: dict[str, Any] = {"__name__": "__candidate__"}
        exec(compile(candidate, CANDIDATE_FILE, "exec"), namespace)
        value = eval(compile(expr, "<test>", "eval"), namespace)
        data = b"V" + marshal.dumps(value)
        return data if len(data) <= _MAX_VALUE_BYTES else b"Evalue too large"
    except BaseException as exc:  # SystemExit included: leaving is not passing
        return b"E" + type(exc).__name__.encode()


def helper(requests: int, answers: int) -> None:
    """The helper: for each expression the runner sends, a fresh process gives its value."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    header = _read_exactly(requests, 4, time.monotonic() + 3600)
    if header is None:
        os._exit(0)
    body = _read_exactly(requests, struct.unpack(">I", header)[0], time.monotonic() + 3600) or b"{}"
    job = json.loads(body)
    with open(CANDIDATE_FILE, encoding="utf-8") as fh:
        candidate = fh.read()
    for index, expr in enumerate(job["exprs"]):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.closerange(3, w)
            os.closerange(w + 1, 1 << 16)
            data = _value_of(candidate, expr)
            try:
                _send(w, data)
            finally:
                os._exit(0)
        os.close(w)
        deadline = time.monotonic() + float(job["timeout_s"])
        header = _read_exactly(r, 4, deadline)
        data = b"Etimed out"
        if header is not None:
            size = struct.unpack(">I", header)[0]
            got = _read_exactly(r, size, deadline) if size <= _MAX_VALUE_BYTES + 1 else None
            data = got if got is not None else b"Eno value"
        os.close(r)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        _send(answers, json.dumps({"index": index}).encode() + b"\n" + data)
    os._exit(0)


def _passed(data: bytes, expected: str | None) -> tuple[bool, str]:
    if not data.startswith(b"V"):
        return False, data[1:].decode("utf-8", errors="replace")[:80] or "no value"
    try:
        value = marshal.loads(data[1:])
    except (ValueError, EOFError, TypeError):
        return False, "unreadable value"
    if expected is None:
        return bool(value), "" if value else "false"
    want = ast.literal_eval(expected)
    ok = value == want and (type(value) is type(want) or {type(value), type(want)} <= {int, float, bool})
    return ok, "" if ok else "wrong value"


def main() -> None:
    requests_r, requests_w = os.pipe()
    answers_r, answers_w = os.pipe()
    if os.fork() == 0:  # before anything is read: the helper never holds the token or the answers
        os.close(requests_w)
        os.close(answers_r)
        helper(requests_r, answers_w)
    os.close(requests_r)
    os.close(answers_w)
    token = sys.stdin.readline().strip()
    timeout_s = float(sys.stdin.readline())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    with open(TESTS_FILE, encoding="utf-8") as fh:
        tests = [split_assert(t) for t in json.load(fh)]
    os.unlink(TESTS_FILE)
    try:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    runnable = [t for t in tests if t is not None]
    _send(requests_w, json.dumps({"exprs": [t["expr"] for t in runnable], "timeout_s": timeout_s}).encode())
    verdicts: list[bool] = []
    reasons: list[str] = []
    deadline = time.monotonic() + timeout_s * (len(runnable) + 1) + 1
    for test in runnable:
        header = _read_exactly(answers_r, 4, deadline)
        body = _read_exactly(answers_r, struct.unpack(">I", header)[0], deadline) if header else None
        if body is None:
            verdicts.append(False)
            reasons.append("no answer")
            continue
        _, _, data = body.partition(b"\n")
        ok, why = _passed(data, test["expected"])
        verdicts.append(ok)
        reasons.append(why)
    passed = iter(zip(verdicts, reasons, strict=True))
    results = [None if t is None else next(passed) for t in tests]
    line = json.dumps({"passed": [None if r is None else r[0] for r in results],
                       "reasons": [None if r is None else r[1] for r in results]})  # fmt: skip
    os.write(1, f"\n{token} {line}\n".encode())
    os._exit(0)


def parse_verdicts(stdout: str, token: str, n_tests: int) -> list[bool | None]:
    """Per test: passed, failed, or None (not an assert, not run). A run without the token's line
    (it died, or something cut it short) passed nothing."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(token + " "):
            try:
                found = json.loads(line[len(token) + 1 :])["passed"]
            except (json.JSONDecodeError, KeyError, TypeError):
                break
            if isinstance(found, list) and len(found) == n_tests:
                return [None if v is None else v is True for v in found]
            break
    return [False] * n_tests


if __name__ == "__main__":
    main()
