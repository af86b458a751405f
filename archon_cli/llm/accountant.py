"""The budget accountant: counts every call sent, tokens and cost; refuses a call past a limit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from archon_cli.config.budget import Budget
from archon_cli.errors import BudgetExceeded
from archon_cli.llm.types import Usage


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

    def as_dict(self) -> dict[str, object]:
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "failures": self.failures,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens": self.tokens,
            "cost": round(self.cost, 8),
            "parse_failures": dict(self.parse_failures),
        }


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
