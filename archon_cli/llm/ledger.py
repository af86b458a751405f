"""The spend ledger, ``spend.jsonl`` in a run or search folder: the one owner of that file.

A whole-run limit (total calls, tokens, dollars) binds the run over every resume, so what was sent
before a kill must be known to the next process. The accountant appends one line when it reserves a
send's worst case (before the request goes out) and one when the send is settled (what it really
spent) or released (nothing). Read back, a settled reservation counts what it spent and one never
settled (the process was killed while it was in flight) counts its whole worst case: the server may
have received it. Lines are small single writes to a file opened for appending, so a ``kill -9``
loses none that were written, and leaves at most a torn last line (skipped).

    {"r": "<process>-<ticket>", "c": calls, "t": tokens, "d": dollars}   reserved (worst case)
    {"s": "<process>-<ticket>", "c": calls, "t": tokens, "d": dollars}   settled (spent)
"""

from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

from archon_cli.errors import UserError

LEDGER = "spend.jsonl"


def _amount(record: dict[str, Any]) -> tuple[int, int, float] | None:
    calls, tokens, dollars = record.get("c"), record.get("t"), record.get("d")
    if not (isinstance(calls, int) and isinstance(tokens, int) and isinstance(dollars, int | float)):
        return None
    if calls < 0 or tokens < 0 or not math.isfinite(dollars) or dollars < 0:
        return None
    return calls, tokens, float(dollars)


def read_spend(path: Path) -> tuple[int, int, float]:
    """Calls, tokens and dollars spent by the earlier runs that kept ``path`` (zeros when absent)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0, 0, 0.0
    except OSError as exc:
        raise UserError(f"{path}: cannot read the spend so far ({exc.strerror or exc})") from None
    reserved: dict[str, tuple[int, int, float]] = {}
    settled: dict[str, tuple[int, int, float]] = {}
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn line (a kill mid-write) or damage: what it said is not known
        if not isinstance(record, dict):
            continue
        amount = _amount(record)
        if amount is None:
            continue
        if isinstance(record.get("r"), str):
            reserved[record["r"]] = amount
        elif isinstance(record.get("s"), str):
            settled[record["s"]] = amount
    calls = tokens = 0
    dollars = 0.0
    for key, worst in reserved.items():
        c, t, d = settled.get(key, worst)
        calls, tokens, dollars = calls + c, tokens + t, dollars + d
    for key, spent in settled.items():  # a settle whose reserve line was lost still counts
        if key not in reserved:
            calls, tokens, dollars = calls + spent[0], tokens + spent[1], dollars + spent[2]
    return calls, tokens, dollars


class SpendLedger:
    """Appends this process's reservations and settles to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._process = secrets.token_hex(4)
        self._fd = -1  # opened on the first line: a run refused before any send leaves no folder behind

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot keep the spend of this run ({exc.strerror or exc})") from None

    def reserved(self, ticket: int, calls: int, tokens: int, dollars: float) -> None:
        self._write("r", ticket, calls, tokens, dollars)

    def settled(self, ticket: int, calls: int, tokens: int, dollars: float) -> None:
        self._write("s", ticket, calls, tokens, dollars)

    def _write(self, kind: str, ticket: int, calls: int, tokens: int, dollars: float) -> None:
        line = json.dumps({kind: f"{self._process}-{ticket}", "c": calls, "t": tokens, "d": dollars})
        if self._fd < 0:
            self._open()
        try:
            os.write(self._fd, (line + "\n").encode())
        except OSError as exc:
            raise UserError(f"{self.path}: cannot keep the spend of this run ({exc.strerror or exc})") from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
