"""Persistent response cache in SQLite, shared safely by concurrent processes (WAL mode).

Keys come from ``CompletionRequest.cache_key``: model, messages, sampling settings and the
sample index, so repeated samples of one prompt stay distinct while a re-run costs no call.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from archon_cli.llm.types import Completion, CompletionRequest, Usage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost REAL NOT NULL,
    created REAL NOT NULL
)
"""


class ResponseCache:
    """Completed replies by request key. Only successful replies are stored."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute(_SCHEMA)

    def get(self, request: CompletionRequest) -> Completion | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, prompt_tokens, completion_tokens, cost FROM responses WHERE key = ?",
                (request.cache_key(),),
            ).fetchone()
        if row is None:
            return None
        return Completion(text=row[0], usage=Usage(row[1], row[2], row[3]), cached=True, attempts=0)

    def put(self, request: CompletionRequest, completion: Completion) -> None:
        u = completion.usage
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    request.cache_key(),
                    request.model,
                    completion.text,
                    u.prompt_tokens,
                    u.completion_tokens,
                    u.cost,
                    time.time(),
                ),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
