"""The budget and its accountant: the limits (calls per query, total calls, tokens, dollars), and the
counters of every call sent, tokens and cost; a call past a limit is refused."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from pydantic import BaseModel, ConfigDict, Field

from archon_cli.errors import BudgetExceeded
from archon_cli.llm.types import Usage


class Budget(BaseModel):
    """Every limit is optional; None means unlimited. Loaded from files by ``config.budget``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "budget"
    calls_per_query: int | None = Field(default=None, ge=1)
    total_calls: int | None = Field(default=None, ge=1)
    total_tokens: int | None = Field(default=None, ge=1)
    dollars: float | None = Field(default=None, gt=0)

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
    """Counters for a run or a single query. ``calls`` are requests actually sent (retries
    included). For a run (the accountant's stats) tokens and cost are what was spent; for a
    query they include replies served by the cache, so they describe the architecture's usage
    whatever the cache held."""

    calls: int = 0
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


class BudgetAccountant:
    """Run-wide counters and limits. ``authorize_send`` is called right before each request is sent,
    so a run stops before the call that would cross a limit (token and dollar limits are checked
    against what has been spent so far; replies still in flight may add to it)."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self.stats = CallStats()
        self.per_model: Counter[str] = Counter()

    def authorize_send(self, model: str) -> None:
        b = self.budget
        if b.total_calls is not None and self.stats.calls >= b.total_calls:
            raise BudgetExceeded(f"budget reached: {self.stats.calls} of {b.total_calls} total calls sent")
        if b.total_tokens is not None and self.stats.tokens >= b.total_tokens:
            raise BudgetExceeded(f"budget reached: {self.stats.tokens:,} of {b.total_tokens:,} tokens used")
        if b.dollars is not None and self.stats.cost >= b.dollars:
            raise BudgetExceeded(f"budget reached: ${self.stats.cost:.4f} of ${b.dollars} spent")
        self.stats.calls += 1
        self.per_model[model] += 1

    def record_usage(self, usage: Usage) -> None:
        self.stats.add_usage(usage)
