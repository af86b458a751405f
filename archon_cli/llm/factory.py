"""The one way a gateway is made: ``GatewaySettings`` (what a gateway needs) and ``open_gateway``.

A command opens its gateway from its engine settings (commands/settings.py extends these); a
search worker on Ray opens its own from the same settings, with its grant as the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from archon_cli.llm.accountant import Budget, BudgetAccountant
from archon_cli.llm.cache_redis import open_response_cache
from archon_cli.llm.gateway import Backend, LLMGateway, RetryPolicy
from archon_cli.llm.local_models import LocalModelPool, LocalSettings

DEFAULT_CACHE_DIR = Path("results") / "cache"


class GatewaySettings(BaseModel):
    """The cache, the router, the budget, the per-model limits, the retries, the embedded models."""

    model_config = ConfigDict(extra="forbid")

    cache_dir: Path | None = DEFAULT_CACHE_DIR
    # --cache-url: the response cache in Redis instead of SQLite in cache_dir (workers on several machines).
    cache_url: str | None = None
    # --router: a checked LiteLLM Router file (config.router_file); its model names go through the Router.
    router: dict[str, Any] | None = None
    budget: Budget = Field(default_factory=Budget)
    model_limits: dict[str, int] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    local: LocalSettings = Field(default_factory=LocalSettings)

    def gateway_part(self) -> GatewaySettings:
        """Only these fields (a subclass's settings, trimmed for a worker on another machine),
        with the cache folder absolute (a worker's working folder may differ)."""
        fields = self.model_dump(include=set(GatewaySettings.model_fields))
        if self.cache_dir is not None:
            fields["cache_dir"] = self.cache_dir.resolve()
        return GatewaySettings(**fields)


def open_gateway(
    settings: GatewaySettings,
    backend: Backend | None = None,
    on_warning: Callable[[str], None] | None = None,
    budget: Budget | None = None,
) -> LLMGateway:
    """A gateway owning the cache, the accountant (``budget``, else the settings') and the
    embedded models. ``on_warning`` hears of a damaged cache (moved aside and started afresh)."""
    cache = open_response_cache(settings.cache_dir, settings.cache_url, on_warning)
    local_models = LocalModelPool(settings.local)
    if backend is None and settings.router is not None:
        from archon_cli.llm.router import RouterBackend

        backend = RouterBackend(settings.router, local_models)
    return LLMGateway(
        backend=backend,
        cache=cache,
        accountant=BudgetAccountant(budget or settings.budget),
        retry=settings.retry,
        model_limits=settings.model_limits,
        local_models=local_models,
    )
