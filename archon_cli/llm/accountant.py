"""The budget and its accountant: the limits (calls per query, total calls, tokens, dollars), and the
counters of every call sent, tokens and cost. Each send reserves its worst case first; a send that
could cross a limit is refused."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from archon_cli.errors import BudgetExceeded
from archon_cli.llm.ledger import SpendLedger, read_spend
from archon_cli.llm.types import Usage


class Budget(BaseModel):
    """Every limit is optional; None means unlimited. Loaded from files by ``config.budget``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "budget"
    calls_per_query: int | None = Field(default=None, ge=1)
    total_calls: int | None = Field(default=None, ge=1)
    total_tokens: int | None = Field(default=None, ge=1)
    dollars: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    def describe(self) -> str:
        parts = [
            f"{label} {value}"
            for label, value in (
                ("calls/query", self.calls_per_query),
                ("total calls", self.total_calls),
                ("tokens", self.total_tokens),
                ("dollars", self.dollars),
            )
            if value is not None
        ]
        return ", ".join(parts) or "unlimited"


@dataclass
class CallStats:
    """Counters for a run or a single query. ``calls`` are samples sent (retries included): one
    request carrying ``n`` samples counts ``n`` calls, as the budget counts them, and its resend
    ``n`` retries. ``requests`` are the requests actually sent to providers (an ``n``-request is
    one), so ``requests <= calls``. For a run (the accountant's stats) tokens and cost are what
    was spent; for a query they include replies served by the cache, so they describe the
    architecture's usage whatever the cache held."""

    calls: int = 0
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    parse_failures: Counter[str] = field(default_factory=Counter)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add_usage(self, usage: Usage) -> None:
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost += usage.cost

    def merge(self, other: CallStats) -> None:
        """Add ``other``'s counts to these (a question's turns, each with its own stats)."""
        self.calls += other.calls
        self.requests += other.requests
        self.cache_hits += other.cache_hits
        self.retries += other.retries
        self.failures += other.failures
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost += other.cost
        self.parse_failures.update(other.parse_failures)

    def copy(self) -> CallStats:
        return replace(self, parse_failures=Counter(self.parse_failures))

    def since(self, earlier: CallStats) -> CallStats:
        """What was counted after ``earlier`` (a copy of these stats taken before)."""
        return CallStats(
            calls=self.calls - earlier.calls,
            requests=self.requests - earlier.requests,
            cache_hits=self.cache_hits - earlier.cache_hits,
            retries=self.retries - earlier.retries,
            failures=self.failures - earlier.failures,
            prompt_tokens=self.prompt_tokens - earlier.prompt_tokens,
            completion_tokens=self.completion_tokens - earlier.completion_tokens,
            cost=self.cost - earlier.cost,
            parse_failures=self.parse_failures - earlier.parse_failures,
        )

    def record_fields(self) -> dict[str, object]:
        """The figures every per-query record carries (answers.jsonl, a run's questions.jsonl)."""
        return {
            "calls": self.calls,
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": round(self.cost, 8),
            "parse_failures": dict(self.parse_failures),
        }

    def as_dict(self) -> dict[str, object]:
        """Every counter: the record's figures, the failed calls and the token total."""
        return {**self.record_fields(), "failures": self.failures, "tokens": self.tokens}


@dataclass(frozen=True)
class Spend:
    """An amount counted against the whole-run limits: calls (samples) sent, tokens, dollars."""

    calls: int = 0
    tokens: int = 0
    dollars: float = 0.0

    def __add__(self, other: Spend) -> Spend:
        return Spend(self.calls + other.calls, self.tokens + other.tokens, self.dollars + other.dollars)

    def times(self, n: int) -> Spend:
        """``n`` of this amount (the worst case of a request carrying ``n`` samples)."""
        return Spend(self.calls * n, self.tokens * n, self.dollars * n)


@dataclass(frozen=True)
class Reservation:
    """One send's worst case, held against the limits from before it is sent until it is settled
    (or released). One request carrying several samples (``n``) reserves them all at once: ``n``
    calls and ``n`` times one sample's tokens and dollars."""

    ticket: int
    model: str
    worst: Spend


