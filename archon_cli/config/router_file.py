"""The router file (``--router FILE``): a LiteLLM Router model list, checked before any call.
What the Router does with it, and the file's format, is said in ``llm.router``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archon_cli.config.files import read_config_file
from archon_cli.errors import ConfigError

ROUTING_STRATEGIES = (
    "simple-shuffle",
    "least-busy",
    "usage-based-routing",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
)
# Router settings a file may give (others, such as retries and fallbacks, would add a second retry loop).
ALLOWED_SETTINGS = ("allowed_fails", "cooldown_time", "enable_pre_call_checks", "routing_strategy_args", "timeout")
# Deployment parameters that would answer without a call (mock_response), or send a request again
# or elsewhere behind archon's back.
REFUSED_PARAMS = (
    "mock_response", "fallbacks", "context_window_fallbacks", "num_retries", "max_retries", "retry_after",
    "mock_testing_fallbacks", "mock_timeout",
)  # fmt: skip
REFUSED_SETTINGS = ("num_retries", "fallbacks", "default_fallbacks", "context_window_fallbacks", "retry_after")
DEFAULT_SETTINGS: dict[str, Any] = {"allowed_fails": 1, "cooldown_time": 30.0}


def load_router_file(path: Path) -> dict[str, Any]:
    """The checked router file: ``model_list``, ``routing_strategy`` and ``router_settings``
    (ConfigError, one line, for anything wrong)."""
    data = read_config_file(path, "router file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with a model_list")
    unknown = set(data) - {"model_list", "routing_strategy", "router_settings"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(sorted(unknown))} (expected model_list, routing_strategy, router_settings)"
        )
    models = data.get("model_list")
    if not isinstance(models, list) or not models:
        raise ConfigError(f"{path}: model_list must be a non-empty list of deployments")
    for i, entry in enumerate(models):
        where = f"{path}: model_list[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("model_name"), str) or not entry["model_name"]:
            raise ConfigError(f"{where}: needs a model_name (the name architectures use)")
        params = entry.get("litellm_params")
        if not isinstance(params, dict) or not isinstance(params.get("model"), str) or not params["model"]:
            raise ConfigError(f"{where}: needs litellm_params with a model (a LiteLLM route, e.g. openai/NAME)")
        refused = [key for key in REFUSED_PARAMS if key in params]
        if refused:
            raise ConfigError(
                f"{where}: litellm_params {', '.join(refused)} refused: a deployment must send each request once "
                "and answer from its model (archon's own retry and budget are the only ones)"
            )
        for key in ("rpm", "tpm"):
            value = params.get(key, entry.get(key))
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigError(f"{where}: {key} must be a whole number, 1 or more")
        if params.get("model", "").startswith("local/"):
            raise ConfigError(
                f"{where}: embedded local/ models cannot be routed; serve them (llama_cpp.server) instead"
            )
    settings = data.get("router_settings") or {}
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: router_settings must be a mapping")
    strategy = data.get("routing_strategy", settings.pop("routing_strategy", "simple-shuffle"))
    if strategy not in ROUTING_STRATEGIES:
        raise ConfigError(f"{path}: routing_strategy {strategy!r} is not one of {', '.join(ROUTING_STRATEGIES)}")
    refused = [k for k in settings if k in REFUSED_SETTINGS]
    if refused:
        raise ConfigError(
            f"{path}: router_settings {', '.join(refused)} refused: archon's own retry and budget are the only "
            "retry loop (use --max-attempts; a failed replica is cooled down and the retry goes to another)"
        )
    unrecognised = [k for k in settings if k not in ALLOWED_SETTINGS]
    if unrecognised:
        raise ConfigError(
            f"{path}: unknown router_settings {', '.join(unrecognised)} (allowed: {', '.join(ALLOWED_SETTINGS)})"
        )
    return {"model_list": models, "routing_strategy": strategy, "router_settings": {**DEFAULT_SETTINGS, **settings}}
