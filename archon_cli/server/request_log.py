"""The request log of ``archon serve``: one JSON line per request answered (this module owns the
format). Each line is written and flushed as the request ends, so a kill loses nothing answered;
it is not fsynced per line, which would cap a busy server at the disk's sync rate.

Fields: ``id``, ``time`` (UTC, ISO 8601), ``model`` (cut to 100 characters), ``status`` (the HTTP
status; 499: the client disconnected before its answer), ``stream``,
``calls``, ``cache_hits``, ``retries``, ``prompt_tokens``, ``completion_tokens``, ``tokens``,
``cost``, ``latency`` (seconds from the request's arrival to its answer) and ``error`` (the message
sent to the client, or null). Never a prompt, an answer, a header or a key.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archon_cli.errors import UserError
from archon_cli.llm.accountant import CallStats
from archon_cli.records import JsonlLog


def log_record(
    request_id: str,
    model: str | None,
    status: int,
    stream: bool,
    stats: CallStats | None,
    latency: float,
    error: str | None,
) -> dict[str, Any]:
    s = stats or CallStats()
    return {
        "id": request_id,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": model,
        "status": status,
        "stream": stream,
        "calls": s.calls,
        "requests": s.requests,  # provider requests (a generator's n samples may share one)
        "cache_hits": s.cache_hits,
        "retries": s.retries,
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "tokens": s.tokens,
        "cost": round(s.cost, 8),
        "latency": round(latency, 4),
        "error": error,
    }


class RequestLog:
    """Appends records to a JSONL file (created with its folder); ``None`` path: records are dropped.

    The requests are answered whatever happens to their log: a line that cannot be written (a full
    disk) is counted in ``lost``, with one warning through ``on_warning`` the first time."""

    def __init__(self, path: Path | None, on_warning: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.lost = 0
        self._warn = on_warning or (lambda _message: None)
        self._fd = -1
        self._torn = False
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                # a torn last line from a kill must not swallow the next record
                self._torn = path.is_file() and path.stat().st_size > 0 and not _ends_with_newline(path)
            except OSError as exc:
                raise UserError(f"{path}: cannot write the request log: {exc.strerror or exc}") from None

    def append(self, record: dict[str, Any]) -> None:
        if self._fd < 0:
            return
        line = ("\n" if self._torn else "") + json.dumps(record, ensure_ascii=False) + "\n"
        data = line.encode("utf-8", errors="replace")
        error: OSError | None = None
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            written, error = 0, exc
        if written == len(data):
            self._torn = False
            return
        self._torn = self._torn or written > 0
        self.lost += 1
        if self.lost == 1:
            reason = (error.strerror or str(error)) if error is not None else "short write"
            self._warn(f"warning: cannot write the request log {self.path} ({reason}); requests are still answered, the lines lost are counted")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_request_log(path: Path) -> list[dict[str, Any]]:
    """The records of a request log (a torn last line is skipped)."""
    return JsonlLog(path).read() if path.exists() else []


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, 2)
        return f.read(1) == b"\n"
