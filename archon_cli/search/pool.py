"""The pool of models a search chooses from: `--models a,b,c` or a pool file."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from archon_cli.config.files import describe_validation_error, read_config_file
from archon_cli.errors import ConfigError, UserError

DEFAULT_POOL = ("local/smollm2-135m", "local/gemma-3-270m")


class PoolModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    api_base: str | None = None
    api_key_env: str | None = None


def parse_pool(models: str | None, pool_file: Path | None) -> list[PoolModel]:
    """Models from a comma-separated list, or a YAML/JSON file: a list of model strings or of
    {model, api_base, api_key_env} mappings (or {models: [...]})."""
    if models is not None and pool_file is not None:
        raise UserError("give --models or --pool, not both")
    if pool_file is not None:
        data = read_config_file(pool_file, "model pool file")
        if isinstance(data, dict) and "models" in data:
            data = data["models"]
        if not isinstance(data, list):
            raise ConfigError(f"{pool_file}: expected a list of models")
        try:
            pool = [PoolModel(model=m) if isinstance(m, str) else PoolModel.model_validate(m) for m in data]
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, str(pool_file))) from None
    elif models is not None:
        pool = [PoolModel(model=m.strip()) for m in models.split(",") if m.strip()]
    else:
        pool = [PoolModel(model=m) for m in DEFAULT_POOL]
    if not pool:
        raise UserError("the model pool is empty: give at least one model with --models")
    names = [p.model for p in pool]
    if len(set(names)) != len(names):
        raise UserError(f"the model pool lists a model twice: {names}")
    return pool
