"""The response cache in Redis (``--cache-url redis://host:port/db``), for searches whose workers run
on several machines: the same interface, keys and rule as the SQLite cache (``llm.cache``).

Keys are ``archon:response:<CompletionRequest.cache_key()>`` (model, messages, sampling settings and
sample slot); values are JSON (text, tokens, cost, model, time). Only successful replies are
stored, by the gateway, exactly as with SQLite. redis-py is an optional extra, imported on first use.

A server that cannot be reached when the command starts is a one-line error (exit 2); one that
fails later turns the cache off for the rest of the run, with a warning: losing a cache costs only
calls.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from archon_cli.errors import UserError
from archon_cli.llm.cache import ResponseCache, checked_entry
from archon_cli.llm.types import Completion, CompletionRequest

KEY_PREFIX = "archon:response:"
INSTALL_HINT = "pip install redis (the 'redis' extra)"


def check_cache_url(url: str) -> str:
    """``url`` if it is a Redis URL (redis:// or rediss://, optional /db), else a UserError."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise UserError(f"--cache-url {url!r}: expected redis://HOST:PORT/DB (or rediss:// for TLS)")
    db = parsed.path.strip("/")
    if db and not db.isdigit():
        raise UserError(f"--cache-url {url!r}: the database after the port must be a number, e.g. /0")
    return url


def _redact(url: str) -> str:
    """The URL without a password, for messages."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


class RedisResponseCache:
    """Completed replies by request key, in Redis. Same methods as ``ResponseCache``."""

    def __init__(self, url: str, on_warning: Callable[[str], None] | None = None, timeout: float = 5.0) -> None:
        check_cache_url(url)
        self.url = url
        self._warn = on_warning or (lambda _message: None)
        self._off = False
        try:
            import redis
        except ImportError:
            raise UserError(f"--cache-url needs the redis client, which is not installed: {INSTALL_HINT}") from None
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.bad_entries = 0
        self._db: Any = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            self._db.ping()
        except self._errors as exc:
            raise UserError(f"--cache-url {_redact(url)}: cannot reach the Redis server ({exc})") from None

    def _failed(self, exc: BaseException) -> None:
        if not self._off:
            self._off = True
            self._warn(f"the Redis response cache {_redact(self.url)} failed ({exc}); going on without it for this run")

    def get(self, request: CompletionRequest) -> Completion | None:
        if self._off:
            return None
        try:
            raw = self._db.get(KEY_PREFIX + request.cache_key())
        except self._errors as exc:
            if str(exc).startswith("WRONGTYPE"):  # a key of another type under our prefix: a miss, SET replaces it
                self.bad_entries += 1
                return None
            self._failed(exc)
            return None
        if raw is None:
            return None
        try:
            row = json.loads(raw)
        except ValueError:
            row = None
        hit = None
        if isinstance(row, dict):
            hit = checked_entry(
                request, row.get("text"), row.get("prompt_tokens"), row.get("completion_tokens"), row.get("cost")
            )
        if hit is None:
            self.bad_entries += 1  # a value someone else wrote under our prefix: a miss, overwritten on the next put
        return hit

    def put(self, request: CompletionRequest, completion: Completion) -> None:
        if self._off:
            return
        u = completion.usage
        value = json.dumps(
            {
                "model": request.model,
                "text": completion.text,
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "cost": u.cost,
                "created": time.time(),
            },
            ensure_ascii=False,
        )
        try:
            self._db.set(KEY_PREFIX + request.cache_key(), value)
        except self._errors as exc:
            self._failed(exc)

    def __len__(self) -> int:
        return sum(1 for _ in self._db.scan_iter(match=KEY_PREFIX + "*", count=1000))

    def close(self) -> None:
        with contextlib.suppress(*self._errors):
            self._db.close()


AnyResponseCache = ResponseCache | RedisResponseCache


def open_response_cache(
    cache_dir: Path | None, cache_url: str | None, on_warning: Callable[[str], None] | None = None
) -> AnyResponseCache | None:
    """The cache a command (or a search worker) uses: Redis when ``cache_url`` is given, else SQLite
    in ``cache_dir`` (None: no cache)."""
    if cache_url:
        return RedisResponseCache(cache_url, on_warning)
    if cache_dir is not None:
        return ResponseCache(cache_dir / "responses.sqlite", on_warning)
    return None
