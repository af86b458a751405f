"""Engine settings shared by every command, the environment they read (once, here), and the
gateway built from them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from archon_cli.errors import UserError
from archon_cli.llm.accountant import Budget, BudgetAccountant
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import Backend, LLMGateway, RetryPolicy
from archon_cli.llm.local_models import LocalModelPool, LocalSettings

DEFAULT_RESULTS_DIR = Path("results")


def local_settings(environ: Mapping[str, str] = os.environ) -> LocalSettings:
    """How embedded models run: ARCHON_LOCAL_THREADS (llama.cpp threads per call, default
    min(4, cores)) and ARCHON_MODEL_DIR (where assembled GGUF files are kept)."""
    defaults = LocalSettings()
    threads = environ.get("ARCHON_LOCAL_THREADS", "").strip()
    if threads and (not threads.isdigit() or int(threads) < 1):
        raise UserError(f"ARCHON_LOCAL_THREADS={threads!r}: expected a whole number of threads, 1 or more")
    model_dir = environ.get("ARCHON_MODEL_DIR", "").strip()
    return LocalSettings(
        threads=int(threads) if threads else defaults.threads,
        model_dir=Path(model_dir) if model_dir else defaults.model_dir,
    )


class EngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cache_dir: Path | None = DEFAULT_RESULTS_DIR / "cache"
    budget: Budget = Field(default_factory=Budget)
    concurrency: int = Field(default=8, ge=0)
    model_limits: dict[str, int] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    local: LocalSettings = Field(default_factory=LocalSettings)


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
    """The one gateway of a command: it owns the cache, the accountant and the embedded models."""
    cache = ResponseCache(settings.cache_dir / "responses.sqlite") if settings.cache_dir else None
    return LLMGateway(
        backend=backend,
        cache=cache,
        accountant=BudgetAccountant(settings.budget),
        retry=settings.retry,
        model_limits=settings.model_limits,
        local_models=LocalModelPool(settings.local),
    )
