"""Helpers for the tests of ``archon serve``: an architecture service on the shared gateway, in a
background thread of the test process, with fast retries."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from archon_cli.commands.settings import EngineSettings, open_gateway
from archon_cli.config.architecture import Architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.llm.accountant import Budget
from archon_cli.llm.gateway import RetryPolicy
from archon_cli.server import ArchitectureService, ServedArchitecture, ServeOptions
from archon_cli.server.host import BackgroundServer


def generator_layer(model: str, api_base: str | None = None, samples: int = 1, max_tokens: int = 16) -> list[Any]:
    spec: dict[str, Any] = {
        "type": "generator",
        "model": model,
        "samples": samples,
        "temperature": 0.0 if samples == 1 else 0.7,
        "max_tokens": max_tokens,
    }
    if api_base:
        spec["api_base"] = api_base
    return [spec]


def architecture(name: str, *layers: list[Any]) -> Architecture:
    return Architecture.model_validate({"name": name, "layers": list(layers)})


def one_call(api_base: str, name: str = "one-call") -> Architecture:
    """One call to the loopback server's ``fake-model``."""
    return architecture(name, generator_layer("openai/fake-model", api_base))


def gen_rank(api_base: str, name: str = "gen-rank") -> Architecture:
    """Three samples, then a ranker: four calls per request."""
    return architecture(
        name,
        generator_layer("openai/fake-model", api_base, samples=3),
        [{"type": "ranker", "model": "openai/fake-model", "api_base": api_base, "top_k": 1}],
    )


def start_server(
    architectures: list[Architecture],
    *,
    budget: Budget | None = None,
    api_key: str | None = None,
    log: Path | None = None,
    cache_dir: Path | None = None,
    grace: float = 5.0,
    max_attempts: int = 6,
    concurrency: int = 32,
) -> BackgroundServer:
    """A started server (stop it, or use it as a context manager) on one gateway, as `archon serve` builds it."""
    settings = EngineSettings(
        cache_dir=cache_dir,
        budget=budget or Budget(),
        retry=RetryPolicy(max_attempts=max_attempts, initial_wait=0.01, max_wait=0.2, jitter=0.01),
    )
    gateway = open_gateway(settings)
    served = []
    for arch in architectures:
        runner = ArchitectureRunner(arch, gateway, settings.budget.calls_per_query)
        runner.check_routes()
        served.append(ServedArchitecture(arch.name, runner))
    options = ServeOptions(api_key=api_key, concurrency=concurrency, grace=grace, request_log=log)
    return BackgroundServer(ArchitectureService(served, gateway, options)).start()


def wait_in_flight(url: str, n: int, timeout: float = 30.0) -> None:
    """Wait until the server at ``url`` is running ``n`` requests (its ``/health`` says so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(url + "/health", timeout=10).json()["in_flight"] >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{url}: {n} requests never were in flight together")
