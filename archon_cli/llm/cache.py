"""Persistent response cache in SQLite, shared safely by concurrent processes (WAL mode).

Keys come from ``CompletionRequest.cache_key``: model, messages, sampling settings and the
sample index, so repeated samples of one prompt stay distinct while a re-run costs no call.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from archon_cli.errors import UserError
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


# A cached reply is text the model wrote within the request's ``max_tokens``: no tokenizer has
# tokens of more than a few hundred bytes, and no provider bills a call over these.
_BYTES_PER_TOKEN = 256
_MAX_PROMPT_TOKENS = 50_000_000
_MAX_CALL_COST = 1_000.0


def checked_entry(request: CompletionRequest, text: object, prompt: object, completion: object, cost: object) -> Completion | None:
    """A cache entry as a reply, or None when its values cannot be a reply to ``request`` (wrong
    types, negative or absurd tokens, a cost that is not a finite amount, text far longer than
    ``max_tokens`` allows): the cache is shared and may hold what anyone wrote."""
    if not isinstance(text, str) or len(text) > _BYTES_PER_TOKEN * (request.max_tokens + 8) + 4096:
        return None
    for tokens in (prompt, completion):
        if not isinstance(tokens, int) or isinstance(tokens, bool) or not 0 <= tokens <= _MAX_PROMPT_TOKENS:
            return None
    assert isinstance(prompt, int) and isinstance(completion, int)
    if completion > 4 * request.max_tokens + 1024:
        return None
    if not isinstance(cost, int | float) or isinstance(cost, bool) or not (math.isfinite(cost) and 0 <= cost <= _MAX_CALL_COST):
        return None
    return Completion(text=text, usage=Usage(prompt, completion, float(cost)), cached=True, attempts=0)


# SQLite's own words for a file that is not (or no longer) a sound database.
_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class ResponseCache:
    """Completed replies by request key. Only successful replies are stored.

    A damaged file is moved aside (``responses.sqlite.damaged-<time>``) and an empty cache is
    started, with a warning through ``on_warning``: it is a cache, and losing it costs only calls.
    A failure while running turns the cache off for the rest of the run, with a warning."""

    def __init__(self, path: str | Path, on_warning: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self._warn = on_warning or (lambda _message: None)
        self._lock = threading.Lock()
        self._off = False
        self.bad_entries = 0  # entries whose values could not be a reply: misses, replaced when answered
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.path.parent}: cannot create the cache folder ({exc.strerror or exc})") from None
        if self.path.is_dir():
            raise UserError(f"{self.path}: is a folder, expected the response cache file")
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", "") not in _DAMAGED:
                raise UserError(f"{self.path}: cannot open the response cache ({exc})") from None
            aside = self._move_aside()
            self._warn(f"the response cache {self.path} was damaged ({exc}); moved to {aside}, starting an empty one")
            self._db = self._open()
        # Closed when the cache is dropped or, at the latest, when the process exits: closing the
        # last connection folds the write-ahead log into the file. (Garbage collection alone does
        # not promise it: objects frozen out of collections, see llm/litellm_backend.py, live on.)
        weakref.finalize(self, self._db.close)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.execute(_SCHEMA)
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                damaged = sqlite3.DatabaseError(f"integrity check: {verdict}")
                damaged.sqlite_errorname = "SQLITE_CORRUPT"  # type: ignore[attr-defined]
                raise damaged
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self) -> Path:
        aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.replace(f"{aside}{suffix}")
        return aside

    def _failed(self, exc: sqlite3.Error) -> None:
        if not self._off:
            self._off = True
            self._warn(f"the response cache {self.path} failed ({exc}); going on without it for this run")

    def get(self, request: CompletionRequest) -> Completion | None:
        if self._off:
            return None
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT text, prompt_tokens, completion_tokens, cost FROM responses WHERE key = ?",
                    (request.cache_key(),),
                ).fetchone()
        except sqlite3.Error as exc:
            self._failed(exc)
            return None
        if row is None:
            return None
        hit = checked_entry(request, *row)
        if hit is None:
            self.bad_entries += 1
        return hit

    def put(self, request: CompletionRequest, completion: Completion) -> None:
        if self._off:
            return
        u = completion.usage
        try:
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
        except sqlite3.Error as exc:
            self._failed(exc)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