# No tokenizer makes more tokens of a text than it has UTF-8 bytes (byte-level BPE and SentencePiece
# with byte fallback both cover at least one byte per token); chat templates add special tokens per
# message and, for some models, a default system prompt.
TOKENS_PER_MESSAGE = 8
TOKENS_PER_REQUEST = 64
# llama.cpp finishes a multi-byte character it has started, up to 3 tokens past max_tokens.
TOKENS_PAST_MAX = 4


def prompt_token_bound(messages: Iterable[Mapping[str, str]]) -> int:
    """An upper bound on the prompt tokens of ``messages`` for any model, without a tokenizer."""
    return TOKENS_PER_REQUEST + sum(
        len(str(m.get("content") or "").encode("utf-8")) + len(str(m.get("role") or "")) + TOKENS_PER_MESSAGE
        for m in messages
    )


class BudgetAccountant:
    """The one holder of the whole-run limits on what is sent (total calls, tokens, dollars) and of
    the run's counters.

    Before each send the gateway reserves the request's worst case (``reserve``): one call, its
    prompt tokens bounded plus ``max_tokens``, and those tokens priced. A reservation that could
    carry what is spent and held past a limit waits for sends in flight to settle; one that would
    cross a limit even alone is refused with BudgetExceeded, and no further call is sent. After the
    send, ``settle`` counts the call and its actual usage (a failed send is still a call, with no
    tokens) and frees the rest; ``release`` frees a reservation whose request was never sent.
    So what is spent never crosses a limit, as long as replies stay within their ``max_tokens``.

    The interface is these three calls, so one accountant can serve several workers (each asks,
    sends, settles) without their counters in between."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self.stats = CallStats()
        self.per_model: Counter[str] = Counter()
        self._held: dict[int, Reservation] = {}
        self._holding = Spend()  # the sum of ``_held``, kept as they come and go
        self._tickets = itertools.count(1)
        self._lock = threading.Lock()
        self._changed: asyncio.Event | None = None
        self._changed_loop: asyncio.AbstractEventLoop | None = None
        self._earlier = Spend()  # spent by earlier runs of the same run or search folder (a resume)
        self._ledger: SpendLedger | None = None

    @property
    def spent(self) -> Spend:
        """What the whole run has spent: this process's counters and earlier runs' (``keep_spend``)."""
        return self._earlier + Spend(self.stats.calls, self.stats.tokens, self.stats.cost)

    @property
    def earlier(self) -> Spend:
        return self._earlier

    def count_earlier(self, ledger: Path) -> Spend:
        """Count what earlier runs recorded in ``ledger`` (llm/ledger.py) against the whole-run
        limits, so a resume cannot spend them again; returns it."""
        calls, tokens, dollars = read_spend(ledger)
        with self._lock:
            self._earlier += Spend(calls, tokens, dollars)
        return Spend(calls, tokens, dollars)

    def keep_spend(self, ledger: Path | None) -> None:
        """Append this run's reservations and settles to ``ledger`` from now on (None: stop), so a
        resume after a kill knows what was sent, in flight ones included."""
        with self._lock:
            if self._ledger is not None:
                self._ledger.close()
            self._ledger = SpendLedger(ledger) if ledger is not None else None

    @property
    def whole_run_limited(self) -> bool:
        """Whether the budget has a whole-run limit (total calls, tokens or dollars)."""
        b = self.budget
        return b.total_calls is not None or b.total_tokens is not None or b.dollars is not None

    @property
    def held(self) -> Spend:
        """What the reservations not yet settled may still spend."""
        with self._lock:
            return self._holding

    def try_reserve(self, model: str, worst: Spend) -> Reservation | None:
        """A reservation of ``worst``; None when sends in flight hold the room it needs (try again
        after one settles); BudgetExceeded when it would cross a limit even if they spent nothing."""
        with self._lock:
            spent = self.spent
            held = self._holding
            wait = False
            b = self.budget
            for name, limit, used, holding, need in (
                ("calls", b.total_calls, spent.calls, held.calls, worst.calls),
                ("tokens", b.total_tokens, spent.tokens, held.tokens, worst.tokens),
                ("dollars", b.dollars, spent.dollars, held.dollars, worst.dollars),
            ):
                if limit is None:
                    continue
                if used + need > limit:
                    raise BudgetExceeded(self._refusal(name, spent, worst))
                wait = wait or used + holding + need > limit
            if wait:
                return None
            reservation = Reservation(next(self._tickets), model, worst)
            if self._ledger is not None:
                self._ledger.reserved(reservation.ticket, worst.calls, worst.tokens, worst.dollars)
            self._held[reservation.ticket] = reservation
            self._holding += worst
            return reservation

    async def reserve(self, model: str, worst: Spend) -> Reservation:
        """``try_reserve``, waiting while sends in flight hold the room this one needs."""
        while True:
            reservation = self.try_reserve(model, worst)
            if reservation is not None:
                return reservation
            await self._change().wait()

    def settle(self, reservation: Reservation, usage: Usage | None = None) -> None:
        """The request was sent: count it, its calls (its samples) and its ``usage`` (None: it
        failed, no tokens known), and free what it did not use."""
        with self._lock:
            if self._held.pop(reservation.ticket, None) is None:
                return  # settled or released already
            self._holding = self._less(reservation.worst)
            self.stats.calls += reservation.worst.calls
            self.stats.requests += 1
            self.per_model[reservation.model] += reservation.worst.calls
            if usage is not None:
                self.stats.add_usage(usage)
            if self._ledger is not None:
                u = usage or Usage()
                self._ledger.settled(reservation.ticket, reservation.worst.calls, u.total_tokens, u.cost)
        self._notify()

    def settle_stats(self, reservation: Reservation, spent: CallStats) -> None:
        """A reservation granted to another process (a search worker, whose own accountant held it
        as its limits) came back: count what the worker reports it spent, and free the rest.
        A worker that was lost is settled with its whole grant (``spent`` = the reservation)."""
        with self._lock:
            if self._held.pop(reservation.ticket, None) is None:
                return
            self._holding = self._less(reservation.worst)
            self.stats.merge(spent)
            self.per_model[reservation.model] += spent.calls
            if self._ledger is not None:
                self._ledger.settled(reservation.ticket, spent.calls, spent.tokens, spent.cost)
        self._notify()

    def release(self, reservation: Reservation) -> None:
        """The request was never sent: free the whole reservation."""
        with self._lock:
            if self._held.pop(reservation.ticket, None) is None:
                return
            self._holding = self._less(reservation.worst)
            if self._ledger is not None:
                self._ledger.settled(reservation.ticket, 0, 0, 0.0)
        self._notify()

    def _less(self, worst: Spend) -> Spend:
        """``_holding`` without ``worst`` (exactly 0 once nothing is held, so float sums do not drift)."""
        if not self._held:
            return Spend()
        h = self._holding
        return Spend(h.calls - worst.calls, h.tokens - worst.tokens, h.dollars - worst.dollars)

    def _refusal(self, limit: str, spent: Spend, worst: Spend) -> str:
        b = self.budget
        if limit == "calls":
            carries = f" (the next request carries {worst.calls} samples)" if worst.calls > 1 else ""
            before = f", {self._earlier.calls} of them before this resume" if self._earlier.calls else ""
            return f"budget reached: {spent.calls} of {b.total_calls} total calls sent{before}{carries}"
        if limit == "tokens":
            return (
                f"budget reached: {spent.tokens:,} of {b.total_tokens:,} tokens used "
                f"(the next call may use up to {worst.tokens:,})"
            )
        return (
            f"budget reached: ${spent.dollars:.6f} of ${b.dollars} spent "
            f"(the next call may cost up to ${worst.dollars:.6f})"
        )

    async def changed(self) -> None:
        """Return when a reservation is next settled or released."""
        await self._change().wait()

    def _change(self) -> asyncio.Event:
        """Set when a reservation is settled or released (one event per event loop: a command may
        run several loops in turn with one gateway)."""
        loop = asyncio.get_running_loop()
        if self._changed is None or self._changed_loop is not loop:
            self._changed, self._changed_loop = asyncio.Event(), loop
        return self._changed

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()
