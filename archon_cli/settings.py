"""Engine settings shared by every command, and the gateway built from them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from archon_cli.errors import UserError
from archon_cli.llm.accountant import Budget, BudgetAccountant
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import Backend, LLMGateway, RetryPolicy

DEFAULT_RESULTS_DIR = Path("results")


class EngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cache_dir: Path | None = DEFAULT_RESULTS_DIR / "cache"
    budget: Budget = Field(default_factory=Budget)
    concurrency: int = Field(default=8, ge=0)
    model_limits: dict[str, int] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)


def parse_model_limits(specs: list[str]) -> dict[str, int]:
    """['openai/gpt-4o=4', ...] -> {'openai/gpt-4o': 4}."""
    limits: dict[str, int] = {}
    for spec in specs:
        model, sep, value = spec.rpartition("=")
        if not sep or not model or not value.isdigit() or int(value) < 1:
            raise UserError(f"--model-limit {spec!r}: expected MODEL=N with N >= 1")
        limits[model] = int(value)
    return limits


def open_gateway(settings: EngineSettings, backend: Backend | None = None) -> LLMGateway:
    cache = ResponseCache(settings.cache_dir / "responses.sqlite") if settings.cache_dir else None
    return LLMGateway(
        backend=backend,
        cache=cache,
        accountant=BudgetAccountant(settings.budget),
        retry=settings.retry,
        model_limits=settings.model_limits,
    )
