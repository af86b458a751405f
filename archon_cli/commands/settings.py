"""What every command shares below the printing: the engine settings (from the options), the
environment (read here, once), and the one gateway a command opens."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from archon_cli.commands.options import EngineOptions
from archon_cli.config.architecture import SizeCaps
from archon_cli.config.budget import load_budget
from archon_cli.config.router_file import load_router_file
from archon_cli.errors import UserError
from archon_cli.llm.accountant import Budget
from archon_cli.llm.cache_redis import check_cache_url
from archon_cli.llm.factory import GatewaySettings
from archon_cli.llm.factory import open_gateway as open_gateway  # the one factory, for the commands
from archon_cli.llm.gateway import RetryPolicy
from archon_cli.llm.local_models import LocalSettings

DEFAULT_RESULTS_DIR = Path("results")


def data_dir_from_env(given: Path | None, environ: Mapping[str, str] = os.environ) -> Path | None:
    """``--data-dir``, else ARCHON_DATA_DIR (an empty variable counts as unset)."""
    if given is not None:
        return given
    env = environ.get("ARCHON_DATA_DIR")
    return Path(env) if env else None


def secret_from_env(variable: str, option: str, environ: Mapping[str, str] = os.environ) -> str:
    """The value of the environment variable an option names (``--api-key-env VAR``); never printed."""
    if not variable.strip():
        raise UserError(f"{option}: give the name of an environment variable")
    value = environ.get(variable, "").strip()
    if not value:
        raise UserError(f"{option} {variable}: the variable is not set or empty")
    return value


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


def size_caps(environ: Mapping[str, str] = os.environ) -> SizeCaps:
    """The caps on an architecture's size: ARCHON_MAX_LAYERS, ARCHON_MAX_COMPONENTS and
    ARCHON_MAX_CALLS_PER_QUERY override the defaults."""
    defaults = SizeCaps()
    values = {}
    for name, variable in (
        ("layers", "ARCHON_MAX_LAYERS"),
        ("components", "ARCHON_MAX_COMPONENTS"),
        ("calls_per_query", "ARCHON_MAX_CALLS_PER_QUERY"),
    ):
        text = environ.get(variable, "").strip()
        if text and (not text.isdigit() or int(text) < 1):
            raise UserError(f"{variable}={text!r}: expected a whole number, 1 or more")
        values[name] = int(text) if text else getattr(defaults, name)
    return SizeCaps(**values)


def provider_keys(environ: Mapping[str, str] = os.environ) -> frozenset[str]:
    """The names of the provider API-key variables that are set (``*_API_KEY``; values not kept):
    a benchmark's official judge is the default when its key is among them."""
    return frozenset(name for name, value in environ.items() if name.endswith("_API_KEY") and value.strip())


class EngineSettings(GatewaySettings):
    """The gateway's settings (llm/factory.py) and what the engine adds around it."""

    concurrency: int = Field(default=8, ge=0)
    provider_keys: frozenset[str] = frozenset()
    caps: SizeCaps = Field(default_factory=SizeCaps)


def check_folder_option(path: Path, option: str) -> None:
    """Refuse, before any call and without creating anything, a folder option naming a file (or a
    path through one) or a folder that cannot be written."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{option} {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: cannot write in {probe} (permission denied)")


def parse_model_limits(specs: list[str]) -> dict[str, int]:
    """['openai/gpt-4o=4', ...] -> {'openai/gpt-4o': 4}."""
    limits: dict[str, int] = {}
    for spec in specs:
        model, sep, value = spec.rpartition("=")
        if not sep or not model or not value.isdigit() or int(value) < 1:
            raise UserError(f"--model-limit {spec!r}: expected MODEL=N with N >= 1")
        limits[model] = int(value)
    return limits


def engine_settings(options: EngineOptions) -> EngineSettings:
    """The settings of the engine options (and the embedded models' environment)."""
    o = options
    if o.cache_url is not None and o.no_cache:
        raise UserError("give --cache-url or --no-cache, not both")
    if o.cache_url is not None:
        check_cache_url(o.cache_url)
    elif not o.no_cache:
        check_folder_option(o.cache_dir, "--cache-dir")
    if not math.isfinite(o.retry_wait):
        raise UserError(f"--retry-wait {o.retry_wait}: must be a finite number of seconds")
    return EngineSettings(
        cache_dir=None if o.no_cache or o.cache_url else o.cache_dir,
        cache_url=o.cache_url,
        router=load_router_file(o.router) if o.router is not None else None,
        budget=load_budget(o.budget) if o.budget else Budget(),
        concurrency=o.concurrency,
        model_limits=parse_model_limits(o.model_limit or []),
        retry=RetryPolicy(max_attempts=o.max_attempts, initial_wait=o.retry_wait, jitter=min(o.retry_wait, 0.5)),
        local=local_settings(),
        provider_keys=provider_keys(),
        caps=size_caps(),
    )

